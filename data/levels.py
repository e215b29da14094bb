"""Mean level of one tensor over a record split: NES's level matching reads it."""

import tensorflow as tf

from eggsep_tf.data import iteration
from eggsep_tf.data import tfrecords


def mean_level(directory, name, statistic, limit=4096, batch_size=256):
  """The mean value ("mean") or mean square ("power") of tensor `name` over a split.

  Args:
    directory: a record split.
    name: the tensor, e.g. "y", "b", "x".
    statistic: "mean" or "power".
    limit: records read at most (the first ones; splits are written in random order).
  """
  if statistic not in ("mean", "power"):
    raise ValueError(f"statistic must be 'mean' or 'power', got {statistic!r}")
  ds = tfrecords.dataset(directory, [name]).take(limit).map(lambda r: r[name])
  total, count = 0.0, 0
  for batch in iteration.elements(ds.batch(batch_size)):
    values = tf.cast(batch, tf.float64)
    total += float(tf.reduce_sum(values * values if statistic == "power" else values))
    count += int(tf.size(values))
  return total / count if count else float("nan")
