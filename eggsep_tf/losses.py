"""Losses as pure functions of tensors."""

import tensorflow as tf


def masked_l1_per_example(mixture, mask, target):
  """Per-example L1 between the masked mixture T(y) = y * m(y) and the target.

  This is the NES objective (paper eq. 3): || T(b + x_t) - b ||_1.

  Args:
    mixture: [batch, H, W, C] non-negative mixtures.
    mask: [batch, H, W, C] masks in [0, 1] (broadcastable to `mixture`).
    target: [batch, H, W, C], what the masked mixture should equal (b).

  Returns:
    [batch] mean absolute error of each example.
  """
  mixture = tf.cast(mixture, tf.float32)
  estimate = mixture * tf.cast(mask, tf.float32)
  error = tf.abs(estimate - tf.cast(target, tf.float32))
  return tf.reduce_mean(error, axis=tf.range(1, tf.rank(error)))


def l1_loss(estimate, target):
  """Mean absolute error over every element: scalar."""
  return tf.reduce_mean(tf.abs(tf.cast(estimate, tf.float32) - tf.cast(target, tf.float32)))


def l2_loss(estimate, target):
  """Mean squared error over every element: scalar."""
  return tf.reduce_mean(tf.square(tf.cast(estimate, tf.float32) - tf.cast(target, tf.float32)))
