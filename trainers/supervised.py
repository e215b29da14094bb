r"""Trains the supervised upper bound: the same mask net on (x + b, b) with true x.

  python -m trainers.supervised --flagfile=mnist_demo.flags

Mixes real B samples with the true X of the training mixtures, which NES never
sees (NES with the oracle estimate x_t = x); writes the
`supervised` row of WORKDIR/results.json. Resumable like trainers.nes.
"""

import math
import os

from absl import app
from absl import logging
import tensorflow as tf

from data import mixtures
from data import tfrecords
from eggsep_tf import nes
from eggsep_tf import results
from trainers import common_flags
from trainers import runner

FLAGS = common_flags.FLAGS
SUPERVISED_FLAGS = (common_flags.DATA_FLAGS + common_flags.MODEL_FLAGS
                    + common_flags.OPTIM_FLAGS + ["supervised_epochs"])


def run():
  workdir = runner.setup_workdir("supervised", SUPERVISED_FLAGS)
  runner.seed_everything()
  data_dir, test_spec = runner.prepare_image_data(workdir)
  x_name, b_name = runner.source_names()
  phase_dir = os.path.join(workdir, "supervised")
  writer = tf.summary.create_file_writer(os.path.join(workdir, "tb", "supervised"))
  y_dir = os.path.join(data_dir, "y_train")
  strategy = runner.make_strategy(FLAGS.strategy)
  with strategy.scope():
    model = runner.build_mask_model(test_spec["shape"])
    optimizer = runner.make_optimizer(model)
  b_dir = os.path.join(data_dir, "b_train")
  count = max(tfrecords.read_spec(y_dir)["count"], tfrecords.read_spec(b_dir)["count"])
  steps = max(1, math.ceil(count / FLAGS.batch_size))

  def make_dataset(epoch):
    return mixtures.supervised_dataset(b_dir, y_dir, FLAGS.batch_size,
                                       seed=FLAGS.seed * 1_000_003 + epoch)

  runner.train_phase(phase_dir, model, optimizer, strategy, make_dataset, steps,
                     FLAGS.supervised_epochs, writer, 0, "Supervised")
  scores, examples = nes.evaluate_split(nes.make_separate_fn(model),
                                        os.path.join(data_dir, "test"), FLAGS.eval_batch_size)
  results.update(workdir, "supervised", scores, x_name, b_name)
  runner.log_scores(writer, FLAGS.supervised_epochs, "test/supervised", scores, examples)
  logging.info("Supervised: PSNR X %.2f dB (SSIM %.3f)", scores["psnr_x"], scores["ssim_x"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  runner.run_main(run)


if __name__ == "__main__":
  app.run(main)
