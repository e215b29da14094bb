"""Checkpoints of Keras 3 models and optimisers with tf.train.Checkpoint.

tf.train.Checkpoint does not follow the lists of layers inside Keras 3 models
(measured: only attributes holding a layer directly were saved), so the
variables are checkpointed as flat, ordered lists instead. Order is fixed by
the model's construction, so the same architecture restores the same weights.
"""

import tensorflow as tf


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
