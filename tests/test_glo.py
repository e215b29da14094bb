import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import lmm
from eggsep_tf import mel
from eggsep_tf.errors import InputError
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.latent_table import LatentTable
from tests import helpers


def tiny_generator(num_samples, shape=(16, 16, 1), **kwargs):
  g = GloGenerator(num_samples, shape, latent_dim=8, filters=[16, 8], **kwargs)
  g.build()
  return g


def adam(variables, rate=1e-2):
  optimizer = keras.optimizers.Adam(rate)
  optimizer.build(variables)
  return optimizer


def code_norms(table):
  return np.linalg.norm(table.codes.numpy(), axis=1)


@pytest.mark.parametrize("shape,filters", [((28, 28, 1), [8, 4]), ((32, 32, 3), [8, 4]),
                                           ((64, 64, 1), [8, 4, 4]), ((17, 9, 2), [4])])
def test_generator_shapes_and_non_negative(shape, filters):
  for activation in ("sigmoid", "softplus"):
    g = GloGenerator(5, shape, latent_dim=4, filters=filters, output_activation=activation,
                     output_scale=2.0)
    images = g(tf.constant([0, 3, 4])).numpy()
    assert images.shape == (3,) + shape
    assert images.min() >= 0.0
    if activation == "sigmoid":
      assert images.max() <= 2.0
    assert g.decode(tf.zeros([2, 4])).shape == (2,) + shape


def test_latents_stay_in_unit_ball_after_steps():
  g = tiny_generator(6)
  images, _ = helpers.bars(6)
  # Adam with a huge rate moves each code coordinate by ~0.5 a step, far out of
  # the ball; only the projection keeps the codes in.
  step = lmm.make_stage1_step(g, adam(g.trainable_variables, 0.5))
  for _ in range(5):
    step(tf.range(6), images)
  norms = code_norms(g.latents)
  assert norms.max() <= 1.0 + 1e-5
  assert norms.max() > 0.99  # The codes did reach the boundary: the projection acted.


@pytest.mark.parametrize("separate_latent_optimizer", [False, True])
def test_stage1_reconstruction_loss_falls(separate_latent_optimizer):
  keras.utils.set_random_seed(0)
  images, _ = helpers.bars(8)
  g = tiny_generator(8)
  if separate_latent_optimizer:
    step = lmm.make_stage1_step(g, adam(g.decoder_variables, 2e-2),
                                latent_optimizer=adam(g.latents.trainable_variables, 5e-2))
  else:
    step = lmm.make_stage1_step(g, adam(g.trainable_variables, 2e-2))
  assert len(g.decoder_variables) == len(g.trainable_variables) - 1
  indices = tf.range(8)
  losses = [float(step(indices, images)["recon"]) for _ in range(60)]
  assert losses[-1] < 0.5 * losses[0], losses[::10]
  assert code_norms(g.latents).max() <= 1.0 + 1e-5


def test_stage2_freezes_g_b_and_fits_mixtures():
  keras.utils.set_random_seed(1)
  images, labels = helpers.bars(16)
  b, x = images[labels == 0], images[labels == 1]
  g_b = tiny_generator(8)
  g_x = tiny_generator(8)
  z_b = LatentTable(8, g_b.latent_dim)
  z_b.build()
  frozen = [w.copy() for w in g_b.get_weights()]
  optimizer = adam(g_x.trainable_variables + z_b.trainable_variables, 2e-2)
  step = lmm.make_stage2_step(g_b, g_x, z_b, optimizer)
  y = b + x
  losses = [float(step(tf.range(8), y)["recon"]) for _ in range(40)]
  assert losses[-1] < 0.7 * losses[0], losses[::10]
  for before, after in zip(frozen, g_b.get_weights()):
    np.testing.assert_array_equal(before, after)
  assert code_norms(z_b).max() <= 1.0 + 1e-5
  assert code_norms(g_x.latents).max() <= 1.0 + 1e-5


def test_latent_fit_lowers_loss_and_keeps_codes_in_ball():
  keras.utils.set_random_seed(2)
  g_b, g_x = tiny_generator(1), tiny_generator(1)
  # Mixtures the generators can express exactly, from known codes.
  true_b = lmm.project_to_unit_ball(tf.random.normal([4, 8]))
  true_x = lmm.project_to_unit_ball(tf.random.normal([4, 8]))
  y = g_b.decode(true_b) + g_x.decode(true_x)

  def loss_after(steps):
    fit = lmm.make_latent_fit_fn(g_b, g_x, steps=steps, learning_rate=0.05, seed=3)
    z_b, z_x = fit(y)
    assert z_b.shape == (4, 8) and z_x.shape == (4, 8)
    assert np.linalg.norm(z_b.numpy(), axis=1).max() <= 1.0 + 1e-5
    return float(lmm.l1_loss(g_b.decode(z_b) + g_x.decode(z_x), y))

  assert loss_after(60) < 0.5 * loss_after(0)


def test_generator_weights_unchanged_by_latent_fit():
  g_b, g_x = tiny_generator(2), tiny_generator(2)
  before = [w.copy() for w in g_b.get_weights() + g_x.get_weights()]
  lmm.make_latent_fit_fn(g_b, g_x, steps=5)(tf.random.uniform([3, 16, 16, 1]))
  for w0, w1 in zip(before, g_b.get_weights() + g_x.get_weights()):
    np.testing.assert_array_equal(w0, w1)


def test_lmm_mask_in_unit_interval_and_equals_formula():
  rng = np.random.default_rng(0)
  b_hat = rng.uniform(0, 2, (3, 8, 8, 1)).astype(np.float32)
  x_hat = rng.uniform(0, 2, (3, 8, 8, 1)).astype(np.float32)
  b_hat[0, :2] = 0.0
  x_hat[0, :2] = 0.0  # Both zero: 0 / 0 without the guard.
  x_hat[1, 3] = 0.0   # Only X zero: all of y goes to B.
  b_hat[1, 3] = 1.0
  mask = lmm.lmm_mask(b_hat, x_hat).numpy()
  assert np.all(np.isfinite(mask)) and mask.min() >= 0.0 and mask.max() <= 1.0
  both_zero = (b_hat + x_hat) == 0
  formula = b_hat[~both_zero] / (b_hat + x_hat)[~both_zero]
  np.testing.assert_allclose(mask[~both_zero], formula, atol=1e-5)
  np.testing.assert_allclose(mask[both_zero], 0.5)
  np.testing.assert_allclose(mask[1, 3], 1.0, atol=1e-5)
  y = rng.uniform(0, 2, b_hat.shape).astype(np.float32)
  x, b = lmm.apply_mask(y, mask)
  np.testing.assert_allclose(b, y * mask, atol=1e-6)
  np.testing.assert_allclose(x, y * (1 - mask), atol=1e-6)


def test_separate_fn_lm_and_lmm():
  g_b, g_x = tiny_generator(2), tiny_generator(2)
  y = tf.random.uniform([3, 16, 16, 1], 0, 2)
  x, b, mask = lmm.make_separate_fn(g_b, g_x, steps=3, method="lmm")(y)
  np.testing.assert_allclose((x + b).numpy(), y.numpy(), atol=1e-5)
  assert mask.shape == y.shape
  fit = lmm.make_latent_fit_fn(g_b, g_x, steps=3, seed=0)
  both = lmm.separate_both(g_b, g_x, fit, y)
  x_lm, b_lm, _ = lmm.make_separate_fn(g_b, g_x, steps=3, seed=0, method="lm")(y)
  np.testing.assert_allclose(x_lm.numpy(), both["lm_x"].numpy(), atol=1e-6)
  np.testing.assert_allclose(b_lm.numpy(), both["lm_b"].numpy(), atol=1e-6)
  with pytest.raises(InputError):
    lmm.make_separate_fn(g_b, g_x, method="nes")


def test_training_separate_fn_uses_stage2_codes():
  g_b, g_x = tiny_generator(2), tiny_generator(5)
  z_b = LatentTable(5, g_b.latent_dim)
  z_b.build()
  y = tf.random.uniform([2, 16, 16, 1], 0, 2)
  indices = tf.constant([4, 1])
  x, b, mask = lmm.make_training_separate_fn(g_b, g_x, z_b)(indices, y)
  expected = lmm.lmm_mask(g_b.decode(z_b(indices)), g_x(indices))
  np.testing.assert_allclose(mask.numpy(), expected.numpy(), atol=1e-6)
  np.testing.assert_allclose(b.numpy(), (y * expected).numpy(), atol=1e-6)
  x_lm, _, _ = lmm.make_training_separate_fn(g_b, g_x, z_b, method="lm")(indices, y)
  np.testing.assert_allclose(x_lm.numpy(), g_x(indices).numpy(), atol=1e-6)


def test_generator_get_config_round_trip():
  g = GloGenerator(4, (12, 10, 2), latent_dim=3, filters=[6, 4],
                   output_activation="softplus", output_scale=1.5)
  g.build()
  clone = GloGenerator.from_config(g.get_config())
  clone.build()
  clone.set_weights(g.get_weights())
  assert clone.get_config() == g.get_config()
  indices = tf.constant([0, 2, 3])
  np.testing.assert_allclose(clone(indices).numpy(), g(indices).numpy(), atol=1e-6)
  table = LatentTable(5, 3, init_norm=0.2)
  assert LatentTable.from_config(table.get_config()).get_config() == table.get_config()


def test_generator_bad_settings():
  with pytest.raises(InputError, match="output_activation"):
    GloGenerator(2, output_activation="relu")
  with pytest.raises(InputError, match="filters"):
    GloGenerator(2, filters=[])


def test_loss_choice():
  assert lmm.make_reconstruction_loss("l1") is lmm.l1_loss
  assert lmm.make_reconstruction_loss("l2") is lmm.l2_loss
  with pytest.raises(InputError, match="weights"):
    lmm.make_reconstruction_loss("perceptual")
  with pytest.raises(InputError, match="not found"):
    lmm.make_reconstruction_loss("perceptual", "/nonexistent/vgg16.h5")
  with pytest.raises(InputError, match="loss="):
    lmm.make_reconstruction_loss("l3")


def test_perceptual_loss_rejects_a_file_that_is_not_vgg(tmp_path):
  path = tmp_path / "junk.weights.h5"
  path.write_bytes(b"not weights")
  with pytest.raises(InputError, match="could not be loaded"):
    lmm.make_reconstruction_loss("perceptual", str(path))


@pytest.mark.slow
def test_perceptual_loss_with_local_weights(tmp_path):
  # Random VGG16 weights stand in for the ImageNet file, which cannot be downloaded here.
  path = str(tmp_path / "vgg16_notop.weights.h5")
  keras.applications.VGG16(include_top=False, weights=None).save_weights(path)
  loss_fn = lmm.make_reconstruction_loss("perceptual", path)
  a = tf.random.uniform([2, 32, 32, 1])
  assert float(loss_fn(a, a)) == pytest.approx(0.0, abs=1e-5)
  assert float(loss_fn(a, tf.zeros_like(a))) > float(lmm.l1_loss(a, tf.zeros_like(a)))


def test_mel_mask_upsampling():
  matrix = mel.mel_matrix(257, 16000, 64)
  assert matrix.shape == (257, 64)
  spec = tf.random.uniform([2, 257, 64, 1])
  assert mel.to_mel(spec, matrix).shape == (2, 64, 64, 1)
  up = mel.mask_upsampling_matrix(matrix)
  assert up.shape == (64, 257)
  # A constant mask stays that constant on every linear bin, the DC bin included.
  const = mel.mel_mask_to_linear(tf.fill([1, 64, 5, 1], 0.7), up).numpy()
  np.testing.assert_allclose(const, 0.7, atol=1e-5)
  rand = mel.mel_mask_to_linear(tf.random.uniform([2, 64, 5, 1]), up).numpy()
  assert rand.shape == (2, 257, 5, 1) and rand.min() >= 0.0 and rand.max() <= 1.0
  with pytest.raises(InputError, match="band edges"):
    mel.mel_matrix(257, 16000, 64, upper_hz=9000)
