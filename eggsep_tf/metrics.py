"""Image quality metrics: PSNR and SSIM on the [0, 1] scale."""

import tensorflow as tf

_MIN_MSE = 1e-10  # Caps PSNR at 100 dB for a perfect estimate instead of +inf.


def psnr(estimate, reference):
  """Peak signal-to-noise ratio per image, data range 1: -10 log10(MSE).

  Args:
    estimate, reference: [batch, H, W, C] float tensors on the [0, 1] scale.
      The estimate is clipped to [0, 1] first (a separated source can
      overshoot; its reference cannot).

  Returns:
    [batch] PSNR in dB.
  """
  estimate = tf.clip_by_value(tf.cast(estimate, tf.float32), 0.0, 1.0)
  reference = tf.cast(reference, tf.float32)
  mse = tf.reduce_mean(tf.square(estimate - reference), axis=[1, 2, 3])
  return -10.0 * tf.math.log(tf.maximum(mse, _MIN_MSE)) / tf.math.log(10.0)


def ssim(estimate, reference):
  """Structural similarity per image (Gaussian 11x11 window, or the image size if smaller).

  Args:
    estimate, reference: [batch, H, W, C] on the [0, 1] scale; the estimate is
      clipped to [0, 1].

  Returns:
    [batch] SSIM in [-1, 1].
  """
  estimate = tf.clip_by_value(tf.cast(estimate, tf.float32), 0.0, 1.0)
  reference = tf.cast(reference, tf.float32)
  size = min(11, int(reference.shape[1]), int(reference.shape[2]))
  return tf.image.ssim(estimate, reference, max_val=1.0, filter_size=size,
                       filter_sigma=1.5 * size / 11.0)
