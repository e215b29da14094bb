"""Audio reading: formats, mono mix-down, resampling, bad input, clipping warning, cutting."""

import os

from absl import logging
import numpy as np
import pytest
import soundfile

from eggsep_tf.data import audio_io
from eggsep_tf.errors import InputError


def _tone(rate, seconds=0.5, freq=440.0, amplitude=0.5):
  t = np.arange(int(rate * seconds)) / rate
  return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("extension,subtype", [(".wav", "PCM_16"), (".flac", "PCM_16"),
                                               (".ogg", "VORBIS"), (".WAV", "FLOAT")])
def test_reads_formats_as_mono_float32(tmp_path, extension, subtype):
  left, right = _tone(16000), _tone(16000, freq=660.0)
  path = str(tmp_path / f"clip{extension}")
  soundfile.write(path, np.stack([left, right], 1), 16000, subtype=subtype)
  audio = audio_io.read_audio(path, 16000)
  assert audio.dtype == np.float32 and audio.ndim == 1 and audio.shape[0] == 8000
  tolerance = 0.1 if subtype == "VORBIS" else 1e-3
  np.testing.assert_allclose(audio[1000:-1000], ((left + right) / 2)[1000:-1000], atol=tolerance)


@pytest.mark.parametrize("extension", [".mp3", ".aiff"])
def test_reads_mp3_and_aiff_keeping_channels_and_rate(tmp_path, extension):
  stereo = np.stack([_tone(44100, 0.2), _tone(44100, 0.2, freq=660.0)], 1)
  path = str(tmp_path / f"song{extension}")
  soundfile.write(path, stereo, 44100)
  audio, rate = audio_io.read_audio_file(path)
  assert rate == 44100 and audio.dtype == np.float32 and audio.shape[1] == 2
  assert abs(audio.shape[0] - stereo.shape[0]) <= 1152  # An mp3 frame of padding at most.
  mono = audio_io.read_audio(path, 16000)
  assert mono.ndim == 1 and abs(mono.shape[0] - 3200) <= 500


@pytest.mark.parametrize("file_format,bit_depth,subtype,tolerance", [
    ("wav", "16", "PCM_16", 1e-4), ("wav", "24", "PCM_24", 1e-6), ("wav", "32f", "FLOAT", 0),
    ("flac", "24", "PCM_24", 1e-6)])
def test_write_audio_formats(tmp_path, file_format, bit_depth, subtype, tolerance):
  audio = np.stack([_tone(8000, 0.1), _tone(8000, 0.1, freq=100.0)], 1)
  path = str(tmp_path / "deep" / f"out.{file_format}")
  audio_io.write_audio(path, audio, 8000, file_format, bit_depth)
  back, rate = soundfile.read(path, dtype="float32")
  assert rate == 8000 and soundfile.info(path).subtype == subtype and back.shape == audio.shape
  np.testing.assert_allclose(back, audio, atol=tolerance)
  assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path / "deep"))


def test_write_audio_refuses_float_flac_and_unknown_settings(tmp_path):
  for fmt, depth, message in (("flac", "32f", "FLAC stores integers"),
                              ("ogg", "16", "--format=ogg"), ("wav", "8", "--bit_depth=8")):
    with pytest.raises(InputError, match=message):
      audio_io.write_audio(str(tmp_path / "a"), np.zeros(10), 8000, fmt, depth)


def test_resamples_to_the_requested_rate(tmp_path):
  path = str(tmp_path / "a.wav")
  soundfile.write(path, _tone(44100, seconds=1.0), 44100, subtype="FLOAT")
  audio = audio_io.read_audio(path, 20480)
  assert audio.shape == (20480,)
  np.testing.assert_allclose(audio[1000:-1000], _tone(20480, seconds=1.0)[1000:-1000], atol=1e-3)


def test_write_wav_round_trip_and_clips(tmp_path):
  path = str(tmp_path / "out" / "x.wav")
  audio = _tone(8000, amplitude=1.2)
  audio_io.write_wav(path, audio, 8000, subtype="FLOAT")
  back, rate = soundfile.read(path, dtype="float32")
  assert rate == 8000
  np.testing.assert_allclose(back, np.clip(audio, -1, 1))
  audio_io.write_wav(str(tmp_path / "y.wav"), _tone(8000), 8000)
  assert soundfile.info(str(tmp_path / "y.wav")).subtype == "PCM_16"


def test_missing_file(tmp_path):
  with pytest.raises(InputError, match=r"nope\.wav: audio file not found"):
    audio_io.read_audio(str(tmp_path / "nope.wav"), 16000)


def test_unsupported_format(tmp_path):
  path = tmp_path / "clip.m4a"
  path.write_bytes(b"ftyp not really")
  with pytest.raises(InputError, match=r"clip\.m4a: unsupported audio format"):
    audio_io.read_audio(str(path), 16000)


def test_corrupt_file(tmp_path):
  path = tmp_path / "broken.wav"
  path.write_bytes(b"RIFF\x00\x00garbage" * 10)
  with pytest.raises(InputError, match=r"broken\.wav: cannot decode audio"):
    audio_io.read_audio(str(path), 16000)


def test_zero_length_file(tmp_path):
  path = str(tmp_path / "empty.wav")
  soundfile.write(path, np.zeros((0,), np.float32), 16000)
  with pytest.raises(InputError, match=r"empty\.wav: .*zero length"):
    audio_io.read_audio(path, 16000)


def test_nan_samples(tmp_path):
  path = str(tmp_path / "nan.wav")
  audio = _tone(16000)
  audio[10:13] = np.nan
  soundfile.write(path, audio, 16000, subtype="FLOAT")
  with pytest.raises(InputError, match=r"nan\.wav: 3 samples are NaN"):
    audio_io.read_audio(path, 16000)


def test_too_short(tmp_path):
  path = str(tmp_path / "short.flac")
  soundfile.write(path, _tone(16000, seconds=0.25), 16000)
  with pytest.raises(InputError, match=r"short\.flac: 0\.250 s .* shorter than .* 16320"):
    audio_io.read_audio(path, 16000, min_samples=16320)


def test_clipping_is_warned_and_limited(tmp_path, monkeypatch):
  warnings = []
  monkeypatch.setattr(logging, "warning", lambda msg, *args: warnings.append(msg % args))
  path = str(tmp_path / "loud.wav")
  soundfile.write(path, _tone(16000, amplitude=1.5), 16000, subtype="FLOAT")
  audio = audio_io.read_audio(path, 16000)
  assert np.abs(audio).max() <= 1.0
  assert len(warnings) == 1 and "loud.wav" in warnings[0] and "clipping" in warnings[0]
  warnings.clear()
  soundfile.write(path, _tone(16000, amplitude=0.5), 16000, subtype="FLOAT")
  audio_io.read_audio(path, 16000)
  assert not warnings


def test_cut_examples():
  audio = np.arange(10, dtype=np.float32)
  np.testing.assert_array_equal(audio_io.cut_examples(audio, 4), [[0, 1, 2, 3], [4, 5, 6, 7]])
  assert audio_io.cut_examples(audio, 4, hop=3).shape == (3, 4)
  assert audio_io.cut_examples(audio, 11).shape == (0, 11)


def test_list_audio_files(tmp_path):
  (tmp_path / "sub").mkdir()
  for name in ("b.wav", "sub/a.ogg", "notes.txt"):
    (tmp_path / name).write_bytes(b"")
  assert [p.split("/")[-1] for p in audio_io.list_audio_files(str(tmp_path))] == ["b.wav", "a.ogg"]
  (tmp_path / "empty").mkdir()
  with pytest.raises(InputError, match="empty: no audio files"):
    audio_io.list_audio_files(str(tmp_path / "empty"))
  with pytest.raises(InputError, match="none: audio folder not found"):
    audio_io.list_audio_files(str(tmp_path / "none"))
