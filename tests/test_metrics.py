import numpy as np
import tensorflow as tf

from eggsep_tf import metrics


def test_psnr_known_values():
  ref = np.zeros([2, 8, 8, 1], np.float32)
  est = ref + np.array([0.1, 0.01], np.float32)[:, None, None, None]
  # MSE 0.01 -> 20 dB, MSE 1e-4 -> 40 dB.
  np.testing.assert_allclose(metrics.psnr(est, ref).numpy(), [20.0, 40.0], rtol=1e-5)


def test_psnr_clips_estimate_and_caps_perfect():
  ref = np.full([1, 4, 4, 1], 1.0, np.float32)
  assert abs(metrics.psnr(ref + 0.5, ref).numpy()[0] - 100.0) < 1e-3  # Overshoot clipped.
  assert abs(metrics.psnr(ref, ref).numpy()[0] - 100.0) < 1e-3


def test_ssim_identical_is_one_and_noise_is_lower():
  rng = np.random.default_rng(0)
  ref = rng.uniform(size=[2, 28, 28, 1]).astype(np.float32)
  np.testing.assert_allclose(metrics.ssim(ref, ref).numpy(), 1.0, atol=1e-5)
  noisy = np.clip(ref + rng.normal(0, 0.3, ref.shape), 0, 1).astype(np.float32)
  assert np.all(metrics.ssim(noisy, ref).numpy() < 0.9)


def test_ssim_small_images():
  ref = tf.random.uniform([1, 6, 6, 1])
  assert metrics.ssim(ref, ref).shape == (1,)
