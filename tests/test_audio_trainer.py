"""End-to-end audio runs of trainers.nes / trainers.supervised on tiny generated recordings.

Tones stand in for speech (X) and coloured noise for B, at 8 kHz with a 256-point
STFT and 16-frame patches, so that each run takes seconds.
"""

import io
import json
import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from eggsep_tf.data import musdb
from eggsep_tf.data import synthetic_audio
from tests import in_process

RATE = 8000
TINY = ["--domain=audio", f"--sample_rate={RATE}", "--n_fft=256", "--window_ms=32",
        "--hop_ms=16", "--patch_frames=16", "--filters=8,16", "--batch_size=16",
        "--learning_rate=0.003", "--eval_batch_size=64", "--chunk_frames=64",
        "--context_frames=16", "--seed=1",
        # float32: the 2-iteration run is small enough for bfloat16 rounding to
        # move SDR by about a dB (bench/RESULTS.md has the comparison).
        "--precision=float32",
        # The paper's kind of net and x_t as estimated; the default fast net is tested below.
        "--architecture=strided_unet", "--x_level=off"]


def _tones(seconds, rng):
  return synthetic_audio.tones(seconds, rng, RATE)


def _noise(seconds, rng):
  return synthetic_audio.noise(seconds, rng, RATE)


def _write(path, audio, rate=RATE):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  soundfile.write(path, audio, rate)


@pytest.fixture(scope="module")
def speech_noise_dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp("speech_noise")
  rng = np.random.default_rng(0)
  for i in range(4):
    _write(str(root / "speech" / f"{i}.wav"), _tones(12.0, rng))
  for i in range(6):
    _write(str(root / "noise" / f"{i}.wav"), _noise(12.0, rng))
  return str(root / "speech"), str(root / "noise")


def _speech_noise_flags(workdir, dirs):
  return TINY + [f"--workdir={workdir}", "--audio_source=speech_noise",
                 f"--speech_dir={dirs[0]}", f"--noise_dir={dirs[1]}", "--snr_db=-10,0",
                 "--test_track_seconds=2", "--max_tracks=3", "--iterations=2", "--epochs=3",
                 "--supervised_epochs=4"]


@pytest.fixture(scope="module")
def nes_run(tmp_path_factory, speech_noise_dirs):
  workdir = str(tmp_path_factory.mktemp("nes_run"))
  proc = in_process.run_trainer("trainers.nes", *_speech_noise_flags(workdir, speech_noise_dirs))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def test_nes_beats_const_on_tones_and_noise(nes_run):
  res = _results(nes_run)
  assert {"const", "nes", "nes_iter_1", "nes_iter_2"} <= set(res)
  for row in res.values():
    assert {"sdr_x", "sir_x", "sar_x", "sdr_b", "sir_b", "sar_b"} <= set(row)
  assert res["nes"]["sdr_x"] > res["const"]["sdr_x"] + 1.0, res
  assert res["nes"]["sir_x"] > res["const"]["sir_x"] + 2.0, res
  with open(os.path.join(nes_run, "results.md")) as f:
    assert "| speech | noise |" in f.read()
  with open(os.path.join(nes_run, "data", "y_train", "spec.json")) as f:
    spec = json.load(f)
  assert spec["mixing"] == "waveform" and spec["shape"] == [15 * 128 + 256]
  events = [f for _, _, fs in os.walk(os.path.join(nes_run, "tb")) for f in fs]
  assert any(f.startswith("events.out.tfevents") for f in events)


@pytest.mark.slow  # NES training on audio: nes_run above; what "auto" resolves to for audio
# (spectral_tcn, --x_level=match): test_domains.test_audio_domain; the net: test_spectral_tcn_mask.
def test_the_default_fast_net_with_level_matching_beats_const(tmp_path, speech_noise_dirs):
  workdir = str(tmp_path / "tcn")
  flags = [f for f in _speech_noise_flags(workdir, speech_noise_dirs)
           if not f.startswith(("--architecture=", "--x_level=", "--filters="))]
  proc = in_process.run_trainer("trainers.nes", *flags, "--filters=32,32")
  assert proc.returncode == 0, proc.stderr[-3000:]
  res = _results(workdir)
  assert res["nes"]["sdr_x"] > res["const"]["sdr_x"] + 0.25, res
  assert res["oracle"]["sdr_x"] > res["nes"]["sdr_x"]
  assert "x_scale" in res["nes_iter_1"]  # --x_level=auto matches x_t's power for audio.
  with open(os.path.join(workdir, "run-nes.json")) as f:
    settings = json.load(f)["settings"]
  assert settings["architecture"] == "auto" and settings["x_level"] == "auto"


def test_oracle_row_bounds_nes_and_speech_rows_carry_pesq_and_stoi(nes_run):
  from eggsep_tf import speech_metrics
  res = _results(nes_run)
  # The ideal ratio mask on the run's STFT: the ceiling of every mask method.
  assert res["oracle"]["sdr_x"] > res["nes"]["sdr_x"] > res["const"]["sdr_x"]
  assert res["oracle"]["sdr_x"] > res["const"]["sdr_x"] + 3.0
  if all(speech_metrics.available().values()):
    for row in ("const", "nes", "oracle"):
      assert {"pesq_x", "stoi_x"} <= set(res[row])  # X is the speech here.
      assert "pesq_b" not in res[row]
    assert res["oracle"]["stoi_x"] > res["const"]["stoi_x"]


@pytest.mark.slow  # Audio supervised: test_supervised_on_user_folders; images: test_nes_trainer.
def test_supervised_reuses_the_data_and_scores(nes_run, speech_noise_dirs):
  proc = in_process.run_trainer("trainers.supervised",
                                *_speech_noise_flags(nes_run, speech_noise_dirs))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Preparing" not in proc.stderr
  res = _results(nes_run)
  assert res["supervised"]["sdr_x"] > res["const"]["sdr_x"] + 1.0, res


def _wav_bytes(audio, rate=RATE):
  buffer = io.BytesIO()
  soundfile.write(buffer, audio, rate, subtype="PCM_16", format="WAV")
  return buffer.getvalue()


def test_export_serves_waveforms_and_wav_bytes(nes_run):
  version = os.path.join(nes_run, "export", "eggsep", "1")
  with open(os.path.join(version, "metadata.json")) as f:
    meta = json.load(f)
  assert meta["domain"] == "audio" and meta["sample_rate"] == RATE
  assert (meta["n_fft"], meta["win_length"], meta["hop_length"]) == (256, 256, 128)
  assert meta["observed"] == "noise" and meta["unobserved"] == "speech"
  model = tf.saved_model.load(version)
  rng = np.random.default_rng(3)
  y = (_tones(1.5, rng) + _noise(1.5, rng))[:11111]
  out = model.signatures["serving_default"](waveform=tf.constant(np.stack([y, 0.5 * y])))
  assert out["x"].shape == out["b"].shape == (2, 11111)
  np.testing.assert_allclose(out["x"].numpy() + out["b"].numpy(), np.stack([y, 0.5 * y]),
                             atol=1e-5)
  stereo = np.stack([y, 0.5 * y], axis=1)
  out = model.signatures["separate_wav"](wav_bytes=tf.constant(
      [_wav_bytes(stereo), _wav_bytes(y[:3000])]))
  assert out["sample_rate"].numpy().tolist() == [RATE, RATE]
  x, rate = soundfile.read(io.BytesIO(out["x_wav_bytes"].numpy()[0]), dtype="float32")
  b, _ = soundfile.read(io.BytesIO(out["b_wav_bytes"].numpy()[0]), dtype="float32")
  assert rate == RATE and x.shape == (11111,)
  np.testing.assert_allclose(x + b, 0.75 * y, atol=3e-4)  # Channels averaged, 16-bit.
  short, _ = soundfile.read(io.BytesIO(out["x_wav_bytes"].numpy()[1]))
  assert short.shape == (3000,)
  with pytest.raises(tf.errors.InvalidArgumentError, match=f"sample rate must be {RATE} Hz"):
    model.signatures["separate_wav"](wav_bytes=tf.constant([_wav_bytes(y, 16000)]))


def test_reexport_from_the_workdir_equals_the_trainers_export(nes_run, tmp_path):
  from eggsep_tf.export import workdir_export
  path = workdir_export.export_workdir(nes_run, export_base=str(tmp_path))
  trainer_version = os.path.join(nes_run, "export", "eggsep", "1")
  metas = []
  for version in (trainer_version, path):
    with open(os.path.join(version, "metadata.json")) as f:
      metas.append(json.load(f))
  # One metadata builder: the whole dict is the trainer's, plus where it came from.
  assert {k: v for k, v in metas[1].items() if k != "exported_from"} == metas[0]
  y = tf.constant((_tones(2.0, np.random.default_rng(4)) * 0.5)[None])
  want = tf.saved_model.load(trainer_version).signatures["serving_default"](waveform=y)
  got = tf.saved_model.load(path).signatures["serving_default"](waveform=y)
  np.testing.assert_allclose(got["x"].numpy(), want["x"].numpy(), atol=1e-5)


def test_supervised_on_user_folders(tmp_path):
  """--audio_source=folders: B files, Y track folders with references, test folders."""
  rng = np.random.default_rng(5)
  for i in range(3):
    _write(str(tmp_path / "b" / f"noise{i}.wav"), _noise(6.0, rng))
  for i in range(3):
    x, b = 0.3 * _tones(6.0, rng), _noise(6.0, rng)
    _write(str(tmp_path / "y" / f"t{i}" / "x.wav"), x)
    _write(str(tmp_path / "y" / f"t{i}" / "b.flac"), b)
  x, b = 0.3 * _tones(3.0, rng), _noise(3.0, rng)
  _write(str(tmp_path / "test" / "t0" / "mixture.wav"), x + b)
  _write(str(tmp_path / "test" / "t0" / "x.wav"), x)
  workdir = str(tmp_path / "run")
  proc = in_process.run_trainer(
      "trainers.supervised", *TINY, f"--workdir={workdir}", "--audio_source=folders",
      f"--b_audio_dir={tmp_path / 'b'}", f"--y_audio_dir={tmp_path / 'y'}",
      f"--test_audio_dir={tmp_path / 'test'}", "--supervised_epochs=2")
  assert proc.returncode == 0, proc.stderr[-3000:]
  res = _results(workdir)
  assert res["supervised"]["num_tracks"] == 1 and np.isfinite(res["supervised"]["sdr_x"])
  with open(os.path.join(workdir, "results.md")) as f:
    # Supervised beside the baselines every table shows (Const and the oracle).
    assert "| X | B | Const | Supervised | Oracle |\n|---|---|---|---|---|\n| x | b | " in f.read()


def _musdb_tree(root, train=4, test=2, seconds=2.0):
  rng = np.random.default_rng(7)
  for subset, count in (("train", train), ("test", test)):
    for i in range(count):
      stems = {"vocals": _tones(seconds, rng), "drums": _noise(seconds, rng),
               "bass": 0.5 * _tones(seconds, rng), "other": 0.5 * _noise(seconds, rng)}
      stems["mixture"] = sum(stems.values())
      for name in musdb.STEMS:
        _write(os.path.join(root, subset, f"track{i}", f"{name}.wav"),
               np.stack([stems[name], stems[name]], axis=1))
  return root


@pytest.mark.slow  # The MUSDB reader: test_musdb.py; audio NES training: nes_run above.
def test_musdb_hq_tree_trains_one_iteration(tmp_path):
  root = _musdb_tree(str(tmp_path / "musdb"))
  workdir = str(tmp_path / "run")
  proc = in_process.run_trainer("trainers.nes", *TINY, f"--workdir={workdir}",
                                "--audio_source=musdb", f"--musdb_root={root}",
                                "--const_fraction=0.1", "--iterations=1", "--epochs=1")
  assert proc.returncode == 0, proc.stderr[-3000:]
  res = _results(workdir)
  assert {"const", "nes"} <= set(res) and res["nes"]["num_tracks"] == 2
  with open(os.path.join(workdir, "data", "b_train", "spec.json")) as f:
    spec = json.load(f)
  assert spec["x_name"] == "vocals" and spec["b_name"] == "instrumental"
  assert not set(spec["b_tracks"]) & set(spec["y_tracks"])  # Disjoint songs.


@pytest.mark.parametrize("args, message", [
    (["--audio_source=musdb", "--musdb_root=/nonexistent/musdb"],
     "--musdb_root=/nonexistent/musdb: folder not found"),
    (["--audio_source=folders", "--b_audio_dir={empty}", "--y_audio_dir={empty}"],
     "no audio files"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
  (tmp_path / "empty").mkdir()
  args = [a.format(empty=tmp_path / "empty") for a in args]
  proc = in_process.run_trainer("trainers.nes", *TINY, f"--workdir={tmp_path / 'run'}", *args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and message in errors[0], proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr


@pytest.mark.slow  # The NMF trainer: test_nmf_trainer.py; audio rows and their separation:
# test_domains.test_audio_domain; the solver: test_nmf.py.
def test_nmf_on_spectrogram_frames_beats_const(tmp_path, speech_noise_dirs):
  workdir = str(tmp_path / "nmf")
  flags = _speech_noise_flags(workdir, speech_noise_dirs) + ["--nmf_bases=20",
                                                             "--nmf_iterations=60"]
  proc = in_process.run_trainer("trainers.nmf", *flags)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(workdir, "results.json")) as f:
    row = json.load(f)["nmf"]
  assert {"sdr_x", "sir_x", "sar_x", "sdr_b"} <= set(row)
  # Const on the same test tracks: x = y / 2 leaves all of B in X (low SIR).
  from eggsep_tf.data import audio_prepare
  from eggsep_tf import bss_eval
  test_dir = os.path.join(workdir, "data", audio_prepare.TEST_SPLIT)
  tracks = [audio_prepare.load_test_track(test_dir, i)
            for i in range(audio_prepare.read_test_spec(test_dir)["count"])]
  const = bss_eval.evaluate_tracks([{"x": t["x"], "b": t["b"]} for t in tracks],
                                   [{"x": t["y"] / 2, "b": t["y"] / 2} for t in tracks], RATE)
  assert row["sir_x"] > const["sir_x"] + 3.0
