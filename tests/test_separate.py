"""export/separation.py and `python -m export.separate`: files in, x and b files out,
from a SavedModel folder and through the REST server, with bad files counted."""

import io
import os

import keras
import numpy as np
from PIL import Image
import pytest
import soundfile
import tensorflow as tf

from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf.export import client
from eggsep_tf.export import saved_model
from eggsep_tf.export import model_access
from eggsep_tf.export import separation
from eggsep_tf.export import array_separation
from eggsep_tf.export.rest_server import serve_in_thread
from tests import helpers

SIZES = [(16, 16), (20, 12), (9, 9)]
RATE = 8000


def _png(path, pixels):
  Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
  """A model base with our exports of untrained nets: an image and an audio separator,
  and a toy separate_wav model without metadata.json."""
  base = str(tmp_path_factory.mktemp("models"))
  keras.utils.set_random_seed(3)
  saved_model.export_image_separator(ImageSeparator(MaskUNet([4, 8])), 1, base, "tiny",
                                     {"domain": "image", "image_shape": [16, 16, 1]})
  audio = AudioSeparator(MaskUNet([4, 8]), n_fft=64, win_length=64, hop_length=16,
                         chunk_frames=16, context_frames=4)
  audio(tf.zeros([1, 256]))
  archive = keras.export.ExportArchive()
  archive.track(audio)
  archive.add_endpoint("serving_default", audio, input_signature=[
      tf.TensorSpec([None, None], tf.float32, name="waveform")])
  saved_model.write_archive(archive, base, "speech", {"domain": "audio", "sample_rate": RATE})
  _export_wav_toy(os.path.join(base, "wavtoy", "1"))
  return base


class _WavToy(tf.Module):
  """separate_wav as the issue specifies it, on toy arithmetic: x = y / 4, b = 3 y / 4
  of the first channel, at the model's rate RATE."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="wav_bytes")])
  def separate_wav(self, wav_bytes):
    def one(data):
      audio = tf.audio.decode_wav(data, desired_channels=1).audio
      return (tf.audio.encode_wav(0.25 * audio, RATE), tf.audio.encode_wav(0.75 * audio, RATE))
    x, b = tf.map_fn(one, wav_bytes, fn_output_signature=(tf.string, tf.string))
    return {"x_wav_bytes": x, "b_wav_bytes": b, "sample_rate": tf.constant(RATE)}


def _export_wav_toy(path):
  module = _WavToy()
  tf.saved_model.save(module, path, signatures={"separate_wav": module.separate_wav})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
  """A folder of grayscale PNGs of mixed sizes and an RGB JPEG in a sub-folder."""
  folder = tmp_path_factory.mktemp("images")
  rng = np.random.default_rng(0)
  for i, (h, w) in enumerate(SIZES):
    _png(folder / f"mix{i}.png", rng.integers(0, 256, (h, w), dtype=np.uint8))
  os.makedirs(folder / "sub")
  _png(folder / "sub" / "photo.jpg", rng.integers(0, 256, (10, 14, 3), dtype=np.uint8))
  return str(folder)


@pytest.fixture(scope="module")
def server(base):
  server = serve_in_thread(base, "tiny", poll_seconds=0)
  yield server
  server.stop()


def _read_png(path):
  return np.asarray(Image.open(path))


def test_local_folder_gives_x_and_b_of_each_image(base, images, tmp_path):
  model = model_access.open_model(os.path.join(base, "tiny"))  # BASE/NAME: newest version.
  assert model.path.endswith(os.path.join("tiny", "1"))
  assert model_access.model_domain(model) == "image"
  summary = separation.separate_files(model, [images], str(tmp_path))
  assert summary.total == 4 and not summary.failed and len(summary.written) == 4
  serve = tf.saved_model.load(model.path).signatures["serving_default"]
  for i, size in enumerate(SIZES):
    y = _read_png(os.path.join(images, f"mix{i}.png")).astype(int)
    x = _read_png(tmp_path / f"mix{i}.x.png").astype(int)
    b = _read_png(tmp_path / f"mix{i}.b.png").astype(int)
    assert x.shape == b.shape == size
    assert np.abs(x + b - y).max() <= 1  # x + b = y up to 8-bit rounding.
    want = serve(mixture=tf.constant(y[None, ..., None] / 255.0, tf.float32))
    # The PNGs are the float outputs in 8 bits (convert_image_dtype truncates).
    assert np.abs(x - 255 * want["x"].numpy()[0, ..., 0]).max() <= 1.0
    assert np.abs(b - 255 * want["b"].numpy()[0, ..., 0]).max() <= 1.0
  assert _read_png(tmp_path / "sub" / "photo.x.png").shape == (10, 14)  # Sub-folder kept.


def test_server_gives_the_same_bytes_as_the_saved_model(base, images, server, tmp_path):
  local = separation.separate_files(model_access.open_model(os.path.join(base, "tiny")),
                                    [images], str(tmp_path / "local"))
  url = f"{server.url}/v1/models/tiny"
  remote_model = model_access.open_model(url)
  assert model_access.model_domain(remote_model) == "image"  # From the signatures alone.
  remote = separation.separate_files(remote_model, [images], str(tmp_path / "remote"))
  assert not remote.failed and len(remote.written) == len(local.written) == 4
  for (lx, lb), (rx, rb) in zip(local.written, remote.written):
    for a, b in ((lx, rx), (lb, rb)):
      assert os.path.relpath(a, tmp_path / "local") == os.path.relpath(b, tmp_path / "remote")
      with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_bad_files_are_counted_and_the_others_written(base, tmp_path):
  folder = tmp_path / "in"
  os.makedirs(folder)
  _png(folder / "a_good.png", np.full((8, 8), 200, np.uint8))
  (folder / "b_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a PNG")
  (folder / "c_empty.png").write_bytes(b"")
  _png(folder / "d_good.png", np.full((5, 7), 90, np.uint8))
  out = tmp_path / "out"
  model = model_access.open_model(os.path.join(base, "tiny"))
  summary = separation.separate_files(model, [str(folder), str(tmp_path / "missing.png")],
                                      str(out))
  failed = dict(summary.failed)
  assert summary.total == 5 and len(summary.written) == 2
  assert set(failed) == {str(folder / "b_corrupt.png"), str(folder / "c_empty.png"),
                         str(tmp_path / "missing.png")}
  assert "not a readable image" in failed[str(folder / "b_corrupt.png")]
  assert "empty" in failed[str(folder / "c_empty.png")]
  assert "no such file" in failed[str(tmp_path / "missing.png")]
  assert sorted(os.listdir(out)) == ["a_good.b.png", "a_good.x.png", "d_good.b.png",
                                     "d_good.x.png"]


def test_command_exit_status_and_messages(base, tmp_path):
  folder = tmp_path / "in"
  os.makedirs(folder)
  _png(folder / "good.png", np.full((6, 6), 100, np.uint8))
  (folder / "broken.png").write_bytes(b"garbage")
  proc = helpers.run_module("export.separate", str(folder),
                            f"--model={os.path.join(base, 'tiny')}", f"--out={tmp_path / 'out'}")
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert "broken.png: not a readable image" in proc.stderr
  assert "error: 1 of 2 files failed" in proc.stderr and "Traceback" not in proc.stderr
  assert os.path.exists(tmp_path / "out" / "good.x.png")
  proc = helpers.run_module("export.separate", str(folder), f"--model={tmp_path / 'nomodel'}",
                            f"--out={tmp_path / 'out2'}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert f"error: model {tmp_path / 'nomodel'}: no such folder" in proc.stderr
  assert not os.path.exists(tmp_path / "out2")


def test_missing_model_and_unreachable_server_are_one_clear_error(tmp_path):
  with pytest.raises(InputError, match="no such folder"):
    model_access.open_model(str(tmp_path / "nothing"))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(InputError, match="no saved_model.pb and no version folders"):
    model_access.open_model(str(tmp_path / "empty"))
  with pytest.raises(model_access.ModelUnavailable, match="cannot reach"):
    model_access.open_model("http://127.0.0.1:9/v1/models/tiny")
  with pytest.raises(InputError, match="expected http://HOST:PORT/v1/models/NAME"):
    model_access.open_model("http://127.0.0.1:9/models/tiny")


def test_unknown_model_name_on_the_server(server):
  with pytest.raises(model_access.ModelUnavailable, match="HTTP 404"):
    model_access.open_model(f"{server.url}/v1/models/other")


def test_clashing_output_names_are_refused(tmp_path):
  _png(tmp_path / "same.png", np.zeros((4, 4), np.uint8))
  _png(tmp_path / "same.jpg", np.zeros((4, 4), np.uint8))
  with pytest.raises(InputError, match=r"would both be written as same\.\*"):
    separation.collect_jobs([str(tmp_path)], "image")


def test_server_row_and_columnar_match_the_saved_model(base, server):
  """Our image export served end to end: both request formats, both signatures."""
  loaded = tf.saved_model.load(os.path.join(base, "tiny", "1"))
  mixtures = np.random.default_rng(1).uniform(0, 2, (3, 12, 10, 1)).astype(np.float32)
  direct = {k: v.numpy() for k, v in
            loaded.signatures["serving_default"](mixture=tf.constant(mixtures)).items()}
  url = f"{server.url}/v1/models/tiny"
  for columnar in (True, False):
    out = client.predict(url, {"mixture": mixtures}, columnar=columnar)
    assert set(out) == {"x", "b", "mask"}
    for k in out:
      np.testing.assert_array_equal(out[k].astype(np.float32), direct[k])
  png = io.BytesIO()
  Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(png, format="PNG")
  pngs = np.array([png.getvalue()] * 2, dtype=object)
  want = loaded.signatures["separate_png"](png_bytes=tf.constant(pngs))
  for columnar in (True, False):
    out = client.predict(url, {"png_bytes": pngs}, signature_name="separate_png",
                         columnar=columnar)
    for k in ("x_png_bytes", "b_png_bytes"):
      assert list(out[k]) == list(want[k].numpy())


def _write_audio(path, audio, rate, subtype="PCM_16"):
  soundfile.write(str(path), audio, rate, subtype=subtype)


def _tones(samples, rate, freqs, amplitude=0.3):
  t = np.arange(samples) / rate
  return np.stack([amplitude * np.sin(2 * np.pi * f * t) for f in freqs], axis=1)


def test_audio_keeps_the_files_rate_and_channels(base, tmp_path):
  """A stereo 16 kHz wav and a mono flac through an 8 kHz model: every channel is
  separated, and x and b come back at the file's own rate and channel count."""
  folder = tmp_path / "in"
  os.makedirs(folder)
  stereo = _tones(3200, 16000, (300.0, 700.0))  # Below the model's Nyquist (4 kHz).
  _write_audio(folder / "stereo.wav", stereo, 16000)
  _write_audio(folder / "short.flac", np.random.default_rng(2).uniform(-0.5, 0.5, 1000), RATE)
  model = model_access.open_model(os.path.join(base, "speech"))
  summary = separation.separate_files(model, [str(folder)], str(tmp_path / "out"))
  assert not summary.failed and len(summary.written) == 2
  for name, ext, shape, rate in (("stereo", ".wav", (3200, 2), 16000),
                                 ("short", ".flac", (1000,), RATE)):
    y, _ = soundfile.read(str(folder / (name + ext)), dtype="float32")
    x, rate_x = soundfile.read(str(tmp_path / "out" / f"{name}.x.wav"), dtype="float32")
    b, rate_b = soundfile.read(str(tmp_path / "out" / f"{name}.b.wav"), dtype="float32")
    assert rate_x == rate_b == rate and x.shape == b.shape == shape
    inner = slice(100, -100)  # Resampling's edges aside, x + b = y.
    np.testing.assert_allclose((x + b)[inner], y[inner], atol=2e-3)
    assert np.abs(b).sum() > 0.05 * np.abs(y).sum()
  # Channel by channel: the right channel equals separating it alone.
  x = soundfile.read(str(tmp_path / "out" / "stereo.x.wav"), dtype="float32")[0]
  alone, _ = array_separation.separate_waveform(model, stereo[:, 1].astype(np.float32), 16000)
  np.testing.assert_allclose(x[:, 1], alone, atol=1e-4)


def test_separate_wav_signature_locally_and_served(base, tmp_path):
  """No metadata.json: the sample rate comes from separate_wav's reply. Each channel
  goes as its own mono WAV at the model's rate; outputs are at the file's rate."""
  rng = np.random.default_rng(4)
  folder = tmp_path / "in"
  os.makedirs(folder)
  stereo = rng.uniform(-0.5, 0.5, (800, 2))
  _write_audio(folder / "as_is.wav", stereo, RATE)
  other = _tones(1600, 16000, (200.0,))[:, 0]
  _write_audio(folder / "other.flac", other, 16000)
  server = serve_in_thread(base, "wavtoy", poll_seconds=0)
  try:
    outputs = {}
    for where, spec in (("local", os.path.join(base, "wavtoy")),
                        ("remote", f"{server.url}/v1/models/wavtoy")):
      model = model_access.open_model(spec)
      assert model_access.model_domain(model) == "audio"
      assert separation.model_sample_rate(model) == RATE
      summary = separation.separate_files(model, [str(folder)], str(tmp_path / where))
      assert not summary.failed
      outputs[where] = {os.path.basename(p): open(p, "rb").read()
                        for pair in summary.written for p in pair}
  finally:
    server.stop()
  assert outputs["local"] == outputs["remote"]
  x, rate = soundfile.read(io.BytesIO(outputs["local"]["as_is.x.wav"]), dtype="float32")
  assert rate == RATE and x.shape == (800, 2)
  np.testing.assert_allclose(x, 0.25 * stereo, atol=1e-4)
  x, rate = soundfile.read(io.BytesIO(outputs["local"]["other.x.wav"]), dtype="float32")
  assert rate == 16000 and x.shape == (1600,)
  np.testing.assert_allclose(x[100:-100], 0.25 * other[100:-100], atol=2e-3)


def test_image_given_to_an_audio_model_fails_clearly(base, tmp_path):
  _png(tmp_path / "pic.png", np.zeros((4, 4), np.uint8))
  model = model_access.open_model(os.path.join(base, "speech"))
  summary = separation.separate_files(model, [str(tmp_path / "pic.png")], str(tmp_path / "o"))
  assert summary.failed and "an image file, but the model separates audio" in \
      summary.failed[0][1]


def test_16_bit_png_is_separated_at_16_bits(base, tmp_path):
  pixels = (np.arange(120, dtype=np.uint16).reshape(10, 12) * 500)
  Image.fromarray(pixels).save(tmp_path / "deep.png")
  model = model_access.open_model(os.path.join(base, "tiny"))
  summary = separation.separate_files(model, [str(tmp_path / "deep.png")], str(tmp_path / "o"))
  assert not summary.failed
  x = _read_png(tmp_path / "o" / "deep.x.png").astype(np.int64)
  b = _read_png(tmp_path / "o" / "deep.b.png").astype(np.int64)
  assert Image.open(tmp_path / "o" / "deep.x.png").mode.startswith("I")  # Still 16 bits.
  assert x.shape == (10, 12) and (x + b).max() > 255
  assert np.abs(x + b - pixels).max() <= 2  # Rounding of each at 1/65535.
