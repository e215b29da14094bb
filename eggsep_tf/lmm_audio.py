"""Latent Mixture Masking on audio (paper section 4.1): GLO on mel patches, masks on the STFT.

(The pure half of audio LMM; the trainer's half is trainers/lmm_audio.py.)

The GLO generators of eggsep_tf/lmm.py work on small mel spectrograms
(`num_mel_bins` x patch frames, 64 x 64 in the paper) instead of the linear
|STFT| patches the mask net sees:

  mel(patch) = (|STFT| patch) @ mel filterbank / scale      -> patch_mel
  LMM (eq. 10):  mask = G_B / (G_B + G_X) on the mel bands, carried to the
                 linear bins (eggsep_tf.mel.mel_mask_to_linear) and applied to
                 the complex mixture STFT, so x and b keep the mixture's phase
  LM (eq. 8):    G_B and G_X carried to linear magnitudes
                 (eggsep_tf.mel.mel_to_linear_magnitude), mixture phase

`scale` (the mean mel magnitude of the B patches) brings the GLO targets to
about 1. Mel magnitudes span several orders of magnitude, so the GLO loss can
instead compare log-compressed values (`compressed_loss`, "log"): the
generators still output non-negative magnitudes that add up (G_B + G_X fits
mel(y)), only the loss weighs quiet bands more; the mask is always formed
from the uncompressed outputs. Measured (LMM row, X SDR in dB; GLO filters
32,16, latent 16, 15 + 15 epochs, 100 fit steps, 64 mel bands, L2 loss):
  tones + noise, 8 kHz, 3 test tracks, seeds 1/2/3:  none 2.12/2.44/2.08,
                                                     log  1.42/1.80/1.81
  klettres speech + qabcs noise (speech_noise_8k.flags data), 1 seed:
                                                     none 1.65, log 1.47
so the uncompressed loss ("none") is the default. (Const scores 0.09 and
2.49 dB on these two data sets: on real speech this short LMM alone stays
below Const.)
"""

import numpy as np
import tensorflow as tf

from eggsep_tf import audio_patches
from eggsep_tf import lmm
from eggsep_tf import mel
from eggsep_tf import spectrogram
from eggsep_tf.errors import InputError

COMPRESSIONS = ("none", "log")
LOG_FLOOR = 0.01  # log1p(v / LOG_FLOOR): magnitudes 40 dB below the B mean weigh like 0.


def compressed_loss(loss_fn, compression="none"):
  """fn(estimate, target) comparing compressed magnitudes with `loss_fn`.

  Args:
    loss_fn: a reconstruction loss (eggsep_tf.lmm.make_reconstruction_loss).
    compression: "none" (the loss as it is) or "log" (log1p(v / LOG_FLOOR)
      of the scale-normalised magnitudes).

  Raises:
    InputError: unknown compression.
  """
  if compression == "none":
    return loss_fn
  if compression != "log":
    raise InputError(f"compression={compression!r}: expected one of {', '.join(COMPRESSIONS)}")

  def compress(v):
    return tf.math.log1p(tf.maximum(tf.cast(v, tf.float32), 0.0) / LOG_FLOOR)

  def loss(estimate, target):
    return loss_fn(compress(estimate), compress(target))

  return loss


def patch_mel(magnitudes, matrix, scale):
  """|STFT| patches [batch, F, T, 1] -> scaled mel patches [batch, M, T, 1]."""
  return mel.to_mel(magnitudes, matrix) / scale


def linear_mask(g_b, g_x, z_b, z_x, upsampling):
  """The LMM B mask on the linear bins from a code pair: [batch, F, T, 1] in [0, 1]."""
  x_hat, b_hat = lmm.lm_estimates(g_b, g_x, z_b, z_x)
  return mel.mel_mask_to_linear(lmm.lmm_mask(b_hat, x_hat), upsampling)


def blocks(magnitude, frames):
  """[F, T] -> ([ceil(T / frames), F, frames, 1] zero-padded blocks, T)."""
  total = tf.shape(magnitude)[1]
  count = (total + frames - 1) // frames
  padded = tf.pad(magnitude, [[0, 0], [0, count * frames - total]])
  out = tf.reshape(padded, [tf.shape(magnitude)[0], count, frames])
  return tf.transpose(out, [1, 0, 2])[..., tf.newaxis], total


def join(patches, total):
  """Inverse of `blocks`: [count, F, frames, 1] -> [total, F] (the STFT's [frames, bins])."""
  patches = patches[..., 0]
  count, bins, frames = tf.unstack(tf.shape(patches))
  joined = tf.reshape(tf.transpose(patches, [1, 0, 2]), [bins, count * frames])
  return tf.transpose(joined[:, :total])


def separate_track(waveform, stft, frames, matrix, upsampling, scale, g_b, g_x, fit,
                   batch_size=64):
  """LM and LMM estimates of one whole track from one test-time latent fit per block.

  The track's centred STFT is cut into blocks of `frames` frames (the last one
  zero-padded), each block's mel codes are fitted with `fit` (only the codes
  move), and the block outputs are joined before one inverse STFT.

  Args:
    waveform: [samples] float mixture (more than n_fft // 2 samples).
    stft: eggsep_tf.spectrogram.Stft (settings).
    frames: frames per block (the training patch length).
    matrix: [F, M] mel filterbank; upsampling: [M, F] from mel.mask_upsampling_matrix.
    scale: the mel scale the generators were trained with.
    g_b, g_x: trained GloGenerators on [M, frames, 1].
    fit: eggsep_tf.lmm.make_latent_fit_fn(g_b, g_x, ...).
    batch_size: blocks fitted at once.

  Returns:
    dict lm_x, lm_b, lmm_x, lmm_b: [samples] float32 numpy arrays.
  """
  waveform = tf.convert_to_tensor(waveform, tf.float32)
  length = tf.shape(waveform)[0]
  spectrum = spectrogram.stft(waveform[tf.newaxis], stft.n_fft, stft.win_length,
                              stft.hop_length)[0]  # [T, F]
  magnitude = tf.abs(spectrum)
  patches, total = blocks(tf.transpose(magnitude), frames)
  masks, b_mags, x_mags = [], [], []
  for start in range(0, int(patches.shape[0]), batch_size):
    y_mel = patch_mel(patches[start:start + batch_size], matrix, scale)
    z_b, z_x = fit(y_mel)
    x_hat, b_hat = lmm.lm_estimates(g_b, g_x, z_b, z_x)
    masks.append(mel.mel_mask_to_linear(lmm.lmm_mask(b_hat, x_hat), upsampling))
    b_mags.append(mel.mel_to_linear_magnitude(b_hat * scale, matrix, upsampling))
    x_mags.append(mel.mel_to_linear_magnitude(x_hat * scale, matrix, upsampling))
  mask, b_mag, x_mag = (join(tf.concat(v, 0), total) for v in (masks, b_mags, x_mags))
  # Mixture phase; a bin where the mixture is exactly 0 gets phase 0.
  phase = tf.where(magnitude > 0, spectrum / tf.cast(tf.maximum(magnitude, 1e-30), tf.complex64),
                   tf.ones_like(spectrum))

  def inverse(spec):
    return spectrogram.inverse_stft(spec[tf.newaxis], length, stft.n_fft, stft.win_length,
                                    stft.hop_length)[0].numpy()

  lmm_b = inverse(spectrum * tf.cast(mask, tf.complex64))
  y = waveform.numpy()
  out = {"lmm_b": lmm_b, "lmm_x": y - lmm_b,
         "lm_b": inverse(phase * tf.cast(b_mag, tf.complex64)),
         "lm_x": inverse(phase * tf.cast(x_mag, tf.complex64))}
  for key, value in out.items():
    if not np.all(np.isfinite(value)):
      raise FloatingPointError(f"non-finite {key} estimate of a test track")
  return out


def make_training_estimate_fn(g_b, g_x, z_b_table, matrix, upsampling, scale, stft, mixing):
  """(indices, y patches) -> x estimates in the records' own format (the NES x_0).

  The LMM mask of each training mixture comes from its stage-2 codes (z_B from
  `z_b_table`, z_X from g_x's table), is carried to the linear bins and
  applied to the mixture as NES re-estimation does: waveform patches get
  x = y - iSTFT(m Y) (mixture phase; audio_patches.separate_waveform_patches),
  magnitude patches x = (1 - m) |Y|.

  Args:
    g_b, g_x, z_b_table: as trained by eggsep_tf.lmm.make_stage2_step on mel patches.
    matrix, upsampling, scale: as in `separate_track`.
    stft: Stft layer (settings).
    mixing: "waveform" or "magnitude".

  Returns:
    estimate(indices [batch] int, y [batch, ...]) -> x, y's shape, float32.
  """
  if mixing not in ("waveform", "magnitude"):
    raise InputError(f"audio mixing {mixing!r}: expected waveform or magnitude")

  @tf.function(reduce_retracing=True)
  def estimate(indices, y):
    y = tf.cast(y, tf.float32)
    mask = linear_mask(g_b, g_x, z_b_table(indices), g_x.latents(indices), upsampling)
    if mixing == "magnitude":
      return (1.0 - mask) * y

    def mask_model(magnitudes, training=False):
      del magnitudes, training  # The mask is fixed by the codes.
      return mask

    return audio_patches.separate_waveform_patches(mask_model, y, stft)["x"]

  return estimate
