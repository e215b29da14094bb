"""--precision=auto and the float32 copies that exports use."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import precision
from eggsep_tf.mask_unet import MaskUNet


def _cpuinfo(tmp_path, flags):
  path = tmp_path / "cpuinfo"
  path.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n\n")
  return str(path)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="auto follows the GPU")
def test_auto_picks_bfloat16_only_where_the_cpu_has_it(tmp_path):
  assert precision.resolve("auto", _cpuinfo(tmp_path, "avx512f avx512_bf16")) == "mixed_bfloat16"
  assert precision.resolve("auto", _cpuinfo(tmp_path, "amx_bf16 amx_tile")) == "mixed_bfloat16"
  assert precision.resolve("auto", _cpuinfo(tmp_path, "avx2 avx512f")) == "float32"
  assert precision.resolve("auto", str(tmp_path / "missing")) == "float32"


def test_explicit_policies_pass_through_and_bad_ones_are_refused():
  assert precision.resolve("float32") == "float32"
  assert precision.resolve("mixed_float16") == "mixed_float16"
  with pytest.raises(ValueError, match="expected one of"):
    precision.resolve("float8")


def test_float32_copy_keeps_weights_and_computes_in_float32():
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    model = MaskUNet([4, 8])
    model(tf.zeros([1, 12, 12, 1]))
  finally:
    keras.mixed_precision.set_global_policy("float32")
  copy = precision.float32_copy(model, [12, 12, 1])
  assert copy.compute_dtype == "float32" and model.compute_dtype == "bfloat16"
  for a, b in zip(model.get_weights(), copy.get_weights()):
    np.testing.assert_array_equal(a, b)
  y = tf.constant(np.random.default_rng(0).uniform(size=[2, 12, 12, 1]).astype(np.float32))
  np.testing.assert_allclose(copy(y, training=False).numpy(), model(y, training=False).numpy(),
                             atol=0.02)
  assert precision.float32_copy(copy, [12, 12, 1]) is copy


def test_inference_copy_follows_the_trained_weights():
  model = MaskUNet([4, 8])
  model(tf.zeros([1, 12, 12, 1]))
  copy = precision.copy_with_policy(model, [12, 12, 1], "mixed_bfloat16")
  assert copy.compute_dtype == "bfloat16" and model.compute_dtype == "float32"
  assert keras.mixed_precision.global_policy().name == "float32"  # Restored.
  model.set_weights([w + 0.01 for w in model.get_weights()])
  copy.set_weights(model.get_weights())
  y = tf.constant(np.random.default_rng(1).uniform(size=[2, 12, 12, 1]).astype(np.float32))
  np.testing.assert_allclose(copy(y, training=False).numpy(), model(y, training=False).numpy(),
                             atol=0.02)
  assert precision.copy_with_policy(model, [12, 12, 1], "float32") is model
