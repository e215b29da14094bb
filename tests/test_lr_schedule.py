"""--lr_schedule: the learning rate within a training phase (trainers/nets.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf import checkpointing
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import configs, nets, workdir_checks
from tests import in_process


def _model_settings(*argv):
  with in_process.parsed_flags("trainers.nes", "--workdir=/tmp/w", *argv) as values:
    return configs.from_flags(values).model


def _rate(optimizer):
  return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _optimizer(cfg, phase_steps):
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
  return model, nets.make_optimizer(model, cfg, phase_steps)


def _steps(model, optimizer, count):
  for _ in range(count):
    optimizer.apply([tf.ones_like(v) for v in model.trainable_variables],
                    model.trainable_variables)


def test_constant_is_the_default_and_keeps_the_rate():
  cfg = _model_settings("--learning_rate=0.002")
  assert cfg.lr_schedule == "constant"
  model, optimizer = _optimizer(cfg, 10)
  _steps(model, optimizer, 7)
  assert _rate(optimizer) == pytest.approx(0.002)


def test_cosine_falls_from_the_rate_to_zero_at_the_phase_end():
  cfg = _model_settings("--learning_rate=0.002", "--lr_schedule=cosine")
  model, optimizer = _optimizer(cfg, 10)
  rates = [_rate(optimizer)]
  for _ in range(10):
    _steps(model, optimizer, 1)
    rates.append(_rate(optimizer))
  assert rates[0] == pytest.approx(0.002)
  assert rates[5] == pytest.approx(0.001, rel=1e-4)  # Half way down at half the phase.
  assert rates[10] == pytest.approx(0.0, abs=1e-9)
  assert np.all(np.diff(rates) < 0)


def test_a_fresh_adam_starts_the_schedule_again():
  cfg = _model_settings("--lr_schedule=cosine")
  model, optimizer = _optimizer(cfg, 4)
  _steps(model, optimizer, 3)
  assert _rate(optimizer) < 0.001 / 2
  nets.reset_optimizer(optimizer)  # What each NES iteration does.
  assert _rate(optimizer) == pytest.approx(0.001)


def test_a_resumed_phase_goes_on_from_its_checkpointed_step(tmp_path):
  cfg = _model_settings("--lr_schedule=cosine")
  model, optimizer = _optimizer(cfg, 8)
  _steps(model, optimizer, 3)
  path = checkpointing.make_checkpoint(model=model, optimizer=optimizer).save(
      str(tmp_path / "ckpt"))
  model2, optimizer2 = _optimizer(cfg, 8)
  checkpointing.make_checkpoint(model=model2, optimizer=optimizer2).restore(path)
  assert _rate(optimizer2) == pytest.approx(_rate(optimizer))
  assert _rate(optimizer2) < 0.001


def test_runs_recorded_before_the_flag_resume_with_the_constant_rate(tmp_path):
  old = {"learning_rate": 0.001}  # A record of 0.7 or earlier.
  workdir_checks.check_same(old, {"learning_rate": 0.001, "lr_schedule": "constant"}, "nes run",
                            tmp_path / "flags.json", tmp_path)
  with pytest.raises(InputError, match="--lr_schedule was 'constant', now 'cosine'"):
    workdir_checks.check_same(old, {"learning_rate": 0.001, "lr_schedule": "cosine"}, "nes run",
                              tmp_path / "flags.json", tmp_path)


def test_tensorboard_shows_the_rate_of_each_epoch(tmp_path):
  from eggsep_tf.trainers import epoch_loop  # pylint: disable=import-outside-toplevel
  cfg = _model_settings("--lr_schedule=cosine")
  model, optimizer = _optimizer(cfg, 4 * 3)

  @tf.function
  def step(batch):
    x, y = batch
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.abs(model(x) - y))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
    return {"l1": loss}

  def make_dataset(epoch):
    x = np.random.default_rng(epoch).normal(size=[32, 3]).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8)

  writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
  epoch_loop.run_epochs(str(tmp_path / "p"), {"model": model, "optimizer": optimizer}, step,
                        make_dataset, 4, 3, writer, "nes", 8)
  writer.flush()
  rates = {}
  for path in (tmp_path / "tb").iterdir():
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        if value.tag.endswith("/learning_rate"):
          rates[event.step] = float(tf.make_ndarray(value.tensor))
  assert sorted(rates) == [4, 8, 12]
  want = [0.001 * 0.5 * (1 + np.cos(np.pi * s / 12)) for s in (4, 8, 12)]
  np.testing.assert_allclose([rates[s] for s in (4, 8, 12)], want, atol=1e-7)
