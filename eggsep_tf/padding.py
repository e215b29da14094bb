"""Pad inputs to a multiple of the network's total stride and crop back."""

import tensorflow as tf


def pad_to_multiple(x, multiple):
  """Zero-pads height and width at the bottom/right to a multiple of `multiple`.

  Args:
    x: [batch, height, width, channels] tensor.
    multiple: int, e.g. 2**depth of an encoder.

  Returns:
    (padded, (height, width)): the padded tensor and the original spatial size
    (scalar int32 tensors) to hand to `crop_to`.
  """
  shape = tf.shape(x)
  height, width = shape[1], shape[2]
  pad_h = (-height) % multiple
  pad_w = (-width) % multiple
  padded = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
  return padded, (height, width)


def crop_to(x, size):
  """Crops [batch, H', W', C] back to the (height, width) given by `pad_to_multiple`."""
  height, width = size
  return x[:, :height, :width, :]
