"""Two workers on 127.0.0.1 under MultiWorkerMirroredStrategy: a tiny NES iteration, LMM and AM."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from tests import helpers


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def _flags(workdir, data):
  return [f"--workdir={workdir}", f"--data={data}", "--observed=0", "--unobserved=1",
          "--num_b=200", "--num_y=200", "--num_test=40", "--iterations=1", "--epochs=1",
          "--filters=8,16", "--batch_size=16", "--eval_batch_size=64", "--seed=1"]


def _weights(workdir, ckpt_dir, prefix="model/"):
  """The latest checkpoint's variables under `prefix` ("": all but the step counters)."""
  import tensorflow as tf
  latest = tf.train.latest_checkpoint(ckpt_dir)
  reader = tf.train.load_checkpoint(latest)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k.startswith(prefix) and "save_counter" not in k and "_CHECKPOINTABLE" not in k}


def _two_workers(module, args):
  """Runs `module` on two workers on 127.0.0.1; both must exit 0."""
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  procs = []
  for i in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", module, *args, "--strategy=multi_worker"],
        cwd=helpers.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
  outputs = [p.communicate(timeout=600)[1] for p in procs]
  for p, err in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]


@pytest.mark.slow
def test_two_workers_identical_weights_and_all_estimates(tmp_path):
  data = helpers.write_bars_npz(str(tmp_path / "bars.npz"), 1000)
  workdir = str(tmp_path / "mw")
  _two_workers("trainers.nes", _flags(workdir, data))
  chief = _weights(workdir, os.path.join(workdir, "nes", "iter_0", "ckpt"))
  other = _weights(workdir, os.path.join(workdir, ".workers", "worker-1", "nes", "iter_0", "ckpt"))
  assert chief.keys() == other.keys() and chief
  for k in chief:
    np.testing.assert_array_equal(chief[k], other[k])
  merged = tfrecords.read_all(os.path.join(workdir, "nes", "estimates", "x_1"))
  np.testing.assert_array_equal(np.sort(merged["index"]), np.arange(200))
  with open(os.path.join(workdir, "results.json")) as f:
    assert "nes" in json.load(f)
  # Same record count as a single-worker run.
  single = str(tmp_path / "single")
  proc = helpers.run_module("trainers.nes", *_flags(single, data))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert tfrecords.read_spec(os.path.join(single, "nes", "estimates", "x_1"))["count"] == 200


LMM_FLAGS = ["--glo_filters=16,8", "--glo_latent_dim=8", "--lmm_stage1_epochs=1",
             "--lmm_stage2_epochs=1", "--lmm_fit_steps=5"]
AM_FLAGS = ["--am_epochs=1", "--am_disc_filters=8,16"]


@pytest.mark.slow
@pytest.mark.parametrize("module,flags,phases", [
    ("trainers.lmm", LMM_FLAGS, ["lmm/stage1", "lmm/stage2"]),
    ("trainers.am", AM_FLAGS, ["am/train"])])
def test_lmm_and_am_on_two_workers(tmp_path, module, flags, phases):
  data = helpers.write_bars_npz(str(tmp_path / "bars.npz"), 1000)
  workdir = str(tmp_path / "mw")
  _two_workers(module, _flags(workdir, data) + flags)
  for phase in phases:
    chief = _weights(workdir, os.path.join(workdir, phase, "ckpt"), prefix="")
    other = _weights(workdir, os.path.join(workdir, ".workers", "worker-1", phase, "ckpt"),
                     prefix="")
    assert chief.keys() == other.keys() and chief
    for k in chief:
      np.testing.assert_allclose(chief[k], other[k], atol=1e-6, err_msg=k)
  method = module.split(".")[1]
  with open(os.path.join(workdir, "results.json")) as f:
    assert method in json.load(f)
  estimates = tfrecords.read_all(os.path.join(workdir, method, "estimates", "x"))
  np.testing.assert_array_equal(np.sort(estimates["index"]), np.arange(200))
  assert np.isfinite(estimates["x"]).all()
