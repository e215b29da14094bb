r"""Trains Neural Egg Separation and exports the separator.

  python -m trainers.nes --flagfile=mnist_demo.flags
  python -m trainers.nes --workdir=/tmp/run --data=mnist5k --iterations=10 --epochs=25

Each iteration t trains the mask net on synthetic mixtures b + x_t, re-estimates
x_{t+1} = y - T(y) for every training mixture, evaluates on the test split and
checkpoints. Rerunning the same command resumes after the last finished epoch;
a finished run is not redone. Outputs in WORKDIR: results.json/.md, tb/
(TensorBoard), export/NAME/VERSION (SavedModel), run-nes.json (provenance).
"""

import math
import os
import shutil

from absl import app
from absl import logging

from data import mixtures
from data import tfrecords
from eggsep_tf import nes
from eggsep_tf import provenance
from eggsep_tf import results
from eggsep_tf.errors import InputError
from eggsep_tf.image_separator import ImageSeparator
from export import saved_model
from trainers import common_flags
from trainers import runner

import tensorflow as tf

FLAGS = common_flags.FLAGS
NES_FLAGS = (common_flags.DATA_FLAGS + common_flags.MODEL_FLAGS + common_flags.OPTIM_FLAGS
             + ["iterations", "epochs", "init", "const_fraction", "init_workdir"])


def initial_estimates(data_dir, nes_dir, separate_const):
  """Writes x_0 (paper: x_0 = c * y, or the estimates of an LMM/AM run)."""
  x0_dir = os.path.join(nes_dir, "estimates", "x_0")
  if os.path.exists(os.path.join(x0_dir, tfrecords.SPEC_FILE)):
    return x0_dir
  y_dir = os.path.join(data_dir, "y_train")
  if FLAGS.init == "const":
    nes.estimate_split(separate_const, y_dir, x0_dir, FLAGS.eval_batch_size)
    return x0_dir
  if not FLAGS.init_workdir:
    raise InputError(f"--init={FLAGS.init} needs --init_workdir: the workdir of a finished "
                     f"trainers.{FLAGS.init} run on the same data")
  source = os.path.join(FLAGS.init_workdir, FLAGS.init, "estimates", "x")
  if not os.path.exists(os.path.join(source, tfrecords.SPEC_FILE)):
    raise InputError(f"--init_workdir={FLAGS.init_workdir}: no finished {FLAGS.init} "
                     f"estimates ({source} is missing)")
  mine, theirs = tfrecords.read_spec(y_dir), tfrecords.read_spec(source)
  if mine["count"] != theirs["count"] or mine["shape"] != theirs["shape"]:
    raise InputError(f"--init_workdir={FLAGS.init_workdir}: its estimates are "
                     f"{theirs['count']} x {theirs['shape']}, this run's mixtures are "
                     f"{mine['count']} x {mine['shape']}; expected a run on the same data")
  shutil.copytree(source, x0_dir + ".tmp", dirs_exist_ok=True)
  os.replace(x0_dir + ".tmp", x0_dir)
  return x0_dir


def run():
  workdir = runner.setup_workdir("nes", NES_FLAGS)
  runner.seed_everything()
  data_dir, test_spec = runner.prepare_image_data(workdir)
  shape = test_spec["shape"]
  nes_dir = os.path.join(workdir, "nes")
  x_name, b_name = runner.source_names()
  writer = tf.summary.create_file_writer(os.path.join(workdir, "tb", "nes"))
  test_dir = os.path.join(data_dir, "test")
  b_dir = os.path.join(data_dir, "b_train")
  y_dir = os.path.join(data_dir, "y_train")

  scores = results.load(workdir)
  separate_const = nes.const_separate_fn(FLAGS.const_fraction)
  if "const" not in scores:
    const_scores, _ = nes.evaluate_split(separate_const, test_dir, FLAGS.eval_batch_size)
    results.update(workdir, "const", const_scores, x_name, b_name)
    runner.log_scores(writer, 0, "test/const", const_scores)
  x_dir = initial_estimates(data_dir, nes_dir, separate_const)

  strategy = runner.make_strategy(FLAGS.strategy)
  with strategy.scope():
    model = runner.build_mask_model(shape)
  separate = nes.make_separate_fn(model)
  num_mixtures = tfrecords.read_spec(y_dir)["count"]
  num_b = tfrecords.read_spec(b_dir)["count"]
  steps = max(1, math.ceil(max(num_mixtures, num_b) / FLAGS.batch_size))

  for t in range(FLAGS.iterations):
    iter_dir = os.path.join(nes_dir, f"iter_{t}")
    next_x = os.path.join(nes_dir, "estimates", f"x_{t + 1}")
    key = f"nes_iter_{t + 1}"
    if key in scores and os.path.exists(os.path.join(next_x, tfrecords.SPEC_FILE)):
      x_dir = next_x
      continue
    label = f"NES iteration {t + 1}/{FLAGS.iterations}"
    with strategy.scope():
      optimizer = runner.make_optimizer(model)  # Re-created each iteration, as in the paper.
    if t > 0 and runner.epochs_done(iter_dir) == 0:
      runner.restore_model(model, os.path.join(nes_dir, f"iter_{t - 1}"))

    def make_dataset(epoch, t=t, x_dir=x_dir):
      return mixtures.mixture_dataset(b_dir, x_dir, FLAGS.batch_size,
                                      seed=FLAGS.seed * 1_000_003 + t * 1009 + epoch)

    runner.train_phase(iter_dir, model, optimizer, strategy, make_dataset, steps,
                       FLAGS.epochs, writer, t * FLAGS.epochs * steps, label)
    logging.info("%s: re-estimating %d training mixtures", label, num_mixtures)
    nes.estimate_split(separate, y_dir, next_x, FLAGS.eval_batch_size)
    it_scores, examples = nes.evaluate_split(separate, test_dir, FLAGS.eval_batch_size)
    scores = results.update(workdir, key, it_scores, x_name, b_name)
    runner.log_scores(writer, t + 1, "test/nes", it_scores, examples)
    logging.info("%s: PSNR X %.2f dB (SSIM %.3f), PSNR B %.2f dB", label,
                 it_scores["psnr_x"], it_scores["ssim_x"], it_scores["psnr_b"])
    x_dir = next_x

  final = scores[f"nes_iter_{FLAGS.iterations}"]
  scores = results.update(workdir, "nes", final, x_name, b_name)
  export_dir = os.path.join(workdir, "export")
  exported = os.path.join(nes_dir, "exported.json")
  if not os.path.exists(exported):
    runner.restore_model(model, os.path.join(nes_dir, f"iter_{FLAGS.iterations - 1}"))
    metadata = {"domain": "image", "image_shape": shape, "observed": b_name,
                "unobserved": x_name, "invert": FLAGS.invert, "method": "nes",
                "settings": common_flags.values(NES_FLAGS), "code": provenance.describe(),
                "test_metrics": final}
    path = saved_model.export_image_separator(ImageSeparator(model), shape[-1], export_dir,
                                              FLAGS.model_name, metadata, invert=FLAGS.invert)
    runner.write_json(exported, {"path": path})
    logging.info("Exported the separator to %s", path)
  with open(os.path.join(workdir, "results.md")) as f:
    logging.info("Results (%s):\n%s", os.path.join(workdir, "results.md"), f.read())


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  runner.run_main(run)


if __name__ == "__main__":
  app.run(main)
