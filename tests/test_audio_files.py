"""Users' audio files through an exported separator: mp3 and aiff in, the model's source
names in the output names, wav/flac at 16/24/32f bits, long files in segments, progress."""

import io
import os

import keras
import numpy as np
import pytest
import soundfile
import tensorflow as tf

from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.export import array_separation
from eggsep_tf.export import model_access
from eggsep_tf import progress
from eggsep_tf.export import saved_model
from eggsep_tf.export import separation
from eggsep_tf.mask_unet import MaskUNet
from tests import helpers

RATE = 8000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  """An untrained audio export with its chunk settings and source names in metadata.json."""
  base = str(tmp_path_factory.mktemp("models"))
  keras.utils.set_random_seed(5)
  separator = AudioSeparator(MaskUNet([4, 8]), n_fft=64, win_length=64, hop_length=16,
                             chunk_frames=16, context_frames=4)
  separator(tf.zeros([1, 256]))
  saved_model.export_audio_separator(separator, RATE, base, "speech_noise",
                                     {"unobserved": "noise", "observed": "speech"})
  return os.path.join(base, "speech_noise")


def _tone(samples, rate, freq, channels=1):
  t = np.arange(samples) / rate
  wave = 0.3 * np.sin(2 * np.pi * freq * t)
  return np.stack([wave * (0.5 + c) for c in range(channels)], 1) if channels > 1 else wave


def test_mp3_and_aiff_are_separated_with_named_outputs(model_dir, tmp_path):
  soundfile.write(str(tmp_path / "song.mp3"), _tone(4410, 44100, 440.0, 2), 44100)
  soundfile.write(str(tmp_path / "talk.aiff"), _tone(1600, 16000, 300.0), 16000)
  model = model_access.open_model(model_dir)
  assert separation.source_names(model) == ("noise", "speech")
  summary = separation.separate_files(model, [str(tmp_path / "song.mp3"),
                                              str(tmp_path / "talk.aiff")], str(tmp_path / "o"))
  assert not summary.failed
  assert sorted(os.listdir(tmp_path / "o")) == ["song.noise.wav", "song.speech.wav",
                                                "talk.noise.wav", "talk.speech.wav"]
  info = soundfile.info(str(tmp_path / "o" / "song.speech.wav"))
  assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
  assert soundfile.info(str(tmp_path / "o" / "talk.noise.wav")).samplerate == 16000


@pytest.mark.parametrize("file_format,bit_depth,subtype", [
    ("flac", "24", "PCM_24"), ("wav", "32f", "FLOAT"), ("flac", "16", "PCM_16")])
def test_formats_and_bit_depths(model_dir, tmp_path, file_format, bit_depth, subtype):
  soundfile.write(str(tmp_path / "a.wav"), _tone(800, RATE, 200.0), RATE)
  options = separation.OutputOptions("{source}/{stem}.{ext}", file_format, bit_depth)
  summary = separation.separate_files(model_access.open_model(model_dir),
                                      [str(tmp_path / "a.wav")], str(tmp_path / "o"),
                                      options=options)
  x_path, b_path = summary.written[0]
  assert x_path == str(tmp_path / "o" / "noise" / f"a.{file_format}")
  assert b_path == str(tmp_path / "o" / "speech" / f"a.{file_format}")
  assert soundfile.info(x_path).subtype == subtype


def test_bad_options_are_refused_before_any_work(model_dir, tmp_path):
  soundfile.write(str(tmp_path / "a.wav"), _tone(800, RATE, 200.0), RATE)
  model = model_access.open_model(model_dir)
  for options, message in (
      (separation.OutputOptions(file_format="flac", bit_depth="32f"), "FLAC stores integers"),
      (separation.OutputOptions(name_template="{stem}.{ext}"), "its own name"),
      (separation.OutputOptions(name_template="{stem}.{nope}"), "expected fields"),
      (separation.OutputOptions(file_format="mp3"), "--format=mp3")):
    with pytest.raises(InputError, match=message):
      separation.separate_files(model, [str(tmp_path / "a.wav")], str(tmp_path / "o"),
                                options=options)
  assert not os.path.exists(tmp_path / "o")


def test_long_audio_in_segments_equals_one_call(model_dir):
  model = model_access.open_model(model_dir)
  audio = np.random.default_rng(0).uniform(-0.5, 0.5, (5000, 2)).astype(np.float32)
  calls = array_separation.segments(5000, 16, 16, 4, 64, RATE, segment_seconds=0.1)
  assert len(calls) > 3 and calls[0][2] == 0 and calls[-1][3] == 5000
  assert all(a[3] == b[2] for a, b in zip(calls, calls[1:]))  # Kept parts tile the signal.
  whole = model.call("serving_default", {"waveform": audio.T})
  x, b = array_separation.separate_waveform(model, audio, RATE, segment_seconds=0.1)
  np.testing.assert_allclose(x, whole["x"].T, atol=1e-5)
  np.testing.assert_allclose(b, whole["b"].T, atol=1e-5)


def test_progress_logs_every_few_percent_without_a_tty(monkeypatch):
  lines = []
  monkeypatch.setattr(progress.logging, "info", lambda fmt, *a: lines.append(fmt % a))
  with progress.Progress(40, "files", unit="files",
                         **{**progress.EXPORT_PROGRESS, "every": 0.25}) as bar:
    assert not bar.uses_bar  # pytest's stderr is not a terminal.
    for _ in range(40):
      bar.update()
  assert [line.split(",")[0] for line in lines] == [
      f"files: {n}/40 files ({p}%)" for n, p in ((10, 25), (20, 50), (30, 75), (40, 100))]
  assert "files/s, about" in lines[0] and lines[-1] == "files: 40/40 files (100%)"


@pytest.mark.slow  # In-process: test_formats_and_bit_depths; the command: test_separate.py.
def test_command_writes_flac_and_refuses_a_bad_flag(model_dir, tmp_path):
  soundfile.write(str(tmp_path / "in.mp3"), _tone(8000, 16000, 300.0, 2), 16000)
  proc = helpers.run_module("export.separate", str(tmp_path / "in.mp3"), f"--model={model_dir}",
                            f"--out={tmp_path / 'o'}", "--format=flac", "--bit_depth=24")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert soundfile.info(str(tmp_path / "o" / "in.speech.flac")).channels == 2
  proc = helpers.run_module("export.separate", str(tmp_path / "in.mp3"), f"--model={model_dir}",
                            f"--out={tmp_path / 'o2'}", "--format=flac", "--bit_depth=32f")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "--bit_depth=32f: FLAC stores integers only" in proc.stderr
  assert not os.path.exists(tmp_path / "o2")


def test_progress_draws_a_tqdm_bar_on_a_terminal():
  class Terminal(io.StringIO):
    def isatty(self):
      return True

  stream = Terminal()
  with progress.Progress(3, "song.mp3", unit="segments", stream=stream) as bar:
    assert bar.uses_bar
    for _ in range(3):
      bar.update()
  assert "song.mp3" in stream.getvalue() and "3/3" in stream.getvalue()
