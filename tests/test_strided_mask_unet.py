import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import mask_nets
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf import strided_mask_unet
from eggsep_tf.strided_mask_unet import LEGACY_AUTO, StridedMaskUNet, auto_stride


@pytest.mark.parametrize("shape, stride", [((28, 28, 1), 1), ((32, 32, 1), 1), ((64, 64, 3), 2),
                                           ((257, 64, 1), 2), ((128, 96, 3), 2), ((256, 256, 3), 8)])
def test_auto_stride_keeps_at_least_32_rows_and_columns(shape, stride):
  assert auto_stride(shape[0], shape[1]) == stride


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3), (257, 64, 1), (50, 70, 2)])
def test_mask_has_input_shape_and_lies_in_unit_interval(shape):
  model = StridedMaskUNet([4, 8, 16])
  mask = model(tf.random.uniform((2,) + shape, 0, 2))
  assert mask.shape == (2,) + shape
  assert float(tf.reduce_min(mask)) >= 0.0 and float(tf.reduce_max(mask)) <= 1.0


def test_stride_one_is_the_plain_unet():
  strided, plain = StridedMaskUNet([4, 8], stride=1), MaskUNet([4, 8])
  y = tf.random.uniform((2, 16, 16, 1))
  strided(y), plain(y)
  assert [w.shape for w in strided.weights] == [w.shape for w in plain.weights]
  plain.set_weights(strided.get_weights())
  np.testing.assert_allclose(strided(y), plain(y), atol=1e-6)


def test_stride_two_does_less_work_at_the_finest_level():
  y = tf.zeros((1, 64, 64, 3))
  strided = StridedMaskUNet([8, 16], stride=2)
  strided(y)
  assert strided.resolved_stride == 2 and strided.stem is not None
  h = strided.stem(y)
  assert h.shape[1:3] == (32, 32)


@pytest.mark.parametrize("variant", ["auto", "full", "light", "refined", "lean", LEGACY_AUTO])
def test_get_config_round_trip_gives_the_same_function(variant):
  model = StridedMaskUNet([4, 8], stride="auto", refine_filters=3, variant=variant)
  y = tf.random.uniform((1, 64, 64, 3))
  model(y)
  copy = StridedMaskUNet.from_config(model.get_config())
  copy(y)
  copy.set_weights(model.get_weights())
  np.testing.assert_allclose(copy(y), model(y), atol=1e-6)
  assert copy.resolved_variant == model.resolved_variant


def test_bad_stride_is_refused():
  with pytest.raises(ValueError, match="power of two"):
    StridedMaskUNet([4], stride=3)(tf.zeros((1, 8, 8, 1)))


def test_factory_knows_every_architecture():
  for architecture in mask_nets.ARCHITECTURES:
    net = mask_nets.build_mask_net(architecture, [4, 8])
    assert net(tf.zeros((1, 32, 32, 1))).shape == (1, 32, 32, 1)
  with pytest.raises(ValueError, match="unknown architecture"):
    mask_nets.build_mask_net("resnet", [4])


@pytest.mark.parametrize("variant, shape, expected", [
    ("auto", (28, 28, 1), "full"), ("auto", (64, 64, 3), "lean"),
    (LEGACY_AUTO, (28, 28, 1), "full"), (LEGACY_AUTO, (64, 64, 3), "light")])
def test_auto_variant_is_lean_only_where_the_net_runs_strided(variant, shape, expected):
  model = StridedMaskUNet([4, 8, 16], variant=variant)
  model(tf.zeros((1,) + shape))
  assert model.resolved_variant == expected


@pytest.mark.parametrize("recorded, version, expected", [
    (None, "0.4.0", "full"), ("auto", "0.5.0", LEGACY_AUTO), ("auto", "0.6.0", LEGACY_AUTO),
    ("auto", None, LEGACY_AUTO), ("auto", "0.7.0", "auto"), ("auto", "1.0.0", "auto"),
    ("light", "0.6.0", "light"), ("lean", "0.7.0", "lean")])
def test_recorded_auto_of_0_5_and_0_6_builds_their_light_form(recorded, version, expected):
  assert strided_mask_unet.recorded_variant(recorded, version) == expected


def _kernels(model, block):
  return [tuple(w.shape) for w in model.weights
          if w.path.split("/")[1] == block and w.path.endswith("kernel")]


def test_light_variant_has_one_conv_at_the_finest_level_and_per_decoder_level():
  y = tf.random.uniform((2, 64, 64, 3), 0, 2)
  light, full = StridedMaskUNet([4, 8], variant="light"), StridedMaskUNet([4, 8], variant="full")
  mask = light(y)
  full(y)
  assert mask.shape == y.shape
  assert float(tf.reduce_min(mask)) >= 0.0 and float(tf.reduce_max(mask)) <= 1.0
  assert _kernels(light, "down0") == [(3, 3, 4, 4)]
  assert _kernels(full, "down0") == [(3, 3, 4, 4), (3, 3, 4, 4)]
  assert _kernels(light, "down1") == _kernels(full, "down1") == [(3, 3, 4, 8), (3, 3, 8, 8)]
  # The skip is added (4 channels in), where the full form concatenates it (8 in).
  assert _kernels(light, "up0") == [(3, 3, 4, 4)]
  assert _kernels(full, "up0") == [(3, 3, 8, 4), (3, 3, 4, 4)]
  assert light.refine is None and full.refine is not None
  assert light.count_params() < full.count_params()


def _check_light_unet(model, light, *others):
  """Builds the models on one 64x64x3 batch; model's mask keeps its shape and range and
  its U-Net blocks are the light form's."""
  y = tf.random.uniform((2, 64, 64, 3), 0, 2)
  mask = model(y)
  for other in (light,) + others:
    other(y)
  assert mask.shape == y.shape
  assert float(tf.reduce_min(mask)) >= 0.0 and float(tf.reduce_max(mask)) <= 1.0
  for block in ("down0", "down1", "up0"):
    assert _kernels(model, block) == _kernels(light, block)


def test_refined_variant_is_the_light_unet_with_the_full_refinement():
  refined = StridedMaskUNet([4, 8], variant="refined")
  light, full = StridedMaskUNet([4, 8], variant="light"), StridedMaskUNet([4, 8], variant="full")
  _check_light_unet(refined, light, full)
  # Refined at full resolution from the unstemmed features (2) and the mixture (3).
  assert _kernels(refined, "refine") == _kernels(full, "refine") == [(3, 3, 2 + 3, 2)]
  assert light.refine is None


def test_lean_variant_is_the_refined_one_with_a_quarter_width_refinement():
  lean = StridedMaskUNet([8, 16], variant="lean")
  refined, light = StridedMaskUNet([8, 16], variant="refined"), StridedMaskUNet([8, 16], variant="light")
  _check_light_unet(lean, light, refined)
  # 8 // 4 = 2 channels return to full resolution and meet the mixture (3 channels),
  # where the refined form refines 8 // 2 = 4 and the light one returns all 8.
  assert _kernels(lean, "refine") == [(3, 3, 2 + 3, 2)]
  assert _kernels(refined, "refine") == [(3, 3, 4 + 3, 4)]
  assert _kernels(lean, "unstem") == [(2, 2, 2, 8)]
  assert _kernels(light, "unstem") == [(2, 2, 8, 8)]
  assert lean.count_params() < refined.count_params()


@pytest.mark.parametrize("variant", ["light", "refined", "lean"])
def test_every_batch_norm_of_the_light_variant_is_used(variant):
  # Batch-norm calibration runs every batch norm layer: none may be left unbuilt.
  from eggsep_tf import batch_norm_calibration
  model = StridedMaskUNet([4, 8], variant=variant)
  model(tf.zeros((1, 64, 64, 3)))
  assert batch_norm_calibration.recalibrate(model, [tf.random.uniform((4, 64, 64, 3))]) == 1


def test_bad_variant_is_refused():
  with pytest.raises(ValueError, match="variant"):
    StridedMaskUNet([4], variant="tiny")
