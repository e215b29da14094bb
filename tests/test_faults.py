"""Bad input to the trainers: one clear line, a non-zero exit, no traceback, nothing lost."""

import gzip
import os

import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from tests import helpers
from tests import in_process


def _flags(workdir, data, **changes):
  flags = {"workdir": workdir, "data": data, "observed": "0", "unobserved": "1",
           "num_b": "50", "num_y": "50", "num_test": "20", "iterations": "1", "epochs": "1",
           "filters": "4,8", "batch_size": "16", "eval_batch_size": "64"}
  flags.update({k: str(v) for k, v in changes.items()})
  return [f"--{k}={v}" for k, v in flags.items()]


def _run(*args):
  proc = in_process.run_trainer("trainers.nes", *args)  # As `python -m trainers.nes`.
  lines = [line for line in proc.stderr.splitlines()
           if line.startswith("error:") or "Flags parsing" in line]
  return proc, lines


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("d") / "bars.npz"), 400)


def _assert_clean_failure(proc, lines, *words):
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  assert len(lines) == 1, proc.stderr[-2000:]
  for word in words:
    assert word in lines[0], lines[0]


def test_truncated_npz(tmp_path, npz):
  data = open(npz, "rb").read()
  bad = tmp_path / "cut.npz"
  bad.write_bytes(data[: len(data) // 3])
  _assert_clean_failure(*_run(*_flags(str(tmp_path / "w"), bad)), "cut.npz")


def test_empty_folder(tmp_path):
  os.makedirs(tmp_path / "empty")
  _assert_clean_failure(*_run(*_flags(str(tmp_path / "w"), tmp_path / "empty")), "no images")


def test_corrupt_idx(tmp_path):
  os.makedirs(tmp_path / "mnist")
  with gzip.open(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", "wb") as f:
    f.write(b"\x00\x00\x08\x03garbage")
  _assert_clean_failure(*_run(*_flags(str(tmp_path / "w"), tmp_path / "mnist")),
                        "idx")


def test_workdir_is_a_file(tmp_path, npz):
  (tmp_path / "file").write_text("x")
  _assert_clean_failure(*_run(*_flags(str(tmp_path / "file"), npz)), "is a file")


@pytest.mark.parametrize("flag,value,word", [("task", "paint", "--task"),
                                             ("num_b", "-3", "--num_b"),
                                             ("const_fraction", "2", "--const_fraction"),
                                             ("strategy", "multi_worker", "TF_CONFIG")])
def test_bad_flag_values(tmp_path, npz, flag, value, word):
  _assert_clean_failure(*_run(*_flags(str(tmp_path / "w"), npz, **{flag: value})), word)


def test_init_workdir_from_other_data(tmp_path, npz):
  other = str(tmp_path / "other")
  tfrecords.write_split(os.path.join(other, "lmm", "estimates", "x"),
                        {"x": np.zeros([7, 16, 16, 1], np.float32)})
  proc, lines = _run(*_flags(str(tmp_path / "w"), npz, init="lmm", init_workdir=other))
  _assert_clean_failure(proc, lines, "expected a run on the same data")


def test_corrupt_estimates_in_workdir_keep_finished_work(tmp_path, npz):
  import json
  workdir = str(tmp_path / "w")
  proc, _ = _run(*_flags(workdir, npz, iterations=2))
  assert proc.returncode == 0, proc.stderr[-2000:]
  # Make iteration 2 run again, reading a damaged x_1.
  results_path = os.path.join(workdir, "results.json")
  with open(results_path) as f:
    rows = json.load(f)
  for key in ("nes", "nes_iter_2"):
    del rows[key]
  with open(results_path, "w") as f:
    json.dump(rows, f)
  os.remove(os.path.join(workdir, "nes", "iter_1", "state.json"))
  os.remove(os.path.join(workdir, "nes", "exported.json"))
  shard = tfrecords.shard_files(os.path.join(workdir, "nes", "estimates", "x_1"))[0]
  with open(shard, "r+b") as f:
    f.truncate(os.path.getsize(shard) // 2)
  proc, lines = _run(*_flags(workdir, npz, iterations=2))
  _assert_clean_failure(proc, lines, "corrupt")
  with open(results_path) as f:
    assert set(json.load(f)) == {"const", "oracle", "nmf", "nes_iter_1"}  # Finished work kept.
  assert tfrecords.read_spec(os.path.join(workdir, "data", "b_train"))["count"] == 50
