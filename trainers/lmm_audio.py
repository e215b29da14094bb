r"""Latent Mixture Masking on audio (--domain=audio): LM / LMM rows and x_0 for LMM+NES.

(The trainer's half of audio LMM; the pure half is eggsep_tf/lmm_audio.py.)

  python -m trainers.lmm --flagfile=speech_noise_8k.flags --workdir=/tmp/lmm \
      --glo_filters=32,16 --glo_latent_dim=16 --lmm_stage1_epochs=15 --lmm_stage2_epochs=15
  python -m trainers.nes --flagfile=speech_noise_8k.flags --workdir=/tmp/lmm_nes \
      --init=lmm --init_workdir=/tmp/lmm

trainers/lmm.py runs the method through a domain's LMM half, which
AudioDomain.lmm() returns: the AudioLmm class here (trainers/lmm_image.py is the
image one). The data are the audio domain's prepared splits (WORKDIR/data,
shared with trainers.nes and trainers.supervised). The GLO generators work on mel patches
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

from eggsep_tf.data import iteration
from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf import lmm_audio
from eggsep_tf import mel
from eggsep_tf.errors import InputError
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import lmm_fit


def mel_scale(path, b_dir, to_mel_unscaled, batch_size):
  """The mean mel magnitude of the B patches, computed once and kept in `path`."""
  saved = json_files.read_json(path)
  if saved is not None:
    return float(saved["scale"])
  total, count = 0.0, 0
  for rec in iteration.elements(tfrecords.dataset(b_dir, ["b"]).batch(batch_size)):
    values = to_mel_unscaled(rec["b"]).numpy()
    total += float(np.sum(values, dtype=np.float64))
    count += values.size
  scale = total / max(count, 1)
  if not np.isfinite(scale) or scale <= 0:
    raise InputError(f"{b_dir}: the B patches are silent (mean mel magnitude {scale}); "
                     "give recordings with sound in them")
  json_files.write_json(path, {"scale": scale})
  return scale


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


class AudioLmm:
  """The LMM half of an AudioDomain (see trainers/lmm.py for the interface)."""

  def __init__(self, domain):
    self.domain = domain
    self.cfg = domain.cfg.lmm
    self.shape = [self.cfg.lmm_mel_bins, domain.frames, 1]
    self.matrix = mel.mel_matrix(domain.stft.num_bins, domain.sample_rate, self.cfg.lmm_mel_bins)
    self.upsampling = mel.mask_upsampling_matrix(self.matrix)
    self.scale = None

  def check_flags(self):
    """InputError for settings audio LMM cannot use (before the run is recorded)."""
    if self.cfg.glo_output_given and self.cfg.glo_output != "softplus":
      raise InputError(f"--glo_output={self.cfg.glo_output}: audio LMM generates mel magnitudes, "
                       "which are unbounded; use --glo_output=softplus (the audio default)")

  def _magnitude(self, patches):
    return audio_patches.record_magnitude(patches, self.domain.stft, self.domain.mixing)

  def prepare(self, lmm_dir, loss_fn):
    """The mel scale of the B patches (kept in lmm_dir/mel_scale.json).

    Returns:
      The loss on (optionally log-compressed) scaled mel magnitudes.
    """
    os.makedirs(lmm_dir, exist_ok=True)
    self.scale = mel_scale(os.path.join(lmm_dir, "mel_scale.json"),
                           self.domain.split_dir("b_train"),
                           lambda p: mel.to_mel(self._magnitude(p), self.matrix),
                           self.domain.run.eval_batch_size)
    logging.info("Audio LMM on %s mel patches (mel scale %.4g)", self.shape, self.scale)
    return lmm_audio.compressed_loss(loss_fn, self.cfg.lmm_mel_compression)

  def make_generator(self, num_samples):
    g = GloGenerator(num_samples, self.shape, latent_dim=self.cfg.glo_latent_dim,
                     filters=self.cfg.generator_filters(),
                     output_activation="softplus")
    g.build()
    return g

  def batches(self, split, seed, batch_size, shard=None):
    """One shuffled pass over b_train or y_train as (index, scaled mel patch) batches."""
    matrix, scale, magnitude = self.matrix, self.scale, self._magnitude
    return lmm_fit.indexed_batches(self.domain.split_dir(split), split[0], batch_size, seed,
                                   shard).map(
        lambda index, patch: (index, lmm_audio.patch_mel(magnitude(patch), matrix, scale)),
        num_parallel_calls=tf.data.AUTOTUNE)

  def training_estimate_fn(self, g_b, g_x, z_b):
    """(index [n], Y records) -> x_0 records (waveform or magnitude patches)."""
    return lmm_audio.make_training_estimate_fn(g_b, g_x, z_b, self.matrix, self.upsampling,
                                               self.scale, self.domain.stft,
                                               self.domain.mixing)

  def evaluate_test(self, g_b, g_x, fit):
    """LM and LMM BSS Eval scores of the test tracks from one latent fit per block.

    Returns:
      ({"lm": scores, "lmm": scores}, {"lm": None, "lmm": None}); scores are {}
      without test tracks.
    """
    domain = self.domain
    cache = _TrackCache(lambda y: lmm_audio.separate_track(
        y, domain.stft, domain.frames, self.matrix, self.upsampling, self.scale, g_b, g_x,
        fit, self.domain.run.eval_batch_size))
    scores = {"lmm": domain.evaluate_waveform_fn(cache.lmm),
              "lm": domain.evaluate_waveform_fn(cache.lm)}
    return scores, {"lm": None, "lmm": None}
