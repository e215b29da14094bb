import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import mask_nets
from eggsep_tf.spectral_tcn_mask import SpectralTCNMask


@pytest.mark.parametrize("shape", [(129, 16, 1), (257, 64, 1), (33, 40, 2)])
def test_mask_has_input_shape_and_lies_in_unit_interval(shape):
  model = SpectralTCNMask([8, 8, 12])
  mask = model(tf.random.uniform((2,) + shape, 0, 5))
  assert mask.shape == (2,) + shape
  assert float(tf.reduce_min(mask)) >= 0.0 and float(tf.reduce_max(mask)) <= 1.0


def test_any_number_of_frames_after_building():
  model = SpectralTCNMask([8, 8])
  model(tf.zeros((1, 65, 16, 1)))
  assert model(tf.random.uniform((3, 65, 100, 1))).shape == (3, 65, 100, 1)


def test_receptive_field_is_what_the_docstring_says():
  model = SpectralTCNMask([4, 4, 4, 4], kernel_size=3)
  assert model.receptive_field == 31
  y = tf.random.uniform((1, 17, 80, 1), 0.5, 1.0)
  model(y)
  # Changing one frame moves the mask of frames within half the receptive field only.
  changed = tf.tensor_scatter_nd_update(y, [[0, 3, 40, 0]], [9.0])
  delta = np.abs(model(changed).numpy() - model(y).numpy()).max(axis=(0, 1, 3))
  moved = np.nonzero(delta > 1e-7)[0]
  assert moved.min() >= 40 - 15 and moved.max() <= 40 + 15
  assert 40 in moved


def test_get_config_round_trip_gives_the_same_function():
  model = SpectralTCNMask([6, 10], kernel_size=5)
  y = tf.random.uniform((2, 33, 20, 1))
  model(y)
  copy = SpectralTCNMask.from_config(model.get_config())
  copy(y)
  copy.set_weights(model.get_weights())
  np.testing.assert_allclose(copy(y), model(y), atol=1e-6)


def test_silence_and_mixed_precision_give_finite_masks():
  import keras
  old = keras.mixed_precision.global_policy().name
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    model = SpectralTCNMask([8, 8])
    mask = model(tf.zeros((2, 33, 16, 1)), training=True)
  finally:
    keras.mixed_precision.set_global_policy(old)
  assert mask.dtype == tf.float32 and bool(tf.reduce_all(tf.math.is_finite(mask)))


def test_bad_filters_are_refused():
  with pytest.raises(ValueError, match="positive"):
    SpectralTCNMask([8, 0])


def test_factory_builds_it():
  net = mask_nets.build_mask_net("spectral_tcn", [4, 8])
  assert isinstance(net, SpectralTCNMask)
  assert net(tf.zeros((1, 33, 16, 1))).shape == (1, 33, 16, 1)
