"""The synthetic-mixture pipeline: (b + x_t, b) pairs built on the fly.

NES trains T on mixtures of a real b and a current estimate x_t drawn
independently at random (paper eq. 3). Both come from record splits on disk and
stream through bounded shuffle buffers, so memory does not grow with the data.
"""

import tensorflow as tf

from eggsep_tf.data import tfrecords


def _shuffled_stream(directory, name, shuffle_buffer, seed):
  """Endless stream of one tensor of a split, reshuffled every pass."""
  ds = tfrecords.dataset(directory, [name], shuffle_files=True, seed=seed)
  # A bounded buffer: a fair shuffle of a split up to its size, and flat memory
  # beyond it (shards are also read in random order).
  ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  return ds.repeat()


def _log_uniform(seed, low, high):
  """One gain drawn log-uniformly from [low, high] with a stateless seed."""
  u = tf.random.stateless_uniform([], seed, dtype=tf.float32)
  return tf.exp(tf.math.log(low) + u * (tf.math.log(high) - tf.math.log(low)))


def mixture_dataset(b_dir, x_dir, batch_size, seed, x_name="x", shuffle_buffer=4096,
                    with_sources=False, gain_range=None, x_gain_range=None, x_scale=1.0):
  """Batches of synthetic mixtures b + x_t with their targets b.

  Args:
    b_dir: split of clean B samples (tensor "b").
    x_dir: split of current X estimates (tensor `x_name`).
    batch_size: examples per batch (the global batch under a strategy).
    seed: int; b and x streams use different seeds, so that pairs are drawn
      independently of each other.
    x_name: name of the X tensor in `x_dir`.
    shuffle_buffer: records held per stream for shuffling.
    with_sources: also return the x and b indices and x (for tests).
    gain_range: optional (low, high): b and x_t are each scaled by their own gain,
      drawn log-uniformly from [low, high] per example (the target is the scaled
      b). Loudness and brightness then say nothing about which source a part
      belongs to: without it, NES's first iteration from x_0 = c * y learns to
      remove whatever is c times fainter than b (all of x_0 is), which real
      mixtures do not have, and its estimates lose to Const.
    x_gain_range: optional (low, high) for x_t instead of gain_range.
    x_scale: a fixed factor on every x_t before any random gain (NES's level
      matching, see eggsep_tf.nes.level_scale).

  Returns:
    An endless tf.data.Dataset of (mixture [batch, H, W, C], b [batch, H, W, C])
    or, with `with_sources`, dicts {"mixture", "b", "x", "b_index", "x_index"}.
  """
  b_stream = _shuffled_stream(b_dir, "b", shuffle_buffer, seed)
  x_stream = _shuffled_stream(x_dir, x_name, shuffle_buffer, seed + 7919)

  def combine(b_rec, x_rec, draw):
    b, x = b_rec["b"], x_rec[x_name]
    if x_scale != 1.0:
      x = x * tf.cast(x_scale, x.dtype)
    if gain_range is not None:
      low, high = (float(g) for g in gain_range)
      b = b * tf.cast(_log_uniform(tf.stack([draw, 1]), low, high), b.dtype)
    if (x_gain_range or gain_range) is not None:
      low, high = (float(g) for g in (x_gain_range or gain_range))
      x = x * tf.cast(_log_uniform(tf.stack([draw, 2]), low, high), x.dtype)
    # The sum is taken here, not stored: every epoch pairs b's with new x's.
    mixture = b + x
    if with_sources:
      return {"mixture": mixture, "b": b, "x": x,
              "b_index": b_rec["index"], "x_index": x_rec["index"]}
    return mixture, b

  # One random int64 per pair (seeded: a resumed run draws the same gains).
  draws = tf.data.Dataset.random(seed=seed + 104_729)
  ds = tf.data.Dataset.zip((b_stream, x_stream, draws))
  ds = ds.map(combine, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size, drop_remainder=True)
  return ds.prefetch(tf.data.AUTOTUNE)


def supervised_dataset(b_dir, y_dir, batch_size, seed, shuffle_buffer=4096, gain_range=None,
                       x_gain_range=None):
  """Batches of (b + x, b) with the TRUE x of the training mixtures: the upper bound's data.

  The same pipeline as NES with the oracle estimate x_t = x: real b's drawn
  independently of true x's, so the supervised model gets the same pairing
  augmentation as NES and differs only in knowing X.
  """
  return mixture_dataset(b_dir, y_dir, batch_size, seed, x_name="x",
                         shuffle_buffer=shuffle_buffer, gain_range=gain_range,
                         x_gain_range=x_gain_range)


def unpaired_dataset(y_dir, b_dir, batch_size, seed, shuffle_buffer=4096):
  """Batches of (mixtures, B samples) drawn independently: Adversarial Masking's data.

  AM never pairs a mixture with a B sample; the two streams only share a batch.

  Args:
    y_dir: split of mixtures (tensor "y").
    b_dir: split of clean B samples (tensor "b").
    batch_size: examples of each kind per batch.
    seed: int; the B stream uses another seed than the mixtures.
    shuffle_buffer: records held per stream for shuffling.

  Returns:
    An endless tf.data.Dataset of (y [batch, ...], b [batch, ...]).
  """
  y_stream = _shuffled_stream(y_dir, "y", shuffle_buffer, seed).map(lambda r: r["y"])
  b_stream = _shuffled_stream(b_dir, "b", shuffle_buffer, seed + 7919).map(lambda r: r["b"])
  ds = tf.data.Dataset.zip((y_stream, b_stream))
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
