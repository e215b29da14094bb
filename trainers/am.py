r"""Adversarial Masking (AM row) on images, and x_0 for AM+NES.

  python -m trainers.am --flagfile=mnist_demo.flags
  python -m trainers.am --workdir=/tmp/run --data=mnist5k --am_epochs=10
  python -m trainers.nes --flagfile=mnist_demo.flags --init=am --init_workdir=/tmp/run

The mask net (the same U-Net as NES, from --filters/--skip_connections) is
trained so that y * m(y) fools a spectral-norm LS-GAN discriminator that also
sees clean B samples (paper eqs. 11-12), with the magnitude prior
--am_magnitude_weight * L1(m, 1). Mixtures and B samples are drawn
independently. Writes the `am` row of WORKDIR/results.json and the X estimates
of the training mixtures, x = y (1 - m(y)), to WORKDIR/am/estimates/x (read by
trainers.nes --init=am). Rerunning the same command resumes after the last
finished epoch. TensorBoard: WORKDIR/tb/am (d_loss, d_real, d_fake, mask_loss,
mask_adversarial, mask_prior).
"""

import math
import os

from absl import logging
import keras
import tensorflow as tf

from data import tfrecords
from eggsep_tf import am
from eggsep_tf import nes
from eggsep_tf import results
from eggsep_tf.discriminator import LsganDiscriminator
from eggsep_tf.errors import InputError
from trainers import common_flags
from trainers import epoch_loop
from trainers import initializer_flags
from trainers import runner

FLAGS = common_flags.FLAGS
AM_FLAGS = (common_flags.DATA_FLAGS + common_flags.MODEL_FLAGS + ["batch_size", "beta1", "seed"]
            + initializer_flags.AM_FLAGS)
SHUFFLE_BUFFER = 4096


def _stream(split_dir, name, seed):
  ds = tfrecords.dataset(split_dir, [name], shuffle_files=True, seed=seed)
  return ds.shuffle(SHUFFLE_BUFFER, seed=seed).map(lambda r: r[name]).repeat()


def unpaired_batches(y_dir, b_dir, batch_size, seed):
  """(mixtures, B samples) batches; the two are drawn independently (AM never pairs them)."""
  ds = tf.data.Dataset.zip((_stream(y_dir, "y", seed), _stream(b_dir, "b", seed + 7919)))
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def adam(rate, model):
  optimizer = keras.optimizers.Adam(rate, beta_1=FLAGS.beta1)
  optimizer.build(model.trainable_variables)
  return optimizer


def run():
  workdir = runner.setup_workdir("am", AM_FLAGS)
  if FLAGS.strategy != "default":
    raise InputError(f"--strategy={FLAGS.strategy}: trainers.am runs on one device only "
                     "(--strategy=default)")
  disc_filters = initializer_flags.int_list("am_disc_filters")  # Checked before data prep.
  runner.seed_everything()
  data_dir, test_spec = runner.prepare_image_data(workdir)
  shape = test_spec["shape"]
  x_name, b_name = runner.source_names()
  am_dir = os.path.join(workdir, "am")
  writer = tf.summary.create_file_writer(os.path.join(workdir, "tb", "am"))
  b_dir, y_dir = os.path.join(data_dir, "b_train"), os.path.join(data_dir, "y_train")
  num_b, num_y = tfrecords.read_spec(b_dir)["count"], tfrecords.read_spec(y_dir)["count"]

  mask_model = runner.build_mask_model(shape)
  disc = LsganDiscriminator(disc_filters, output=FLAGS.am_disc_output)
  disc(tf.zeros([1] + list(shape)))
  mask_opt = adam(FLAGS.am_learning_rate, mask_model)
  disc_opt = adam(FLAGS.am_disc_learning_rate, disc)
  step = am.make_train_step(mask_model, disc, mask_opt, disc_opt, FLAGS.am_magnitude_weight)
  steps = max(1, math.ceil(max(num_y, num_b) / FLAGS.batch_size))
  epoch_loop.run_epochs(
      os.path.join(am_dir, "train"),
      {"model": mask_model, "disc": disc, "mask_opt": mask_opt, "disc_opt": disc_opt},
      lambda batch: step(*batch),
      lambda epoch: unpaired_batches(y_dir, b_dir, FLAGS.batch_size,
                                     FLAGS.seed * 1_000_003 + epoch),
      steps, FLAGS.am_epochs, writer, "am", FLAGS.batch_size)

  separate = nes.make_separate_fn(mask_model)
  estimates = os.path.join(am_dir, "estimates", "x")
  if not os.path.exists(os.path.join(estimates, tfrecords.SPEC_FILE)):
    logging.info("Writing the AM estimates of %d training mixtures to %s", num_y, estimates)
    nes.estimate_split(separate, y_dir, estimates, FLAGS.eval_batch_size)
  if "am" not in results.load(workdir):
    scores, examples = nes.evaluate_split(separate, os.path.join(data_dir, "test"),
                                          FLAGS.eval_batch_size)
    results.update(workdir, "am", scores, x_name, b_name)
    runner.log_scores(writer, FLAGS.am_epochs, "test/am", scores, examples)
    logging.info("AM: PSNR X %.2f dB (SSIM %.3f), PSNR B %.2f dB", scores["psnr_x"],
                 scores["ssim_x"], scores["psnr_b"])
  with open(os.path.join(workdir, "results.md")) as f:
    logging.info("Results (%s):\n%s", os.path.join(workdir, "results.md"), f.read())


if __name__ == "__main__":
  runner.start(run)
