"""STFT front end: librosa-style centring, exact round trip, Keras layer contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import spectrogram
from eggsep_tf.errors import InputError

SETTINGS = [(512, 400, 160), (512, 512, 205), (256, 256, 64)]


def _signal(batch=2, samples=4000, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, samples)).astype(np.float32)


def _reference_stft(x, n_fft, win_length, hop):
  """numpy, librosa's recipe: reflect pad n_fft//2, periodic Hann centred in the frame."""
  pad = n_fft // 2
  padded = np.pad(x, pad, mode="reflect")
  hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
  left = (n_fft - win_length) // 2
  window = np.zeros(n_fft)
  window[left:left + win_length] = hann
  frames = 1 + (len(padded) - n_fft) // hop
  stack = np.stack([padded[t * hop:t * hop + n_fft] * window for t in range(frames)])
  return np.fft.rfft(stack, axis=-1)


def test_frame_settings_for_the_papers_rates():
  assert spectrogram.frame_settings(16000) == (400, 160)
  assert spectrogram.frame_settings(20480) == (512, 205)


@pytest.mark.parametrize("n_fft,win_length,hop", SETTINGS)
def test_matches_librosa_recipe(n_fft, win_length, hop):
  x = _signal(batch=1, samples=3001)
  ours = spectrogram.Stft(n_fft, win_length, hop)(x).numpy()[0]
  reference = _reference_stft(x[0].astype(np.float64), n_fft, win_length, hop)
  assert ours.shape == reference.shape == (1 + 3001 // hop, n_fft // 2 + 1)
  assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()


@pytest.mark.parametrize("n_fft,win_length,hop", SETTINGS)
@pytest.mark.parametrize("samples", [4000, 257, 1001])
def test_round_trip_below_1e5(n_fft, win_length, hop, samples):
  x = _signal(samples=samples)
  stft = spectrogram.Stft(n_fft, win_length, hop)
  inverse = spectrogram.InverseStft(n_fft, win_length, hop)
  spectrum = stft(x)
  assert spectrum.shape[1] == stft.num_frames(samples)
  restored = inverse(spectrum, length=samples).numpy()
  assert restored.shape == x.shape
  # Including the very first and last samples, where the steady-state
  # normalisation of tf.signal.inverse_stft_window_fn is off.
  assert np.abs(restored - x).max() < 1e-5


def test_round_trip_exact_at_ends_where_steady_state_window_is_not():
  n_fft, win_length, hop = 512, 400, 160
  x = _signal(batch=1)
  spectrum = spectrogram.stft(x, n_fft, win_length, hop)
  ours = spectrogram.inverse_stft(spectrum, x.shape[1], n_fft, win_length, hop).numpy()
  def forward(length, dtype):
    return tf.cast(spectrogram.window(n_fft, win_length), dtype)
  steady = tf.signal.inverse_stft(
      spectrum, n_fft, hop, n_fft,
      window_fn=tf.signal.inverse_stft_window_fn(hop, forward_window_fn=forward))
  steady = steady.numpy()[:, n_fft // 2:n_fft // 2 + x.shape[1]]
  assert np.abs(ours - x)[:, :300].max() < 1e-5
  assert np.abs(steady - x)[:, :300].max() > 1e-3
  # In the interior both agree.
  assert np.abs(steady - ours)[:, 600:-600].max() < 1e-5


def test_uncentred_round_trip_and_length_padding():
  x = _signal(samples=2048)
  spectrum = spectrogram.stft(x, 512, 512, 128, center=False)
  assert spectrum.shape[1] == spectrogram.num_frames(2048, 512, 128, center=False)
  restored = spectrogram.inverse_stft(spectrum, 2100, 512, 512, 128, center=False).numpy()
  # Without centring, the first and last samples lie only under the window's
  # tails (ill-conditioned); everything else is exact.
  assert np.abs(restored[:, 64:2048 - 64] - x[:, 64:-64]).max() < 1e-5
  assert np.all(restored[:, 2048:] == 0)


def test_inside_tf_function_with_unknown_length():
  stft = spectrogram.Stft(512, 400, 160)
  inverse = spectrogram.InverseStft(512, 400, 160)

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
  def round_trip(x):
    return inverse(stft(x), length=tf.shape(x)[1])

  for samples in (1600, 2345):
    x = _signal(samples=samples)
    assert np.abs(round_trip(x).numpy() - x).max() < 1e-5


def test_get_config_round_trip():
  layer = spectrogram.Stft(n_fft=256, win_length=200, hop_length=80, center=False)
  clone = spectrogram.Stft.from_config(layer.get_config())
  assert (clone.n_fft, clone.win_length, clone.hop_length, clone.center) == (256, 200, 80, False)
  inverse = keras.saving.deserialize_keras_object(
      keras.saving.serialize_keras_object(spectrogram.InverseStft(256, 200, 80)))
  assert isinstance(inverse, spectrogram.InverseStft) and inverse.hop_length == 80


def test_too_short_signal_raises_input_error():
  with pytest.raises(InputError, match="STFT of 256 samples: expected at least 257"):
    spectrogram.Stft(512, 400, 160)(np.zeros((1, 256), np.float32))


@pytest.mark.parametrize("settings", [(512, 600, 160), (512, 400, 0), (512, 400, 160.5),
                                      (512, 100, 160)])
def test_bad_settings_raise_input_error(settings):
  with pytest.raises(InputError, match="STFT setting"):
    spectrogram.Stft(*settings)
