"""The one epoch loop (trainers/epoch_loop.py): a kill between saving a checkpoint and
writing state.json is simulated in-process, and the resumed phase must end with the
weights of an uninterrupted one, for an NES phase (distributed step, (mixture,
target) batches) and for an LMM/AM-style phase (a dict of named losses)."""

import json
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import nes
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf.trainers import epoch_loop



@pytest.fixture(autouse=True, scope="module")
def _deterministic_ops():
  """Op determinism for this module only: enabled at import, it would make every later
  test's unseeded random op raise (determinism has no public off switch)."""
  from tensorflow.python.framework import config  # pylint: disable=import-outside-toplevel
  tf.config.experimental.enable_op_determinism()
  yield
  config.disable_op_determinism()


class _Killed(Exception):
  """Stands for the process dying."""


def _kill_when_state_says(monkeypatch, epochs_done):
  """Makes the state.json write of `epochs_done` die: its checkpoint is already saved."""
  real = epoch_loop.write_json

  def write_json(path, value):
    if value.get("epochs_done") == epochs_done:
      raise _Killed
    real(path, value)

  monkeypatch.setattr(epoch_loop, "write_json", write_json)


def _nes_phase(phase_dir, epochs=3):
  keras.utils.set_random_seed(0)
  model = MaskUNet([4, 8])
  model(tf.zeros([1, 16, 16, 1]))
  optimizer = keras.optimizers.Adam(1e-3, beta_1=0.5)
  optimizer.build(model.trainable_variables)
  strategy = tf.distribute.get_strategy()
  step = nes.make_train_step(model, optimizer, strategy, 8)

  def make_dataset(epoch, batch_size, pipeline):
    rng = np.random.default_rng(epoch * 10 + pipeline)
    y = rng.uniform(size=[32, 16, 16, 1]).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((y, 0.5 * y)).batch(batch_size)

  epoch_loop.run_epochs(phase_dir, {"model": model, "optimizer": optimizer},
                        lambda batch: step(*batch), make_dataset, 4, epochs,
                        tf.summary.create_noop_writer(), "nes", 8, strategy=strategy,
                        summary_prefix="train")
  return model.get_weights()


def _two_loss_phase(phase_dir, epochs=3):
  keras.utils.set_random_seed(0)
  model = keras.layers.Dense(2)
  model.build((None, 3))
  optimizer = keras.optimizers.Adam(1e-2)
  optimizer.build(model.trainable_variables)

  @tf.function
  def step(batch):
    x, y = batch
    with tf.GradientTape() as tape:
      out = model(x)
      fit = tf.reduce_mean(tf.abs(out - y))
      size = 0.01 * tf.reduce_mean(tf.square(out))
      total = fit + size
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return {"fit": fit, "size": size}

  def make_dataset(epoch):
    rng = np.random.default_rng(epoch)
    x = rng.normal(size=[40, 3]).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, x[:, :2] * 2.0)).batch(8)

  epoch_loop.run_epochs(phase_dir, {"model": model, "opt": optimizer}, step, make_dataset,
                        5, epochs, tf.summary.create_noop_writer(), "am", 8)
  return model.get_weights()


@pytest.mark.parametrize("phase", [_nes_phase, _two_loss_phase], ids=["nes", "lmm_am"])
def test_kill_between_checkpoint_and_state_resumes_exactly(tmp_path, monkeypatch, phase):
  want = phase(str(tmp_path / "whole"))
  killed = str(tmp_path / "killed")
  with monkeypatch.context() as patch:
    _kill_when_state_says(patch, 2)
    with pytest.raises(_Killed):
      phase(killed)
  with open(os.path.join(killed, "state.json")) as f:
    assert json.load(f) == {"epochs_done": 1, "checkpoint": "ckpt-1"}
  # Epoch 2's checkpoint exists but state.json does not vouch for it: it is redone.
  assert tf.io.gfile.exists(os.path.join(killed, "ckpt", "ckpt-2.index"))
  got = phase(killed)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
  with open(os.path.join(killed, "state.json")) as f:
    state = json.load(f)
  assert state["epochs_done"] == 3
  assert tf.io.gfile.exists(os.path.join(killed, "ckpt", state["checkpoint"] + ".index"))
  kept = tf.train.get_checkpoint_state(os.path.join(killed, "ckpt")).all_model_checkpoint_paths
  assert len(kept) == epoch_loop.KEEP_CHECKPOINTS


def test_every_named_loss_is_logged(tmp_path, caplog):
  with caplog.at_level(logging.INFO, logger="absl"):
    _two_loss_phase(str(tmp_path / "p"), epochs=1)
  line = next(r.getMessage() for r in caplog.records if "epoch 1/1" in r.getMessage())
  assert "fit " in line and "size " in line


def test_finished_phase_is_restored_not_retrained(tmp_path, monkeypatch):
  want = _two_loss_phase(str(tmp_path / "p"))
  monkeypatch.setattr(epoch_loop, "write_json", lambda path, value: pytest.fail("trained"))
  got = _two_loss_phase(str(tmp_path / "p"))
  for a, b in zip(got, want):
    np.testing.assert_array_equal(a, b)
