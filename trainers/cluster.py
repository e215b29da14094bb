"""Which worker this process is, and the tf.distribute strategy it trains under.

make_strategy(name) is called first by every trainer: it builds the strategy and
records this process's place in the cluster (the chief writes the workdir's shared
files; other workers keep their own checkpoints). Until then a process is the
single, chief worker.
"""

import dataclasses
import json
import os
import time

from absl import logging
import tensorflow as tf

from eggsep_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Cluster:
  """This process's place among the workers of a run."""
  chief: bool = True
  index: int = 0
  count: int = 1


_SINGLE = Cluster()
_CURRENT = [_SINGLE]  # Replaced by make_strategy; one worker until then.


def current():
  return _CURRENT[0]


def make_strategy(name):
  """A tf.distribute strategy from its flag value; call it before any other TF work.

  Under multi_worker, worker 0 (or the "chief" task) is the chief: it alone writes
  the workdir's data, state, results, TensorBoard logs and exports. The other
  workers read the chief's files and keep their own checkpoints (which TF needs
  every worker to write) under WORKDIR/.workers/worker-N/.
  """
  _CURRENT[0] = _SINGLE
  if name == "mirrored":
    return _log_devices(tf.distribute.MirroredStrategy())
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
    _CURRENT[0] = Cluster(chief=(index == 0), index=index, count=workers)
    return _log_devices(strategy)
  return _log_devices(tf.distribute.get_strategy())


def _log_devices(strategy):
  """Logs the devices this run computes on; returns the strategy."""
  devices = tf.config.list_logical_devices()
  accelerators = [d.name for d in devices if d.device_type in ("GPU", "TPU")]
  logging.info("Devices: %s; %s with %d replica(s)%s",
               ", ".join(d.name for d in devices), type(strategy).__name__,
               strategy.num_replicas_in_sync,
               "" if accelerators else " (no GPU found: training runs on the CPU)")
  return strategy


def is_chief():
  return current().chief


def worker_index():
  return current().index


def num_workers():
  return current().count


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
