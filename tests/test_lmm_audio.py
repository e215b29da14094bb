"""Audio LMM: mel helpers, mel-domain masks on STFT patches, and an end-to-end tiny run."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf import audio_patches
from eggsep_tf import lmm_audio
from eggsep_tf import mel
from eggsep_tf import spectrogram
from eggsep_tf.errors import InputError
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.latent_table import LatentTable
from tests import in_process
from tests.test_audio_trainer import TINY
from tests.test_audio_trainer import speech_noise_dirs  # noqa: F401 (a fixture)

LMM_FLAGS = ["--glo_filters=8,8", "--glo_latent_dim=8", "--lmm_stage1_epochs=2",
             "--lmm_stage2_epochs=2", "--lmm_fit_steps=10", "--lmm_mel_bins=32"]


def test_mel_of_a_known_spectrum():
  matrix = mel.mel_matrix(129, 8000, 32)
  weights = matrix.numpy()
  # One linear bin at 1: the mel bands are that bin's row of the filterbank.
  spec = np.zeros([1, 129, 3, 1], np.float32)
  spec[0, 40] = 1.0
  np.testing.assert_allclose(mel.to_mel(spec, matrix).numpy()[0, :, 1, 0], weights[40],
                             atol=1e-6)
  # A constant spectrum c: each band holds c times its width, and comes back as c.
  const = tf.fill([2, 129, 4, 1], 3.0)
  bands = mel.to_mel(const, matrix)
  np.testing.assert_allclose(bands.numpy()[0, :, 0, 0], 3.0 * weights.sum(axis=0), rtol=1e-5)
  up = mel.mask_upsampling_matrix(matrix)
  back = mel.mel_to_linear_magnitude(bands, matrix, up).numpy()
  np.testing.assert_allclose(back, 3.0, rtol=1e-4)
  # 128 bands over 129 bins: some low bands are too narrow to reach a linear bin; they
  # give 0, not a division by zero.
  fine = mel.mel_matrix(129, 8000, 128)
  assert (fine.numpy().sum(axis=0) == 0).any()
  back = mel.mel_to_linear_magnitude(mel.to_mel(const, fine), fine,
                                     mel.mask_upsampling_matrix(fine)).numpy()
  assert np.all(np.isfinite(back))
  np.testing.assert_allclose(back[:, 1:], 3.0, rtol=1e-4)


def test_mel_mask_upsampling_keeps_masks_in_range():
  matrix = mel.mel_matrix(129, 8000, 32)
  up = mel.mask_upsampling_matrix(matrix)
  np.testing.assert_allclose(up.numpy().sum(axis=0), 1.0, atol=1e-5)  # Every linear bin.
  const = mel.mel_mask_to_linear(tf.fill([1, 32, 5, 1], 0.3), up).numpy()
  np.testing.assert_allclose(const, 0.3, atol=1e-5)
  rand = mel.mel_mask_to_linear(tf.random.uniform([2, 32, 5, 1], seed=1), up).numpy()
  assert rand.shape == (2, 129, 5, 1) and rand.min() >= 0.0 and rand.max() <= 1.0
  # Generators that both output 0: the LMM mask is an even split, never NaN.
  zero = lmm.lmm_mask(tf.zeros([1, 32, 5, 1]), tf.zeros([1, 32, 5, 1]))
  np.testing.assert_allclose(mel.mel_mask_to_linear(zero, up).numpy(), 0.5, atol=1e-5)
  with pytest.raises(InputError, match="no linear bin"):
    mel.mask_upsampling_matrix(np.zeros([129, 32], np.float32))


def test_compressed_loss():
  a, b = tf.constant([[0.0, 1.0]]), tf.constant([[0.0, 2.0]])
  assert float(lmm_audio.compressed_loss(lmm.l1_loss, "none")(a, b)) == pytest.approx(0.5)
  want = (np.log1p(200.0) - np.log1p(100.0)) / 2
  assert float(lmm_audio.compressed_loss(lmm.l1_loss, "log")(a, b)) == pytest.approx(want)
  with pytest.raises(InputError, match="compression"):
    lmm_audio.compressed_loss(lmm.l1_loss, "cube")


def test_blocks_join_round_trip():
  magnitude = tf.reshape(tf.range(5 * 21, dtype=tf.float32), [5, 21])
  patches, total = lmm_audio.blocks(magnitude, 8)
  assert patches.shape == (3, 5, 8, 1) and int(total) == 21
  assert float(tf.reduce_sum(patches[2, :, 5:])) == 0.0  # Padded.
  np.testing.assert_array_equal(lmm_audio.join(patches, total).numpy(), magnitude.numpy().T)


def _generators(frames, bins=16, count=4):
  gens = []
  for _ in range(2):
    g = GloGenerator(count, (bins, frames, 1), latent_dim=4, filters=(4,),
                     output_activation="softplus")
    g.build()
    gens.append(g)
  z_b = LatentTable(count, 4)
  z_b.build()
  return gens[0], gens[1], z_b


@pytest.mark.parametrize("mixing", ["waveform", "magnitude"])
def test_training_estimates_are_masked_mixtures(mixing):
  stft = spectrogram.Stft(128, 128, 64)
  frames, matrix = 8, mel.mel_matrix(65, 8000, 16)
  up = mel.mask_upsampling_matrix(matrix)
  g_b, g_x, z_b = _generators(frames)
  rng = np.random.default_rng(0)
  y = rng.normal(size=[4, (frames - 1) * 64 + 128]).astype(np.float32)
  if mixing == "magnitude":
    y = audio_patches.record_magnitude(y, stft, "waveform").numpy()
  estimate = lmm_audio.make_training_estimate_fn(g_b, g_x, z_b, matrix, up, 1.0, stft, mixing)
  x = estimate(tf.range(4), y).numpy()
  assert x.shape == y.shape and np.all(np.isfinite(x))
  if mixing == "magnitude":
    assert x.min() >= 0 and np.all(x <= y + 1e-6)
  else:
    # x = y - iSTFT(m Y): the x magnitude never exceeds the mixture's by much.
    assert np.abs(x).max() <= 2 * np.abs(y).max()
  with pytest.raises(InputError, match="mixing"):
    lmm_audio.make_training_estimate_fn(g_b, g_x, z_b, matrix, up, 1.0, stft, "phase")


def test_separate_track_sums_to_the_mixture():
  stft = spectrogram.Stft(128, 128, 64)
  frames, matrix = 8, mel.mel_matrix(65, 8000, 16)
  up = mel.mask_upsampling_matrix(matrix)
  g_b, g_x, _ = _generators(frames)
  fit = lmm.make_latent_fit_fn(g_b, g_x, lmm.l2_loss, steps=3)
  y = np.random.default_rng(1).normal(size=[1000]).astype(np.float32)  # 16 frames: 2 blocks.
  out = lmm_audio.separate_track(y, stft, frames, matrix, up, 1.0, g_b, g_x, fit, batch_size=1)
  assert all(v.shape == (1000,) for v in out.values())
  np.testing.assert_allclose(out["lmm_x"] + out["lmm_b"], y, atol=1e-5)
  assert np.abs(out["lm_x"]).max() > 0 and np.abs(out["lm_b"]).max() > 0


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def _flags(workdir, dirs):
  return TINY + [f"--workdir={workdir}", "--audio_source=speech_noise",
                 f"--speech_dir={dirs[0]}", f"--noise_dir={dirs[1]}", "--snr_db=-10,0",
                 "--test_track_seconds=2", "--max_tracks=2"]


@pytest.fixture(scope="module")
def lmm_run(tmp_path_factory, speech_noise_dirs):  # noqa: F811
  workdir = str(tmp_path_factory.mktemp("lmm_audio"))
  proc = in_process.run_trainer("trainers.lmm", *_flags(workdir, speech_noise_dirs), *LMM_FLAGS)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def test_lmm_rows_and_estimates(lmm_run):
  res = _results(lmm_run)
  for row in ("lm", "lmm"):
    assert {"sdr_x", "sir_x", "sar_x", "sdr_b", "sir_b", "sar_b"} <= set(res[row])
    assert np.isfinite(res[row]["sdr_x"])
  with open(os.path.join(lmm_run, "results.md")) as f:
    assert "LMM" in f.read()
  y_spec = tfrecords.read_spec(os.path.join(lmm_run, "data", "y_train"))
  x_spec = tfrecords.read_spec(os.path.join(lmm_run, "lmm", "estimates", "x"))
  assert x_spec["count"] == y_spec["count"] and x_spec["shape"] == y_spec["shape"]
  assert x_spec["names"] == ["x"] and y_spec["mixing"] == "waveform"


def test_rerun_is_not_redone(lmm_run, speech_noise_dirs):  # noqa: F811
  before = _results(lmm_run)
  proc = in_process.run_trainer("trainers.lmm", *_flags(lmm_run, speech_noise_dirs), *LMM_FLAGS)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "lmm_stage1 epoch" not in proc.stderr and "Preparing" not in proc.stderr
  assert _results(lmm_run) == before


@pytest.mark.slow  # The same init path runs in the default suite for images
# (test_initializer_trainers) and for audio AM estimates (test_am_audio).
def test_nes_from_audio_lmm(lmm_run, speech_noise_dirs, tmp_path):  # noqa: F811
  nes_dir = str(tmp_path / "nes")
  # The same data (prepared with the same flags, so trainers.nes accepts it), copied
  # rather than prepared again to keep the test short.
  shutil.copytree(os.path.join(lmm_run, "data"), os.path.join(nes_dir, "data"))
  proc = in_process.run_trainer("trainers.nes", *_flags(nes_dir, speech_noise_dirs),
                                "--iterations=1", "--epochs=1", "--init=lmm",
                                f"--init_workdir={lmm_run}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  x0 = tfrecords.read_all(os.path.join(nes_dir, "nes", "estimates", "x_0"))
  lmm_x = tfrecords.read_all(os.path.join(lmm_run, "lmm", "estimates", "x"))
  np.testing.assert_array_equal(x0["x"], lmm_x["x"])
  res = _results(nes_dir)
  assert "lmm_nes" in res and np.isfinite(res["lmm_nes"]["sdr_x"])
  assert "Preparing" not in proc.stderr


def test_sigmoid_output_is_refused_for_audio(tmp_path, speech_noise_dirs):  # noqa: F811
  workdir = str(tmp_path / "w")
  proc = in_process.run_trainer("trainers.lmm", *_flags(workdir, speech_noise_dirs), *LMM_FLAGS,
                                "--glo_output=sigmoid")
  assert proc.returncode == 2
  assert "--glo_output=sigmoid" in proc.stderr and "Traceback" not in proc.stderr
  # Refused before the workdir recorded the flags: the corrected command may reuse it.
  assert not os.path.exists(os.path.join(workdir, "run-lmm.json"))
