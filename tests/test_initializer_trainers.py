"""End-to-end runs of trainers.lmm and trainers.am on tiny generated data, and NES from them."""

import json
import os

import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from tests import helpers
from tests import in_process

DATA_FLAGS = ["--observed=0", "--unobserved=1", "--num_b=200", "--num_y=200", "--num_test=40",
              "--batch_size=16", "--eval_batch_size=64", "--seed=1", "--filters=8,16"]
LMM_FLAGS = ["--glo_filters=16,8", "--glo_latent_dim=8", "--lmm_stage1_epochs=2",
             "--lmm_stage2_epochs=2", "--lmm_fit_steps=10"]
AM_FLAGS = ["--am_epochs=2", "--am_disc_filters=8,16"]


@pytest.fixture(scope="module")
def bars_npz(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("data") / "bars.npz"), 1000)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, bars_npz):
  """One workdir holding a finished LMM run and a finished AM run on the same data."""
  path = str(tmp_path_factory.mktemp("run"))
  for module, flags in (("trainers.lmm", LMM_FLAGS), ("trainers.am", AM_FLAGS)):
    proc = in_process.run_trainer(module, f"--workdir={path}", f"--data={bars_npz}",
                              *DATA_FLAGS, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
  return path


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def test_rows_estimates_and_summaries(workdir):
  res = _results(workdir)
  assert {"lm", "lmm", "am"} <= set(res)
  for name in ("lm", "lmm", "am"):
    assert {"psnr_x", "ssim_x", "psnr_b", "ssim_b"} <= set(res[name])
    assert np.isfinite(res[name]["psnr_x"])
  with open(os.path.join(workdir, "results.md")) as f:
    assert "| AM | LM | LMM |" in f.read()
  for method in ("lmm", "am"):
    spec = tfrecords.read_spec(os.path.join(workdir, method, "estimates", "x"))
    assert spec["count"] == 200 and spec["shape"] == [16, 16, 1] and spec["names"] == ["x"]
  estimates = tfrecords.read_all(os.path.join(workdir, "lmm", "estimates", "x"))
  mixtures = tfrecords.read_all(os.path.join(workdir, "data", "y_train"), ["y"])
  np.testing.assert_array_equal(estimates["index"], np.arange(200))
  # LMM estimates are a masked part of each mixture: 0 <= x <= y.
  assert estimates["x"].min() >= 0 and np.all(estimates["x"] <= mixtures["y"] + 1e-5)
  tags = os.listdir(os.path.join(workdir, "tb"))
  assert {"lmm", "am"} <= set(tags)


def test_finished_runs_are_not_redone(workdir, bars_npz):
  before = _results(workdir)
  proc = in_process.run_trainer("trainers.lmm", f"--workdir={workdir}", f"--data={bars_npz}",
                                *DATA_FLAGS, *LMM_FLAGS)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "lmm_stage1 epoch" not in proc.stderr  # No epoch trained again.
  assert _results(workdir) == before


def test_nes_started_from_lmm_reads_the_lmm_estimates(workdir, bars_npz, tmp_path):
  nes_dir = str(tmp_path / "nes")
  proc = in_process.run_trainer("trainers.nes", f"--workdir={nes_dir}", f"--data={bars_npz}",
                                *DATA_FLAGS, "--iterations=1", "--epochs=1", "--init=lmm",
                                f"--init_workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  x0 = tfrecords.read_all(os.path.join(nes_dir, "nes", "estimates", "x_0"))
  lmm_x = tfrecords.read_all(os.path.join(workdir, "lmm", "estimates", "x"))
  np.testing.assert_array_equal(x0["x"], lmm_x["x"])
  assert "lmm_nes" in _results(nes_dir)


def test_perceptual_loss_without_weights_is_one_clear_line(tmp_path, bars_npz):
  # A real process: the command-line smoke test of trainers.lmm.
  proc = helpers.run_module("trainers.lmm", f"--workdir={tmp_path / 'w'}",
                            f"--data={bars_npz}", *DATA_FLAGS, *LMM_FLAGS,
                            "--glo_loss=perceptual")
  assert proc.returncode == 2
  assert "VGG16 weights" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_discriminator_filters_name_the_flag(tmp_path, bars_npz):
  # A real process: the command-line smoke test of trainers.am.
  proc = helpers.run_module("trainers.am", f"--workdir={tmp_path / 'w'}", f"--data={bars_npz}",
                            *DATA_FLAGS, "--am_disc_filters=8,x")
  assert proc.returncode == 2
  assert "--am_disc_filters" in proc.stderr and "Traceback" not in proc.stderr


def test_mirrored_strategy_trains_lmm_and_am_like_the_default(workdir, bars_npz, tmp_path):
  # One CPU device: MirroredStrategy has one replica, so the distributed steps, the
  # mirrored latent tables and the distributed datasets must give the default's run.
  path = str(tmp_path / "mirrored")
  for module, flags in (("trainers.lmm", LMM_FLAGS), ("trainers.am", AM_FLAGS)):
    proc = in_process.run_trainer(module, f"--workdir={path}", f"--data={bars_npz}",
                                  *DATA_FLAGS, *flags, "--strategy=mirrored")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MirroredStrategy with 1 replica" in proc.stderr
  mirrored, default = _results(path), _results(workdir)
  for name in ("lm", "lmm", "am"):
    for key in ("psnr_x", "psnr_b"):
      assert mirrored[name][key] == pytest.approx(default[name][key], abs=0.05), (name, key)
  for method in ("lmm", "am"):
    estimates = tfrecords.read_all(os.path.join(path, method, "estimates", "x"))
    np.testing.assert_allclose(
        estimates["x"], tfrecords.read_all(os.path.join(workdir, method, "estimates", "x"))["x"],
        atol=1e-3)


@pytest.mark.parametrize("module", ["trainers.lmm", "trainers.am"])
def test_multi_worker_without_tf_config_is_one_line(module, tmp_path, bars_npz, monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  proc = in_process.run_trainer(module, f"--workdir={tmp_path / 'w'}", f"--data={bars_npz}",
                                *DATA_FLAGS, "--strategy=multi_worker")
  assert proc.returncode == 2
  assert "--strategy=multi_worker" in proc.stderr and "TF_CONFIG" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not os.path.exists(tmp_path / "w" / "run-lmm.json")


def test_lmm_batches_of_two_workers_are_disjoint_shards_that_never_run_out(tmp_path):
  from eggsep_tf.trainers import lmm_fit
  split = str(tmp_path / "b")
  tfrecords.write_split(split, {"b": np.arange(37, dtype=np.float32).reshape(37, 1)})
  one = [i for idx, _ in lmm_fit.indexed_batches(split, "b", 8, seed=3).as_numpy_iterator()
         for i in idx]
  assert sorted(one) == list(range(37))  # One worker: one pass, as before.
  shards = []
  for pipeline in range(2):
    ds = lmm_fit.indexed_batches(split, "b", 4, seed=3, shard=(pipeline, 2))
    first = [idx for idx, _ in ds.take(10).as_numpy_iterator()]  # 40 > either shard.
    assert len(first) == 10 and all(len(b) == 4 for b in first)
    shards.append(set(np.concatenate(first).tolist()))
  assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(37))
