"""The oracle masks: the ceiling of any mask method on a given front end.

Images: the ideal mask m = b / y (clipped to [0, 1]) gives T(y) = y * m = b
wherever b <= y, so x = y - T(y) is exact up to the clipping.
Audio: the ideal ratio mask on the STFT, m = |B| / (|X| + |B|), multiplies the
complex mixture STFT (mixture phase), as the separators' masks do; the inverse
STFT gives b and x = y - b. Both are scored exactly like the methods.
"""

import tensorflow as tf

from eggsep_tf import spectrogram


def ideal_image_mask(y, b, epsilon=1e-8):
  """m = b / y in [0, 1] (1 where y is 0). Args: y, b [..., H, W, C] >= 0."""
  return tf.where(y > epsilon, tf.clip_by_value(b / tf.maximum(y, epsilon), 0.0, 1.0),
                  tf.ones_like(y))


def ideal_image_separation(y, b):
  """(x, b, mask) of the ideal mask, like a separate function's outputs."""
  mask = ideal_image_mask(y, b)
  b_est = y * mask
  return y - b_est, b_est, mask


def ideal_ratio_mask(x_spectrum, b_spectrum, epsilon=1e-8):
  """m_b = |B| / (|X| + |B|) of two complex STFTs [..., frames, bins] (0.5 where both are 0)."""
  xm, bm = tf.abs(x_spectrum), tf.abs(b_spectrum)
  return tf.where(xm + bm > epsilon, bm / tf.maximum(xm + bm, epsilon), 0.5 * tf.ones_like(bm))


def ideal_ratio_separation(y, x, b, n_fft, win_length, hop_length):
  """(x_est, b_est) waveforms [samples] from the ideal ratio mask on the mixture's STFT.

  Args:
    y, x, b: mixture and references, float32 [samples].
    n_fft, win_length, hop_length: the run's STFT (centred frames).
  """
  def spec(w):
    return spectrogram.stft(tf.convert_to_tensor(w, tf.float32)[tf.newaxis], n_fft, win_length,
                            hop_length)

  mask = ideal_ratio_mask(spec(x), spec(b))
  b_est = spectrogram.inverse_stft(spec(y) * tf.cast(mask, tf.complex64), tf.shape(y)[-1],
                                   n_fft, win_length, hop_length)[0]
  return (tf.convert_to_tensor(y, tf.float32) - b_est).numpy(), b_est.numpy()
