r"""Latent Mixture Masking on audio (--domain=audio): LM / LMM rows and x_0 for LMM+NES.

  python -m trainers.lmm --flagfile=speech_noise_8k.flags --workdir=/tmp/lmm \
      --glo_filters=32,16 --glo_latent_dim=16 --lmm_stage1_epochs=15 --lmm_stage2_epochs=15
  python -m trainers.nes --flagfile=speech_noise_8k.flags --workdir=/tmp/lmm_nes \
      --init=lmm --init_workdir=/tmp/lmm

trainers.lmm hands --domain=audio runs to `run` here. The data are the audio
domain's prepared splits (WORKDIR/data, shared with trainers.nes and
trainers.supervised). The GLO generators work on mel patches
(--lmm_mel_bins x --patch_frames; eggsep_tf/lmm_audio.py), scaled by the mean
mel magnitude of the B patches (kept in WORKDIR/lmm/mel_scale.json) and
always with softplus outputs (magnitudes are unbounded); the loss compares
those scaled magnitudes, or log-compressed ones with --lmm_mel_compression=log
(measured worse, see eggsep_tf/lmm_audio.py).

1. Stage 1 (eq. 5): G_B and one code per B patch fit mel(b).
2. Stage 2 (eq. 6): G_B frozen; G_X and (z_B, z_X) per Y patch fit
   G_B + G_X = mel(y). The LMM mask of each Y patch (from its stage-2 codes,
   carried to the linear bins) applied to the patch gives x_0, written to
   WORKDIR/lmm/estimates/x in the records' format (waveform or magnitude
   patches, --audio_mixing), which trainers.nes --init=lmm reads.
3. Test (eq. 7): every test track is cut into patch-length blocks, the codes
   of each block are fitted (generators frozen), and LM (generator outputs,
   mixture phase) and LMM (mel mask on the mixture STFT) are scored with BSS
   Eval: rows `lm` and `lmm`.
Rerunning the same command resumes after the last finished epoch or stage.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf import audio_patches
from eggsep_tf import lmm_audio
from eggsep_tf import mel
from eggsep_tf import results
from eggsep_tf.errors import InputError
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import initializer_flags
from eggsep_tf.trainers import lmm_fit
from eggsep_tf.trainers import runner

FLAGS = common_flags.FLAGS


def check_flags():
  """InputError for settings audio LMM cannot use; trainers.lmm calls it first."""
  if FLAGS["glo_output"].present and FLAGS.glo_output != "softplus":
    raise InputError(f"--glo_output={FLAGS.glo_output}: audio LMM generates mel magnitudes, "
                     "which are unbounded; use --glo_output=softplus (the audio default)")


def make_generator(num_samples, shape):
  g = GloGenerator(num_samples, shape, latent_dim=FLAGS.glo_latent_dim,
                   filters=initializer_flags.int_list("glo_filters"),
                   output_activation="softplus")
  g.build()
  return g


def mel_batches(split_dir, name, to_mel, seed):
  """One shuffled pass over a split as (index, scaled mel patch) batches."""
  return lmm_fit.indexed_batches(split_dir, name, FLAGS.batch_size, seed).map(
      lambda index, patch: (index, to_mel(patch)), num_parallel_calls=tf.data.AUTOTUNE)


def mel_scale(path, b_dir, to_mel_unscaled):
  """The mean mel magnitude of the B patches, computed once and kept in `path`."""
  saved = runner.read_json(path)
  if saved is not None:
    return float(saved["scale"])
  total, count = 0.0, 0
  for rec in tfrecords.dataset(b_dir, ["b"]).batch(FLAGS.eval_batch_size):
    values = to_mel_unscaled(rec["b"]).numpy()
    total += float(np.sum(values, dtype=np.float64))
    count += values.size
  scale = total / max(count, 1)
  if not np.isfinite(scale) or scale <= 0:
    raise InputError(f"{b_dir}: the B patches are silent (mean mel magnitude {scale}); "
                     "give recordings with sound in them")
  runner.write_json(path, {"scale": scale})
  return scale


def write_training_estimates(estimate, y_dir, out_dir):
  """x_0 for LMM+NES: the LMM x estimate of every training mixture patch, by index."""

  def batches():
    for rec in tfrecords.dataset(y_dir, ["y"]).batch(FLAGS.eval_batch_size):
      x = estimate(tf.cast(rec["index"], tf.int32), rec["y"]).numpy()
      if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite LMM estimates for {y_dir}")
      yield {"x": x, "index": rec["index"].numpy()}

  return tfrecords.write_split(out_dir, None, batches=batches())


class _TrackCache:
  """Both rows from one fit per track: the lmm pass fits, the lm pass replays in order."""

  def __init__(self, separate):
    self.separate = separate
    self.pending = []

  def lmm(self, y):
    out = self.separate(y)
    self.pending.append((out["lm_x"], out["lm_b"]))
    return out["lmm_x"], out["lmm_b"]

  def lm(self, y):
    del y  # Tracks come in the same order as in the lmm pass.
    return self.pending.pop(0)


def run(workdir, loss_fn):
  """The audio LMM run in `workdir` (flags already checked and recorded by trainers.lmm)."""
  check_flags()
  loss_fn = lmm_audio.compressed_loss(loss_fn, FLAGS.lmm_mel_compression)
  domain = domains.make_domain(workdir)
  domain.prepare()
  runner.record_run(workdir, "lmm", lmm_fit.LMM_FLAGS)
  x_name, b_name = domain.names()
  data_dir = domain.data_dir
  lmm_dir = os.path.join(workdir, "lmm")
  os.makedirs(lmm_dir, exist_ok=True)
  writer = runner.summary_writer(workdir, "lmm")
  b_dir, y_dir = os.path.join(data_dir, "b_train"), os.path.join(data_dir, "y_train")
  num_b, num_y = tfrecords.read_spec(b_dir)["count"], tfrecords.read_spec(y_dir)["count"]
  lmm_fit.check_indices(b_dir, num_b)
  lmm_fit.check_indices(y_dir, num_y)

  stft, mixing, frames = domain.stft, domain.mixing, domain.frames
  matrix = mel.mel_matrix(stft.num_bins, domain.sample_rate, FLAGS.lmm_mel_bins)
  upsampling = mel.mask_upsampling_matrix(matrix)
  scale = mel_scale(os.path.join(lmm_dir, "mel_scale.json"), b_dir,
                    lambda p: mel.to_mel(audio_patches.record_magnitude(p, stft, mixing), matrix))

  def to_mel(patches):
    return lmm_audio.patch_mel(audio_patches.record_magnitude(patches, stft, mixing), matrix, scale)

  shape = [FLAGS.lmm_mel_bins, frames, 1]
  logging.info("Audio LMM on %s mel patches (mel scale %.4g), %d B and %d Y patches", shape,
               scale, num_b, num_y)

  g_b, g_x, z_b = lmm_fit.fit_generators(
      lmm_dir, shape, num_b, num_y, loss_fn, writer, make_generator,
      lambda epoch: mel_batches(b_dir, "b", to_mel, FLAGS.seed * 1009 + epoch),
      lambda epoch: mel_batches(y_dir, "y", to_mel, FLAGS.seed * 1009 + 7919 + epoch))

  estimates = os.path.join(lmm_dir, "estimates", "x")
  if not os.path.exists(os.path.join(estimates, tfrecords.SPEC_FILE)):
    logging.info("Writing the LMM estimates of %d training mixtures to %s", num_y, estimates)
    write_training_estimates(lmm_audio.make_training_estimate_fn(
        g_b, g_x, z_b, matrix, upsampling, scale, stft, mixing), y_dir, estimates)
    domain.check_estimates(estimates)

  scores = results.load(workdir)
  if "lm" not in scores or "lmm" not in scores:
    fit = lmm.make_latent_fit_fn(g_b, g_x, loss_fn, FLAGS.lmm_fit_steps,
                                 FLAGS.lmm_fit_learning_rate, seed=FLAGS.seed)
    cache = _TrackCache(lambda y: lmm_audio.separate_track(
        y, stft, frames, matrix, upsampling, scale, g_b, g_x, fit, FLAGS.eval_batch_size))
    test_scores = {"lmm": domain.evaluate_waveform_fn(cache.lmm),
                   "lm": domain.evaluate_waveform_fn(cache.lm)}
    for method in ("lm", "lmm"):
      if not test_scores[method]:
        continue
      results.update(workdir, method, test_scores[method], x_name, b_name)
      domain.log(writer, 0, f"test/{method}", test_scores[method])
      logging.info("%s: %s", method.upper(),
                   ", ".join(f"{k} {v:.3f}" for k, v in test_scores[method].items()))
  path = os.path.join(workdir, "results.md")
  if os.path.exists(path):
    with open(path) as f:
      logging.info("Results (%s):\n%s", path, f.read())
