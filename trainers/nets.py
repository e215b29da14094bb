"""The mask net of NES and the supervised bound, built from the model flags, its
inference copy and its Adam optimiser."""

from absl import logging
import tensorflow as tf
import keras

from eggsep_tf import mask_model
from eggsep_tf import precision
from eggsep_tf.trainers import common_flags

FLAGS = common_flags.FLAGS


def build_mask_model(shape):
  """The mask net from the model flags (eggsep_tf/mask_model.py), built for examples of
  `shape` [H, W, C], under the --precision policy (set as Keras's global policy)."""
  policy = precision_policy()
  if policy != keras.mixed_precision.global_policy().name:
    logging.info("Mask net precision: %s (--precision=%s)", policy, FLAGS.precision)
  keras.mixed_precision.set_global_policy(policy)
  return mask_model.build_mask_model(shape, FLAGS.architecture, FLAGS.filters,
                                     FLAGS.skip_connections, FLAGS.stride, FLAGS.domain)


def precision_policy():
  """The Keras dtype policy --precision names on this machine ("auto" resolved)."""
  return precision.resolve(FLAGS.precision)


def inference_model(model, shape):
  """The net re-estimation and evaluation run: `model` under --inference_precision.

  A copy when the policies differ; call sync_inference_model before each use.
  """
  policy = precision.resolve(FLAGS.inference_precision)
  if policy != model.dtype_policy.name:
    logging.info("Re-estimation and evaluation precision: %s (--inference_precision=%s)",
                 policy, FLAGS.inference_precision)
  return precision.copy_with_policy(model, shape, policy)


def sync_inference_model(copy, model):
  """Copies the trained weights into the inference copy (nothing if it is the model)."""
  if copy is not model:
    copy.set_weights(model.get_weights())


def adam(rate, variables):
  """Adam at `rate` with --beta1, built on `variables` (LMM's and AM's optimisers)."""
  optimizer = keras.optimizers.Adam(rate, beta_1=FLAGS.beta1)
  optimizer.build(variables)
  return optimizer


def make_optimizer(model):
  """Adam from the flags; under mixed_float16 wrapped to scale the loss."""
  optimizer = keras.optimizers.Adam(FLAGS.learning_rate, beta_1=FLAGS.beta1)
  if precision_policy() == "mixed_float16":
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  optimizer.build(model.trainable_variables)
  return optimizer


def reset_optimizer(optimizer):
  """Puts Adam back to its fresh state (step 0, zero moments), as a new one would be.

  Cheaper than a new optimizer: the compiled training step is kept (a new
  optimizer means tracing and compiling the step again, seconds per iteration).
  """
  for variable in optimizer.variables:
    if variable.path.endswith(("learning_rate", "dynamic_scale")):
      continue
    variable.assign(tf.zeros_like(variable))
