r"""Latent Mixture Masking (LM / LMM rows) on images and audio, and x_0 for LMM+NES.

(The trainer's half of LMM; the method's pure half is eggsep_tf/lmm.py.)

  python -m trainers.lmm --flagfile=mnist_demo.flags
  python -m trainers.lmm --workdir=/tmp/run --data=mnist5k --lmm_stage1_epochs=10
  python -m trainers.nes --flagfile=mnist_demo.flags --init=lmm --init_workdir=/tmp/run

1. Stage 1 (paper eq. 5): a GLO generator G_B and one latent code per B sample
   fit the clean B samples.
2. Stage 2 (eq. 6): G_B frozen; G_X and a code pair (z_B, z_X) per training
   mixture fit G_B(z_B) + G_X(z_X) = y. The LMM estimates of the training
   mixtures (from their stage-2 codes) go to WORKDIR/lmm/estimates/x, the x_0
   that trainers.nes --init=lmm reads.
3. Test (eq. 7): only the codes of each test mixture are optimised; LM
   (generator outputs, eq. 8) and LMM (mask G_B / (G_B + G_X) on y, eq. 10)
   are scored from the same fit: rows `lm` and `lmm` of WORKDIR/results.json.
Rerunning the same command resumes after the last finished epoch or stage.
--strategy=mirrored trains the generators on all local GPUs (the latent tables are
mirrored), --strategy=multi_worker on several hosts (TF_CONFIG; each worker reads its
shard of the records, the chief writes the estimates and rows).
TensorBoard: WORKDIR/tb/lmm.
The domain's LMM half (domain.lmm()) holds what images and audio do differently:
trainers/lmm_image.py (GLO on images, PSNR/SSIM) and trainers/lmm_audio.py (GLO
on mel patches, masks carried to the STFT, BSS Eval on whole test tracks). It
has: check_flags(); prepare(lmm_dir, loss_fn) -> loss_fn; shape;
make_generator(num_samples); batches(split, seed, batch_size) of (index, example);
training_estimate_fn(g_b, g_x, z_b) -> (index, y) -> x;
evaluate_test(g_b, g_x, fit) -> ({"lm", "lmm"} scores, {"lm", "lmm"} examples).
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import iteration
from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf import results
from eggsep_tf import workdir_layout
from eggsep_tf.trainers import configs
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import lmm_fit
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import summaries

LMM_FLAGS = lmm_fit.LMM_FLAGS


def write_training_estimates(estimate, y_dir, out_dir, batch_size):
  """x_0 for LMM+NES: estimate(index, y) of every training mixture, by index."""

  def batches():
    for rec in iteration.elements(tfrecords.dataset(y_dir, ["y"]).batch(batch_size)):
      x = np.asarray(estimate(tf.cast(rec["index"], tf.int32), rec["y"]))
      if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite LMM estimates for {y_dir}")
      yield {"x": x, "index": rec["index"].numpy()}

  return tfrecords.write_split(out_dir, None, batches=batches())


def run():
  cfg = configs.from_flags()  # The flags, mapped once.
  strategy = runner.make_strategy(cfg.run.strategy)
  workdir = runner.setup_workdir(cfg, "lmm", LMM_FLAGS)
  domain = domains.make_domain(workdir, cfg)
  half = domain.lmm()
  half.check_flags()  # Before the workdir records the flags.
  # Settings are checked before any data is prepared.
  loss_fn = lmm.make_reconstruction_loss(cfg.lmm.glo_loss, cfg.lmm.glo_vgg_weights or None)
  cfg.lmm.generator_filters()
  runner.seed_everything(cfg.run)
  domain.prepare()
  runner.record_run(cfg, workdir, "lmm", LMM_FLAGS)
  x_name, b_name = domain.names()
  lmm_dir = workdir_layout.method_dir(workdir, "lmm")
  writer = runner.summary_writer(workdir, "lmm")
  b_dir, y_dir = domain.split_dir("b_train"), domain.split_dir("y_train")
  num_b, num_y = tfrecords.read_spec(b_dir)["count"], tfrecords.read_spec(y_dir)["count"]
  lmm_fit.check_indices(b_dir, num_b)
  lmm_fit.check_indices(y_dir, num_y)
  loss_fn = half.prepare(lmm_dir, loss_fn)
  logging.info("LMM: %d B samples and %d training mixtures", num_b, num_y)

  g_b, g_x, z_b = lmm_fit.fit_generators(
      cfg, lmm_dir, half.shape, num_b, num_y, loss_fn, writer,
      lambda count, shape: half.make_generator(count),
      lambda epoch, batch, shard: half.batches("b_train", cfg.run.seed * 1009 + epoch, batch,
                                               shard),
      lambda epoch, batch, shard: half.batches("y_train", cfg.run.seed * 1009 + 7919 + epoch,
                                               batch, shard),
      strategy)
  if not runner.is_chief():
    logging.info("Worker %d done; the chief writes the LMM estimates and rows",
                 runner.worker_index())
    return

  estimates = workdir_layout.method_estimates(workdir, "lmm")
  if not os.path.exists(os.path.join(estimates, tfrecords.SPEC_FILE)):
    logging.info("Writing the LMM estimates of %d training mixtures to %s", num_y, estimates)
    write_training_estimates(half.training_estimate_fn(g_b, g_x, z_b), y_dir, estimates,
                             cfg.run.eval_batch_size)
    domain.check_estimates(estimates)

  scores = results.load(workdir)
  if "lm" not in scores or "lmm" not in scores:
    fit = lmm.make_latent_fit_fn(g_b, g_x, loss_fn, cfg.lmm.lmm_fit_steps,
                                 cfg.lmm.lmm_fit_learning_rate, seed=cfg.run.seed)
    test_scores, examples = half.evaluate_test(g_b, g_x, fit)
    for method in ("lm", "lmm"):
      if not test_scores[method]:
        continue
      results.update(workdir, method, test_scores[method], x_name, b_name)
      domain.log(writer, 0, f"test/{method}", test_scores[method], examples[method])
      logging.info("%s: %s", method.upper(), summaries.describe(test_scores[method]))
  summaries.log_results_table(workdir)


if __name__ == "__main__":
  runner.start(run)
