r"""Trains Neural Egg Separation and exports the separator.

(The trainer's half of NES; the method's pure half is eggsep_tf/nes.py.)

  python -m trainers.nes --flagfile=mnist_demo.flags
  python -m trainers.nes --workdir=/tmp/run --data=mnist5k --iterations=10 --epochs=25

Each iteration t trains the mask net on synthetic mixtures b + x_t, re-estimates
x_{t+1} = y - T(y) for every training mixture, evaluates on the test split and
checkpoints. Rerunning the same command resumes after the last finished epoch;
a finished run is not redone. Outputs in WORKDIR: results.json/.md, tb/
(TensorBoard), export/NAME/VERSION (SavedModel), run-nes.json (provenance).
"""

import dataclasses
import os
import shutil
import time

from absl import logging

from eggsep_tf.data import levels
from eggsep_tf.data import tfrecords
from eggsep_tf import nes
from eggsep_tf import provenance
from eggsep_tf import results
from eggsep_tf import workdir_layout
from eggsep_tf.errors import InputError
from eggsep_tf.export import separator_metadata
from eggsep_tf.trainers import baselines
from eggsep_tf.trainers import batch_norm_stats
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import configs
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import nmf as nmf_trainer
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import summaries

NES_FLAGS = (common_flags.DATA_FLAGS + common_flags.MODEL_FLAGS + common_flags.OPTIM_FLAGS
             + ["iterations", "epochs", "init", "const_fraction", "init_fraction", "init_workdir",
                "nmf_start_iterations", "x_level"])


def _done(split_dir):
  return os.path.exists(os.path.join(split_dir, tfrecords.SPEC_FILE))


def start(domain, cfg):
  """Where x_0 comes from: --init, "auto" resolved by the domain (images: nmf, audio: const)."""
  return domain.default_init if cfg.nes.init == "auto" else cfg.nes.init


def nmf_here(domain, cfg):
  """True when this run makes its own NMF start (--init=nmf, or auto, without --init_workdir)."""
  return start(domain, cfg) == "nmf" and not cfg.nes.init_workdir


def init_source(domain, cfg):
  """The X estimates x_0 starts from (not for the Const start), checked against the data.

  From --init_workdir: the NMF/LMM/AM run there. An NMF start without it is made by
  this run in its own workdir (nmf/, with the nmf row), before the first iteration.

  Raises:
    InputError: no --init_workdir (LMM/AM), no finished estimates there, or a run on
      other data (other data flags, or another number or shape of training mixtures).
  """
  init = start(domain, cfg)
  if nmf_here(domain, cfg):
    return workdir_layout.method_estimates(cfg.run.workdir, "nmf")
  if not cfg.nes.init_workdir:
    raise InputError(f"--init={init} needs --init_workdir: the workdir of a finished "
                     f"trainers.{init} run on the same data")
  source = workdir_layout.method_estimates(cfg.nes.init_workdir, init)
  if not _done(source):
    raise InputError(f"--init_workdir={cfg.nes.init_workdir}: no finished {init} "
                     f"estimates ({source} is missing)")
  runner.check_same_data(cfg, cfg.nes.init_workdir, "init_workdir")
  domain.check_estimates(source)
  return source


def init_fraction(domain, cfg):
  """c of x_0 = c * y: --init_fraction, else the domain's default (images 1, audio
  --const_fraction)."""
  if cfg.nes.init_fraction is not None:
    return cfg.nes.init_fraction
  return domain.default_init_fraction


def initial_estimates(domain, workdir, cfg):
  """Writes x_0: c * y (the paper's Const start) or the X estimates of an NMF/LMM/AM run."""
  x0_dir = workdir_layout.nes_estimates(workdir, 0)
  if _done(x0_dir):
    return x0_dir
  if start(domain, cfg) == "const":
    domain.initial_estimates(x0_dir, init_fraction(domain, cfg))
    return x0_dir
  if nmf_here(domain, cfg):
    logging.info("NES start: semi-supervised NMF of the training mixtures (--init=%s; "
                 "--init=const for the paper's x_0 = c * y)", cfg.nes.init)
    nmf_trainer.run_in(workdir, nmf_start_config(cfg), domain, clamp_bases=True)
  source = init_source(domain, cfg)
  shutil.copytree(source, x0_dir + ".tmp", dirs_exist_ok=True)
  os.replace(x0_dir + ".tmp", x0_dir)
  return x0_dir


def nmf_start_config(cfg):
  """The settings of NES's own NMF start: recorded (run-nmf.json, flags-nmf.txt, the nmf
  row) as what it is, an NMF run of --nmf_start_iterations iterations."""
  iterations = cfg.nmf.nmf_start_iterations
  return dataclasses.replace(
      cfg, nmf=dataclasses.replace(cfg.nmf, nmf_iterations=iterations),
      record=cfg.record.with_value("nmf_iterations", iterations))


def make_x_scale(domain, cfg):
  """x_scale(x_dir, label): the level-matching factor of x_t (--x_level), 1 when off.

  The levels of the mixtures and of B do not change during a run: they are read once,
  at the first iteration that needs them; each x_t's level is read before its iteration.
  """
  mode = domain.default_x_level if cfg.nes.x_level == "auto" else cfg.nes.x_level
  statistic = domain.level_statistic
  reference = []

  def x_scale(x_dir, label):
    if mode == "off":
      return 1.0
    if not reference:
      reference.extend(levels.mean_level(domain.split_dir(split), name, statistic)
                       for split, name in (("y_train", "y"), ("b_train", "b")))
    y_level, b_level = reference
    x_level = levels.mean_level(x_dir, "x", statistic)
    scale = nes.level_scale(y_level, b_level, x_level, statistic)
    logging.info("%s: x_t scaled by %.3f (%s: y %.4g, b %.4g, x_t %.4g)", label, scale,
                 statistic, y_level, b_level, x_level)
    return scale

  return x_scale


def estimate(domain, model, out_dir):
  """x_{t+1} for every training mixture; under multi_worker each worker writes its
  share as a split of its own and the chief merges them into one."""
  if runner.num_workers() == 1:
    domain.estimate(model, out_dir)
    return
  index, count = runner.worker_index(), runner.num_workers()
  domain.estimate(model, f"{out_dir}.w{index}", shard=(index, count))
  parts = [f"{out_dir}.w{i}" for i in range(count)]
  if runner.is_chief():
    runner.wait_for(lambda: all(_done(p) for p in parts), f"all workers' shares of {out_dir}")
    tfrecords.merge_splits(parts, out_dir)
  runner.wait_for(lambda: _done(out_dir), f"the chief to merge {out_dir}")


def run():
  cfg = configs.from_flags()  # The flags, mapped once.
  strategy = runner.make_strategy(cfg.run.strategy)
  workdir = runner.setup_workdir(cfg, "nes", NES_FLAGS)
  runner.seed_everything(cfg.run)
  domain = domains.make_domain(workdir, cfg)
  shape = domain.prepare()
  if nmf_here(domain, cfg) and not domain.row_estimates:
    raise InputError(f"--init=nmf: NMF of {domain.name} rows gives no estimates of whole "
                     "training examples for NES to start from; use --init=const, lmm or am")
  if nmf_here(domain, cfg) and runner.is_chief():
    # An NMF run with other settings is refused before anything is written.
    runner.setup_workdir(nmf_start_config(cfg), "nmf", nmf_trainer.NMF_FLAGS)
  elif start(domain, cfg) != "const" and runner.is_chief():
    init_source(domain, cfg)  # A bad --init_workdir is refused before the run is recorded.
  # Flags and data checked: the run starts.
  form = runner.net_form(cfg, workdir, "nes", shape)
  runner.record_run(cfg, workdir, "nes", NES_FLAGS, export=domain.export_description(), net=form)
  x_name, b_name = domain.names()
  writer = runner.summary_writer(workdir, "nes")
  row = workdir_layout.result_row("nes", cfg.nes.init)
  chief = runner.is_chief()

  # x_0 first: a bad --init_workdir is refused before any evaluation.
  if chief:
    x_dir = initial_estimates(domain, workdir, cfg)
  else:
    x_dir = workdir_layout.nes_estimates(workdir, 0)
    runner.wait_for(lambda: _done(x_dir), f"the chief to write {x_dir}")
  scores = baselines.write_baselines(domain, workdir, writer) if chief else results.load(workdir)

  steps = domain.steps_per_epoch()
  with strategy.scope():
    model = runner.build_mask_model(shape, cfg.model, variant=form["unet_variant"])
    optimizer = runner.make_optimizer(model, cfg.model, steps * cfg.nes.epochs)
  step_fn = nes.make_train_step(model, optimizer, strategy, cfg.run.batch_size)
  if chief:
    runner.check_run_disk(workdir, model, cfg.nes.iterations,
                          domain.estimate_bytes() * cfg.nes.iterations, "NES")
  infer = runner.inference_model(model, shape, cfg.model)  # Re-estimation and evaluation run this.
  x_scale = make_x_scale(domain, cfg)

  for t in range(cfg.nes.iterations):
    iter_dir = workdir_layout.nes_iteration(workdir, t)
    next_x = workdir_layout.nes_estimates(workdir, t + 1)
    key = f"{row}_iter_{t + 1}"
    if _done(next_x) and (key in scores or not chief):
      x_dir = next_x
      continue
    label = f"NES iteration {t + 1}/{cfg.nes.iterations}"
    started = time.time()
    runner.reset_optimizer(optimizer)  # A fresh Adam each iteration, as in the paper.
    if t > 0 and runner.epochs_done(iter_dir) == 0:
      runner.restore_model(model, workdir_layout.nes_iteration(workdir, t - 1))

    scale = x_scale(x_dir, label)

    def make_dataset(epoch, batch_size, pipeline, t=t, x_dir=x_dir, scale=scale):
      seed = cfg.run.seed * 1_000_003 + t * 1009 + epoch + pipeline * 7_919_000
      return domain.nes_dataset(x_dir, batch_size, seed, x_scale=scale)

    runner.train_phase(cfg.run, iter_dir, model, optimizer, strategy, make_dataset, steps,
                       cfg.nes.epochs, writer, t * cfg.nes.epochs * steps, label, step_fn)
    logging.info("%s: re-estimating %d training mixtures", label, domain.num_mixtures())
    batch_norm_stats.calibrate_batch_norm(iter_dir, model, optimizer, domain)
    runner.sync_inference_model(infer, model)
    estimate(domain, infer, next_x)
    x_dir = next_x
    if not chief:
      continue
    it_scores, examples = domain.evaluate(infer)
    # Wall time of this iteration (training, re-estimation, evaluation) in the process
    # that finished it: a resumed iteration counts only its resumed part.
    it_scores["seconds"] = round(time.time() - started, 1)
    if scale != 1.0:
      it_scores["x_scale"] = round(scale, 4)
    scores = results.update(workdir, key, it_scores, x_name, b_name)
    domain.log(writer, t + 1, f"test/{row}", it_scores, examples)
    logging.info("%s: %s", label, ", ".join(f"{k} {v:.3f}" for k, v in it_scores.items()))

  if not chief:
    logging.info("Worker %d done; the chief writes results and exports", runner.worker_index())
    return
  final = dict(scores[f"{row}_iter_{cfg.nes.iterations}"])
  final["seconds"] = round(sum(scores[f"{row}_iter_{i + 1}"].get("seconds", 0.0)
                               for i in range(cfg.nes.iterations)), 1)
  results.update(workdir, row, final, x_name, b_name)
  exported = workdir_layout.nes_exported(workdir)
  if not os.path.exists(exported):
    runner.restore_model(model, workdir_layout.final_phase(workdir, "nes", cfg.nes.iterations))
    path = domain.export(model, separator_metadata.build(
        domain.export_description(), row, cfg.record.select(NES_FLAGS),
        provenance.describe(), final))
    runner.write_json(exported, {"path": path})
    logging.info("Exported the separator to %s", path)
  summaries.log_results_table(workdir)


if __name__ == "__main__":
  runner.start(run)
