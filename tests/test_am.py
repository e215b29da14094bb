import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import am
from eggsep_tf.discriminator import LsganDiscriminator
from eggsep_tf.errors import InputError
from eggsep_tf.mask_unet import MaskUNet
from tests import helpers


def built(model, shape=(16, 16, 1)):
  model(tf.zeros((1,) + shape))
  return model


def adam(model, rate=1e-3):
  optimizer = keras.optimizers.Adam(rate, beta_1=0.5)
  optimizer.build(model.trainable_variables)
  return optimizer


def make_am(magnitude_weight=0.1, rate=1e-3):
  mask_model = built(MaskUNet([4, 8]))
  disc = built(LsganDiscriminator([8, 16]))
  step = am.make_train_step(mask_model, disc, adam(mask_model, rate), adam(disc, rate),
                            magnitude_weight)
  return mask_model, disc, step


def bars_batches():
  images, labels = helpers.bars(16)
  b, x = images[labels == 0], images[labels == 1]
  return b[:4] + x[:4], b[4:]  # Mixtures and (other) clean B samples.


def largest_singular_values(disc):
  values = []
  for wrapper in disc.spectral_normalized_layers():
    kernel = wrapper.layer.kernel.numpy()
    values.append(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])
  return np.array(values)


@pytest.mark.parametrize("output,expected", [("patch", (2, 4, 4, 1)), ("global", (2, 1))])
def test_discriminator_output_shapes(output, expected):
  disc = LsganDiscriminator([4, 8], output=output)
  assert disc(tf.zeros([2, 16, 16, 3])).shape == expected


@pytest.mark.parametrize("shape,filters,patch", [
    ((129, 16, 1), [8, 16], (33, 4)),  # The tiny audio tests' 256-point STFT patches.
    ((257, 64, 1), [64, 128, 256], (33, 8)),  # The audio defaults, default --am_disc_filters.
    ((129, 16, 1), [4] * 6, (3, 1)),  # More stride-2 layers than 16 frames can halve.
])
def test_discriminator_takes_spectrogram_patches(shape, filters, patch):
  # "same" padding rounds each stride-2 size up, so odd bin counts and short patches fit.
  spectrograms = tf.random.uniform((2,) + shape)
  scores = LsganDiscriminator(filters)(spectrograms, training=True)
  assert scores.shape == (2,) + patch + (1,) and np.all(np.isfinite(scores.numpy()))
  assert LsganDiscriminator(filters, output="global")(spectrograms).shape == (2, 1)


def test_discriminator_spectral_norm_is_about_one_after_training():
  keras.utils.set_random_seed(0)
  _, disc, step = make_am()
  y, b = bars_batches()
  before = largest_singular_values(disc)
  assert np.abs(before - 1.0).max() > 0.1  # Fresh kernels are not normalised.
  for _ in range(20):
    step(y, b)
  # Each step normalises the kernels with one power iteration (its estimate of
  # the top singular vector improves step by step), then moves them by one small
  # Adam update.
  np.testing.assert_allclose(largest_singular_values(disc), 1.0, atol=0.03)
  disc(tf.concat([y, b], 0), training=True)  # What a training-mode call uses.
  np.testing.assert_allclose(largest_singular_values(disc), 1.0, atol=0.01)


def test_one_am_step_changes_both_networks_and_reports_named_losses():
  keras.utils.set_random_seed(1)
  mask_model, disc, step = make_am()
  y, b = bars_batches()
  mask_before = [w.copy() for w in mask_model.get_weights()]
  disc_before = [w.copy() for w in disc.get_weights()]
  out = step(y, b)
  assert set(out) == {"d_loss", "d_real", "d_fake", "mask_loss", "mask_adversarial",
                      "mask_prior"}
  assert all(np.isfinite(float(v)) for v in out.values())

  def changed(before, after):
    return sum(not np.array_equal(w0, w1) for w0, w1 in zip(before, after))

  # Every trainable kernel moves, not just batch-norm statistics.
  mask_kernels = [i for i, w in enumerate(mask_model.weights) if "kernel" in w.path]
  assert all(not np.array_equal(mask_before[i], mask_model.get_weights()[i])
             for i in mask_kernels)
  assert changed(disc_before, disc.get_weights()) >= len(disc.spectral_normalized_layers())


def test_reported_losses_match_the_equations():
  keras.utils.set_random_seed(2)
  mask_model, disc, _ = make_am()
  y, b = bars_batches()
  mask = mask_model(y, training=True)
  weight = 0.3
  # Fresh copies so that the step sees the same weights as the reference computation.
  clone_mask = built(MaskUNet.from_config(mask_model.get_config()))
  clone_mask.set_weights(mask_model.get_weights())
  clone_disc = built(LsganDiscriminator.from_config(disc.get_config()))
  clone_disc.set_weights(disc.get_weights())
  scores = clone_disc(tf.concat([y * mask, b], 0), training=True)
  d_fake, d_real = scores[:4].numpy(), scores[4:].numpy()
  step = am.make_train_step(clone_mask, disc, adam(clone_mask), adam(disc), weight)
  out = step(y, b)
  m = mask.numpy()
  np.testing.assert_allclose(float(out["d_loss"]),
                             np.mean(d_fake ** 2) + np.mean((d_real - 1) ** 2), rtol=1e-4)
  np.testing.assert_allclose(float(out["mask_prior"]), np.mean(np.abs(m - 1)), rtol=1e-4)
  np.testing.assert_allclose(float(out["mask_loss"]),
                             np.mean((d_fake - 1) ** 2) + weight * np.mean(np.abs(m - 1)),
                             rtol=1e-4)


def test_magnitude_prior_pulls_the_mask_towards_one():
  keras.utils.set_random_seed(3)
  y, b = bars_batches()
  means = {}
  for weight in (0.0, 10.0):
    keras.utils.set_random_seed(3)
    mask_model, _, step = make_am(weight, rate=1e-2)
    for _ in range(15):
      step(y, b)
    # Training mode: 15 steps barely move batch norm's moving averages.
    means[weight] = float(tf.reduce_mean(mask_model(y, training=True)))
  assert means[10.0] > means[0.0] + 0.1, means


def test_discriminator_get_config_round_trip():
  disc = built(LsganDiscriminator([4, 8], output="global", power_iterations=2))
  clone = built(LsganDiscriminator.from_config(disc.get_config()))
  assert clone.get_config() == disc.get_config()
  clone.set_weights(disc.get_weights())
  images = tf.random.uniform([2, 16, 16, 1])
  np.testing.assert_allclose(clone(images).numpy(), disc(images).numpy(), atol=1e-6)
  restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(disc))
  assert isinstance(restored, LsganDiscriminator) and restored.filters == [4, 8]


def test_discriminator_bad_settings():
  with pytest.raises(InputError, match="output"):
    LsganDiscriminator(output="pixel")
  with pytest.raises(InputError, match="filters"):
    LsganDiscriminator(filters=[])
