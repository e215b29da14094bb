"""Machinery shared by the trainers: workdir checks and run records, image data
preparation, the NES/supervised phase and clean error exits. The epoch loop
(epoch_loop.py), the cluster (cluster.py), stopping (stopping.py), the mask net
(nets.py), TensorBoard (summaries.py) and the JSON files (json_files.py) have
modules of their own; runner re-exports what the trainers call.
"""

import os
import shutil
import sys

from absl import app
from absl import logging
import tensorflow as tf
import keras

from eggsep_tf.data import image_sources
from eggsep_tf.data import prepare
from eggsep_tf.data import tfrecords
from eggsep_tf import nes
from eggsep_tf import provenance
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cli
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import epoch_loop
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import nets
from eggsep_tf.trainers import stopping
from eggsep_tf.trainers import summaries

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
build_mask_model, make_optimizer = nets.build_mask_model, nets.make_optimizer
reset_optimizer, precision_policy = nets.reset_optimizer, nets.precision_policy
inference_model, sync_inference_model = nets.inference_model, nets.sync_inference_model
parse_stride = nets.parse_stride


def check_disk(path, needed_bytes, what):
  """Warns up front when the disk holding `path` lacks room for `needed_bytes`."""
  while path and not os.path.exists(path):  # A workdir not made yet: its disk.
    path = os.path.dirname(os.path.abspath(path))
  free = shutil.disk_usage(path).free
  if needed_bytes > free:
    logging.warning("%s needs about %.1f GB but only %.1f GB are free on %s", what,
                    needed_bytes / 1e9, free / 1e9, path)
    return False
  return True


def check_run_disk(workdir, model, phases, estimate_bytes, what):
  """check_disk for a whole run: its estimates, the checkpoints of `phases` training
  phases (two kept each: weights and Adam's two moments) and one export."""
  weights = 4 * model.count_params()
  needed = estimate_bytes + phases * 2 * 3 * weights + weights
  return check_disk(workdir, needed, f"the {what} run (estimates, checkpoints and export)")


def _differences(saved, current, now="now"):
  """["--flag was A, now B", ...] for the flags both records hold with other values."""
  return [f"--{k} was {saved[k]!r}, {now} {current[k]!r}"
          for k in current if k in saved and saved[k] != current[k]]


def check_same(saved, current, what, path):
  diffs = _differences(saved, current)
  if diffs:
    raise InputError(f"--workdir={FLAGS.workdir} holds a {what} made with other settings "
                     f"({'; '.join(diffs)}; see {path}). Use a new --workdir, or the same "
                     "flags to resume it.")


# Trainers that export at the end; a rerun under another --model_name would not.
EXPORTING_TRAINERS = ("nes",)


def setup_workdir(trainer, flag_names):
  """Checks the workdir against this command; writes nothing (see record_run).

  Refuses a --workdir that is a file or that holds a `trainer` run made with other
  settings (or, for an exporting trainer, another --model_name).

  Returns the workdir path.
  """
  if not FLAGS.workdir:
    raise InputError("--workdir is required: the folder for this run's outputs")
  workdir = FLAGS.workdir
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"--workdir={workdir} is a file; expected a folder")
  if not is_chief():
    return workdir
  path = os.path.join(workdir, f"run-{trainer}.json")
  saved = read_json(path)
  if saved is not None:
    check_same(saved.get("settings", {}), common_flags.values(flag_names), f"{trainer} run",
               path)
    name = saved.get("model_name")
    if trainer in EXPORTING_TRAINERS and name is not None and name != FLAGS.model_name:
      raise InputError(
          f"--model_name={FLAGS.model_name}: --workdir={workdir} holds a {trainer} run that "
          f"exports as {name!r} (see {path}); rerun it with --model_name={name}, and once it "
          f"has finished export it under the new name with python -m export.export_model "
          f"--workdir={workdir} --model_name={FLAGS.model_name}")
  return workdir


def record_run(workdir, trainer, flag_names):
  """Writes WORKDIR/run-<trainer>.json and flags-<trainer>.txt once the run has started
  (its flags and data checked): a refused command leaves no record behind. A resumed
  run keeps the record of its first start (same settings: setup_workdir checked)."""
  path = os.path.join(workdir, f"run-{trainer}.json")
  if not is_chief() or os.path.exists(path):
    return
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, f"flags-{trainer}.txt"), "w") as f:
    f.write(FLAGS.flags_into_string())
  provenance.record_run(workdir, common_flags.values(flag_names), filename=f"run-{trainer}.json",
                        extra={"model_name": FLAGS.model_name})


def _split_sizes(limits):
  """--num_b/--num_y/--num_test, the ones left at their defaults shrunk to fit the source."""
  names = ("num_b", "num_y", "num_test")
  sizes, note = prepare.fit_split_sizes({n: FLAGS[n].value for n in names},
                                        {n for n in names if FLAGS[n].present}, limits)
  if note:
    logging.warning("%s", note)
  return sizes


def prepare_image_data(workdir):
  """Writes WORKDIR/data/{b_train,y_train,test} once; checks a kept one matches the flags.

  Returns (data_dir, spec of the test split).
  """
  data_dir = os.path.join(workdir, "data")
  settings = common_flags.values(common_flags.DATA_FLAGS)
  settings_path = os.path.join(data_dir, "settings.json")
  if not is_chief():
    wait_for(lambda: os.path.exists(settings_path), f"the chief to prepare {data_dir}")
  if prepare.splits_ready(data_dir):
    check_same(read_json(settings_path, {}), settings, "data set", settings_path)
    if is_chief() and not os.path.exists(settings_path):  # Killed just before writing it.
      write_json(settings_path, settings)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  image_size = image_sources.parse_image_size(FLAGS.image_size)
  if FLAGS.b_data or FLAGS.y_data:
    logging.info("Preparing data from B %s, mixtures %s, test %s", FLAGS.b_data, FLAGS.y_data,
                 FLAGS.test_data)
    splits, description = prepare.folder_task(FLAGS.b_data, FLAGS.y_data, FLAGS.test_data,
                                              image_size, FLAGS.invert, _split_sizes,
                                              FLAGS.data_seed)
    os.makedirs(data_dir, exist_ok=True)
    counts = prepare.write_splits(data_dir, splits, description)
    write_json(settings_path, settings)
    logging.info("Wrote %s to %s", counts, data_dir)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  logging.info("Preparing data from %s", FLAGS.data)
  images, labels = image_sources.load_source(FLAGS.data, invert=FLAGS.invert,
                                             tfds_data_dir=FLAGS.tfds_data_dir,
                                             image_size=image_size,
                                             pixel_scale=FLAGS.pixel_scale)
  if FLAGS.task == "classes":
    observed = prepare.parse_classes(FLAGS.observed, "observed")
    unobserved = prepare.parse_classes(FLAGS.unobserved, "unobserved")
    test_images = test_labels = None
    if FLAGS.test_data:
      test_images, test_labels = image_sources.load_source(
          FLAGS.test_data, split="test", invert=FLAGS.invert, tfds_data_dir=FLAGS.tfds_data_dir,
          image_size=image_size, pixel_scale=FLAGS.pixel_scale)
      if test_images.shape[1:] != images.shape[1:]:
        raise InputError(f"--test_data images are {test_images.shape[1:]}, --data images "
                         f"are {images.shape[1:]}; expected one size")
    sizes = _split_sizes(prepare.class_task_limits(labels, observed, unobserved, test_labels)
                         if labels is not None else [])
    splits = prepare.class_task_arrays(images, labels, observed, unobserved, sizes["num_b"],
                                       sizes["num_y"], sizes["num_test"], FLAGS.data_seed,
                                       test_images, test_labels)
    description = {"x": f"classes {FLAGS.unobserved}", "b": f"classes {FLAGS.observed}"}
  else:
    sizes = _split_sizes([(("num_b", "num_y", "num_test"), len(images))])
    splits = prepare.denoise_task_arrays(images, sizes["num_b"], sizes["num_y"],
                                         sizes["num_test"], FLAGS.noise_sigma, FLAGS.data_seed)
    description = {"x": f"noise sigma {FLAGS.noise_sigma}", "b": "clean images"}
  os.makedirs(data_dir, exist_ok=True)
  counts = prepare.write_splits(data_dir, splits, {**description, "source": FLAGS.data})
  write_json(settings_path, settings)
  logging.info("Wrote %s to %s", counts, data_dir)
  return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))


def check_estimates_match(y_dir, split_dir):
  """Raises InputError unless split_dir holds one estimate per mixture of y_dir, same shape."""
  mine, theirs = tfrecords.read_spec(y_dir), tfrecords.read_spec(split_dir)
  if mine["count"] != theirs["count"] or mine["shape"] != theirs["shape"]:
    raise InputError(
        f"{split_dir}: its estimates are {theirs['count']} x {theirs['shape']}, this run's "
        f"mixtures are {mine['count']} x {mine['shape']}; expected a run on the same data")


def check_same_data(other_workdir, flag):
  """Raises InputError unless the data of the run in other_workdir were made with this
  run's data flags (its WORKDIR/data/settings.json; nothing to compare if it has none)."""
  path = os.path.join(other_workdir, "data", "settings.json")
  saved = read_json(path)
  if saved is None:
    return
  diffs = _differences(saved, common_flags.values(common_flags.DATA_FLAGS), now="here")
  if diffs:
    raise InputError(f"--{flag}={other_workdir} holds a run on other data ({'; '.join(diffs)}; "
                     f"see {path}); expected a run on the same data")


def source_names():
  """Short names of X and B for tables."""
  if FLAGS.task == "denoise":
    return "noise", "clean"
  if FLAGS.b_data:  # The user's own folders: B is named after its folder.
    return "x", os.path.basename(os.path.normpath(FLAGS.b_data))
  return FLAGS.unobserved, FLAGS.observed


def seed_everything():
  keras.utils.set_random_seed(FLAGS.seed)
  if FLAGS.deterministic:
    tf.config.experimental.enable_op_determinism()


def train_phase(phase_dir, model, optimizer, strategy, make_dataset, steps_per_epoch,
                epochs, writer, step_base, label, step_fn=None):
  """epoch_loop.run_epochs for the mask net: NES iterations and the supervised bound.

  Args:
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
  step_fn = step_fn or nes.make_train_step(model, optimizer, strategy, FLAGS.batch_size)
  means = epoch_loop.run_epochs(
      phase_dir, {"model": model, "optimizer": optimizer}, lambda batch: step_fn(*batch),
      make_dataset, steps_per_epoch, epochs, writer, label, FLAGS.batch_size,
      step_base=step_base, strategy=strategy, summary_prefix="train",
      ckpt_dir=private_dir(FLAGS.workdir, os.path.join(phase_dir, "ckpt")), chief=is_chief())
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
