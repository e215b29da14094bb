"""Batch normalization that runs TensorFlow's fused kernel where it can.

Keras 3's BatchNormalization computes moments and the normalization as separate
ops in float32 (casting bfloat16 activations up and back down). On CPU that is
a string of memory-bound passes over the largest tensors of the U-Net; the
fused kernel (FusedBatchNormV3, oneDNN on CPU, cuDNN on GPU) does it in one pass
and takes bfloat16/float16 activations with float32 statistics directly.
Measured with bench/speedup.py: see bench/RESULTS.md.

The layer keeps Keras' variables, names, config and update rule, so checkpoints
and saved configs are the same as with keras.layers.BatchNormalization. It
falls back to the Keras implementation where the fused kernel does not apply:
another backend, masks, renorm, inputs that are not 4-D channels-last, and
synchronized statistics over several replicas.
"""

import keras
import tensorflow as tf

_FUSABLE_DTYPES = ("float32", "bfloat16", "float16")


@keras.saving.register_keras_serializable(package="eggsep_tf")
class FusedBatchNorm(keras.layers.BatchNormalization):
  """keras.layers.BatchNormalization with TF's fused kernel on 4-D NHWC inputs."""

  def _can_fuse(self, inputs, mask, training):
    if keras.backend.backend() != "tensorflow" or mask is not None or self.renorm:
      return False
    if len(inputs.shape) != 4 or self.axis not in (-1, 3):
      return False
    if keras.backend.standardize_dtype(inputs.dtype) not in _FUSABLE_DTYPES:
      return False
    if training and self.trainable and self.synchronized:
      # Statistics over the global batch need a cross-replica sum.
      return tf.distribute.get_strategy().num_replicas_in_sync == 1
    return True

  def call(self, inputs, training=None, mask=None):
    if not self._can_fuse(inputs, mask, training):
      return super().call(inputs, training=training, mask=mask)
    channels = inputs.shape[-1]
    scale = (tf.cast(self.gamma, tf.float32) if self.scale
             else tf.ones([channels], tf.float32))
    offset = (tf.cast(self.beta, tf.float32) if self.center
              else tf.zeros([channels], tf.float32))
    if training and self.trainable:
      outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
          inputs, scale, offset, epsilon=self.epsilon, data_format="NHWC",
          is_training=True)
      # The kernel returns the unbiased (n - 1) variance; Keras keeps the
      # biased one in its moving average, and so do we.
      count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
      variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
      momentum = self.momentum
      self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
      self.moving_variance.assign(
          self.moving_variance * momentum + variance * (1.0 - momentum))
    else:
      outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
          inputs, scale, offset, mean=tf.cast(self.moving_mean, tf.float32),
          variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon,
          data_format="NHWC", is_training=False)
    return tf.cast(outputs, self.compute_dtype)
