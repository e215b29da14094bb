r"""Latent Mixture Masking (LM / LMM rows) on images and audio, and x_0 for LMM+NES.

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
TensorBoard: WORKDIR/tb/lmm.
With --domain=audio the run is trainers/lmm_audio.py's (GLO on mel patches,
masks carried to the STFT, BSS Eval on whole test tracks).
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf import metrics
from eggsep_tf import results
from eggsep_tf.errors import InputError
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import initializer_flags
from eggsep_tf.trainers import lmm_fit
from eggsep_tf.trainers import runner

FLAGS = common_flags.FLAGS
LMM_FLAGS = lmm_fit.LMM_FLAGS
indexed_batches, check_indices = lmm_fit.indexed_batches, lmm_fit.check_indices
fit_generators = lmm_fit.fit_generators


def make_generator(num_samples, shape):
  g = GloGenerator(num_samples, shape, latent_dim=FLAGS.glo_latent_dim,
                   filters=initializer_flags.int_list("glo_filters"),
                   output_activation=FLAGS.glo_output)
  g.build()
  return g


def write_training_estimates(separate, y_dir, out_dir):
  """x_0 for LMM+NES: the LMM estimates of every training mixture, by index."""

  def batches():
    for rec in tfrecords.dataset(y_dir, ["y"]).batch(FLAGS.eval_batch_size):
      x, _, _ = separate(tf.cast(rec["index"], tf.int32), rec["y"])
      x = x.numpy()
      if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite LMM estimates for {y_dir}")
      yield {"x": x, "index": rec["index"].numpy()}

  return tfrecords.write_split(out_dir, None, batches=batches())


def evaluate_test(g_b, g_x, fit, test_dir, num_examples=8):
  """LM and LMM scores over the test split from one latent fit per batch.

  Returns:
    ({"lm": scores, "lmm": scores}, {"lm": examples, "lmm": examples}) as in
    data.estimates.evaluate_split.
  """
  spec = tfrecords.read_spec(test_dir)
  values = {m: {k: [] for k in ("psnr_x", "ssim_x", "psnr_b", "ssim_b")} for m in ("lm", "lmm")}
  examples = {}
  done = 0
  for rec in tfrecords.dataset(test_dir, ["y", "x", "b"]).batch(FLAGS.eval_batch_size):
    out = lmm.separate_both(g_b, g_x, fit, rec["y"])
    for method in ("lm", "lmm"):
      x, b = out[f"{method}_x"], out[f"{method}_b"]
      values[method]["psnr_x"].append(metrics.psnr(x, rec["x"]).numpy())
      values[method]["ssim_x"].append(metrics.ssim(x, rec["x"]).numpy())
      values[method]["psnr_b"].append(metrics.psnr(b, rec["b"]).numpy())
      values[method]["ssim_b"].append(metrics.ssim(b, rec["b"]).numpy())
      if method not in examples:
        shown = {"mixture": rec["y"], "x": x, "b": b, "mask": out["mask"],
                 "x_true": rec["x"], "b_true": rec["b"]}
        examples[method] = {k: np.asarray(v)[:num_examples] for k, v in shown.items()}
    done += len(rec["y"])
    logging.info("LMM test-time fit: %d/%d mixtures", done, spec["count"])
  scores = {m: {k: float(np.mean(np.concatenate(v))) for k, v in vals.items()}
            for m, vals in values.items()}
  return scores, examples


def run():
  audio = None
  if FLAGS.domain == "audio":
    from eggsep_tf.trainers import lmm_audio as audio  # Imported lazily: audio needs soundfile/soxr.
    audio.check_flags()  # Before the workdir records the flags.
  workdir = runner.setup_workdir("lmm", LMM_FLAGS)
  if FLAGS.strategy != "default":
    raise InputError(f"--strategy={FLAGS.strategy}: trainers.lmm runs on one device only "
                     "(--strategy=default)")
  # Settings are checked before any data is prepared.
  loss_fn = lmm.make_reconstruction_loss(FLAGS.glo_loss, FLAGS.glo_vgg_weights or None)
  initializer_flags.int_list("glo_filters")
  runner.seed_everything()
  if audio is not None:
    audio.run(workdir, loss_fn)
    return
  data_dir, test_spec = runner.prepare_image_data(workdir)
  runner.record_run(workdir, "lmm", LMM_FLAGS)
  shape = test_spec["shape"]
  x_name, b_name = runner.source_names()
  lmm_dir = os.path.join(workdir, "lmm")
  writer = runner.summary_writer(workdir, "lmm")
  b_dir, y_dir = os.path.join(data_dir, "b_train"), os.path.join(data_dir, "y_train")
  num_b, num_y = tfrecords.read_spec(b_dir)["count"], tfrecords.read_spec(y_dir)["count"]
  check_indices(b_dir, num_b)
  check_indices(y_dir, num_y)

  g_b, g_x, z_b = fit_generators(
      lmm_dir, shape, num_b, num_y, loss_fn, writer, make_generator,
      lambda epoch: indexed_batches(b_dir, "b", FLAGS.batch_size, FLAGS.seed * 1009 + epoch),
      lambda epoch: indexed_batches(y_dir, "y", FLAGS.batch_size,
                                    FLAGS.seed * 1009 + 7919 + epoch))

  estimates = os.path.join(lmm_dir, "estimates", "x")
  if not os.path.exists(os.path.join(estimates, tfrecords.SPEC_FILE)):
    logging.info("Writing the LMM estimates of %d training mixtures to %s", num_y, estimates)
    write_training_estimates(lmm.make_training_separate_fn(g_b, g_x, z_b), y_dir, estimates)

  scores = results.load(workdir)
  if "lm" not in scores or "lmm" not in scores:
    fit = lmm.make_latent_fit_fn(g_b, g_x, loss_fn, FLAGS.lmm_fit_steps,
                                 FLAGS.lmm_fit_learning_rate, seed=FLAGS.seed)
    test_scores, examples = evaluate_test(g_b, g_x, fit, os.path.join(data_dir, "test"))
    for method in ("lm", "lmm"):
      results.update(workdir, method, test_scores[method], x_name, b_name)
      runner.log_scores(writer, 0, f"test/{method}", test_scores[method], examples[method])
      logging.info("%s: PSNR X %.2f dB (SSIM %.3f), PSNR B %.2f dB", method.upper(),
                   test_scores[method]["psnr_x"], test_scores[method]["ssim_x"],
                   test_scores[method]["psnr_b"])
  with open(os.path.join(workdir, "results.md")) as f:
    logging.info("Results (%s):\n%s", os.path.join(workdir, "results.md"), f.read())


if __name__ == "__main__":
  runner.start(run)
