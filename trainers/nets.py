"""The mask net of NES, AM and the supervised bound, built from the model settings
(trainers/configs.ModelConfig), its inference copy and its Adam optimiser."""

from absl import logging
import tensorflow as tf
import keras

from eggsep_tf import mask_model
from eggsep_tf import precision

def build_mask_model(shape, cfg):
  """The mask net of the model settings cfg (eggsep_tf/mask_model.py), built for
  examples of `shape` [H, W, C], under the --precision policy (set as Keras's global
  policy)."""
  policy = precision_policy(cfg)
  if policy != keras.mixed_precision.global_policy().name:
    logging.info("Mask net precision: %s (--precision=%s)", policy, cfg.precision)
  keras.mixed_precision.set_global_policy(policy)
  return mask_model.build_mask_model(shape, cfg.architecture, cfg.filters,
                                     cfg.skip_connections, cfg.stride, cfg.domain,
                                     variant=cfg.unet_variant)


def precision_policy(cfg):
  """The Keras dtype policy --precision names on this machine ("auto" resolved)."""
  return precision.resolve(cfg.precision)


def inference_model(model, shape, cfg):
  """The net re-estimation and evaluation run: `model` under --inference_precision.

  A copy when the policies differ; call sync_inference_model before each use.
  """
  policy = precision.resolve(cfg.inference_precision)
  if policy != model.dtype_policy.name:
    logging.info("Re-estimation and evaluation precision: %s (--inference_precision=%s)",
                 policy, cfg.inference_precision)
  return precision.copy_with_policy(model, shape, policy)


def sync_inference_model(copy, model):
  """Copies the trained weights into the inference copy (nothing if it is the model)."""
  if copy is not model:
    copy.set_weights(model.get_weights())


def adam(rate, beta1, variables):
  """Adam at `rate` with beta1 (--beta1), built on `variables` (LMM's and AM's)."""
  optimizer = keras.optimizers.Adam(rate, beta_1=beta1)
  optimizer.build(variables)
  return optimizer


def learning_rate(cfg, phase_steps):
  """--learning_rate under --lr_schedule for a phase of `phase_steps` optimiser steps.

  The schedule runs on the optimiser's step count, so reset_optimizer starts it again
  and a resumed phase picks it up where the checkpoint left it.
  """
  if cfg.lr_schedule == "constant":
    return cfg.learning_rate
  return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(1, int(phase_steps)))


def make_optimizer(model, cfg, phase_steps):
  """Adam of the model settings cfg for phases of `phase_steps` steps (what --lr_schedule
  spans); under mixed_float16 wrapped to scale the loss."""
  optimizer = keras.optimizers.Adam(learning_rate(cfg, phase_steps), beta_1=cfg.beta1)
  if precision_policy(cfg) == "mixed_float16":
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
