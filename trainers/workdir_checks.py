"""The checks and records of a run's --workdir: a workdir holds one run per trainer,
made with one set of flags; a refused command writes nothing there; estimates and
data borrowed from another workdir must come from the same data.
"""

import os
import shutil

from absl import logging

from eggsep_tf import provenance
from eggsep_tf import strided_mask_unet
from eggsep_tf import workdir_layout
from eggsep_tf.data import tfrecords
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import nets


def check_disk(path, needed_bytes, what):
  """Warns up front when the disk holding `path` lacks room for `needed_bytes`."""
  while path and not os.path.exists(path):  # A workdir not made yet: its disk.
    path = os.path.dirname(os.path.abspath(path))
  free = shutil.disk_usage(path).free
  if needed_bytes > free:
    logging.warning("%s needs about %.1f GB but only %.1f GB are free on %s", what,
                    needed_bytes / 1e9, free / 1e9, path)
    return False
  return True


def check_run_disk(workdir, model, phases, estimate_bytes, what):
  """check_disk for a whole run: its estimates, the checkpoints of `phases` training
  phases (two kept each: weights and Adam's two moments) and one export."""
  weights = 4 * model.count_params()
  needed = estimate_bytes + phases * 2 * 3 * weights + weights
  return check_disk(workdir, needed, f"the {what} run (estimates, checkpoints and export)")


# Flags added after runs were recorded, with the value such runs had. A flag that is
# missing from a record and not listed here is not compared.
LEGACY_VALUES = {"unet_variant": "full",  # --unet_variant (0.5): the full U-Net before.
                 "lr_schedule": "constant"}  # --lr_schedule (0.8).


def _differences(saved, current, now="now"):
  """["--flag was A, now B", ...] for the flags both records hold with other values."""
  saved = {**{k: v for k, v in LEGACY_VALUES.items() if k in current}, **saved}
  return [f"--{k} was {saved[k]!r}, {now} {current[k]!r}"
          for k in current if k in saved and saved[k] != current[k]]


def check_same(saved, current, what, path, workdir, package_version=None):
  """Raises InputError unless the saved settings (recorded by eggsep-tf
  `package_version`) are the current ones, where both hold a flag."""
  hint = ""
  if ("unet_variant" in saved and "unet_variant" in current and strided_mask_unet.recorded_variant(
      saved["unet_variant"], package_version) == strided_mask_unet.LEGACY_AUTO):
    # "auto" of 0.5-0.6 built the light form where strided; 0.7's builds the lean one.
    saved = {**saved, "unet_variant": "auto (before 0.7)"}
    if current["unet_variant"] in ("light", "full"):
      saved["unet_variant"] = current["unet_variant"]
    hint = (" Before 0.7, --unet_variant=auto meant the light form where the net runs "
            "strided and the full form on small inputs: resume that run with "
            "--unet_variant=light (inputs of 64 px and more) or --unet_variant=full.")
  if saved.get("precision") == "float32" and current.get("precision") == "measured":
    hint += (" --precision defaults to measured since 0.9 (float32 before): resume that run "
             "with --precision=float32.")
  diffs = _differences(saved, current)
  if diffs:
    raise InputError(f"--workdir={workdir} holds a {what} made with other settings "
                     f"({'; '.join(diffs)}; see {path}). Use a new --workdir, or the same "
                     f"flags to resume it.{hint}")


# Trainers that export at the end; a rerun under another --model_name would not.
EXPORTING_TRAINERS = ("nes",)


def setup_workdir(cfg, trainer, flag_names):
  """Checks the workdir against this command; writes nothing (see record_run).

  Refuses a --workdir that is a file or that holds a `trainer` run made with other
  settings (or, for an exporting trainer, another --model_name).

  Args:
    cfg: the run's trainers/configs.Configs (its workdir, model name and flag record).
    trainer: "nes", "supervised", "nmf", "lmm" or "am".
    flag_names: the flags that decide the trainer's results (recorded and compared).

  Returns the workdir path.
  """
  if not cfg.run.workdir:
    raise InputError("--workdir is required: the folder for this run's outputs")
  workdir = cfg.run.workdir
  model_name = cfg.run.model_name
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"--workdir={workdir} is a file; expected a folder")
  if not cluster.is_chief():
    return workdir
  path = workdir_layout.run_record(workdir, trainer)
  saved = json_files.read_json(path)
  if saved is not None:
    check_same(saved.get("settings", {}), cfg.record.select(flag_names), f"{trainer} run",
               path, workdir, saved.get("code", {}).get("package_version"))
    name = saved.get("model_name")
    if trainer in EXPORTING_TRAINERS and name is not None and name != model_name:
      raise InputError(
          f"--model_name={model_name}: --workdir={workdir} holds a {trainer} run that "
          f"exports as {name!r} (see {path}); rerun it with --model_name={name}, and once it "
          f"has finished export it under the new name with python -m export.export_model "
          f"--workdir={workdir} --model_name={model_name}")
  return workdir


def net_form(cfg, workdir, trainer, shape):
  """{"unet_variant": form} of NES's mask net in this run: the one its run record
  holds when it resumes (the form "auto" resolved to where it started, whatever this
  machine would pick), else nets.unet_variant here. Records made before 0.9 hold
  none: their form is the flag's (0.9 resolves "auto" to another form only under the
  new default --precision=measured, which those runs did not have)."""
  run = json_files.read_json(workdir_layout.run_record(workdir, trainer)) or {}
  recorded = run.get("net") or {}
  if recorded.get("unet_variant"):
    return {"unet_variant": recorded["unet_variant"]}
  return {"unet_variant": nets.unet_variant(cfg.model, shape)}


def record_run(cfg, workdir, trainer, flag_names, export=None, net=None):
  """Writes WORKDIR/run-<trainer>.json and flags-<trainer>.txt once the run has started
  (its flags and data checked): a refused command leaves no record behind. A resumed
  run keeps the record of its first start (same settings: setup_workdir checked).

  export: the domain's export description (Domain.export_description()), kept for
  re-exports (export/workdir_export.py) of trainers that export.
  net: net_form's resolved form of the mask net, for resumes and re-exports.
  """
  path = workdir_layout.run_record(workdir, trainer)
  if not cluster.is_chief() or os.path.exists(path):
    return
  os.makedirs(workdir, exist_ok=True)
  with open(workdir_layout.flags_file(workdir, trainer), "w") as f:
    f.write(cfg.record.flags_text)
  provenance.record_run(workdir, cfg.record.select(flag_names), filename=f"run-{trainer}.json",
                        extra={"model_name": cfg.run.model_name,
                               **({"export": export} if export else {}),
                               **({"net": net} if net else {})})


def check_estimates_match(y_dir, split_dir):
  """Raises InputError unless split_dir holds one estimate per mixture of y_dir, same shape."""
  mine, theirs = tfrecords.read_spec(y_dir), tfrecords.read_spec(split_dir)
  if mine["count"] != theirs["count"] or mine["shape"] != theirs["shape"]:
    raise InputError(
        f"{split_dir}: its estimates are {theirs['count']} x {theirs['shape']}, this run's "
        f"mixtures are {mine['count']} x {mine['shape']}; expected a run on the same data")


def check_same_data(cfg, other_workdir, flag):
  """Raises InputError unless the data of the run in other_workdir were made with this
  run's data flags (its WORKDIR/data/settings.json; nothing to compare if it has none)."""
  path = workdir_layout.data_settings(other_workdir)
  saved = json_files.read_json(path)
  if saved is None:
    return
  diffs = _differences(saved, cfg.record.select(common_flags.DATA_FLAGS), now="here")
  if diffs:
    raise InputError(f"--{flag}={other_workdir} holds a run on other data ({'; '.join(diffs)}; "
                     f"see {path}); expected a run on the same data")
