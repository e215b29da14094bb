"""Speech/noise set builder on tiny generated folders: disjoint files, SNRs, levels, skips."""

import os

import numpy as np
import pytest
import soundfile

from eggsep_tf.data import speech_noise
from eggsep_tf.errors import InputError

RATE = 8000
CLIP = 800  # 0.1 s examples


def _write(folder, name, signal, rate=RATE):
  os.makedirs(folder, exist_ok=True)
  subtype = "FLOAT" if name.endswith(".wav") else "PCM_16"
  soundfile.write(os.path.join(folder, name), signal.astype(np.float32), rate, subtype=subtype)


def _folders(tmp_path, speech_files=4, noise_files=6):
  """Each file is a tone at its own frequency (a fingerprint), 0.5 s = 5 clips."""
  t = np.arange(RATE // 2) / RATE
  for i in range(speech_files):
    _write(str(tmp_path / "speech"), f"s{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 40 * i) * t))
  for i in range(noise_files):
    _write(str(tmp_path / "noise" / "sub"), f"n{i}.flac",
           0.1 * np.sin(2 * np.pi * (1500 + 100 * i) * t))
  return str(tmp_path / "speech"), str(tmp_path / "noise")


def _dominant_hz(clips):
  """Frequency of each clip's strongest component, to the nearest 10 Hz."""
  spectra = np.abs(np.fft.rfft(clips * np.hanning(clips.shape[1]), n=8 * clips.shape[1]))
  return np.round(np.argmax(spectra, axis=1) * RATE / (8 * clips.shape[1]), -1)


def _power_db(clips):
  return 10 * np.log10(np.mean(np.square(clips), axis=1))


def test_sets_are_disjoint_mixed_at_the_snr_range_and_levelled(tmp_path):
  speech, noise = _folders(tmp_path)
  sets = speech_noise.build(speech, noise, RATE, CLIP, snr_db=(-3.0, 6.0), seed=1)
  assert sets["b"].shape[1] == CLIP and sets["b"].dtype == np.float32
  np.testing.assert_allclose(sets["y"], sets["y_x"] + sets["y_b"], atol=1e-6)
  np.testing.assert_allclose(sets["test_y"], sets["test_x"] + sets["test_b"], atol=1e-6)
  # X is speech (low tones), B is noise (high tones).
  assert np.all(_dominant_hz(sets["y_x"]) < 1000) and np.all(_dominant_hz(sets["b"]) > 1000)
  # No recording feeds two sets.
  b_set, y_b, test_b = (set(_dominant_hz(sets[k])) for k in ("b", "y_b", "test_b"))
  assert not (b_set & y_b) and not (b_set & test_b) and not (y_b & test_b)
  assert not set(_dominant_hz(sets["y_x"])) & set(_dominant_hz(sets["test_x"]))
  # SNRs (speech to noise) inside the range, and spread across it.
  snr = _power_db(sets["y_x"]) - _power_db(sets["y_b"])
  assert snr.min() >= -3.0 - 1e-3 and snr.max() <= 6.0 + 1e-3 and snr.std() > 1.0
  # Speech at its RMS; B clips with the same level distribution as mixtures' noise.
  np.testing.assert_allclose(np.sqrt(np.mean(sets["y_x"] ** 2, axis=1)), 0.05, rtol=1e-3)
  b_db = _power_db(sets["b"]) - 20 * np.log10(0.05)
  assert b_db.max() <= 3.0 + 1e-3 and b_db.min() >= -6.0 - 1e-3
  summary = sets["summary"]
  assert summary["b_files_b_set"] + summary["b_files_mixtures"] + summary["b_files_test"] == 6
  assert summary["y_examples"] == len(sets["y"]) == 5 * summary["x_files_train"]


def test_noise_as_x_swaps_roles(tmp_path):
  speech, noise = _folders(tmp_path, speech_files=4, noise_files=3)
  sets = speech_noise.build(speech, noise, RATE, CLIP, x_source="noise", seed=0)
  assert np.all(_dominant_hz(sets["y_x"]) > 1000) and np.all(_dominant_hz(sets["b"]) < 1000)
  np.testing.assert_allclose(np.sqrt(np.mean(sets["b"] ** 2, axis=1)), 0.05, rtol=1e-3)


def test_short_and_silent_files_are_skipped_and_counted(tmp_path):
  speech, noise = _folders(tmp_path)
  _write(speech, "tiny.wav", 0.3 * np.ones(100))
  _write(speech, "quiet.wav", np.zeros(CLIP * 2))
  sets = speech_noise.build(speech, noise, RATE, CLIP, max_examples=3, seed=0)
  assert sets["summary"]["short_files"] == 1 and sets["summary"]["silent_clips"] == 2
  assert len(sets["b"]) <= 3 and len(sets["y"]) <= 3


def test_resamples_files_at_other_rates(tmp_path):
  speech, noise = _folders(tmp_path)
  _write(speech, "hi.wav", 0.2 * np.sin(2 * np.pi * 300 * np.arange(24000) / 48000), rate=48000)
  sets = speech_noise.build(speech, noise, RATE, CLIP, test_fraction=0.4, seed=2)
  assert np.isfinite(sets["y"]).all()


def test_writes_wavs(tmp_path):
  speech, noise = _folders(tmp_path)
  sets = speech_noise.build(speech, noise, RATE, CLIP)
  speech_noise.write_wavs(sets, str(tmp_path / "out"), RATE, max_per_set=2)
  assert sorted(os.listdir(tmp_path / "out" / "test_y")) == ["00000.wav", "00001.wav"]
  audio, rate = soundfile.read(str(tmp_path / "out" / "b" / "00000.wav"))
  assert rate == RATE and audio.shape == (CLIP,)


def test_bad_input(tmp_path):
  speech, noise = _folders(tmp_path, speech_files=1, noise_files=3)
  with pytest.raises(InputError, match="need at least 2 speech files"):
    speech_noise.build(speech, noise, RATE, CLIP)
  with pytest.raises(InputError, match="missing: audio folder not found"):
    speech_noise.build(str(tmp_path / "missing"), noise, RATE, CLIP)
  with pytest.raises(InputError, match="SNR range"):
    speech_noise.build(speech, noise, RATE, CLIP, snr_db=(5, -5))
  _write(speech, "s9.wav", np.ones(100) * 0.1)
  with pytest.raises(InputError, match="no usable 1.00 s clips"):
    speech_noise.build(speech, noise, RATE, RATE)
