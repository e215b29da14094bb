"""Smoke test of trainers/nmf.py on a tiny synthetic labelled image set."""

import json
import os

from absl import flags
from absl.testing import flagsaver
import numpy as np
import pytest

from eggsep_tf.data import tfrecords
from eggsep_tf import metrics
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import nmf as nmf_trainer

FLAGS = flags.FLAGS


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
  """200 8x8 images, 20 per class; class c lights pixels of its own pattern."""
  rng = np.random.default_rng(0)
  patterns = rng.uniform(size=(10, 8, 8)) < 0.25
  labels = np.repeat(np.arange(10), 20)
  images = patterns[labels] * rng.uniform(0.5, 1.0, (200, 8, 8))
  path = tmp_path_factory.mktemp("data") / "tiny.npz"
  np.savez(path, images=images.astype(np.float32), labels=labels)
  return str(path)


def _flags(workdir, data, **overrides):
  settings = dict(workdir=str(workdir), data=data, num_b=40, num_y=40, num_test=10,
                  nmf_bases=8, nmf_iterations=30, eval_batch_size=4)
  settings.update(overrides)
  return flagsaver.flagsaver(**settings)


def setup_module():
  if not FLAGS.is_parsed():
    FLAGS.mark_as_parsed()


def test_writes_the_nmf_row_and_resumes(tmp_path, data_path):
  with _flags(tmp_path, data_path):
    nmf_trainer.run()
    row = json.loads((tmp_path / "results.json").read_text())["nmf"]
    assert np.isfinite(row["psnr_x"]) and row["seconds"] > 0
    assert "| NMF |" in (tmp_path / "results.md").read_text()
    w_b = tmp_path / "nmf" / "w_b.npz"
    stamp = os.stat(w_b).st_mtime_ns
    with np.load(w_b) as saved:
      assert saved["w_b"].shape == (8, 64)
      assert np.all(np.diff(saved["history"]) <= 1e-6 * saved["history"][0])
    spec = json.loads((tmp_path / "nmf" / "estimates" / "x" / "spec.json").read_text())
    assert spec["count"] == 40 and spec["shape"] == [8, 8, 1]
    nmf_trainer.run()  # Finished stages are loaded, not redone.
    assert os.stat(w_b).st_mtime_ns == stamp


def test_beats_const_on_separable_classes(tmp_path, data_path):
  with _flags(tmp_path, data_path, nmf_iterations=100):
    nmf_trainer.run()
  test = tfrecords.read_all(str(tmp_path / "data" / "test"))
  const = float(np.mean(metrics.psnr(test["y"] / 2, test["x"])))
  row = json.loads((tmp_path / "results.json").read_text())["nmf"]
  assert row["psnr_x"] > const + 6.0  # About 26 vs 13 dB.


def test_too_many_bases_names_the_flag(tmp_path, data_path):
  with _flags(tmp_path, data_path, nmf_bases=41):
    with pytest.raises(InputError, match="--nmf_bases=41"):
      nmf_trainer.run()
