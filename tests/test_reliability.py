"""Crash safety and determinism of trainers.nes (slow: several full tiny runs)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests import helpers


def _flags(workdir, data):
  return [f"--workdir={workdir}", f"--data={data}", "--observed=0", "--unobserved=1",
          "--num_b=400", "--num_y=400", "--num_test=60", "--iterations=4", "--epochs=3",
          "--filters=8,16", "--batch_size=16", "--learning_rate=0.003",
          "--eval_batch_size=64", "--seed=4"]


def _results(workdir):
  """results.json without the rows' "seconds" (wall time, not a result)."""
  with open(os.path.join(workdir, "results.json")) as f:
    rows = json.load(f)
  return {key: {k: v for k, v in row.items() if k != "seconds"} for key, row in rows.items()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("d") / "bars.npz"), 2000)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
  workdir = str(tmp_path_factory.mktemp("ref"))
  proc = helpers.run_module("trainers.nes", *_flags(workdir, data))
  assert proc.returncode == 0, proc.stderr[-2000:]
  return workdir


@pytest.mark.slow
def test_same_seed_gives_identical_results(tmp_path, data, reference):
  proc = helpers.run_module("trainers.nes", *_flags(str(tmp_path / "again"), data))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert _results(str(tmp_path / "again")) == _results(reference)


@pytest.mark.slow
def test_five_random_kills_then_same_results(tmp_path, data, reference):
  workdir = str(tmp_path / "killed")
  rng = random.Random(0)
  cmd = [sys.executable, "-m", "trainers.nes", *_flags(workdir, data)]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  kills = 0
  for _ in range(20):
    if kills >= 5:
      break
    proc = subprocess.Popen(cmd, cwd=helpers.ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(rng.uniform(1.5, 4.5))  # Start-up takes ~2 s: kills land in all phases.
    if proc.poll() is None:
      proc.send_signal(signal.SIGKILL)
      kills += 1
    stderr = proc.communicate()[1]
    if proc.returncode not in (0, -signal.SIGKILL):
      pytest.fail(f"the trainer failed after a kill: {stderr[-2000:]}")
  assert kills >= 5
  final = helpers.run_module("trainers.nes", *_flags(workdir, data))
  assert final.returncode == 0, final.stderr[-2000:]
  got, want = _results(workdir), _results(reference)
  assert set(got) == set(want)
  for key in want:
    for metric, value in want[key].items():
      assert got[key][metric] == pytest.approx(value, abs=1e-4), (key, metric)
  exports = os.listdir(os.path.join(workdir, "export", "eggsep"))
  assert [e for e in exports if not e.isdigit()] == []  # No half-written version left.
