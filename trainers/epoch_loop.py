"""A resumable epoch loop for training steps that return a dict of named losses.

runner.train_phase is tied to the NES step (one model, one optimiser, an
"l1" loss); the initialisers train several models and optimisers with other
losses (GLO stages, AM's two players), so they use this loop instead. Same
contract: a checkpoint and state.json after every epoch, a rerun resumes after
the last saved epoch, each epoch's data is seeded by its number, and a signal
or --max_runtime stops the run at an epoch boundary.
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf import checkpointing
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import runner


def restore(phase_dir, **objects):
  """Loads the last checkpoint of a finished phase into `objects` (name -> model/optimizer)."""
  latest = tf.train.latest_checkpoint(os.path.join(phase_dir, "ckpt"))
  if latest is None:
    raise InputError(f"{phase_dir}: no checkpoint to continue from; the run's folder is "
                     "damaged: use a new --workdir")
  checkpointing.make_checkpoint(**objects).restore(latest).expect_partial()


def run_epochs(phase_dir, objects, step_fn, make_dataset, steps_per_epoch, epochs, writer,
               label, batch_size, step_base=0, summary_every=10):
  """Trains `epochs` epochs, checkpointing `objects` after each; resumes a stopped phase.

  Args:
    phase_dir: folder of this phase's checkpoint and state.json.
    objects: dict name -> built model, optimizer or layer to checkpoint.
    step_fn: batch -> dict of scalar losses (a training step).
    make_dataset: epoch -> dataset of batches for step_fn (seeded by epoch, so a
      resumed run sees the data an uninterrupted one would).
    steps_per_epoch: batches taken from each epoch's dataset.
    epochs: total epochs of the phase.
    writer: TensorBoard writer; every loss goes to train/<label>/<name>.
    label: short name for logs and summaries (e.g. "lmm_stage1").
    batch_size: examples per batch, for the samples/s figure.
    step_base: global step of the phase's first step.
    summary_every: steps between loss summaries.

  Returns:
    dict of the last epoch's mean losses ({} if no epoch was left to run).
  """
  os.makedirs(phase_dir, exist_ok=True)
  state_path = os.path.join(phase_dir, "state.json")
  done = runner.epochs_done(phase_dir)
  ckpt = checkpointing.make_checkpoint(**objects)
  manager = tf.train.CheckpointManager(ckpt, os.path.join(phase_dir, "ckpt"), max_to_keep=1)
  if done > 0:
    if manager.latest_checkpoint is None:
      raise InputError(f"{state_path} says {done} epochs are done but there is no "
                       "checkpoint; use a new --workdir")
    ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    logging.info("%s: resuming after epoch %d", label, done)
  means, seconds = {}, 0.0
  for epoch in range(done, epochs):
    # SIGTERM/SIGINT or --max_runtime stop the run here, between saved epochs.
    runner.check_stop(seconds)
    start, sums, count = time.time(), {}, 0
    for i, batch in enumerate(make_dataset(epoch).take(steps_per_epoch)):
      losses = {k: float(v) for k, v in step_fn(batch).items()}
      bad = [k for k, v in losses.items() if not np.isfinite(v)]
      if bad:
        raise FloatingPointError(f"{label}: {bad[0]} became {losses[bad[0]]} at epoch "
                                 f"{epoch + 1}; lower the learning rate or check the data")
      for k, v in losses.items():
        sums[k] = sums.get(k, 0.0) + v
      count += 1
      if i % summary_every == 0:
        with writer.as_default(step=step_base + epoch * steps_per_epoch + i):
          for k, v in losses.items():
            tf.summary.scalar(f"train/{label}/{k}", v)
    seconds = max(time.time() - start, 1e-9)
    manager.save()
    runner.write_json(state_path, {"epochs_done": epoch + 1})
    means = {k: v / max(count, 1) for k, v in sums.items()}
    rate = count * batch_size / seconds
    logging.info("%s epoch %d/%d: %s, %.0f samples/s", label, epoch + 1, epochs,
                 ", ".join(f"{k} {v:.4f}" for k, v in means.items()), rate)
    with writer.as_default(step=step_base + (epoch + 1) * steps_per_epoch):
      tf.summary.scalar(f"train/{label}/samples_per_second", rate)
  return means
