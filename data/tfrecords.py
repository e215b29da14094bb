"""Sharded TFRecords of named float32 tensors, written atomically.

A record holds an int64 "index" (the example's position in its split, so that
estimates can be matched to mixtures) and one serialized float32 tensor per
name, e.g. {"y": mixture, "x": reference_x, "b": reference_b}. Every tensor of a
split has the same shape, which is stored in the split's `spec.json`.

A split lives in its own folder:  DIR/part-00000-of-00004.tfrecord ... and
DIR/spec.json. The folder is written under a temporary name and renamed into
place, so a reader never sees half a split. spec.json records each shard's size
in bytes, so that a shard truncated later is named when the split is opened,
before any training reads it.
"""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError

SPEC_FILE = "spec.json"


def _serialize(index, tensors):
  feature = {"index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index]))}
  for name, value in tensors.items():
    data = tf.io.serialize_tensor(np.asarray(value, np.float32)).numpy()
    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_split(directory, arrays, num_shards=4, extra_spec=None, batches=None):
  """Writes a split atomically.

  Args:
    directory: destination folder (must not be a file); replaced if it exists.
    arrays: dict name -> array [N, ...], all with the same N. An optional
      "index" entry [N] gives each record's index (default: its position).
      Ignored if `batches` is given.
    num_shards: number of files; examples go round-robin so every shard holds
      a fair sample.
    extra_spec: dict merged into spec.json (e.g. what the split holds).
    batches: optional iterable of dicts name -> [n_i, ...] numpy arrays to
      stream (memory bounded); indices continue across batches.

  Returns:
    The number of records written.
  """
  tmp = directory.rstrip("/") + ".tmp"
  if tf.io.gfile.exists(tmp):
    tf.io.gfile.rmtree(tmp)
  tf.io.gfile.makedirs(tmp)
  paths = [os.path.join(tmp, f"part-{i:05d}-of-{num_shards:05d}.tfrecord")
           for i in range(num_shards)]
  writers = [tf.io.TFRecordWriter(p) for p in paths]
  count, shape, names = 0, None, sorted(k for k in (arrays or {}) if k != "index")
  try:
    for batch in (batches if batches is not None else [arrays]):
      names = sorted(k for k in batch if k != "index")
      n = len(batch[names[0]])
      for i in range(n):
        tensors = {k: batch[k][i] for k in names}
        shape = shape or list(np.shape(tensors[names[0]]))
        index = int(batch["index"][i]) if "index" in batch else count
        writers[count % num_shards].write(_serialize(index, tensors))
        count += 1
  finally:
    for w in writers:
      w.close()
  spec = {"count": count, "shape": shape, "names": names,
          "num_shards": num_shards, **(extra_spec or {}), "shard_bytes": _sizes(paths)}
  with tf.io.gfile.GFile(os.path.join(tmp, SPEC_FILE), "w") as f:
    json.dump(spec, f, indent=2)
  if tf.io.gfile.exists(directory):
    shutil.rmtree(directory)
  os.replace(tmp, directory)
  return count


def _sizes(paths):
  """{file name: size in bytes} of shard files."""
  return {os.path.basename(p): tf.io.gfile.stat(p).length for p in paths}


def check_shards(directory, files, spec):
  """Raises InputError naming a shard whose size differs from the one spec.json recorded
  (truncated or damaged since it was written). Splits written before sizes were
  recorded are not checked."""
  expected = spec.get("shard_bytes")
  if not expected:
    return
  found = {os.path.basename(p): p for p in files}
  for name, size in sorted(expected.items()):
    if name not in found:
      raise InputError(f"{os.path.join(directory, name)}: missing; the split is damaged: "
                       "delete its folder (or the workdir) and rerun")
    actual = tf.io.gfile.stat(found[name]).length
    if actual != size:
      raise InputError(f"{found[name]}: truncated or corrupt ({actual} bytes, {size} when "
                       f"written); delete {directory} (or the workdir) and rerun")


def read_spec(directory):
  """Returns the spec dict of a split, or raises InputError if it is missing."""
  path = os.path.join(directory, SPEC_FILE)
  if not tf.io.gfile.exists(path):
    raise InputError(f"{directory}: not a finished record split (no {SPEC_FILE}); "
                     "expected a folder written by data.tfrecords.write_split")
  try:
    with tf.io.gfile.GFile(path) as f:
      return json.load(f)
  except ValueError as e:
    raise InputError(f"{path}: unreadable ({e}); the split is damaged: delete "
                     f"{directory} (or the workdir) and rerun") from None


def shard_files(directory):
  """The sorted shard paths of a split, each checked against the size spec.json recorded."""
  spec = read_spec(directory)
  files = sorted(tf.io.gfile.glob(os.path.join(directory, "part-*.tfrecord")))
  if not files:
    raise InputError(f"{directory}: no part-*.tfrecord files")
  check_shards(directory, files, spec)
  return files


def parse_fn(names, shape):
  """A function that parses one serialized record into {"index", *names}.

  Args:
    names: tensor names to parse.
    shape: the shape of every tensor.
  """
  features = {"index": tf.io.FixedLenFeature([], tf.int64)}
  features.update({n: tf.io.FixedLenFeature([], tf.string) for n in names})

  def parse(serialized):
    parsed = tf.io.parse_single_example(serialized, features)
    out = {"index": parsed["index"]}
    for n in names:
      out[n] = tf.ensure_shape(tf.io.parse_tensor(parsed[n], tf.float32), shape)
    return out
  return parse


def dataset(directory, names=None, shuffle_files=False, seed=None):
  """A tf.data.Dataset of parsed records of a split (streamed from disk).

  Args:
    directory: the split's folder.
    names: tensors to parse; default all.
    shuffle_files: interleave shards in a random order (training) rather than
      reading them in order (evaluation, re-estimation).
    seed: seed for the shard order.
  """
  spec = read_spec(directory)
  names = list(names or spec["names"])
  missing = set(names) - set(spec["names"])
  if missing:
    raise InputError(f"{directory}: records hold {spec['names']}, not {sorted(missing)}")
  paths = shard_files(directory)
  files = tf.data.Dataset.from_tensor_slices(paths)
  if shuffle_files:
    files = files.shuffle(len(paths), seed=seed)
  # Interleaving reads several shards at once, so even an unshuffled read is
  # fast; `deterministic` keeps the order reproducible.
  ds = files.interleave(tf.data.TFRecordDataset, cycle_length=4,
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.map(parse_fn(names, spec["shape"]), num_parallel_calls=tf.data.AUTOTUNE)


def read_all(directory, names=None):
  """Reads a whole split into memory as numpy arrays sorted by index (small splits only)."""
  out = {}
  for rec in dataset(directory, names).batch(1024).as_numpy_iterator():
    for k, v in rec.items():
      out.setdefault(k, []).append(v)
  out = {k: np.concatenate(v) for k, v in out.items()}
  order = np.argsort(out["index"])
  return {k: v[order] for k, v in out.items()}


def merge_splits(parts, directory):
  """Moves the shards of several splits (e.g. one per worker) into one split, atomically.

  Args:
    parts: split folders with the same names and shape; removed afterwards.
    directory: the merged split's folder.

  Returns:
    The merged record count.
  """
  specs = [read_spec(p) for p in parts]
  tmp = directory.rstrip("/") + ".tmp"
  if tf.io.gfile.exists(tmp):
    tf.io.gfile.rmtree(tmp)
  tf.io.gfile.makedirs(tmp)
  shard, moved = 0, []
  for part in parts:
    for path in shard_files(part):
      moved.append(os.path.join(tmp, f"part-{shard:05d}.tfrecord"))
      os.replace(path, moved[-1])
      shard += 1
  spec = {**specs[0], "count": sum(s["count"] for s in specs), "num_shards": shard,
          "shard_bytes": _sizes(moved)}
  with tf.io.gfile.GFile(os.path.join(tmp, SPEC_FILE), "w") as f:
    json.dump(spec, f, indent=2)
  if tf.io.gfile.exists(directory):
    shutil.rmtree(directory)
  os.replace(tmp, directory)
  for part in parts:
    shutil.rmtree(part, ignore_errors=True)
  return spec["count"]
