"""Each domain through trainers.domain.Domain's interface alone, in-process, on tiny data:
prepare, the datasets, estimates, the NMF rows, evaluation and the LMM half."""

import os

import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import mask_nets
from eggsep_tf.trainers import domain as domain_base
from eggsep_tf.trainers import configs
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import runner
from tests import helpers
from tests import in_process
from tests.test_audio_trainer import TINY
from tests.test_audio_trainer import speech_noise_dirs  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def bars_npz(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("d") / "bars.npz"), 200)


def _image_args(workdir, npz):
  return [f"--workdir={workdir}", f"--data={npz}", "--observed=0", "--unobserved=1",
          "--num_b=40", "--num_y=40", "--num_test=16", "--filters=4,8", "--batch_size=16",
          "--eval_batch_size=16"]


def _audio_args(workdir, dirs):
  return [*TINY, f"--workdir={workdir}", "--audio_source=speech_noise",
          f"--speech_dir={dirs[0]}", f"--noise_dir={dirs[1]}", "--snr_db=-10,0",
          "--test_track_seconds=2", "--max_tracks=1", "--max_train_seconds=4",
          "--filters=4,8"]


def _exercise(domain, tmp_path):
  """Every Domain method a trainer calls, in a trainer's order; returns the scores."""
  assert isinstance(domain, domain_base.Domain)
  shape = domain.prepare()
  assert shape == domain.shape and len(shape) == 3
  x_name, b_name = domain.names()
  assert x_name and b_name and x_name != b_name
  count = domain.num_mixtures()
  assert count > 0 and domain.steps_per_epoch() >= 1 and domain.estimate_bytes() > 0

  x0 = str(tmp_path / "x_0")
  domain.initial_estimates(x0, 0.5)
  domain.check_estimates(x0)
  for ds in (domain.nes_dataset(x0, 4, seed=1), domain.supervised_dataset(4, seed=1),
             domain.unpaired_dataset(4, seed=1)):
    mixture, target = next(iter(ds))
    assert mixture.shape[1:] == target.shape[1:] == shape
  batch = next(iter(domain.real_mixture_batches(3, 2)))
  assert list(batch.shape) == [2] + shape

  model = runner.build_mask_model(shape, domain.cfg.model)
  x1 = str(tmp_path / "x_1")
  domain.estimate(model, x1)
  assert tfrecords.read_spec(x1)["count"] == count
  scores, _ = domain.evaluate(model)
  const, _ = domain.evaluate_const(0.5)
  oracle = domain.evaluate_oracle()
  assert set(scores) == set(const) and set(oracle) <= set(const)
  assert all(np.isfinite(v) for v in oracle.values())

  rows = domain.rows("b_train")
  assert rows.ndim == 2 and rows.min() >= 0
  # x = half of each row: the row separation's scores are Const's.
  rows_scores, _ = domain.evaluate_rows(lambda v: (0.5 * v, 0.5 * v))
  for key, value in const.items():
    if key.startswith(("psnr", "sdr")):  # (SAR of a scaled mixture is ~140 dB of noise.)
      assert rows_scores[key] == pytest.approx(value, abs=0.05), key
  writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
  domain.log(writer, 0, "test/const", const)
  half = domain.lmm()
  half.check_flags()
  return scores, const


def test_image_domain(tmp_path, bars_npz):
  with in_process.parsed_flags("trainers.nes", *_image_args(tmp_path / "w", bars_npz)):
    domain = domains.make_domain(str(tmp_path / "w"), configs.from_flags())
    scores, const = _exercise(domain, tmp_path)
    assert {"psnr_x", "ssim_x", "psnr_b", "ssim_b"} <= set(const)
    assert domain.default_init_fraction == 1.0 and domain.default_batch_norm_stats == "real"
    v = domain.rows("y_train")
    assert v.shape == (40, 16 * 16)
    assert domain.write_row_estimates(v, str(tmp_path / "nmf_x"))
    domain.check_estimates(str(tmp_path / "nmf_x"))
    assert domain.rows_as_images(v[:2]).shape == (2, 16, 16, 1)


def test_audio_domain(tmp_path, speech_noise_dirs):  # noqa: F811
  args = _audio_args(tmp_path / "w", speech_noise_dirs)
  with in_process.parsed_flags("trainers.nes", *args, "--const_fraction=0.3"):
    domain = domains.make_domain(str(tmp_path / "w"), configs.from_flags())
    scores, const = _exercise(domain, tmp_path)
    assert {"sdr_x", "sir_x", "sar_x", "sdr_b", "num_tracks"} <= set(const)
    assert domain.default_init_fraction == 0.3
    assert domain.default_batch_norm_stats == "synthetic" and domain.rows_need_wiener_mask
    # What --architecture=auto and --x_level=auto give an audio run.
    assert mask_nets.resolve_architecture("auto", domain.name) == "spectral_tcn"
    assert domain.default_x_level == "match" and domain.default_init == "const"
    assert domain.rows("y_train").shape[1] == 129  # |STFT| frames of a 256-point STFT.
    assert not domain.write_row_estimates(domain.rows("y_train"), str(tmp_path / "nmf_x"))
    assert domain.rows_as_images(domain.rows("b_train")) is None
    assert not os.path.exists(tmp_path / "nmf_x")
