"""Re-estimation and evaluation over record splits: the file side of eggsep_tf/nes.py.

  estimate_split(separate_fn, y_dir, out_dir, batch_size)  -> writes split "x"
  evaluate_split(separate_fn, test_dir, batch_size)         -> (scores, examples)

eggsep_tf.nes does the work on batches (no file I/O); this module reads the
splits (data/tfrecords.py), writes the estimates atomically and shows progress.
"""

import os

import tensorflow as tf

from eggsep_tf import nes
from eggsep_tf.data import iteration
from eggsep_tf.data import tfrecords
from eggsep_tf.progress import Progress


def estimate_split(separate_fn, y_dir, out_dir, batch_size, num_shards=4, progress=None,
                   shard=None):
  """Writes x_{t+1} = y - T(y) for every mixture of a split (paper Algorithm 1, step 3).

  Records keep the mixtures' indices. The output split appears atomically.

  Args:
    separate_fn: y [batch, H, W, C] -> (x, b, mask).
    y_dir: split holding "y".
    out_dir: destination split (tensor "x").
    batch_size: inference batch size.
    num_shards: output files.
    progress: optional object with update(n) and close(); default a Progress
      over the split's mixtures.
    shard: optional (worker index, number of workers): estimate only every
      number-th mixture, starting at index, so that workers split the work.

  Returns:
    The number of estimates written.
  """
  spec = tfrecords.read_spec(y_dir)
  ds = tfrecords.dataset(y_dir, ["y"])
  total = spec["count"]
  if shard is not None:
    ds = ds.shard(shard[1], shard[0])
    total = len(range(shard[0], total, shard[1]))
  ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
  progress = progress or Progress(total, f"estimating {os.path.basename(out_dir)}",
                                  unit="mixtures")
  try:
    try:
      estimates = nes.estimate_batches(separate_fn, iteration.elements(ds), progress)
      return tfrecords.write_split(out_dir, None, num_shards=num_shards, batches=estimates)
    except FloatingPointError:
      raise FloatingPointError(f"non-finite X estimates while re-estimating {y_dir}") from None
  finally:
    progress.close()


def evaluate_split(separate_fn, test_dir, batch_size, num_examples=8, progress=None):
  """PSNR/SSIM of X and B estimates over a split with references ("y", "x", "b").

  Returns:
    (scores, examples) as eggsep_tf.nes.evaluate: mean psnr_x, ssim_x, psnr_b,
    ssim_b over the split, and the first `num_examples` examples by index.
  """
  total = tfrecords.read_spec(test_dir)["count"]
  ds = tfrecords.dataset(test_dir, ["y", "x", "b"]).batch(batch_size)
  progress = progress or Progress(total, f"evaluating {os.path.basename(test_dir)}",
                                  unit="mixtures")
  try:
    return nes.evaluate(separate_fn, iteration.elements(ds), num_examples, progress)
  finally:
    progress.close()
