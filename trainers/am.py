r"""Adversarial Masking (AM row) on images and audio, and x_0 for AM+NES.

(The trainer's half of AM: flags, data, epochs, records; the method's pure half is
eggsep_tf/am.py.)

Images:
  python -m trainers.am --flagfile=mnist_demo.flags
  python -m trainers.am --workdir=/tmp/run --data=mnist5k --am_epochs=10
  python -m trainers.nes --flagfile=mnist_demo.flags --init=am --init_workdir=/tmp/run
Audio (--domain=audio; the data flags as for trainers.nes, e.g. a flagfile):
  python -m trainers.am --flagfile=speech_noise_8k.flags --workdir=runs/am_8k --am_epochs=10
  python -m trainers.nes --flagfile=speech_noise_8k.flags --workdir=runs/am_nes_8k \
      --init=am --init_workdir=runs/am_8k

The mask net (the same net as NES, from --filters/--skip_connections/
--architecture) is trained so that y * m(y) fools a spectral-norm LS-GAN
discriminator that also sees clean B samples (paper eqs. 11-12), with the
magnitude prior --am_magnitude_weight * L1(m, 1). Mixtures and B samples are
drawn independently (domain.unpaired_dataset). On audio both are the
|STFT| patches the mask net sees in NES training ([n_fft // 2 + 1,
--patch_frames, 1]); the discriminator's stride-2 convolutions pad ("same"),
so any patch size and any number of --am_disc_filters layers fit.

Writes the `am` row of WORKDIR/results.json (images: PSNR/SSIM on the test
split; audio: BSS Eval SDR/SIR/SAR of whole test tracks) and the X estimates of
the training mixtures to WORKDIR/am/estimates/x in the form NES keeps its
estimates (images: x = y (1 - m(y)); audio: waveform or magnitude patches per
--audio_mixing), which trainers.nes --init=am reads. Rerunning the same
command resumes after the last finished epoch. --strategy=mirrored trains on all
local GPUs, --strategy=multi_worker on several hosts (TF_CONFIG; each worker draws
its own pairs, the chief writes the estimates and the row). TensorBoard: WORKDIR/tb/am
(d_loss, d_real, d_fake, mask_loss, mask_adversarial, mask_prior, and the test scores).
"""

import os

from absl import logging
import keras

from eggsep_tf.data import tfrecords
from eggsep_tf import am
from eggsep_tf import results
from eggsep_tf import workdir_layout
from eggsep_tf.discriminator import LsganDiscriminator
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import configs
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import epoch_loop
from eggsep_tf.trainers import initializer_flags
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import summaries

AM_FLAGS = (common_flags.DATA_FLAGS + common_flags.MODEL_FLAGS + ["batch_size", "beta1", "seed"]
            + initializer_flags.AM_FLAGS)


def run():
  cfg = configs.from_flags()  # The flags, mapped once.
  strategy = runner.make_strategy(cfg.run.strategy)
  workdir = runner.setup_workdir(cfg, "am", AM_FLAGS)
  disc_filters = cfg.am.disc_filters()  # Checked before data prep.
  runner.seed_everything(cfg.run)
  domain = domains.make_domain(workdir, cfg)
  shape = domain.prepare()
  runner.record_run(cfg, workdir, "am", AM_FLAGS)
  x_name, b_name = domain.names()
  am_dir = workdir_layout.method_dir(workdir, "am")
  writer = runner.summary_writer(workdir, "am")

  with strategy.scope():
    # bfloat16 is unmeasured for the adversarial game: --precision=measured trains in
    # float32 (and the form is the flag's).
    mask_model = runner.build_mask_model(shape, cfg.model, bfloat16_measured=False)
    disc = LsganDiscriminator(disc_filters, output=cfg.am.am_disc_output)
    disc(keras.ops.zeros([1] + list(shape)))
    mask_opt = runner.adam(cfg.am.am_learning_rate, cfg.model.beta1,
                           mask_model.trainable_variables)
    disc_opt = runner.adam(cfg.am.am_disc_learning_rate, cfg.model.beta1,
                           disc.trainable_variables)
  step = am.make_train_step(mask_model, disc, mask_opt, disc_opt, cfg.am.am_magnitude_weight,
                            strategy)
  train_dir = os.path.join(am_dir, "train")
  # Each worker's pipeline draws its own pairs (pipeline 0: the one-worker seed).
  epoch_loop.run_epochs(
      train_dir,
      {"model": mask_model, "disc": disc, "mask_opt": mask_opt, "disc_opt": disc_opt},
      lambda batch: step(*batch),
      lambda epoch, batch, pipeline: domain.unpaired_dataset(
          batch, cfg.run.seed * 1_000_003 + epoch + pipeline * 7_919_000),
      domain.steps_per_epoch(), cfg.am.am_epochs, writer, "am", cfg.run.batch_size,
      strategy=strategy, ckpt_dir=runner.private_dir(workdir, os.path.join(train_dir, "ckpt")),
      chief=runner.is_chief())
  if not runner.is_chief():
    logging.info("Worker %d done; the chief writes the AM estimates and row",
                 runner.worker_index())
    return

  estimates = workdir_layout.method_estimates(workdir, "am")
  if not os.path.exists(os.path.join(estimates, tfrecords.SPEC_FILE)):
    runner.check_disk(workdir, domain.estimate_bytes(), "the AM estimates")
    logging.info("Writing the AM estimates of %d training mixtures to %s",
                 domain.num_mixtures(), estimates)
    domain.estimate(mask_model, estimates)
  if "am" not in results.load(workdir):
    scores, examples = domain.evaluate(mask_model)
    if scores:
      results.update(workdir, "am", scores, x_name, b_name)
      domain.log(writer, cfg.am.am_epochs, "test/am", scores, examples)
      logging.info("AM: %s", summaries.describe(scores))
  summaries.log_results_table(workdir)


if __name__ == "__main__":
  runner.start(run)
