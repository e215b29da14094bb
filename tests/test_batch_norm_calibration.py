import keras
import numpy as np
import tensorflow as tf

from eggsep_tf import batch_norm_calibration
from eggsep_tf.batch_norm import FusedBatchNorm
from eggsep_tf.mask_unet import MaskUNet


def _bn_model():
  inputs = keras.Input((4, 4, 2))
  return keras.Model(inputs, FusedBatchNorm(momentum=0.9)(inputs))


def test_moving_statistics_become_the_mean_of_batch_statistics():
  model = _bn_model()
  rng = np.random.default_rng(0)
  batches = [rng.normal(3.0 + i, 1.0 + i, size=(8, 4, 4, 2)).astype(np.float32)
             for i in range(3)]
  assert batch_norm_calibration.recalibrate(model, batches) == 3
  layer = batch_norm_calibration.batch_norm_layers(model)[0]
  means = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
  variances = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
  np.testing.assert_allclose(layer.moving_mean.numpy(), means, rtol=1e-5)
  np.testing.assert_allclose(layer.moving_variance.numpy(), variances, rtol=1e-4)
  assert layer.momentum == 0.9  # Restored.


def test_weights_other_than_statistics_do_not_change():
  model = MaskUNet([4, 8])
  model(tf.zeros((1, 8, 8, 1)))
  before = {w.path: w.numpy() for w in model.weights}
  batch_norm_calibration.recalibrate(model, [tf.random.uniform((4, 8, 8, 1)) * 5])
  for w in model.weights:
    if "moving" not in w.path:
      np.testing.assert_array_equal(w.numpy(), before[w.path])
  assert any(not np.array_equal(w.numpy(), before[w.path]) for w in model.weights
             if "moving_mean" in w.path)


def test_no_batches_leave_the_model_unchanged():
  model = _bn_model()
  layer = batch_norm_calibration.batch_norm_layers(model)[0]
  layer.moving_mean.assign([1.0, 2.0])
  assert batch_norm_calibration.recalibrate(model, []) == 0
  np.testing.assert_array_equal(layer.moving_mean.numpy(), [1.0, 2.0])


def test_inference_then_uses_the_measured_statistics():
  model = _bn_model()
  batch = np.random.default_rng(1).normal(5.0, 2.0, size=(64, 4, 4, 2)).astype(np.float32)
  batch_norm_calibration.recalibrate(model, [batch])
  out = model(batch, training=False).numpy()
  assert abs(out.mean()) < 1e-3 and abs(out.std() - 1.0) < 1e-2
