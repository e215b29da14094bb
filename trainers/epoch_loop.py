"""The one resumable epoch loop of every trainer (NES iterations, supervised, LMM stages,
AM), and the phase state it keeps.

A phase is a folder: ckpt/ (the last two checkpoints) and state.json
{"epochs_done": N, "checkpoint": "ckpt-K"}, written after each epoch once its
checkpoint is saved. state.json always names the checkpoint it vouches for, so a
kill between saving a checkpoint and writing state.json loses nothing and trains
nothing twice: the rerun restores the named (older) one and redoes that epoch
exactly (each epoch's data are seeded by its number).
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf import checkpointing
from eggsep_tf.data import iteration
from eggsep_tf.errors import InputError
from eggsep_tf.progress import Progress
from eggsep_tf.trainers import stopping
from eggsep_tf.trainers.json_files import read_json
from eggsep_tf.trainers.json_files import write_json

KEEP_CHECKPOINTS = 2  # The one state.json names, and a newer one a crash may leave.


def read_state(phase_dir):
  """The phase's state.json ({"epochs_done": 0} if it has not started)."""
  return read_json(os.path.join(phase_dir, "state.json"), {"epochs_done": 0})


def epochs_done(phase_dir):
  """Epochs a phase has finished (0 if it has not started)."""
  return read_state(phase_dir)["epochs_done"]


def state_checkpoint(phase_dir, state):
  """The checkpoint that state.json vouches for (None if it is missing).

  Phases written before state.json named its checkpoint fall back to the latest one.
  """
  ckpt_dir = os.path.join(phase_dir, "ckpt")
  name = state.get("checkpoint")
  if name is None:
    return tf.train.latest_checkpoint(ckpt_dir)
  path = os.path.join(ckpt_dir, name)
  return path if tf.io.gfile.exists(path + ".index") else None


# A checkpoint holds the variables as ordered lists, so a net built otherwise (other
# flags, or a version whose net differs) is refused, with the file named.
_MISMATCH = ("the checkpoint does not fit the net and optimiser this command builds; it was "
             "made with other settings or another version of eggsep-tf: rerun with its "
             "flags, or use a new --workdir")


def restore_model(model, phase_dir):
  """Loads the model weights of a phase's checkpoint named in its state.json."""
  state = read_state(phase_dir)
  latest = state_checkpoint(phase_dir, state) if state["epochs_done"] else None
  if latest is None:
    raise InputError(f"{phase_dir}: no checkpoint to continue from; the run's folder is "
                     "damaged: use a new --workdir")
  checkpointing.restore(checkpointing.make_checkpoint(model=model), latest, _MISMATCH,
                        partial=True, require_all=False)


def _epoch_batches(make_dataset, epoch, steps, batch_size, strategy):
  """The epoch's batches: make_dataset(epoch), or under a strategy one pipeline per
  worker, make_dataset(epoch, per-replica batch, pipeline id), distributed."""
  if strategy is None:
    return make_dataset(epoch).take(steps)

  def input_fn(context):
    # Each worker's pipeline has its own seed: the pairs are random draws, so
    # different seeds shard them without splitting files.
    batch = context.get_per_replica_batch_size(batch_size)
    # A step takes one per-replica batch for each of the worker's replicas.
    per_step = context.num_replicas_in_sync // context.num_input_pipelines
    return make_dataset(epoch, batch, context.input_pipeline_id).take(steps * per_step)

  return strategy.distribute_datasets_from_function(input_fn)


def run_epochs(phase_dir, objects, step_fn, make_dataset, steps_per_epoch, epochs, writer,
               label, batch_size, step_base=0, summary_every=10, strategy=None,
               summary_prefix=None, ckpt_dir=None, chief=True):
  """Trains `epochs` epochs, checkpointing `objects` after each; resumes a stopped phase.

  Args:
    phase_dir: folder of this phase's checkpoints and state.json.
    objects: dict name -> built model, optimizer or layer to checkpoint.
    step_fn: batch -> dict of scalar losses (a training step); every key is logged.
    make_dataset: without a strategy, epoch -> dataset of batches for step_fn; with
      one, (epoch, per-replica batch size, input pipeline id) -> dataset. Seeded by
      epoch, so that a resumed run sees the data an uninterrupted one would.
    steps_per_epoch: batches taken from each epoch's dataset.
    epochs: total epochs of the phase.
    writer: TensorBoard writer; loss k goes to <summary_prefix>/k.
    label: name for logs (e.g. "NES iteration 2/10", "lmm_stage1").
    batch_size: global examples per batch (samples/s; the strategy's split).
    step_base: global step of the phase's first step (TensorBoard).
    summary_every: steps between loss summaries.
    strategy: a tf.distribute.Strategy to distribute the data with, or None.
    summary_prefix: TensorBoard tag prefix; default "train/<label>".
    ckpt_dir: where this process keeps its checkpoints; default phase_dir/ckpt
      (other workers keep theirs apart; the chief's state.json names the chief's).
    chief: whether this process writes state.json.

  Returns:
    dict of the last epoch's mean losses ({} if no epoch was left to run).

  Raises:
    FloatingPointError: a loss became NaN or infinite.
    stopping.StopRequested: a signal or --max_runtime, at an epoch boundary.
  """
  os.makedirs(phase_dir, exist_ok=True)
  state_path = os.path.join(phase_dir, "state.json")
  state = read_state(phase_dir)
  ckpt = checkpointing.make_checkpoint(**objects)
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir or os.path.join(phase_dir, "ckpt"),
                                       max_to_keep=KEEP_CHECKPOINTS)
  if state["epochs_done"] > 0:
    # The chief's checkpoint, which its state.json names (other workers' are copies).
    path = state_checkpoint(phase_dir, state)
    if path is None:
      raise InputError(f"{state_path} says {state['epochs_done']} epochs are done but "
                       "there is no checkpoint; use a new --workdir")
    checkpointing.restore(ckpt, path, _MISMATCH)
    logging.info("%s: resuming after epoch %d", label, state["epochs_done"])
  prefix = summary_prefix or f"train/{label}"
  means, seconds = {}, 0.0
  for epoch in range(state["epochs_done"], epochs):
    stopping.check(seconds)
    start, steps = time.time(), []
    with Progress(steps_per_epoch, f"{label} epoch {epoch + 1}/{epochs}") as progress:
      # The epoch's iterator is released in the background (data/iteration.py): its
      # teardown sometimes took as long as the epoch itself.
      for batch in iteration.elements(
          _epoch_batches(make_dataset, epoch, steps_per_epoch, batch_size, strategy)):
        # Losses stay on the device until the epoch ends: reading each one would
        # make every step wait for the previous one.
        steps.append(step_fn(batch))
        progress.update()
    losses = {k: np.array([float(s[k]) for s in steps]) for k in (steps[0] if steps else {})}
    for k, values in losses.items():
      if not np.all(np.isfinite(values)):
        raise FloatingPointError(f"{label}: the loss {k} became {values[~np.isfinite(values)][0]}"
                                 f" at epoch {epoch + 1}; lower the learning rate or check "
                                 "the data")
    with writer.as_default():
      for i in range(0, len(steps), summary_every):
        for k, values in losses.items():
          tf.summary.scalar(f"{prefix}/{k}", values[i],
                            step=step_base + epoch * steps_per_epoch + i)
    seconds = max(time.time() - start, 1e-9)
    saved = manager.save()  # Every worker saves (TF requires it); the chief's copy counts.
    if chief:
      write_json(state_path, {"epochs_done": epoch + 1, "checkpoint": os.path.basename(saved)})
    means = {k: float(np.mean(v)) for k, v in losses.items()}
    rate = len(steps) * batch_size / seconds
    logging.info("%s epoch %d/%d: %s, %.0f samples/s", label, epoch + 1, epochs,
                 ", ".join(f"{k} {v:.4f}" for k, v in means.items()), rate)
    with writer.as_default(step=step_base + (epoch + 1) * steps_per_epoch):
      tf.summary.scalar(f"{prefix}/samples_per_second", rate)
      optimizer = objects.get("optimizer")  # NES and supervised phases (--lr_schedule).
      if optimizer is not None:
        # A tensor, not float(): under a distribution strategy the rate is a mirrored variable.
        rate_now = tf.cast(tf.convert_to_tensor(optimizer.learning_rate), tf.float32)
        tf.summary.scalar(f"{prefix}/learning_rate", rate_now)
  return means
