"""Training patches: alignment with whole-clip frames, both mixing modes, patch re-estimation."""

import keras
import numpy as np
import tensorflow as tf

from eggsep_tf import audio_patches
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.spectrogram import Stft

STFT = Stft(512, 400, 160)


def _clip(samples=16000, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, samples).astype(np.float32)


def test_magnitude_patches_shape_and_count():
  patches = audio_patches.magnitude_patches(_clip(), STFT, frames=64)
  # 1 + 16000 // 160 = 101 frames: one whole 64-frame patch.
  assert patches.shape == (1, 257, 64, 1)
  overlapping = audio_patches.magnitude_patches(_clip(), STFT, frames=64, hop_frames=16)
  assert overlapping.shape == (3, 257, 64, 1)
  assert audio_patches.magnitude_patches(_clip(3000), STFT, frames=64).shape[0] == 0


def test_waveform_patches_align_with_magnitude_patches_and_separator_frames():
  clip = _clip(40000)
  waves = audio_patches.waveform_patches(clip, STFT, frames=64, hop_frames=32)
  assert waves.shape[1] == audio_patches.patch_samples(STFT, 64) == 63 * 160 + 512
  from_waves = audio_patches.magnitude(waves, STFT)
  direct = audio_patches.magnitude_patches(clip, STFT, frames=64, hop_frames=32)
  assert from_waves.shape == direct.shape == (6, 257, 64, 1)  # 251 frames
  np.testing.assert_allclose(from_waves.numpy(), direct.numpy(), atol=1e-4)
  # The whole-file separator masks exactly these frames (its mask input is |STFT|).
  whole = np.abs(STFT(clip[None]).numpy()[0]).T  # [bins, frames]
  np.testing.assert_allclose(direct.numpy()[1, :, :, 0], whole[:, 32:96], atol=1e-4)


def test_mix_magnitudes_and_waveforms():
  b = audio_patches.waveform_patches(_clip(seed=1), STFT, frames=32)
  x = audio_patches.waveform_patches(_clip(seed=2), STFT, frames=32)
  mixture, target = audio_patches.mix_waveforms(b, x, STFT)
  assert mixture.shape == target.shape == (3, 257, 32, 1)
  np.testing.assert_allclose(target.numpy(), audio_patches.magnitude(b, STFT).numpy())
  b_mag, x_mag = audio_patches.magnitude(b, STFT), audio_patches.magnitude(x, STFT)
  summed, target2 = audio_patches.mix_magnitudes(b_mag, x_mag)
  np.testing.assert_allclose(target2.numpy(), b_mag.numpy())
  # Waveform sums interfere: |B + X| <= |B| + |X|, and strictly less somewhere.
  assert np.all(mixture.numpy() <= summed.numpy() + 1e-4)
  assert np.mean(summed.numpy() - mixture.numpy()) > 0.1 * np.mean(summed.numpy())


def test_patch_functions_work_inside_tf_data():
  ds = tf.data.Dataset.from_tensor_slices(np.stack([_clip(12000, s) for s in range(3)]))
  ds = ds.flat_map(lambda w: tf.data.Dataset.from_tensor_slices(
      audio_patches.waveform_patches(w, STFT, frames=16)))
  ds = ds.batch(4).map(lambda w: audio_patches.mix_waveforms(w, w[::-1], STFT))
  mixture, target = next(iter(ds))
  assert mixture.shape == target.shape == (4, 257, 16, 1)


class Constant(keras.Model):
  """A toy mask net: 0.25 everywhere."""

  def call(self, magnitude, training=None):
    return 0.25 * tf.ones_like(magnitude)


def test_separate_waveform_patches_with_constant_mask():
  y = audio_patches.waveform_patches(_clip(), STFT, frames=32)
  out = audio_patches.separate_waveform_patches(Constant(), y, STFT)
  assert out["x"].shape == y.shape and out["mask"].shape == (3, 257, 32, 1)
  # A constant mask c gives b = c * y (away from the patch ends, under the window tails).
  np.testing.assert_allclose(out["b"].numpy()[:, 64:-64], 0.25 * y.numpy()[:, 64:-64], atol=1e-5)
  np.testing.assert_allclose(out["x"].numpy() + out["b"].numpy(), y.numpy(), atol=1e-6)
  # Same answer as the whole-file separator on the same frames.
  whole = AudioSeparator(Constant(), 512, 400, 160, chunk_frames=None)(_clip()[None])
  np.testing.assert_allclose(whole["b"].numpy(), 0.25 * _clip()[None], atol=1e-5)


def test_make_waveform_separate_fn_matches_the_dict_version():
  y = audio_patches.waveform_patches(_clip(), STFT, frames=32)
  x, b, mask = audio_patches.make_waveform_separate_fn(Constant(), STFT)(y)
  out = audio_patches.separate_waveform_patches(Constant(), y, STFT)
  np.testing.assert_allclose(x.numpy(), out["x"].numpy(), atol=1e-6)
  assert b.shape == y.shape and mask.shape == (3, 257, 32, 1)


class RandomMask:
  """A mask that changes from bin to bin and frame to frame, as a trained net's does."""

  def __call__(self, magnitude, training=False):
    return tf.random.stateless_uniform(tf.shape(magnitude), [1, 2])


def test_a_varying_mask_leaves_the_patch_ends_bounded():
  # The ends of a patch framed without centring are covered only by window tails;
  # the exact inverse STFT divided the mask's changes there by a near-zero envelope.
  y = audio_patches.waveform_patches(_clip(), STFT, frames=32)
  out = audio_patches.separate_waveform_patches(RandomMask(), y, STFT)
  peak = float(np.abs(y.numpy()).max())
  assert float(np.abs(out["b"].numpy()).max()) <= 1.5 * peak
  assert float(np.abs(out["x"].numpy()).max()) <= 2.5 * peak
  np.testing.assert_allclose(out["x"].numpy() + out["b"].numpy(), y.numpy(), atol=1e-6)
