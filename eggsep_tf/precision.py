"""Choosing the Keras dtype policy of the mask net, for training and for inference.

Mixed bfloat16 keeps variables, the mask's sigmoid and the loss in float32 and
runs convolutions in bfloat16. On CPUs with AVX512_BF16 or AMX it runs the U-Net
forward pass 2x faster than float32 and trains it 1.5-1.7x faster
(bench/speedup.py); on CPUs without them bfloat16 is emulated and slower, so
"auto" keeps float32 there. On GPUs of compute capability 8.0 or newer (A100,
H100) bfloat16 runs on the tensor cores without loss scaling; older GPUs get
float32 unless mixed_float16 is asked for (the trainers then scale the loss).

Measured on MNIST (bench/RESULTS.md): inference in bfloat16 of a float32-trained
net scores the same (24.82 vs 24.80 dB), but training in bfloat16 lowered the
supervised bound by 0.8-2.1 dB, so the trainers re-estimate and evaluate in "auto"
by default and train in bfloat16 only where that was measured to cost nothing (their
--precision=measured: NES's strided U-Net on images of 64 px and more, refined or
full form; trainers/nets.py).
"""

import tensorflow as tf

POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
  """True when the CPU advertises native bfloat16 arithmetic (Linux only)."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith("flags"):
          flags = line.split(":", 1)[1].split()
          return any(flag in flags for flag in _CPU_BF16_FLAGS)
  except OSError:
    pass
  return False


def gpu_has_bfloat16():
  """True when every visible GPU has compute capability >= 8.0."""
  gpus = tf.config.list_physical_devices("GPU")
  if not gpus:
    return False
  for gpu in gpus:
    capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    if not capability or tuple(capability) < (8, 0):
      return False
  return True


def resolve(policy, cpuinfo="/proc/cpuinfo"):
  """The Keras policy name for `policy` ("auto" picks one for this machine)."""
  if policy not in POLICIES:
    raise ValueError(f"precision {policy!r}: expected one of {', '.join(POLICIES)}")
  if policy != "auto":
    return policy
  if tf.config.list_physical_devices("GPU"):
    return "mixed_bfloat16" if gpu_has_bfloat16() else "float32"
  return "mixed_bfloat16" if cpu_has_bfloat16(cpuinfo) else "float32"


def copy_with_policy(model, input_shape, policy):
  """`model` rebuilt under the Keras dtype policy `policy` with the same weights.

  Returns `model` itself when it already computes under that policy. Refresh a
  copy's weights after training steps with `copy.set_weights(model.get_weights())`.

  Args:
    model: a built Keras model whose config recreates it (MaskUNet, ...).
    input_shape: one example's shape [H, W, C], to create the copy's variables.
    policy: a Keras policy name ("float32", "mixed_bfloat16", ...).
  """
  import keras  # Imported here: the policy helpers above need only TensorFlow.
  if model.dtype_policy.name == policy:
    return model
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(policy)
  try:
    config = dict(model.get_config())
    config.pop("dtype", None)
    copy = model.__class__.from_config(config)
    copy(tf.zeros([1] + list(input_shape)))
  finally:
    keras.mixed_precision.set_global_policy(previous)
  copy.set_weights(model.get_weights())
  return copy


def float32_copy(model, input_shape):
  """`model` in float32 (itself if already float32), for exports.

  A SavedModel then computes exactly on any server, including CPUs without
  bfloat16 arithmetic, where bfloat16 would be emulated and slow.
  """
  return copy_with_policy(model, input_shape, "float32")
