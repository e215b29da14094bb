"""AudioSeparator: oracle masks, chunked == whole-file separation, bounded chunk sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import spectrogram
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.mask_unet import MaskUNet

SR = 16000
N_FFT, WIN, HOP = 512, 400, 160
SIGNATURE = [tf.TensorSpec([None, None], tf.float32)]


def _sources(seconds=2.0, seed=0):
  """x: a harmonic tone (220 Hz), b: white noise; float32 [samples] each."""
  t = np.arange(int(SR * seconds)) / SR
  x = sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 6))
  b = 0.2 * np.random.default_rng(seed).standard_normal(t.size)
  return x.astype(np.float32), b.astype(np.float32)


def _sdr(reference, estimate):
  return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2))


class FixedMask(keras.Model):
  """Ignores its input and returns a given mask [batch, bins, frames, 1]."""

  def __init__(self, mask):
    super().__init__()
    self.mask = tf.constant(mask, tf.float32)

  def call(self, magnitude, training=None):
    return tf.broadcast_to(self.mask, tf.shape(magnitude))


class PointwiseMask(keras.Model):
  """A deterministic toy mask net: m = sigmoid(log |Y|), bin by bin; records frames seen."""

  def __init__(self):
    super().__init__()
    self.frames_seen = []

  def call(self, magnitude, training=None):
    self.frames_seen.append(magnitude.shape[2])
    return tf.sigmoid(tf.math.log(magnitude + 1e-6))


def _tiny_unet():
  keras.utils.set_random_seed(1)
  net = MaskUNet(filters=[4, 8])
  net(tf.zeros([1, 257, 16, 1]))
  # A sharper head than at initialisation, so masks vary well away from 0.5.
  net.head.kernel.assign(net.head.kernel * 30.0)
  # Non-trivial inference statistics, so batch norm matters in the comparison.
  for layer in net._flatten_layers():
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.moving_mean.assign(tf.fill(layer.moving_mean.shape, 0.1))
      layer.moving_variance.assign(tf.fill(layer.moving_variance.shape, 2.0))
  return net


def test_oracle_mask_reconstructs_sources():
  x, b = _sources()
  y = x + b
  def magnitude(s):
    return tf.abs(spectrogram.stft(s[None], N_FFT, WIN, HOP))
  oracle = magnitude(b) / (magnitude(x) + magnitude(b) + 1e-8)  # [1, frames, bins]
  oracle = tf.transpose(oracle, [0, 2, 1])[..., None]
  separator = AudioSeparator(FixedMask(oracle), N_FFT, WIN, HOP, chunk_frames=None)
  out = separator(y[None])
  assert _sdr(x, out["x"].numpy()[0]) > 12.0
  assert _sdr(b, out["b"].numpy()[0]) > 10.0
  # Const (half the mixture) is far worse: the test can fail.
  assert _sdr(x, 0.5 * y) < 5.0


@pytest.mark.parametrize("chunk_frames", [None, 32])
@pytest.mark.parametrize("samples", [1, 100, 511, 5000, 16123])
def test_all_ones_mask_returns_the_mixture_exactly(chunk_frames, samples):
  y = np.random.default_rng(samples).uniform(-1, 1, (2, samples)).astype(np.float32)
  ones = FixedMask(np.ones([1, 1, 1, 1], np.float32))
  separator = AudioSeparator(ones, N_FFT, WIN, HOP, chunk_frames=chunk_frames,
                             context_frames=8)
  out = separator(y)
  assert out["b"].shape == y.shape
  np.testing.assert_allclose(out["b"].numpy(), y, atol=1e-5)
  np.testing.assert_allclose(out["x"].numpy(), 0.0, atol=1e-5)


def test_chunked_equals_whole_file_away_from_chunk_edges():
  net = _tiny_unet()
  y = np.concatenate(_sources(seconds=3.0))[None, :3 * SR]  # tone then noise
  y = np.concatenate([y, y[:, ::-1]]).copy()  # batch of 2
  whole = AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=None, return_mask=True)
  # Receptive field of a 2-level U-Net with 3x3 convs: about 8 frames each side.
  chunked = AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=32, context_frames=16,
                           return_mask=True)
  a = tf.function(whole.call, input_signature=SIGNATURE)(y)
  c = tf.function(chunked.call, input_signature=SIGNATURE)(y)
  assert a["mask"].shape == c["mask"].shape == (2, 257, 301, 1)
  # Away from the file's ends (the chunked net sees silence there, the whole-file
  # net its own zero padding), masks agree exactly, across all chunk boundaries.
  np.testing.assert_allclose(c["mask"].numpy()[:, :, 10:-10], a["mask"].numpy()[:, :, 10:-10],
                             atol=1e-5)
  edge = 12 * HOP
  np.testing.assert_allclose(c["b"].numpy()[:, edge:-edge], a["b"].numpy()[:, edge:-edge],
                             atol=1e-5)
  # The mask is non-trivial and the file's first frames do differ: the test can fail.
  assert a["mask"].numpy().std() > 0.01
  assert np.abs(c["mask"].numpy()[:, :, :4] - a["mask"].numpy()[:, :, :4]).max() > 1e-4


def test_short_context_still_close_and_continuous():
  net = _tiny_unet()
  y = np.concatenate(_sources(seconds=1.0))[None]
  whole = AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=None)(y)["b"].numpy()
  chunked = AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=16, context_frames=0)(y)["b"].numpy()
  assert _sdr(whole[0], chunked[0]) > 10.0


def test_mask_net_only_sees_fixed_size_chunks_for_any_length():
  toy = PointwiseMask()
  toy(tf.ones([1, 257, 8, 1]))  # Built now, so Keras's symbolic build call is not counted.
  separator = AudioSeparator(toy, N_FFT, WIN, HOP, chunk_frames=64, context_frames=16)
  for seconds in (1, 30):
    toy.frames_seen.clear()
    y = np.random.default_rng(0).uniform(-0.5, 0.5, (1, seconds * SR)).astype(np.float32)
    out = separator(y)  # eager: one mask call per chunk
    frames = 1 + seconds * SR // HOP
    assert toy.frames_seen == [64 + 2 * 16] * -(-frames // 64)
    assert out["x"].shape == y.shape
  # Traced once for unknown lengths: the net's input has a static frame count.
  toy.frames_seen.clear()
  tf.function(separator.call, input_signature=SIGNATURE).get_concrete_function()
  assert toy.frames_seen == [96]


def test_pointwise_mask_chunked_equals_whole_everywhere():
  y = np.concatenate(_sources(seconds=1.0))[None]
  toy = PointwiseMask()
  whole = AudioSeparator(toy, N_FFT, WIN, HOP, chunk_frames=None)(y)
  chunked = AudioSeparator(toy, N_FFT, WIN, HOP, chunk_frames=16, context_frames=0)(y)
  # Except for the few samples under frames past the file's end (chunk padding).
  np.testing.assert_allclose(chunked["x"].numpy()[:, :-N_FFT], whole["x"].numpy()[:, :-N_FFT],
                             atol=1e-5)


@pytest.mark.parametrize("samples", [100, 5000, 16123, 40000])
def test_chunks_per_call_changes_the_speed_not_the_result(samples):
  net = _tiny_unet()
  y = np.random.default_rng(samples).uniform(-0.5, 0.5, (2, samples)).astype(np.float32)
  outs = [AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=16, context_frames=8,
                         return_mask=True, chunks_per_call=g)(y) for g in (1, 3, 8)]
  for other in outs[1:]:
    assert other["mask"].shape == outs[0]["mask"].shape
    np.testing.assert_allclose(other["mask"].numpy(), outs[0]["mask"].numpy(), atol=1e-5)
    np.testing.assert_allclose(other["b"].numpy(), outs[0]["b"].numpy(), atol=1e-5)


def test_chunks_per_call_batches_at_most_that_many_windows():
  toy = PointwiseMask()
  toy(tf.ones([1, 257, 8, 1]))
  batches = []
  original = toy.call
  toy.call = lambda y, training=None: (batches.append(int(y.shape[0])), original(y))[1]
  separator = AudioSeparator(toy, N_FFT, WIN, HOP, chunk_frames=16, context_frames=4,
                             chunks_per_call=4)
  y = np.random.default_rng(0).uniform(-0.5, 0.5, (1, SR)).astype(np.float32)
  separator(y)  # 1 + 16000 // HOP frames: 8 chunks of 16, in 2 calls of 4.
  frames = 1 + SR // HOP
  chunks = -(-frames // 16)
  assert max(batches) <= 4 and sum(batches) >= chunks and len(batches) == -(-chunks // 4)
  with pytest.raises(InputError, match="chunks_per_call"):
    AudioSeparator(toy, N_FFT, WIN, HOP, chunk_frames=16, chunks_per_call=0)


def test_get_config_round_trip_and_stride_check():
  net = _tiny_unet()
  separator = AudioSeparator(net, 512, 512, 205, chunk_frames=64, context_frames=8,
                             return_mask=True)
  clone = AudioSeparator.from_config(separator.get_config())
  assert (clone.hop_length, clone.chunk_frames, clone.context_frames) == (205, 64, 8)
  assert clone.chunks_per_call == 1
  grouped = AudioSeparator.from_config({**separator.get_config(), "chunks_per_call": 6})
  assert grouped.chunks_per_call == 6
  assert isinstance(clone.mask_model, MaskUNet) and clone.mask_model.filters == [4, 8]
  with pytest.raises(InputError, match="total stride 2"):
    AudioSeparator(net, chunk_frames=63, context_frames=8)
  with pytest.raises(InputError, match="chunk_frames"):
    AudioSeparator(net, chunk_frames=0)


@pytest.mark.slow
def test_memory_grows_only_with_the_waveform_for_a_ten_minute_file():
  """Peak RSS of a fresh process: 1 minute, then 10 minutes (tiny net; about 1 GB of RAM)."""
  import os
  import subprocess
  import sys
  code = """
import resource, numpy as np, tensorflow as tf, keras
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf.audio_separator import AudioSeparator
keras.utils.set_random_seed(0)
net = MaskUNet(filters=[4, 8])
separate = tf.function(AudioSeparator(net, 512, 400, 160, chunk_frames=512).call,
                       input_signature=[tf.TensorSpec([None, None], tf.float32)])
for minutes in (1, 10):
  y = np.full((1, minutes * 60 * 16000), 0.1, np.float32)
  separate(y)["x"].numpy()
  del y
  print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                        check=False, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert done.returncode == 0, done.stderr[-2000:]
  one, ten = (int(v) for v in done.stdout.split()[-2:])
  extra_samples = 9 * 60 * 16000
  # A few float32 copies of the signal (measured about 28 bytes per sample), far
  # from the ~1.1 GB per minute of running the net on all frames at once.
  assert ten - one < 48 * extra_samples


def test_exports_and_reloads_for_any_length(tmp_path):
  net = _tiny_unet()
  separator = AudioSeparator(net, N_FFT, WIN, HOP, chunk_frames=32, context_frames=8)
  archive = keras.export.ExportArchive()
  archive.track(separator)
  archive.add_endpoint("serve", separator.call, input_signature=SIGNATURE)
  archive.write_out(str(tmp_path / "export"))
  reloaded = tf.saved_model.load(str(tmp_path / "export"))
  for samples in (777, 12345):
    y = np.random.default_rng(samples).uniform(-0.5, 0.5, (1, samples)).astype(np.float32)
    out = reloaded.serve(tf.constant(y))
    np.testing.assert_allclose(out["b"].numpy(), separator(y)["b"].numpy(), atol=1e-6)
