"""FusedBatchNorm matches keras.layers.BatchNormalization and falls back where it must."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.batch_norm import FusedBatchNorm


def _pair(shape, **kwargs):
  fused = FusedBatchNorm(**kwargs)
  plain = keras.layers.BatchNormalization(**kwargs)
  fused.build(shape)
  plain.build(shape)
  rng = np.random.default_rng(0)
  for f, p in zip(fused.weights, plain.weights):
    value = rng.uniform(0.5, 1.5, size=f.shape).astype(np.float32)
    f.assign(value)
    p.assign(value)
  return fused, plain


@pytest.mark.parametrize("training", [True, False])
def test_matches_keras_outputs_gradients_and_moving_statistics(training):
  x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, [4, 6, 5, 3]).astype(np.float32))
  fused, plain = _pair(x.shape, momentum=0.9)
  outs, grads = [], []
  for layer in (fused, plain):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, training=training)
      loss = tf.reduce_sum(y * y * x)
    outs.append(y.numpy())
    grads.append(tape.gradient(loss, [x] + layer.trainable_weights))
  np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
  for g_fused, g_plain in zip(*grads):
    np.testing.assert_allclose(g_fused.numpy(), g_plain.numpy(), rtol=1e-3, atol=1e-3)
  np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5)
  np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(),
                             rtol=1e-5)


def test_bfloat16_activations_keep_float32_statistics():
  x = tf.constant(np.random.default_rng(2).normal(size=[8, 4, 4, 2]).astype(np.float32))
  fused = FusedBatchNorm(dtype="mixed_bfloat16")
  plain = keras.layers.BatchNormalization(dtype="mixed_bfloat16")
  y_fused = fused(tf.cast(x, tf.bfloat16), training=True)
  y_plain = plain(tf.cast(x, tf.bfloat16), training=True)
  assert y_fused.dtype == tf.bfloat16
  assert fused.moving_mean.dtype == "float32"
  np.testing.assert_allclose(tf.cast(y_fused, tf.float32).numpy(),
                             tf.cast(y_plain, tf.float32).numpy(), atol=0.05)


def test_falls_back_for_other_ranks_and_keeps_the_keras_config():
  layer = FusedBatchNorm(momentum=0.8, name="bn")
  y = layer(tf.ones([3, 5]) * tf.range(5, dtype=tf.float32), training=True)
  assert y.shape == (3, 5)
  clone = FusedBatchNorm.from_config(layer.get_config())
  assert clone.momentum == 0.8 and clone.name == "bn"
  assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
