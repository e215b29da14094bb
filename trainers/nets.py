"""The mask net of NES, AM and the supervised bound, built from the model settings
(trainers/configs.ModelConfig), its inference copy and its Adam optimiser."""

from absl import logging
import tensorflow as tf
import keras

from eggsep_tf import mask_model
from eggsep_tf import precision

MEASURED = "measured"  # --precision's default (precision_policy).


def build_mask_model(shape, cfg, bfloat16_measured=True, variant=None):
  """The mask net of the model settings cfg (eggsep_tf/mask_model.py), built for
  examples of `shape` [H, W, C], under the --precision policy (set as Keras's global
  policy).

  bfloat16_measured: False for a trainer whose bfloat16 training lost quality or is
    unmeasured (supervised, AM): "measured" then means float32 and the flag's form.
  variant: the strided U-Net's form to build (NES: workdir_checks.net_form, the recorded
    one of a resumed run); None: unet_variant(cfg, shape, bfloat16_measured).
  """
  policy = precision_policy(cfg, shape, bfloat16_measured)
  if policy != keras.mixed_precision.global_policy().name:
    logging.info("Mask net precision: %s (--precision=%s)", policy, cfg.precision)
  variant = variant or unet_variant(cfg, shape, bfloat16_measured)
  if variant != cfg.unet_variant:
    logging.info("Mask net form: %s (--unet_variant=%s, --precision=%s)", variant,
                 cfg.unet_variant, cfg.precision)
  keras.mixed_precision.set_global_policy(policy)
  return mask_model.build_mask_model(shape, cfg.architecture, cfg.filters,
                                     cfg.skip_connections, cfg.stride, cfg.domain,
                                     variant=variant)


def unet_variant(cfg, shape, bfloat16_measured=True):
  """The strided U-Net's form this machine builds for --unet_variant.

  "auto" under --precision=measured where that trains in bfloat16 is the refined form:
  in bfloat16 it trains faster than the lean one and scores level with lean in float32,
  while lean itself loses 0.2-0.4 dB in bfloat16 (bench/RESULTS.md, 0.9). Everything
  else is the flag itself (the model resolves "auto" by its stride). The result
  depends on the hardware, so NES records it (run-nes.json, "net") and a resumed run
  or a re-export builds the recorded form.
  """
  if (cfg.unet_variant == "auto" and cfg.precision == MEASURED
      and precision_policy(cfg, shape, bfloat16_measured) == "mixed_bfloat16"):
    return "refined"
  return cfg.unet_variant


def precision_policy(cfg, shape, bfloat16_measured=True):
  """The Keras dtype policy --precision names on this machine for examples of `shape`.

  "measured" (the default) is "auto" (bfloat16 where the hardware computes in it) where
  bfloat16 training was measured to lose nothing (mask_model.trains_in_bfloat16: the
  strided U-Net on images of 64 px and more, refined or full form, in NES; the supervised
  bound and AM pass bfloat16_measured=False), float32 elsewhere.
  """
  if cfg.precision == MEASURED:
    if bfloat16_measured and mask_model.trains_in_bfloat16(
        shape, cfg.architecture, cfg.stride, cfg.domain, cfg.unet_variant):
      return precision.resolve("auto")
    return "float32"
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
  if cfg.precision == "mixed_float16":  # "auto" and "measured" never resolve to it.
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
