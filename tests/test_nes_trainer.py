"""End-to-end runs of trainers.nes and trainers.supervised on tiny generated data.

The runs are in-process (tests/in_process.py: the command's flag parsing and exits
without starting Python again); the few tests that need a real process (SIGKILL, a
signal from outside, a fresh process loading the export, parsing sys.argv) start one."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from tests import helpers
from tests import in_process


def _flags(workdir, data):
  return [f"--workdir={workdir}", f"--data={data}", "--observed=0", "--unobserved=1",
          "--num_b=400", "--num_y=400", "--num_test=60", "--iterations=2", "--epochs=2",
          "--filters=8,16", "--batch_size=16", "--learning_rate=0.003",
          "--eval_batch_size=64", "--seed=1"]


@pytest.fixture(scope="module")
def bars_npz(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("data") / "bars.npz"), 2000)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, bars_npz):
  workdir = str(tmp_path_factory.mktemp("run"))
  proc = in_process.run_trainer("trainers.nes", *_flags(workdir, bars_npz))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def test_nes_beats_const_and_writes_everything(finished_run):
  res = _results(finished_run)
  assert {"const", "nes", "nes_iter_1", "nes_iter_2"} <= set(res)
  for row in res.values():
    assert {"psnr_x", "ssim_x", "psnr_b", "ssim_b"} <= set(row)
  assert res["nes"]["psnr_x"] > res["const"]["psnr_x"] + 2.0
  def scores(row):
    return {k: v for k, v in row.items() if k != "seconds"}
  assert scores(res["nes"]) == scores(res["nes_iter_2"])
  # Every iteration records its wall time; the final row their sum.
  assert res["nes_iter_1"]["seconds"] > 0 and res["nes_iter_2"]["seconds"] > 0
  assert res["nes"]["seconds"] == round(res["nes_iter_1"]["seconds"]
                                        + res["nes_iter_2"]["seconds"], 1)
  # The oracle (ideal mask) bounds every mask method from above.
  assert res["oracle"]["psnr_x"] > res["nes"]["psnr_x"]
  with open(os.path.join(finished_run, "results.md")) as f:
    table = f.read()
  # The default image start is semi-supervised NMF, whose own row sits beside Const.
  assert "| Const | NMF | NES |" in table
  assert "nmf" in res and os.path.exists(os.path.join(finished_run, "run-nmf.json"))
  version = os.path.join(finished_run, "export", "eggsep", "1")
  assert os.path.exists(os.path.join(version, "saved_model.pb"))
  with open(os.path.join(version, "metadata.json")) as f:
    meta = json.load(f)
  assert meta["domain"] == "image" and meta["image_shape"] == [16, 16, 1]
  with open(os.path.join(finished_run, "run-nes.json")) as f:
    run = json.load(f)
  assert run["settings"]["epochs"] == 2 and "git_commit" in run["code"]
  events = [f for _, _, fs in os.walk(os.path.join(finished_run, "tb")) for f in fs]
  assert any(f.startswith("events.out.tfevents") for f in events)


def test_finished_run_is_not_redone(finished_run, bars_npz):
  before = _results(finished_run)
  proc = in_process.run_trainer("trainers.nes", *_flags(finished_run, bars_npz))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "epoch" not in proc.stderr.split("Results")[0].lower().replace("epochs_done", "")
  assert _results(finished_run) == before
  assert sorted(os.listdir(os.path.join(finished_run, "export", "eggsep"))) == ["1"]


def test_other_flags_in_same_workdir_are_refused(finished_run, bars_npz):
  flags = _flags(finished_run, bars_npz)
  flags[flags.index("--epochs=2")] = "--epochs=3"
  proc = in_process.run_trainer("trainers.nes", *flags)
  assert proc.returncode == 2
  assert "--epochs was 2, now 3" in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow  # In-process: tests/test_epoch_loop.py (a kill between checkpoint and state).
def test_kill_and_resume_matches_uninterrupted_run(tmp_path, finished_run, bars_npz):
  workdir = str(tmp_path / "killed")
  cmd = [sys.executable, "-m", "trainers.nes", *_flags(workdir, bars_npz)]
  proc = subprocess.Popen(cmd, cwd=helpers.ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  state = os.path.join(workdir, "nes", "iter_0", "state.json")
  deadline = time.time() + 300
  while not os.path.exists(state) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not os.path.exists(os.path.join(workdir, "results.json")) or \
      "nes" not in _results(workdir)
  resumed = in_process.run_trainer("trainers.nes", *_flags(workdir, bars_npz))
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resuming after epoch" in resumed.stderr
  got, want = _results(workdir), _results(finished_run)
  for key in ("const", "nes_iter_1", "nes_iter_2"):
    for metric, value in want[key].items():
      if metric != "seconds":  # Wall time, not a result.
        assert got[key][metric] == pytest.approx(value, abs=1e-3), (key, metric)


def test_export_reloads_in_fresh_process_with_same_outputs(tmp_path, finished_run):
  import tensorflow as tf
  from eggsep_tf.mask_unet import MaskUNet
  from eggsep_tf import checkpointing
  test = tfrecords.read_all(os.path.join(finished_run, "data", "test"), ["y"])
  y = test["y"][:8]
  np.save(tmp_path / "y.npy", y)
  script = (
      "import sys, numpy as np, tensorflow as tf\n"
      "m = tf.saved_model.load(sys.argv[1])\n"
      "out = m.signatures['serving_default'](mixture=tf.constant(np.load(sys.argv[2])))\n"
      "np.savez(sys.argv[3], **{k: v.numpy() for k, v in out.items()})\n")
  version = os.path.join(finished_run, "export", "eggsep", "1")
  proc = subprocess.run([sys.executable, "-c", script, version, str(tmp_path / "y.npy"),
                         str(tmp_path / "out.npz")], capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-2000:]
  served = np.load(tmp_path / "out.npz")
  model = MaskUNet([8, 16])
  model(tf.zeros([1, 16, 16, 1]))
  latest = tf.train.latest_checkpoint(os.path.join(finished_run, "nes", "iter_1", "ckpt"))
  checkpointing.make_checkpoint(model=model).restore(latest).expect_partial()
  mask = model(y, training=False).numpy()
  np.testing.assert_allclose(served["mask"], mask, atol=1e-5)
  np.testing.assert_allclose(served["b"], y * mask, atol=1e-5)
  np.testing.assert_allclose(served["x"], y - y * mask, atol=1e-5)
  png = tf.io.encode_png(tf.cast(tf.clip_by_value(y[0], 0, 1) * 255, tf.uint8))
  loaded = tf.saved_model.load(version)
  out = loaded.signatures["separate_png"](png_bytes=tf.stack([png, png]))
  decoded = tf.io.decode_png(out["x_png_bytes"][0]).numpy()
  assert decoded.shape == (16, 16, 1) and decoded.dtype == np.uint8


def test_supervised_upper_bound(finished_run, bars_npz):
  flags = _flags(finished_run, bars_npz) + ["--supervised_epochs=3"]
  proc = in_process.run_trainer("trainers.supervised", *flags)
  assert proc.returncode == 0, proc.stderr[-2000:]
  res = _results(finished_run)
  assert res["supervised"]["psnr_x"] > res["const"]["psnr_x"] + 2.0


@pytest.mark.parametrize("change,message", [
    ({"--data": "/no/such/file.npz"}, "no such file"),
    ({"--unobserved": "7"}, "not in the data"),
    ({"--observed": "x-y"}, "--observed"),
    ({"--num_b": "5000"}, "--num_b"),
    ({"--filters": "8,abc"}, "--filters"),
    ({"--init": "lmm"}, "--init_workdir"),
])
def test_bad_input_gives_one_clear_line(tmp_path, bars_npz, change, message):
  flags = _flags(str(tmp_path / "w"), bars_npz)
  for key, value in change.items():
    flags = [f for f in flags if not f.startswith(key + "=")] + [f"{key}={value}"]
  proc = in_process.run_trainer("trainers.nes", *flags)
  assert proc.returncode != 0
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr


def test_nan_data_and_bad_flag(tmp_path):
  images, labels = helpers.bars(100)
  images[3, 0, 0, 0] = np.nan
  np.savez(tmp_path / "nan.npz", images=images, labels=labels)
  proc = in_process.run_trainer("trainers.nes", *_flags(str(tmp_path / "w"), tmp_path / "nan.npz"))
  assert proc.returncode != 0 and "NaN" in proc.stderr and "Traceback" not in proc.stderr
  # The subprocess smoke test of the command line itself: sys.argv parsed by absl.app.
  proc = helpers.run_module("trainers.nes", "--workdir=/tmp/x", "--iterations=zero")
  assert proc.returncode != 0 and "--iterations" in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow  # In-process: test_sigterm_in_process_stops_after_the_epoch_and_resumes.
def test_sigterm_stops_at_epoch_boundary_and_resumes(tmp_path, finished_run, bars_npz):
  workdir = str(tmp_path / "term")
  cmd = [sys.executable, "-m", "trainers.nes", *_flags(workdir, bars_npz)]
  proc = subprocess.Popen(cmd, cwd=helpers.ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  ckpt_dir = os.path.join(workdir, "nes", "iter_0", "ckpt")
  deadline = time.time() + 300
  while not os.path.exists(ckpt_dir) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)
  _, stderr = proc.communicate(timeout=300)
  if proc.returncode == 0:
    pytest.skip("the run finished before SIGTERM arrived")
  assert proc.returncode == 75, stderr[-2000:]
  assert "rerun the same command to resume" in stderr and "Traceback" not in stderr
  resumed = in_process.run_trainer("trainers.nes", *_flags(workdir, bars_npz))
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert _results(workdir)["nes"]["psnr_x"] == pytest.approx(
      _results(finished_run)["nes"]["psnr_x"], abs=1e-3)


def test_max_runtime_stops_cleanly(tmp_path, bars_npz):
  proc = in_process.run_trainer("trainers.nes", *_flags(str(tmp_path / "w"), bars_npz),
                                "--max_runtime=0.001")
  assert proc.returncode == 75
  assert "--max_runtime" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # Stopping at an epoch boundary, exit 75: test_max_runtime_stops_cleanly; the
# signal handler: test_bad_input.test_second_signal_stops_at_once; resuming exactly after a
# kill: test_epoch_loop.test_kill_between_checkpoint_and_state_resumes_exactly.
def test_sigterm_in_process_stops_after_the_epoch_and_resumes(tmp_path, finished_run, bars_npz,
                                                             monkeypatch):
  """SIGTERM during the first epoch: the run stops at the epoch boundary (exit 75) and
  the rerun ends where the uninterrupted run ended."""
  from eggsep_tf.trainers import epoch_loop
  real = epoch_loop.write_json
  sent = []

  def write_json(path, value):
    real(path, value)
    if not sent:  # The first epoch's state is on disk: the signal arrives now.
      sent.append(path)
      os.kill(os.getpid(), signal.SIGTERM)

  monkeypatch.setattr(epoch_loop, "write_json", write_json)
  workdir = str(tmp_path / "term")
  proc = in_process.run_trainer("trainers.nes", *_flags(workdir, bars_npz))
  assert proc.returncode == 75, proc.stderr[-2000:]
  assert "rerun the same command to resume" in proc.stderr and "Traceback" not in proc.stderr
  assert "nes" not in (_results(workdir) if os.path.exists(
      os.path.join(workdir, "results.json")) else {})
  monkeypatch.setattr(epoch_loop, "write_json", real)
  resumed = in_process.run_trainer("trainers.nes", *_flags(workdir, bars_npz))
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resuming after epoch" in resumed.stderr
  assert _results(workdir)["nes"]["psnr_x"] == pytest.approx(
      _results(finished_run)["nes"]["psnr_x"], abs=1e-3)
