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


def test_forms_that_lose_in_bfloat16_train_in_float32():
  from eggsep_tf import mask_model
  for variant, expected in (("auto", True), ("refined", True), ("full", True),
                            ("lean", False), ("light", False)):
    assert mask_model.trains_in_bfloat16([64, 64, 3], variant=variant) is expected, variant


@pytest.mark.parametrize("shape, architecture, stride, domain, expected", [
    ([64, 64, 3], "auto", "auto", "image", True),  # Strided U-Net at stride 2.
    ([128, 96, 1], "strided_unet", "auto", "image", True),
    ([28, 28, 1], "auto", "auto", "image", False),  # Stride 1: the plain U-Net's computation.
    ([64, 64, 3], "strided_unet", "1", "image", False),
    ([64, 64, 3], "encoder_decoder", "auto", "image", False),  # The demo's net.
    ([64, 64, 3], "unet", "auto", "image", False),
    ([257, 64, 1], "strided_unet", "auto", "audio", False),  # Audio: unmeasured.
    ([257, 64, 1], "auto", "auto", "audio", False),
])
def test_bfloat16_training_is_measured_only_for_the_strided_unet_on_images(
    shape, architecture, stride, domain, expected):
  from eggsep_tf import mask_model
  assert mask_model.trains_in_bfloat16(shape, architecture, stride, domain) is expected


def test_measured_training_policy_follows_the_net_and_the_hardware(monkeypatch):
  import types
  from eggsep_tf.trainers import nets
  cfg = types.SimpleNamespace(precision="measured", architecture="auto", stride="auto",
                              domain="image", unet_variant="auto")
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: True)
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  assert nets.precision_policy(cfg, [64, 64, 3]) == "mixed_bfloat16"
  assert nets.precision_policy(cfg, [28, 28, 1]) == "float32"
  assert nets.precision_policy(cfg, [64, 64, 3], bfloat16_measured=False) == "float32"  # AM.
  assert nets.precision_policy(types.SimpleNamespace(**{**vars(cfg), "unet_variant": "lean"}),
                               [64, 64, 3]) == "float32"  # Lean lost 0.2-0.4 dB in bfloat16.
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: False)
  assert nets.precision_policy(cfg, [64, 64, 3]) == "float32"
  cfg.precision = "mixed_bfloat16"  # Asked for explicitly: whatever the net.
  assert nets.precision_policy(cfg, [28, 28, 1]) == "mixed_bfloat16"
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: True)
  cfg.precision = "auto"  # The hardware's choice, whatever the net (the audio flagfiles).
  assert nets.precision_policy(cfg, [257, 64, 1]) == "mixed_bfloat16"
  assert nets.precision_policy(cfg, [28, 28, 1], bfloat16_measured=False) == "mixed_bfloat16"


def test_a_run_of_the_float32_default_is_told_how_to_resume(tmp_path):
  from eggsep_tf.errors import InputError
  from eggsep_tf.trainers import workdir_checks
  old = {"precision": "float32"}  # The default before 0.9.
  workdir_checks.check_same(old, {"precision": "float32"}, "nes run", tmp_path / "r.json",
                            tmp_path)
  with pytest.raises(InputError, match="resume that run with --precision=float32"):
    workdir_checks.check_same(old, {"precision": "measured"}, "nes run", tmp_path / "r.json",
                              tmp_path)


def test_the_default_precision_is_measured():
  from eggsep_tf.trainers import configs
  from tests import in_process
  with in_process.parsed_flags("trainers.nes", "--workdir=/tmp/w") as values:
    assert configs.from_flags(values).model.precision == "measured"


def _model_cfg(**kw):
  import types
  return types.SimpleNamespace(**{"precision": "measured", "architecture": "auto",
                                  "stride": "auto", "domain": "image", "unet_variant": "auto",
                                  **kw})


def test_measured_bfloat16_builds_the_refined_form(monkeypatch):
  from eggsep_tf.trainers import nets
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: True)
  assert nets.unet_variant(_model_cfg(), [64, 64, 3]) == "refined"
  assert nets.unet_variant(_model_cfg(), [28, 28, 1]) == "auto"  # float32 there.
  assert nets.unet_variant(_model_cfg(), [64, 64, 3], bfloat16_measured=False) == "auto"
  assert nets.unet_variant(_model_cfg(unet_variant="lean"), [64, 64, 3]) == "lean"
  assert nets.unet_variant(_model_cfg(precision="mixed_bfloat16"), [64, 64, 3]) == "auto"
  assert nets.unet_variant(_model_cfg(precision="float32"), [64, 64, 3]) == "auto"
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: False)
  assert nets.unet_variant(_model_cfg(), [64, 64, 3]) == "auto"  # Lean, in float32.


def test_a_resumed_run_and_a_re_export_build_the_recorded_form(tmp_path, monkeypatch):
  import json
  import types
  from eggsep_tf import workdir_layout
  from eggsep_tf.export import workdir_export
  from eggsep_tf.trainers import workdir_checks
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda cpuinfo=None: False)
  cfg = types.SimpleNamespace(model=_model_cfg())
  # A fresh run on a CPU without bfloat16: the flag's form.
  assert workdir_checks.net_form(cfg, str(tmp_path), "nes", [64, 64, 3]) == {
      "unet_variant": "auto"}
  # A run started on a CPU with bfloat16 recorded the refined form: it resumes with it here.
  with open(workdir_layout.run_record(str(tmp_path), "nes"), "w") as f:
    json.dump({"settings": {"unet_variant": "auto"}, "net": {"unet_variant": "refined"}}, f)
  assert workdir_checks.net_form(cfg, str(tmp_path), "nes", [64, 64, 3]) == {
      "unet_variant": "refined"}
  settings = {"architecture": "strided_unet", "filters": [4, 8], "unet_variant": "auto"}
  assert workdir_export.build_mask_model(settings, [64, 64, 3], "0.9.0", {
      "unet_variant": "refined"}).resolved_variant == "refined"
  assert workdir_export.build_mask_model(settings, [64, 64, 3],
                                         "0.9.0").resolved_variant == "lean"
