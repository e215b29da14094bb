"""Mel spectrograms and mel-to-linear mask upsampling (LMM on audio, paper section 4.1).

LMM's generators work on small mel spectrograms (64 mel bands x 64 frames);
its mask is then carried back to the linear STFT bins and applied to the
mixture as in NES. Spectrograms are [batch, freq, frames, channels], as the
mask net takes them.
"""

import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError


def mel_matrix(num_linear_bins, sample_rate, num_mel_bins=64, lower_hz=0.0, upper_hz=None):
  """Triangular mel filterbank [num_linear_bins, num_mel_bins] (tf.signal).

  Args:
    num_linear_bins: STFT bins, n_fft // 2 + 1 (257 for n_fft 512).
    sample_rate: Hz.
    num_mel_bins: mel bands.
    lower_hz, upper_hz: band edges; upper defaults to sample_rate / 2.

  Returns:
    float32 tensor; column j weighs the linear bins of mel band j.
  """
  upper_hz = sample_rate / 2.0 if upper_hz is None else upper_hz
  if not 0 <= lower_hz < upper_hz <= sample_rate / 2.0:
    raise InputError(f"mel band edges {lower_hz}-{upper_hz} Hz: expected "
                     f"0 <= lower < upper <= {sample_rate / 2.0} (half the sample rate)")
  return tf.signal.linear_to_mel_weight_matrix(num_mel_bins, num_linear_bins, sample_rate,
                                               lower_hz, upper_hz)


def to_mel(spectrogram, matrix):
  """Linear magnitudes [batch, F, T, C] -> mel magnitudes [batch, M, T, C]."""
  return tf.einsum("bftc,fm->bmtc", tf.cast(spectrogram, tf.float32), matrix)


def mask_upsampling_matrix(matrix):
  """Row-normalised transpose of a mel matrix: [num_mel_bins, num_linear_bins].

  Linear bin f gets the average of the mel-band masks covering it, weighted by
  the filterbank (each column sums to 1), so masks in [0, 1] stay in [0, 1].
  Bins outside every band (the DC bin, bins beyond the edges) copy the mask
  of the nearest covered bin.

  Args:
    matrix: [F, M] mel filterbank from mel_matrix.

  Returns:
    [M, F] float32 tensor.
  """
  weights = np.asarray(matrix, np.float64)
  totals = weights.sum(axis=1)
  covered = np.flatnonzero(totals > 0)
  if covered.size == 0:
    raise InputError("mel filterbank: no linear bin lies in any band; check the band edges")
  for f in np.flatnonzero(totals <= 0):
    nearest = covered[np.argmin(np.abs(covered - f))]
    weights[f] = weights[nearest]
  weights /= weights.sum(axis=1, keepdims=True)
  return tf.constant(weights.T, tf.float32)


def mel_mask_to_linear(mask, upsampling):
  """Mel-domain mask [batch, M, T, C] -> linear-bin mask [batch, F, T, C], clipped to [0, 1].

  Args:
    mask: mel-band mask values.
    upsampling: [M, F] from mask_upsampling_matrix.
  """
  linear = tf.einsum("bmtc,mf->bftc", tf.cast(mask, tf.float32), upsampling)
  return tf.clip_by_value(linear, 0.0, 1.0)


def band_widths(matrix):
  """Total filterbank weight of each mel band: [M] (0 for a band no linear bin reaches)."""
  return tf.reduce_sum(tf.cast(matrix, tf.float32), axis=0)


def mel_to_linear_magnitude(mel, matrix, upsampling):
  """Mel magnitudes [batch, M, T, C] -> linear-bin magnitudes [batch, F, T, C], >= 0.

  Each band's value is divided by its band width (so it becomes the mean
  linear magnitude under the band) and then spread over the linear bins with
  `upsampling`, as masks are: a constant linear spectrum comes back exactly.
  Bands of width 0 (too narrow to reach a linear bin) contribute 0 instead of
  dividing by zero.

  Args:
    mel: non-negative mel magnitudes (e.g. GLO generator outputs).
    matrix: [F, M] mel filterbank from mel_matrix.
    upsampling: [M, F] from mask_upsampling_matrix(matrix).
  """
  per_bin = tf.math.divide_no_nan(tf.maximum(tf.cast(mel, tf.float32), 0.0),
                                  band_widths(matrix)[:, tf.newaxis, tf.newaxis])
  return tf.einsum("bmtc,mf->bftc", per_bin, upsampling)
