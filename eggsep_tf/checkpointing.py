"""Checkpoints of Keras 3 models and optimisers with tf.train.Checkpoint.

tf.train.Checkpoint does not follow the lists of layers inside Keras 3 models
(measured: only attributes holding a layer directly were saved), so the
variables are checkpointed as flat, ordered lists instead. Order is fixed by
the model's construction, so the same architecture restores the same weights.
"""

import tensorflow as tf

from eggsep_tf.errors import InputError


def make_checkpoint(**objects):
  """A tf.train.Checkpoint holding the variables of each named object.

  Args:
    **objects: name -> object with a `.variables` list (a built Keras model or
      optimizer), or a tf.Variable.

  Returns:
    tf.train.Checkpoint whose children are those variable lists.
  """
  children = {}
  for name, obj in objects.items():
    if isinstance(obj, tf.Variable):
      children[name] = obj
    else:
      holder = tf.Module(name=name)
      holder.vars = list(obj.variables)
      children[name] = holder
  return tf.train.Checkpoint(**children)


def restore(ckpt, path, mismatch, partial=False, require_all=True):
  """Restores `path` into `ckpt`; InputError if its values do not fit the objects.

  Args:
    ckpt: a checkpoint from make_checkpoint.
    path: the checkpoint's prefix (.../ckpt-N).
    mismatch: what the message says after the path when they do not fit.
    partial: values of the file that the objects lack are fine (e.g. an
      optimiser's slots when only the model is wanted).
    require_all: every variable of the objects must find its value in the file.
  """
  try:
    status = ckpt.restore(path)
    if partial:
      status.expect_partial()
    if require_all:
      status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise InputError(f"{path}: {mismatch} ({str(e).splitlines()[0][:300]})") from None
