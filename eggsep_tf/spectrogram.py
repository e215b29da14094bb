"""STFT front end inside the TF graph (tf.signal), with librosa-style centred frames.

Conventions (all settings are arguments; the trainer exposes them as flags):
- Frames are `n_fft` samples long. The analysis window is a periodic Hann window
  of `win_length` samples placed in the middle of the `n_fft` frame (zeros on both
  sides), as librosa does, so frame t is centred on its own sample.
- `center=True` reflect-pads `n_fft // 2` samples on both sides of the signal
  first, so frame t is centred on sample t * hop_length of the input and a signal
  of L samples has 1 + L // hop_length frames (librosa's convention).
  tf.signal.stft alone does not centre.
- The inverse is the least-squares inverse (synthesis window = analysis window,
  divided by the overlap-added squared window). The divisor is computed from the
  frames actually present, so the first and last frames are normalised exactly;
  tf.signal.inverse_stft_window_fn assumes the steady state everywhere and is
  off near the signal's ends when the window is shorter than n_fft or the
  hop does not divide it. In the interior both agree.

Reference settings (paper, 25 ms window, 10 ms hop, n_fft 512): 16 kHz speech
gives win_length 400, hop_length 160; 20480 Hz music gives win_length 512 and
a hop of 204.8 samples, rounded to 205 by `frame_settings` (hops must be whole
samples; 205 is the nearest, 10.01 ms).
"""

import keras
import tensorflow as tf

from eggsep_tf.errors import InputError


def frame_settings(sample_rate, window_ms=25.0, hop_ms=10.0, n_fft=512):
  """Window and hop in whole samples for a sample rate, rounded to the nearest sample.

  Args:
    sample_rate: Hz.
    window_ms, hop_ms: window and hop durations in milliseconds.
    n_fft: FFT size; the window is capped at it.

  Returns:
    (win_length, hop_length) ints: (400, 160) at 16 kHz, (512, 205) at 20480 Hz.
  """
  win_length = min(n_fft, round(sample_rate * window_ms / 1000.0))
  hop_length = round(sample_rate * hop_ms / 1000.0)
  check_settings(n_fft, win_length, hop_length)
  return win_length, hop_length


def check_settings(n_fft, win_length, hop_length):
  """Raises InputError unless 0 < hop_length <= win_length <= n_fft (ints)."""
  for name, value in (("n_fft", n_fft), ("win_length", win_length), ("hop_length", hop_length)):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      raise InputError(f"STFT setting {name}={value!r}: expected a positive whole number "
                       "of samples")
  if not hop_length <= win_length <= n_fft:
    raise InputError(f"STFT settings n_fft={n_fft}, win_length={win_length}, "
                     f"hop_length={hop_length}: expected hop_length <= win_length <= n_fft")


def num_bins(n_fft):
  """Frequency bins of a one-sided STFT: n_fft // 2 + 1 (257 for 512)."""
  return n_fft // 2 + 1


def num_frames(num_samples, n_fft, hop_length, center=True):
  """Frames of an STFT of `num_samples` samples (a Python int or an int tensor)."""
  if center:
    return 1 + num_samples // hop_length
  return 1 + (num_samples - n_fft) // hop_length


def window(n_fft, win_length, dtype=tf.float32):
  """Periodic Hann window of win_length samples, zero-padded to n_fft in the middle.

  Returns:
    [n_fft] tensor.
  """
  hann = tf.signal.hann_window(win_length, periodic=True, dtype=dtype)
  left = (n_fft - win_length) // 2
  return tf.pad(hann, [[left, n_fft - win_length - left]])


def stft(waveform, n_fft=512, win_length=400, hop_length=160, center=True):
  """Complex STFT of waveforms.

  Args:
    waveform: [..., samples] float. With center=True there must be more than
      n_fft // 2 samples (reflect padding); with center=False at least n_fft.
    n_fft, win_length, hop_length: frame size, window length and hop, in samples.
    center: reflect-pad n_fft // 2 samples on both sides first (librosa).

  Returns:
    [..., frames, n_fft // 2 + 1] complex64.
  """
  waveform = tf.convert_to_tensor(waveform, tf.float32)
  samples = waveform.shape[-1]
  shortest = n_fft // 2 + 1 if center else n_fft
  if samples is not None and samples < shortest:
    raise InputError(f"STFT of {samples} samples: expected at least {shortest} with "
                     f"n_fft={n_fft}, center={center} (AudioSeparator handles any length)")
  if center:
    pad = n_fft // 2
    rank = waveform.shape.rank
    waveform = tf.pad(waveform, [[0, 0]] * (rank - 1) + [[pad, pad]], mode="REFLECT")
  analysis = window(n_fft, win_length)
  return tf.signal.stft(waveform, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
                        window_fn=lambda length, dtype: tf.cast(analysis, dtype), pad_end=False)


def window_envelope(frames, n_fft, win_length, hop_length):
  """Overlap-added squared window of `frames` consecutive frames: [(frames - 1) * hop + n_fft]."""
  squared = tf.square(window(n_fft, win_length))
  return tf.signal.overlap_and_add(tf.tile(squared[tf.newaxis], [frames, 1]), hop_length)


def overlap_add_frames(spectrum, n_fft, win_length, hop_length):
  """Windowed inverse FFT of each frame, overlap-added, NOT yet normalised.

  Args:
    spectrum: [..., frames, n_fft // 2 + 1] complex.

  Returns:
    [..., (frames - 1) * hop_length + n_fft] float32.
  """
  frames = tf.signal.irfft(tf.cast(spectrum, tf.complex64), fft_length=[n_fft])
  return tf.signal.overlap_and_add(frames * window(n_fft, win_length), hop_length)


def normalise(summed, envelope, epsilon=1e-8):
  """Divides an overlap-added signal by its squared-window envelope where it is non-zero."""
  safe = envelope > epsilon
  return tf.where(safe, summed / tf.where(safe, envelope, 1.0), 0.0)


def fit_length(waveform, length):
  """Crops or zero-pads the last axis of [..., samples] to `length` samples."""
  waveform = waveform[..., :length]
  missing = tf.maximum(length - tf.shape(waveform)[-1], 0)
  rank = waveform.shape.rank
  return tf.pad(waveform, [[0, 0]] * (rank - 1) + [[0, missing]])


def inverse_stft(spectrum, length, n_fft=512, win_length=400, hop_length=160, center=True):
  """Waveforms from a (possibly masked) STFT made by `stft` with the same settings.

  Args:
    spectrum: [..., frames, n_fft // 2 + 1] complex.
    length: samples to return (int or scalar int tensor): the original length.
      Samples no frame covers are zero.
    n_fft, win_length, hop_length, center: as given to `stft`.

  Returns:
    [..., length] float32.
  """
  summed = overlap_add_frames(spectrum, n_fft, win_length, hop_length)
  envelope = window_envelope(tf.shape(spectrum)[-2], n_fft, win_length, hop_length)
  waveform = normalise(summed, envelope)
  if center:
    waveform = waveform[..., n_fft // 2:]
  return fit_length(waveform, length)


@keras.saving.register_keras_serializable(package="eggsep_tf")
class Stft(keras.layers.Layer):
  """Waveforms [batch, samples] -> complex STFT [batch, frames, n_fft // 2 + 1].

  Args:
    n_fft: FFT size in samples (bins = n_fft // 2 + 1).
    win_length: Hann window length in samples, <= n_fft (centred in the frame).
    hop_length: frame step in samples.
    center: librosa-style centring (reflect pad n_fft // 2 on both sides).
  """

  def __init__(self, n_fft=512, win_length=400, hop_length=160, center=True, **kwargs):
    kwargs.setdefault("dtype", "float32")  # Exact whatever the global policy.
    super().__init__(**kwargs)
    check_settings(n_fft, win_length, hop_length)
    self.n_fft = n_fft
    self.win_length = win_length
    self.hop_length = hop_length
    self.center = center

  @property
  def num_bins(self):
    return num_bins(self.n_fft)

  def num_frames(self, num_samples):
    return num_frames(num_samples, self.n_fft, self.hop_length, self.center)

  def call(self, waveform):
    return stft(waveform, self.n_fft, self.win_length, self.hop_length, self.center)

  def get_config(self):
    return {**super().get_config(), "n_fft": self.n_fft, "win_length": self.win_length,
            "hop_length": self.hop_length, "center": self.center}


@keras.saving.register_keras_serializable(package="eggsep_tf")
class InverseStft(keras.layers.Layer):
  """Complex STFT [batch, frames, bins] (+ length) -> waveforms [batch, length].

  Same arguments as `Stft`; use the same values for an exact round trip.
  """

  def __init__(self, n_fft=512, win_length=400, hop_length=160, center=True, **kwargs):
    kwargs.setdefault("dtype", "float32")  # Exact whatever the global policy.
    super().__init__(**kwargs)
    check_settings(n_fft, win_length, hop_length)
    self.n_fft = n_fft
    self.win_length = win_length
    self.hop_length = hop_length
    self.center = center

  def call(self, spectrum, length):
    """Args: spectrum [batch, frames, bins] complex; length (a keyword): samples to return."""
    return inverse_stft(spectrum, length, self.n_fft, self.win_length, self.hop_length,
                        self.center)

  def get_config(self):
    return {**super().get_config(), "n_fft": self.n_fft, "win_length": self.win_length,
            "hop_length": self.hop_length, "center": self.center}
