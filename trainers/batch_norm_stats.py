"""--batch_norm_stats=real: a phase's batch-norm statistics measured on real mixtures.

The measuring itself is eggsep_tf/batch_norm_calibration.py (plain functions over a
model and batches); this half keeps the result in the phase's checkpoint.
"""

import os

from absl import logging
import tensorflow as tf

from eggsep_tf import batch_norm_calibration
from eggsep_tf import checkpointing
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import json_files


def mode(domain):
  """--batch_norm_stats with auto resolved by the domain (images real, audio synthetic)."""
  chosen = domain.cfg.model.batch_norm_stats
  return domain.default_batch_norm_stats if chosen == "auto" else chosen


def calibrate_batch_norm(phase_dir, model, optimizer, domain):
  """--batch_norm_stats=real: batch-norm statistics measured on real mixtures, kept.

  After a phase's last epoch: the model's moving statistics are replaced by those
  of real training mixtures and the result is saved as the phase's checkpoint
  (state.json then says "batch_norm": "real"), so that re-estimation, a resumed
  run and every export see the same net. Done once per phase.
  """
  if mode(domain) != "real":
    return
  state_path = os.path.join(phase_dir, "state.json")
  if cluster.is_chief() and json_files.read_json(state_path, {}).get("batch_norm") == "real":
    return  # train_phase restored the calibrated checkpoint.
  # Other workers always measure (it gives the same statistics again on a resumed
  # phase): the state.json they see is the chief's, which may say "real" because the
  # chief has just calibrated its own copy, not theirs.
  used = batch_norm_calibration.recalibrate(
      model, domain.real_mixture_batches(domain.cfg.model.batch_norm_samples,
                                          domain.run.eval_batch_size))
  logging.info("Batch-norm statistics measured on %d batches of real mixtures", used)
  state = json_files.read_json(state_path, {"epochs_done": 0})
  manager = tf.train.CheckpointManager(
      checkpointing.make_checkpoint(model=model, optimizer=optimizer),
      cluster.private_dir(domain.workdir, os.path.join(phase_dir, "ckpt")), max_to_keep=2)
  # A number of its own: the epochs' checkpoints keep theirs until the state moves on.
  saved = manager.save(checkpoint_number=1_000_000 + state["epochs_done"])
  if cluster.is_chief():
    json_files.write_json(state_path, {**state, "checkpoint": os.path.basename(saved),
                            "batch_norm": "real"})
