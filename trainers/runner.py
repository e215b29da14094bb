"""Machinery shared by the trainers: workdir checks, data preparation, strategy,
the resumable epoch loop, TensorBoard summaries and clean error exits."""

import json
import os
import shutil
import signal
import sys
import time

from absl import app
from absl import logging
import numpy as np
import tensorflow as tf
import keras

from eggsep_tf.data import image_sources
from eggsep_tf.data import prepare
from eggsep_tf.data import tfrecords
from eggsep_tf import batch_norm_calibration
from eggsep_tf import checkpointing
from eggsep_tf import mask_nets
from eggsep_tf import nes
from eggsep_tf import precision
from eggsep_tf import provenance
from eggsep_tf import results
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import common_flags

FLAGS = common_flags.FLAGS

_START = time.time()
_STOP = {"signal": None}


class StopRequested(Exception):
  """Raised at an epoch boundary after SIGTERM/SIGINT or when --max_runtime is near."""


def _on_signal(signum, frame):
  del frame
  if _STOP["signal"] is not None:  # A second signal: stop now (finished epochs are saved).
    raise KeyboardInterrupt
  _STOP["signal"] = signal.Signals(signum).name
  logging.warning("%s received: stopping after the current epoch (send it again to stop "
                  "now; finished epochs are kept)", _STOP["signal"])


def check_stop(last_epoch_seconds):
  """Raises StopRequested if a signal came or the next epoch would pass --max_runtime."""
  if _STOP["signal"] is not None:
    raise StopRequested(f"stopped on {_STOP['signal']} at an epoch boundary")
  if FLAGS.max_runtime > 0 and \
      time.time() - _START + last_epoch_seconds > FLAGS.max_runtime:
    raise StopRequested(f"stopped before passing --max_runtime={FLAGS.max_runtime:g} s")


def check_disk(path, needed_bytes, what):
  """Warns up front when the disk holding `path` lacks room for `needed_bytes`."""
  free = shutil.disk_usage(path).free
  if needed_bytes > free:
    logging.warning("%s needs about %.1f GB but only %.1f GB are free on %s", what,
                    needed_bytes / 1e9, free / 1e9, path)
    return False
  return True


def read_json(path, default=None):
  if not os.path.exists(path):
    return default
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    raise InputError(f"{path}: unreadable (expected JSON written by a previous run); "
                     "remove it or use another --workdir") from None


def write_json(path, value):
  with open(path + ".tmp", "w") as f:
    json.dump(value, f, indent=2, default=str)
  os.replace(path + ".tmp", path)


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


def setup_workdir(trainer, flag_names):
  """Creates the workdir, refuses one holding a run with other flags, records this run.

  Returns the workdir path.
  """
  if not FLAGS.workdir:
    raise InputError("--workdir is required: the folder for this run's outputs")
  workdir = FLAGS.workdir
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"--workdir={workdir} is a file; expected a folder")
  os.makedirs(workdir, exist_ok=True)
  settings = common_flags.values(flag_names)
  if not is_chief():
    return workdir
  path = os.path.join(workdir, f"run-{trainer}.json")
  saved = read_json(path)
  if saved is not None:
    check_same(saved.get("settings", {}), settings, f"{trainer} run", path)
  provenance.record_run(workdir, settings, filename=f"run-{trainer}.json")
  with open(os.path.join(workdir, f"flags-{trainer}.txt"), "w") as f:
    f.write(FLAGS.flags_into_string())
  return workdir


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


def make_domain(workdir):
  """The domain object (see trainers/image_domain.py) for --domain."""
  if FLAGS.domain == "audio":
    from eggsep_tf.trainers import audio_domain  # Imported lazily: audio needs soundfile/soxr.
    return audio_domain.AudioDomain(workdir)
  from eggsep_tf.trainers import image_domain
  return image_domain.ImageDomain(workdir)


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


_CLUSTER = {"chief": True, "index": 0, "count": 1}


def make_strategy(name):
  """A tf.distribute strategy from its flag value; call it before any other TF work.

  Under multi_worker, worker 0 (or the "chief" task) is the chief: it alone writes
  the workdir's data, state, results, TensorBoard logs and exports. The other
  workers read the chief's files and keep their own checkpoints (which TF needs
  every worker to write) under WORKDIR/.workers/worker-N/.
  """
  _CLUSTER.update(chief=True, index=0, count=1)
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise InputError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                       "(cluster and task); see the README")
    try:
      config = json.loads(os.environ["TF_CONFIG"])
      task, cluster = config["task"], config["cluster"]
    except (ValueError, KeyError, TypeError):
      raise InputError("TF_CONFIG: expected JSON with 'cluster' and 'task' (see the "
                       "README)") from None
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    index = task["index"] + (len(cluster.get("chief", [])) if task["type"] == "worker" else 0)
    _CLUSTER.update(chief=(index == 0), index=index, count=workers)
    return strategy
  return tf.distribute.get_strategy()


def is_chief():
  return _CLUSTER["chief"]


def worker_index():
  return _CLUSTER["index"]


def num_workers():
  return _CLUSTER["count"]


def private_dir(workdir, path):
  """Where this worker keeps its copy of `path` (inside workdir): the path itself on
  the chief, WORKDIR/.workers/worker-N/<relative path> elsewhere."""
  if is_chief():
    return path
  return os.path.join(workdir, ".workers", f"worker-{worker_index()}",
                      os.path.relpath(path, workdir))


def wait_for(predicate, what, timeout=3600.0):
  """Non-chief workers wait for files the chief writes (shared filesystem)."""
  deadline = time.time() + timeout
  while not predicate():
    if time.time() > deadline:
      raise InputError(f"waited {timeout:.0f} s for {what}; is the chief running and the "
                       "workdir on a filesystem all workers share?")
    time.sleep(0.2)


def summary_writer(workdir, name):
  """TensorBoard writer for WORKDIR/tb/NAME; a no-op writer on non-chief workers."""
  if not is_chief():
    return tf.summary.create_noop_writer()
  return tf.summary.create_file_writer(os.path.join(workdir, "tb", name))


def seed_everything():
  keras.utils.set_random_seed(FLAGS.seed)
  if FLAGS.deterministic:
    tf.config.experimental.enable_op_determinism()


def build_mask_model(shape):
  """The mask U-Net from the model flags, built for examples of `shape` [H, W, C]."""
  try:
    filters = [int(f) for f in FLAGS.filters]
  except ValueError:
    raise InputError(f"--filters={','.join(FLAGS.filters)}: expected integers like "
                     "32,64,128,256") from None
  if not filters or min(filters) < 1:
    raise InputError("--filters: expected at least one positive channel count")
  policy = precision_policy()
  if policy != keras.mixed_precision.global_policy().name:
    logging.info("Mask net precision: %s (--precision=%s)", policy, FLAGS.precision)
  keras.mixed_precision.set_global_policy(policy)
  model = mask_nets.build_mask_net(FLAGS.architecture, filters, FLAGS.skip_connections,
                                   parse_stride(FLAGS.stride))
  model(tf.zeros([1] + list(shape)))  # Creates every variable before optimisers see them.
  return model


def gain_range(name="gain_range"):
  """--gain_range (or --x_gain_range) as (low, high), or None for "1" / "" (no gains)."""
  text = ",".join(FLAGS[name].value)
  try:
    values = [float(v) for v in FLAGS[name].value]
  except ValueError:
    values = [-1.0]
  if values in ([1.0], []):
    return None
  if len(values) != 2 or not all(np.isfinite(values)) or not 0 < values[0] <= values[1]:
    raise InputError(f"--{name}={text}: expected LOW,HIGH with 0 < LOW <= HIGH "
                     "(e.g. 0.5,2), or 1 for no random gains")
  return tuple(values)


def gain_kwargs():
  """The mixture pipeline's random-gain arguments from the flags."""
  return {"gain_range": gain_range(), "x_gain_range": gain_range("x_gain_range")}


def parse_stride(text):
  """--stride: "auto" or a power of two."""
  if str(text) == "auto":
    return "auto"
  try:
    stride = int(text)
  except ValueError:
    stride = 0
  if stride < 1 or stride & (stride - 1):
    raise InputError(f"--stride={text}: expected auto or a power of two (1, 2, 4, ...)")
  return stride


def precision_policy():
  """The Keras dtype policy --precision names on this machine ("auto" resolved)."""
  return precision.resolve(FLAGS.precision)


def inference_model(model, shape):
  """The net re-estimation and evaluation run: `model` under --inference_precision.

  A copy when the policies differ; call sync_inference_model before each use.
  """
  policy = precision.resolve(FLAGS.inference_precision)
  if policy != model.dtype_policy.name:
    logging.info("Re-estimation and evaluation precision: %s (--inference_precision=%s)",
                 policy, FLAGS.inference_precision)
  return precision.copy_with_policy(model, shape, policy)


def write_baselines(domain, workdir, writer):
  """Adds the rows every table shows beside the methods, if missing: Const (x = c * y,
  c = --const_fraction) and Oracle (the ideal mask: the ceiling of mask methods).

  Returns the workdir's results.
  """
  scores = results.load(workdir)
  x_name, b_name = domain.names()
  if "const" not in scores:
    const_scores, _ = domain.evaluate_const(FLAGS.const_fraction)
    scores = results.update(workdir, "const", const_scores, x_name, b_name)
    domain.log(writer, 0, "test/const", const_scores)
  if "oracle" not in scores:
    oracle_scores = domain.evaluate_oracle()
    scores = results.update(workdir, "oracle", oracle_scores, x_name, b_name)
    domain.log(writer, 0, "test/oracle", oracle_scores)
  return scores


def calibrate_batch_norm(phase_dir, model, optimizer, domain):
  """--batch_norm_stats=real: batch-norm statistics measured on real mixtures, kept.

  After a phase's last epoch: the model's moving statistics are replaced by those
  of real training mixtures and the result is saved as the phase's checkpoint
  (state.json then says "batch_norm": "real"), so that re-estimation, a resumed
  run and every export see the same net. Done once per phase.
  """
  if FLAGS.batch_norm_stats != "real":
    return
  state_path = os.path.join(phase_dir, "state.json")
  if read_json(state_path, {}).get("batch_norm") == "real":
    return  # train_phase restored the calibrated checkpoint.
  used = batch_norm_calibration.recalibrate(
      model, domain.real_mixture_batches(FLAGS.batch_norm_samples, FLAGS.eval_batch_size))
  logging.info("Batch-norm statistics measured on %d batches of real mixtures", used)
  state = read_json(state_path, {"epochs_done": 0})
  manager = tf.train.CheckpointManager(
      checkpointing.make_checkpoint(model=model, optimizer=optimizer),
      private_dir(FLAGS.workdir, os.path.join(phase_dir, "ckpt")), max_to_keep=2)
  # A number of its own: the epochs' checkpoints keep theirs until the state moves on.
  saved = manager.save(checkpoint_number=1_000_000 + state["epochs_done"])
  if is_chief():
    write_json(state_path, {**state, "checkpoint": os.path.basename(saved),
                            "batch_norm": "real"})


def sync_inference_model(copy, model):
  """Copies the trained weights into the inference copy (nothing if it is the model)."""
  if copy is not model:
    copy.set_weights(model.get_weights())


def make_optimizer(model):
  """Adam from the flags; under mixed_float16 wrapped to scale the loss."""
  optimizer = keras.optimizers.Adam(FLAGS.learning_rate, beta_1=FLAGS.beta1)
  if precision_policy() == "mixed_float16":
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  optimizer.build(model.trainable_variables)
  return optimizer


def reset_optimizer(optimizer):
  """Puts Adam back to its fresh state (step 0, zero moments), as a new one would be.

  Cheaper than a new optimizer: the compiled training step is kept (a new
  optimizer means tracing and compiling the step again, seconds per iteration).
  """
  for variable in optimizer.variables:
    if variable.path.endswith(("learning_rate", "dynamic_scale")):
      continue
    variable.assign(tf.zeros_like(variable))


def epochs_done(phase_dir):
  """Epochs a phase has finished (0 if it has not started)."""
  return read_json(os.path.join(phase_dir, "state.json"), {"epochs_done": 0})["epochs_done"]


def _state_checkpoint(phase_dir, state):
  """The checkpoint that state.json vouches for (None if it is missing)."""
  name = state.get("checkpoint")
  if name is None:
    return tf.train.latest_checkpoint(os.path.join(phase_dir, "ckpt"))
  path = os.path.join(phase_dir, "ckpt", name)
  return path if tf.io.gfile.exists(path + ".index") else None


def restore_model(model, phase_dir):
  """Loads the model weights of a phase's last checkpoint recorded in its state.json."""
  state = read_json(os.path.join(phase_dir, "state.json"), {"epochs_done": 0})
  latest = _state_checkpoint(phase_dir, state) if state["epochs_done"] else None
  if latest is None:
    raise InputError(f"{phase_dir}: no checkpoint to continue from; the run's folder is "
                     "damaged: use a new --workdir")
  checkpointing.make_checkpoint(model=model).restore(latest).expect_partial()


def train_phase(phase_dir, model, optimizer, strategy, make_dataset, steps_per_epoch,
                epochs, writer, step_base, label, step_fn=None):
  """Trains `epochs` epochs, checkpointing after each; resumes after the last one saved.

  Args:
    phase_dir: folder of this phase's checkpoint and state.
    model, optimizer: built under the strategy's scope.
    make_dataset: (epoch, batch_size, pipeline_id) -> dataset of (mixture, target)
      batches of `batch_size` (the per-replica batch), seeded by epoch so that a
      resumed run sees the same data as an uninterrupted one, and by the input
      pipeline so that workers draw different pairs.
    steps_per_epoch, epochs: sizes.
    writer: TensorBoard writer.
    step_base: global step of this phase's first step (for TensorBoard).
    label: text for logs.
    step_fn: the compiled training step of model and optimizer, if the caller
      keeps one across phases; made here otherwise.

  Returns:
    Mean loss of the last epoch (None if no epoch was run).
  """
  os.makedirs(phase_dir, exist_ok=True)
  state_path = os.path.join(phase_dir, "state.json")  # The chief's: every worker reads it.
  state = read_json(state_path, {"epochs_done": 0})
  ckpt = checkpointing.make_checkpoint(model=model, optimizer=optimizer)
  own_dir = private_dir(FLAGS.workdir, os.path.join(phase_dir, "ckpt"))
  # Two kept: state.json names the one that matches it, even if a crash came
  # between saving a newer checkpoint and updating state.json.
  manager = tf.train.CheckpointManager(ckpt, own_dir, max_to_keep=2)
  if state["epochs_done"] > 0:
    path = _state_checkpoint(phase_dir, state)
    if path is None:
      raise InputError(f"{state_path} says {state['epochs_done']} epochs are done but "
                       "there is no checkpoint; use a new --workdir")
    ckpt.restore(path).assert_existing_objects_matched()
    logging.info("%s: resuming after epoch %d", label, state["epochs_done"])
  step_fn = step_fn or nes.make_train_step(model, optimizer, strategy, FLAGS.batch_size)
  last, seconds = None, 0.0
  for epoch in range(state["epochs_done"], epochs):
    check_stop(seconds)
    def input_fn(context, epoch=epoch):
      # One pipeline per worker, each with its own seed: the pairs are random
      # draws, so different seeds shard them without splitting files.
      batch = context.get_per_replica_batch_size(FLAGS.batch_size)
      return make_dataset(epoch, batch, context.input_pipeline_id).take(steps_per_epoch)
    ds = strategy.distribute_datasets_from_function(input_fn)
    start, losses = time.time(), []
    for i, (mixture, target) in enumerate(ds):
      # Losses stay on the device until the epoch ends: reading each one would
      # make every step wait for the previous one.
      losses.append(step_fn(mixture, target)["l1"])
    epoch_losses = np.array([float(v) for v in losses])
    if not np.all(np.isfinite(epoch_losses)):
      raise FloatingPointError(f"{label}: the loss became {epoch_losses[-1]} at epoch "
                               f"{epoch + 1}; lower --learning_rate or check the data")
    with writer.as_default():
      for i in range(0, len(epoch_losses), 10):
        tf.summary.scalar("train/l1", epoch_losses[i],
                          step=step_base + epoch * steps_per_epoch + i)
    seconds = time.time() - start
    saved = manager.save()  # Every worker saves (TF requires it); the chief's copy counts.
    if is_chief():
      write_json(state_path, {"epochs_done": epoch + 1,
                              "checkpoint": os.path.basename(saved)})
    last = float(np.mean(epoch_losses))
    logging.info("%s epoch %d/%d: l1 %.4f, %.0f samples/s", label, epoch + 1, epochs, last,
                 steps_per_epoch * FLAGS.batch_size / max(seconds, 1e-9))
    with writer.as_default(step=step_base + (epoch + 1) * steps_per_epoch):
      tf.summary.scalar("train/samples_per_second",
                        steps_per_epoch * FLAGS.batch_size / max(seconds, 1e-9))
  return last


def image_grid(examples):
  """One picture: a row per example, columns mixture/2, x, b, mask, x_true, b_true."""
  columns = [examples["mixture"] / 2.0, examples["x"], examples["b"], examples["mask"],
             examples["x_true"], examples["b_true"]]
  rows = np.concatenate([np.clip(c, 0, 1) for c in columns], axis=2)  # [n, H, 6W, C]
  return rows.reshape((1, -1) + rows.shape[2:])


def log_scores(writer, step, prefix, scores, examples=None):
  with writer.as_default(step=step):
    for k, v in scores.items():
      tf.summary.scalar(f"{prefix}/{k}", v)
    if examples is not None:
      tf.summary.image(f"{prefix}/mixture_x_b_mask_xtrue_btrue", image_grid(examples))
  writer.flush()


def start(run):
  """A trainer module's entry point: absl parses the flags, then run_main(run)."""

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    run_main(run)

  app.run(main)


def run_main(run):
  """Runs `run()`, turning user errors into one line on stderr and a non-zero exit."""
  signal.signal(signal.SIGTERM, _on_signal)
  signal.signal(signal.SIGINT, _on_signal)
  try:
    run()
  except InputError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(2)
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
    sys.stderr.write(f"error: TensorFlow failed: {type(e).__name__}: {first}\n")
    sys.exit(1)
  except StopRequested as e:
    sys.stderr.write(f"{e}: finished epochs are saved; rerun the same command to resume\n")
    sys.exit(75)
  except KeyboardInterrupt:
    sys.stderr.write("interrupted: finished epochs are saved; rerun the same command to "
                     "resume\n")
    sys.exit(130)
