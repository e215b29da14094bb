import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.encoder_decoder_mask import EncoderDecoderMask
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.mask_unet import MaskUNet


@pytest.mark.parametrize("shape", [(28, 28, 1), (257, 64, 1), (32, 32, 3), (17, 9, 2)])
@pytest.mark.parametrize("skips", [True, False])
def test_mask_shape_and_range(shape, skips):
  model = MaskUNet([4, 8, 16], skip_connections=skips)
  y = tf.random.uniform((2,) + shape, 0, 2)
  mask = model(y).numpy()
  assert mask.shape == (2,) + shape
  assert mask.min() >= 0.0 and mask.max() <= 1.0


def test_out_channels():
  model = MaskUNet([4, 8], out_channels=1)
  assert model(tf.zeros([1, 16, 16, 3])).shape == (1, 16, 16, 1)


def test_get_config_round_trip_gives_same_outputs():
  model = MaskUNet([4, 8], skip_connections=False)
  y = tf.random.uniform([2, 12, 12, 1])
  model(y)
  clone = MaskUNet.from_config(model.get_config())
  clone(y)
  clone.set_weights(model.get_weights())
  assert clone.filters == [4, 8] and clone.skip_connections is False
  np.testing.assert_allclose(clone(y).numpy(), model(y).numpy(), atol=1e-6)


def test_separator_serialization_round_trip():
  sep = ImageSeparator(MaskUNet([4, 8]))
  y = tf.random.uniform([2, 8, 8, 1])
  out = sep(y)
  np.testing.assert_allclose((out["x"] + out["b"]).numpy(), y.numpy(), atol=1e-6)
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sep))
  clone(y)
  clone.set_weights(sep.get_weights())
  np.testing.assert_allclose(clone(y)["b"].numpy(), out["b"].numpy(), atol=1e-6)


def test_batch_norm_inference_mode_ignores_batch_statistics():
  # In inference mode the output for one example must not depend on the rest of the batch.
  model = MaskUNet([4, 8])
  y = tf.random.uniform([4, 16, 16, 1])
  model(y, training=True)
  alone = model(y[:1], training=False).numpy()
  together = model(y, training=False).numpy()[:1]
  np.testing.assert_allclose(alone, together, atol=1e-5)


@pytest.mark.parametrize("shape", [(28, 28, 1), (257, 64, 1)])
def test_reference_encoder_decoder(shape):
  model = EncoderDecoderMask([4, 8, 16, 32])
  y = tf.random.uniform((2,) + shape, 0, 2)
  mask = model(y, training=True).numpy()
  assert mask.shape == (2,) + shape and 0.0 <= mask.min() and mask.max() <= 1.0
  assert not [v.path for v in model.variables if "/enc" in v.path and v.path.endswith("bias")]
  clone = EncoderDecoderMask.from_config(model.get_config())
  clone(y)
  clone.set_weights(model.get_weights())
  np.testing.assert_allclose(clone(y).numpy(), model(y).numpy(), atol=1e-6)
