import numpy as np
import tensorflow as tf

from eggsep_tf import bss_eval
from eggsep_tf import oracle


def test_ideal_image_mask_recovers_non_negative_sources_exactly():
  rng = np.random.default_rng(0)
  x = rng.uniform(size=(3, 8, 8, 1)).astype(np.float32) * (rng.uniform(size=(3, 8, 8, 1)) > 0.5)
  b = rng.uniform(size=(3, 8, 8, 1)).astype(np.float32)
  x_est, b_est, mask = oracle.ideal_image_separation(tf.constant(x + b), tf.constant(b))
  np.testing.assert_allclose(x_est, x, atol=1e-5)
  np.testing.assert_allclose(b_est, b, atol=1e-5)
  assert float(tf.reduce_min(mask)) >= 0 and float(tf.reduce_max(mask)) <= 1


def test_ideal_image_mask_is_one_where_the_mixture_is_empty():
  y = tf.zeros((1, 2, 2, 1))
  np.testing.assert_array_equal(oracle.ideal_image_mask(y, y), np.ones((1, 2, 2, 1)))


def test_ideal_ratio_mask_separates_disjoint_spectra_almost_perfectly():
  rate = 8000
  t = np.arange(2 * rate) / rate
  x = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
  b = (0.5 * np.sin(2 * np.pi * 2500 * t)).astype(np.float32)
  x_est, b_est = oracle.ideal_ratio_separation(x + b, x, b, n_fft=512, win_length=200,
                                               hop_length=80)
  assert x_est.shape == x.shape and b_est.shape == b.shape
  scores = bss_eval.evaluate_track({"x": x, "b": b}, {"x": x_est, "b": b_est}, rate)
  assert scores["sdr_x"] > 30 and scores["sdr_b"] > 30
  np.testing.assert_allclose(x_est + b_est, x + b, atol=1e-5)


def test_ideal_ratio_mask_of_identical_sources_is_one_half():
  spectrum = tf.complex(tf.ones((2, 3)), tf.zeros((2, 3)))
  np.testing.assert_allclose(oracle.ideal_ratio_mask(spectrum, spectrum), 0.5)
