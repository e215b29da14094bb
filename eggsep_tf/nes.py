"""Neural Egg Separation: the pieces of one iteration as plain functions.

One NES iteration (paper Algorithm 1):
  1. train T on synthetic pairs (b + x_t, b)       -> make_train_step
  2. x_{t+1} = y - T(y) for every training mixture  -> estimate_split
  3. evaluate on test mixtures                      -> evaluate_split
The trainer (trainers/nes.py) owns the loop, checkpoints and logging.
"""

import numpy as np
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import losses
from eggsep_tf import metrics


def make_train_step(model, optimizer, strategy, global_batch_size, jit_compile=False):
  """A compiled training step that runs under `strategy`.

  The step is a custom loop rather than `model.fit`, which fails under
  MultiWorkerMirroredStrategy with Keras 3 (keras-team/keras#20585).

  Args:
    model: the mask network, built under `strategy.scope()`.
    optimizer: a Keras optimizer built (optimizer.build) under the same scope.
    strategy: a tf.distribute.Strategy (the default strategy on one device).
    global_batch_size: examples per step over all replicas, for loss scaling.
    jit_compile: compile the step with XLA. Off by default: on CPU it was
      1.5x slower than TF's oneDNN kernels (bench/speedup.py --xla).

  Returns:
    step(mixture, target) -> {"l1": scalar}: mixture and target are
    per-replica batches as produced by a distributed dataset, or plain tensors.
  """

  def replica_step(mixture, target):
    with tf.GradientTape() as tape:
      mask = model(mixture, training=True)
      per_example = losses.masked_l1_per_example(mixture, mask, target)
      loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
      # Identity unless the optimizer scales the loss (mixed_float16).
      scaled = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  @tf.function(jit_compile=jit_compile or None)
  def step(mixture, target):
    per_replica = strategy.run(replica_step, args=(mixture, target))
    return {"l1": strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)}

  return step


def make_separate_fn(model, jit_compile=False):
  """A compiled y -> (x, b, mask) in inference mode (batch norm uses its moving averages).

  jit_compile: compile with XLA (off by default: slower on CPU, bench/speedup.py --xla).
  """

  @tf.function(reduce_retracing=True, jit_compile=jit_compile or None)
  def separate(mixture):
    mask = model(mixture, training=False)
    b = mixture * mask
    return mixture - b, b, mask

  return separate


def const_separate_fn(fraction):
  """The Const baseline: x = c * y, b = (1 - c) * y."""

  def separate(mixture):
    return fraction * mixture, (1.0 - fraction) * mixture, tf.fill(tf.shape(mixture), 1.0 - fraction)

  return separate


def estimate_split(separate_fn, y_dir, out_dir, batch_size, num_shards=4,
                   progress=None, shard=None):
  """Writes x_{t+1} = y - T(y) for every mixture of a split (paper Algorithm 1, step 3).

  Records keep the mixtures' indices. The output split appears atomically.

  Args:
    separate_fn: y [batch, H, W, C] -> (x, b, mask).
    y_dir: split holding "y".
    out_dir: destination split (tensor "x").
    batch_size: inference batch size.
    num_shards: output files.
    progress: optional callable(n_done) called after each batch.
    shard: optional (worker index, number of workers): estimate only every
      number-th mixture, starting at index, so that workers split the work.

  Returns:
    The number of estimates written.
  """
  ds = tfrecords.dataset(y_dir, ["y"])
  if shard is not None:
    ds = ds.shard(shard[1], shard[0])
  ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

  def batches():
    done = 0
    for rec in ds:
      x, _, _ = separate_fn(rec["y"])
      x = x.numpy()
      if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite X estimates while re-estimating {y_dir}")
      done += len(x)
      if progress:
        progress(done)
      yield {"x": x, "index": rec["index"].numpy()}

  return tfrecords.write_split(out_dir, None, num_shards=num_shards, batches=batches())


def evaluate_split(separate_fn, test_dir, batch_size, num_examples=8):
  """PSNR/SSIM of X and B estimates over a split with references.

  Args:
    separate_fn: y -> (x, b, mask).
    test_dir: split with "y", "x", "b".
    batch_size: inference batch size.
    num_examples: how many first test examples to return for image summaries.

  Returns:
    (scores, examples): scores is a dict psnr_x, ssim_x, psnr_b, ssim_b (means
    over the split, dB and unitless); examples is a dict of numpy arrays
    mixture, x, b, mask, x_true, b_true of the first examples by index.
  """
  ds = tfrecords.dataset(test_dir, ["y", "x", "b"]).batch(batch_size)
  sums = {"psnr_x": [], "ssim_x": [], "psnr_b": [], "ssim_b": []}
  shown = None
  for rec in ds:
    x, b, mask = separate_fn(rec["y"])
    sums["psnr_x"].append(metrics.psnr(x, rec["x"]).numpy())
    sums["ssim_x"].append(metrics.ssim(x, rec["x"]).numpy())
    sums["psnr_b"].append(metrics.psnr(b, rec["b"]).numpy())
    sums["ssim_b"].append(metrics.ssim(b, rec["b"]).numpy())
    if shown is None:
      shown = {"mixture": rec["y"].numpy(), "x": np.asarray(x), "b": np.asarray(b),
               "mask": np.asarray(mask), "x_true": rec["x"].numpy(),
               "b_true": rec["b"].numpy()}
      shown = {k: v[:num_examples] for k, v in shown.items()}
  scores = {k: float(np.mean(np.concatenate(v))) for k, v in sums.items()}
  return scores, shown
