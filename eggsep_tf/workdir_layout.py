"""Where a training run keeps what in its --workdir: path arithmetic only (no I/O).

The trainers write these paths and export/workdir_export.py reads them back; both
take them from here, so the layout is written down once:

  WORKDIR/data/{b_train,y_train,test}/        the prepared record splits
  WORKDIR/run-<trainer>.json, flags-<trainer>.txt   the run record and its flags
  WORKDIR/results.json, results.md            the score rows, and the table
  WORKDIR/tb/<trainer>/                       TensorBoard
  WORKDIR/nes/iter_<t>/{ckpt/,state.json}     NES iteration t's phase
  WORKDIR/nes/estimates/x_<t>/                x_t of every training mixture
  WORKDIR/nes/exported.json                   the trainer's own export, once made
  WORKDIR/supervised/{ckpt/,state.json}       the supervised bound's phase
  WORKDIR/<lmm|am|nmf>/estimates/x/           an initialiser's X estimates (x_0 for NES)
  WORKDIR/export/<model name>/<version>/      exported separators
"""

import os

SPLITS = ("b_train", "y_train", "test")


def data_dir(workdir):
  return os.path.join(workdir, "data")


def split_dir(workdir, split):
  """WORKDIR/data/<split>, split one of SPLITS."""
  return os.path.join(workdir, "data", split)


def data_settings(workdir):
  """The data flags the splits were made with."""
  return os.path.join(workdir, "data", "settings.json")


def run_record(workdir, trainer):
  return os.path.join(workdir, f"run-{trainer}.json")


def flags_file(workdir, trainer):
  return os.path.join(workdir, f"flags-{trainer}.txt")


def results_json(workdir):
  return os.path.join(workdir, "results.json")


def results_md(workdir):
  return os.path.join(workdir, "results.md")


def tensorboard_dir(workdir, name):
  """WORKDIR/tb/<name>: one TensorBoard run per trainer."""
  return os.path.join(workdir, "tb", name)


def method_dir(workdir, method):
  """WORKDIR/<method>: nes, supervised, lmm, am or nmf."""
  return os.path.join(workdir, method)


def method_estimates(workdir, method):
  """The X estimates an initialiser (lmm, am, nmf) leaves for NES's --init."""
  return os.path.join(workdir, method, "estimates", "x")


def nes_iteration(workdir, t):
  """The phase folder of NES iteration t (0-based)."""
  return os.path.join(workdir, "nes", f"iter_{t}")


def nes_estimates(workdir, t):
  """x_t: the X estimates NES iteration t trains on (x_0 the start)."""
  return os.path.join(workdir, "nes", "estimates", f"x_{t}")


def nes_exported(workdir):
  return os.path.join(workdir, "nes", "exported.json")


def result_row(trainer, init="const"):
  """The results.json row a finished run of `trainer` ("nes" or "supervised") writes:
  "nes" from the default (--init=auto) or Const start, else e.g. "lmm_nes"."""
  if trainer == "supervised":
    return "supervised"
  return "nes" if init in ("auto", "const") else f"{init}_nes"


def final_phase(workdir, trainer, iterations=None):
  """The folder of a run's last training phase (its checkpoint and state.json)."""
  if trainer == "supervised":
    return method_dir(workdir, "supervised")
  return nes_iteration(workdir, int(iterations) - 1)


def export_base(workdir):
  """WORKDIR/export: the model base the trainers export into."""
  return os.path.join(workdir, "export")
