"""Machinery shared by the trainers: seeding, the NES/supervised phase and clean
error exits. The workdir checks and run records (workdir_checks.py), the epoch
loop (epoch_loop.py), the cluster (cluster.py), stopping (stopping.py), the mask
net (nets.py), TensorBoard (summaries.py) and the JSON files (json_files.py) have
modules of their own; runner re-exports what the trainers call.
"""

import os
import sys

from absl import app
import tensorflow as tf
import keras

from eggsep_tf import nes
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cli
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import epoch_loop
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import nets
from eggsep_tf.trainers import stopping
from eggsep_tf.trainers import summaries
from eggsep_tf.trainers import workdir_checks

FLAGS = common_flags.FLAGS

# The trainers reach the loop, the phase state, the cluster and the JSON files
# through runner; each lives in its own module.
StopRequested = stopping.StopRequested
read_json, write_json = json_files.read_json, json_files.write_json
epochs_done, restore_model = epoch_loop.epochs_done, epoch_loop.restore_model
make_strategy, is_chief = cluster.make_strategy, cluster.is_chief
worker_index, num_workers = cluster.worker_index, cluster.num_workers
private_dir, wait_for = cluster.private_dir, cluster.wait_for
summary_writer, log_scores = summaries.summary_writer, summaries.log_scores
image_grid = summaries.image_grid
build_mask_model, make_optimizer, adam = nets.build_mask_model, nets.make_optimizer, nets.adam
reset_optimizer, precision_policy = nets.reset_optimizer, nets.precision_policy
inference_model, sync_inference_model = nets.inference_model, nets.sync_inference_model
check_disk, check_run_disk = workdir_checks.check_disk, workdir_checks.check_run_disk
check_same, check_same_data = workdir_checks.check_same, workdir_checks.check_same_data
setup_workdir, record_run = workdir_checks.setup_workdir, workdir_checks.record_run
net_form = workdir_checks.net_form


def seed_everything(run):
  """Seeds Python, NumPy and TF from run.seed (run: configs.RunConfig)."""
  keras.utils.set_random_seed(run.seed)
  if run.deterministic:
    tf.config.experimental.enable_op_determinism()


def train_phase(run, phase_dir, model, optimizer, strategy, make_dataset, steps_per_epoch,
                epochs, writer, step_base, label, step_fn=None):
  """epoch_loop.run_epochs for the mask net: NES iterations and the supervised bound.

  Args:
    run: configs.RunConfig (workdir, global batch size).
    phase_dir: folder of this phase's checkpoints and state.
    model, optimizer: built under the strategy's scope.
    make_dataset: (epoch, batch_size, pipeline_id) -> dataset of (mixture, target)
      batches of `batch_size` (the per-replica batch), seeded by epoch so that a
      resumed run sees the same data as an uninterrupted one, and by the input
      pipeline so that workers draw different pairs.
    steps_per_epoch, epochs: sizes.
    writer: TensorBoard writer (losses as train/l1).
    step_base: global step of this phase's first step (for TensorBoard).
    label: text for logs.
    step_fn: the compiled training step of model and optimizer, if the caller
      keeps one across phases; made here otherwise.

  Returns:
    Mean loss of the last epoch (None if no epoch was run).
  """
  step_fn = step_fn or nes.make_train_step(model, optimizer, strategy, run.batch_size)
  means = epoch_loop.run_epochs(
      phase_dir, {"model": model, "optimizer": optimizer}, lambda batch: step_fn(*batch),
      make_dataset, steps_per_epoch, epochs, writer, label, run.batch_size,
      step_base=step_base, strategy=strategy, summary_prefix="train",
      ckpt_dir=private_dir(run.workdir, os.path.join(phase_dir, "ckpt")), chief=is_chief())
  return means.get("l1")


# How TensorFlow's file errors name the machine's faults (its messages name the path).
_ENVIRONMENT_WORDS = ("No space left", "Read-only file system", "Permission denied",
                      "Disk quota exceeded")


def start(run):
  """A trainer module's entry point: absl parses the flags, then run_main(run)."""

  def main(argv):
    if len(argv) > 1:
      cli.fail(f"unexpected arguments {argv[1:]}: every setting is a --flag")
    run_main(run)

  app.run(main, flags_parser=cli.parse_flags)


def run_main(run):
  """Runs `run()`, turning user errors into one line on stderr and a non-zero exit.

  SIGTERM/SIGINT and --max_runtime stop the run at an epoch boundary (stopping.py);
  the clock starts here.
  """
  stopping.Stopper(FLAGS.max_runtime).install()
  try:
    run()
  except InputError as e:
    cli.fail(e)
  except OSError as e:  # Disk full, permission, read-only: the machine's state, not a bug.
    cli.fail(cli.environment_message(e))
  except FloatingPointError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(3)
  except tf.errors.DataLossError as e:
    first = (e.message or "").strip().splitlines()[0] if e.message else type(e).__name__
    sys.stderr.write(f"error: a record file is corrupt or truncated ({first}); delete the "
                     "split it belongs to (or the workdir) and rerun\n")
    sys.exit(2)
  except tf.errors.OpError as e:
    first = (e.message or "").strip().splitlines()[0] if e.message else type(e).__name__
    if isinstance(e, tf.errors.PermissionDeniedError) or any(
        words in first for words in _ENVIRONMENT_WORDS):
      cli.fail(f"{first}; free space or fix the permissions and rerun: finished work is kept")
    sys.stderr.write(f"error: TensorFlow failed: {type(e).__name__}: {first}\n")
    sys.exit(1)
  except StopRequested as e:
    sys.stderr.write(f"{e}: finished epochs are saved; rerun the same command to resume\n")
    sys.exit(75)
  except KeyboardInterrupt:
    sys.stderr.write("interrupted: finished epochs are saved; rerun the same command to "
                     "resume\n")
    sys.exit(130)
