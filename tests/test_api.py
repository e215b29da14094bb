"""eggsep_tf.Separator: loading from the usual places, numpy arrays in and out, files."""

import os
import subprocess
import sys

import keras
import numpy as np
from PIL import Image
import pytest
import soundfile
import tensorflow as tf

import eggsep_tf
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.export import training
from eggsep_tf.export import saved_model
from eggsep_tf.export.rest_server import serve_in_thread
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.mask_unet import MaskUNet
from tests import helpers

RATE = 8000


@pytest.fixture(scope="module")
def base(tmp_path_factory):
  """WORKDIR/export/{digits,speech}/1: an image and an audio export of untrained nets."""
  workdir = str(tmp_path_factory.mktemp("run"))
  base = os.path.join(workdir, "export")
  keras.utils.set_random_seed(7)
  saved_model.export_image_separator(ImageSeparator(MaskUNet([4, 8])), 1, base, "digits",
                                     {"domain": "image", "image_shape": [16, 16, 1],
                                      "unobserved": "5-9", "observed": "0-4"})
  audio = AudioSeparator(MaskUNet([4, 8]), n_fft=64, win_length=64, hop_length=16,
                         chunk_frames=16, context_frames=4)
  audio(tf.zeros([1, 256]))
  saved_model.export_audio_separator(audio, RATE, base, "speech",
                                     {"unobserved": "noise", "observed": "speech"})
  return base


def test_load_from_version_model_base_and_workdir(base):
  version = os.path.join(base, "speech", "1")
  for spec in (version, os.path.join(base, "speech")):
    assert eggsep_tf.Separator.load(spec).model.path == version
  with pytest.raises(InputError, match="holds several models \\(digits, speech\\)"):
    eggsep_tf.Separator.load(base)
  with pytest.raises(InputError, match="holds several models"):
    eggsep_tf.Separator.load(os.path.dirname(base))  # The workdir: its export/ folder.
  with pytest.raises(InputError, match="no such folder"):
    eggsep_tf.Separator.load(os.path.join(base, "nothing"))


def test_audio_arrays_mono_and_stereo(base):
  sep = eggsep_tf.Separator.load(os.path.join(base, "speech"))
  assert (sep.domain, sep.sample_rate, sep.source_names) == ("audio", RATE, ("noise", "speech"))
  rng = np.random.default_rng(0)
  mono = rng.uniform(-0.5, 0.5, 1200).astype(np.float32)
  x, b = sep.separate(mono)
  assert x.shape == b.shape == mono.shape and x.dtype == np.float32
  np.testing.assert_allclose(x + b, mono, atol=1e-5)  # At the model's rate: x = y - b.
  t = np.arange(4410) / 44100
  stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1)
  x, b = sep.separate(stereo, sample_rate=44100)
  assert x.shape == b.shape == stereo.shape
  np.testing.assert_allclose((x + b)[200:-200], stereo[200:-200], atol=2e-3)


def test_image_arrays_single_batch_and_dtypes(base):
  sep = eggsep_tf.Separator.load(os.path.join(base, "digits"))
  assert sep.domain == "image" and sep.sample_rate is None
  rng = np.random.default_rng(1)
  image = rng.uniform(0, 1, (12, 10)).astype(np.float32)
  x, b = sep.separate(image)
  assert x.shape == b.shape == (12, 10)
  np.testing.assert_allclose(x + b, image, atol=1e-5)
  batch = (image[None, ..., None] * 255).astype(np.uint8).repeat(3, axis=0)
  x8, b8 = sep.separate(batch)
  assert x8.shape == (3, 12, 10, 1) and x8.max() <= 1.0
  x16, _ = sep.separate((batch.astype(np.uint16) * 257))  # The same pixels, 16 bits.
  np.testing.assert_allclose(x16, x8, atol=1e-5)
  x2, b2 = sep.separate(image[None, ..., None] * 2)  # A sum of two, as training mixtures are.
  assert x2.shape == (1, 12, 10, 1)
  with pytest.raises(InputError, match="expected \\[0, 1\\]"):
    sep.separate(image * 1000)
  with pytest.raises(InputError, match="sample_rate is for audio"):
    sep.separate(image, sample_rate=16000)


def test_separate_file_and_a_served_model(base, tmp_path):
  sep = eggsep_tf.Separator.load(os.path.join(base, "speech"))
  soundfile.write(str(tmp_path / "talk.flac"), np.zeros((800, 2)) + 0.1, 16000)
  written = sep.separate_file(tmp_path / "talk.flac", tmp_path / "out")
  assert written == {"noise": str(tmp_path / "out" / "talk.noise.wav"),
                     "speech": str(tmp_path / "out" / "talk.speech.wav")}
  assert soundfile.info(written["speech"]).channels == 2
  with pytest.raises(InputError, match="missing.wav: no such file"):
    sep.separate_file(tmp_path / "missing.wav", tmp_path / "out")
  digits = eggsep_tf.Separator.load(os.path.join(base, "digits"))
  Image.fromarray(np.full((8, 8), 120, np.uint8)).save(tmp_path / "d.png")
  server = serve_in_thread(base, "digits", poll_seconds=0)
  try:
    remote = eggsep_tf.Separator.load(f"{server.url}/v1/models/digits")
    image = np.random.default_rng(2).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(remote.separate(image)[0], digits.separate(image)[0], atol=1e-6)
    assert remote.source_names == ("x", "b")  # metadata.json is not served.
    assert os.path.exists(remote.separate_file(tmp_path / "d.png", tmp_path / "o")["x"])
  finally:
    server.stop()


def test_import_stays_light():
  code = ("import sys, eggsep_tf; assert 'tensorflow' not in sys.modules, 'tf imported'; "
          "print(eggsep_tf.Separator.__name__)")
  proc = subprocess.run([sys.executable, "-c", code], cwd=helpers.ROOT, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == "Separator"


@pytest.mark.slow
def test_train_with_plain_arguments(tmp_path):
  data = helpers.write_bars_npz(str(tmp_path / "bars.npz"), n=600)
  results = eggsep_tf.train("nes", tmp_path / "run", data=data, observed="0", unobserved="1",
                            num_b=100, num_y=100, num_test=40, iterations=1, epochs=1,
                            filters=[4, 8], batch_size=16, eval_batch_size=64,
                            deterministic=True)
  assert {"const", "nes"} <= set(results) and "psnr_x" in results["nes"]


def test_train_errors_are_one_line(tmp_path):
  data = helpers.write_bars_npz(str(tmp_path / "bars.npz"), n=60)
  with pytest.raises(InputError, match="eggsep nes: --num_b: asked for 5000"):
    eggsep_tf.train("nes", tmp_path / "run2", data=data, num_b=5000, observed="0",
                    unobserved="1")
  with pytest.raises(InputError, match="method 'gan'"):
    eggsep_tf.train("gan", tmp_path / "run3")
  assert training._flag_args({"filters": [4, 8], "invert": False, "seed": 3, "x": None}) == \
      ["--filters=4,8", "--noinvert", "--seed=3"]
