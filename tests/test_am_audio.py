"""Adversarial Masking on audio (trainers.am --domain=audio) and AM+NES from it.

Tiny generated tones (X) + noise (B) at 8 kHz, 129 x 16 spectrogram patches.
"""

import json
import os
import shutil

import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from tests import in_process
from tests.test_audio_trainer import TINY
from tests.test_audio_trainer import speech_noise_dirs  # noqa: F401 (a fixture)

AM_FLAGS = ["--am_epochs=1", "--am_disc_filters=8,16"]  # The tests check forms, not scores.


def _flags(workdir, dirs, *extra):
  return [*TINY, f"--workdir={workdir}", "--audio_source=speech_noise",
          f"--speech_dir={dirs[0]}", f"--noise_dir={dirs[1]}", "--snr_db=-10,0",
          "--test_track_seconds=2", "--max_tracks=3", *extra]


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


@pytest.fixture(scope="module")
def am_run(tmp_path_factory, speech_noise_dirs):  # noqa: F811
  workdir = str(tmp_path_factory.mktemp("am_audio"))
  proc = in_process.run_trainer("trainers.am", *_flags(workdir, speech_noise_dirs), *AM_FLAGS)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def test_am_row_estimates_and_summaries(am_run):
  row = _results(am_run)["am"]
  assert {"sdr_x", "sir_x", "sar_x", "sdr_b", "sir_b", "sar_b", "num_tracks"} <= set(row)
  assert np.isfinite(row["sdr_x"]) and np.isfinite(row["sdr_b"])
  with open(os.path.join(am_run, "results.md")) as f:
    assert "| speech | noise | " in f.read()
  # The estimates are in the records' form (waveform patches), one per training mixture.
  y_spec = tfrecords.read_spec(os.path.join(am_run, "data", "y_train"))
  x_spec = tfrecords.read_spec(os.path.join(am_run, "am", "estimates", "x"))
  assert y_spec["mixing"] == "waveform" and x_spec["names"] == ["x"]
  assert x_spec["count"] == y_spec["count"] and x_spec["shape"] == y_spec["shape"]
  events = [f for _, _, fs in os.walk(os.path.join(am_run, "tb", "am")) for f in fs]
  assert any(f.startswith("events.out.tfevents") for f in events)


@pytest.mark.slow  # The init path: test_initializer_trainers (images); the audio AM
# estimates' form: test_am_row_estimates_and_summaries.
def test_nes_from_audio_am(am_run, speech_noise_dirs, tmp_path):  # noqa: F811
  nes_dir = str(tmp_path / "nes")
  # The same data (same flags), copied rather than prepared again to keep the test short.
  shutil.copytree(os.path.join(am_run, "data"), os.path.join(nes_dir, "data"))
  proc = in_process.run_trainer("trainers.nes", *_flags(nes_dir, speech_noise_dirs),
                                "--iterations=1", "--epochs=1", "--init=am",
                                f"--init_workdir={am_run}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  x0 = tfrecords.read_all(os.path.join(nes_dir, "nes", "estimates", "x_0"))
  am_x = tfrecords.read_all(os.path.join(am_run, "am", "estimates", "x"))
  np.testing.assert_array_equal(x0["x"], am_x["x"])
  res = _results(nes_dir)
  assert {"const", "am_nes", "am_nes_iter_1"} <= set(res)
  assert np.isfinite(res["am_nes"]["sdr_x"])


def test_init_workdir_on_other_audio_data_is_refused(
    am_run, speech_noise_dirs, tmp_path):  # noqa: F811
  # Another draw of the same recordings: same patch count and shape, other mixtures.
  proc = in_process.run_trainer("trainers.nes", *_flags(str(tmp_path / "w"), speech_noise_dirs),
                                "--data_seed=1", "--iterations=1", "--epochs=1", "--init=am",
                                f"--init_workdir={am_run}")
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, proc.stderr[-2000:]
  assert f"--init_workdir={am_run}" in errors[0] and "--data_seed was 0" in errors[0]
  assert "expected a run on the same data" in errors[0]
  assert "Traceback" not in proc.stderr
  assert not os.path.exists(os.path.join(tmp_path, "w", "nes", "estimates", "x_0"))


def test_nmf_start_is_refused_for_audio(am_run, speech_noise_dirs, tmp_path):  # noqa: F811
  """Audio NMF works on |STFT| frames: no patch estimates for NES to start from."""
  nes_dir = str(tmp_path / "nes")
  shutil.copytree(os.path.join(am_run, "data"), os.path.join(nes_dir, "data"))
  proc = in_process.run_trainer("trainers.nes", *_flags(nes_dir, speech_noise_dirs),
                                "--init=nmf")
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and "--init=nmf" in errors[0], proc.stderr[-2000:]
  assert not os.path.exists(os.path.join(nes_dir, "run-nes.json"))
