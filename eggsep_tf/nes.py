"""Neural Egg Separation: the pieces of one iteration as plain functions.

(The method's pure half of NES; the trainer's half is trainers/nes.py.)

One NES iteration (paper Algorithm 1):
  1. train T on synthetic pairs (b + x_t, b)       -> make_train_step
  2. x_{t+1} = y - T(y) for every training mixture  -> estimate_batches
  3. evaluate on test mixtures                      -> evaluate
The trainer (trainers/nes.py) owns the loop, checkpoints and logging; reading and
writing record splits is data/estimates.py's (this module does no file I/O).
"""

import math

import numpy as np

import tensorflow as tf

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


def level_scale(y_level, b_level, x_level, statistic, max_scale=10.0, min_share=0.05):
  """The factor that gives the estimates x_t the level X must have: NES's level matching.

  For independent sources, means add (E[y] = E[x] + E[b]) and so do the mean
  squares of zero-mean signals such as audio (E[y^2] = E[x^2] + E[b^2]), so the
  data fix X's level even though no clean x is seen: E[y] - E[b] ("mean") or
  E[y^2] - E[b^2] ("power"), floored at `min_share` of y's. Mixtures b + s * x_t
  then have the level of the real mixtures the mask net is applied to. Without
  it an iteration that removes a little of X makes the next x_t quieter, the
  next synthetic mixtures more dominated by b, the next mask closer to 1 and
  the next estimate quieter still: NES shrinks X towards silence.

  Args:
    y_level, b_level, x_level: the statistic over the mixtures, the B samples and x_t.
    statistic: "mean" (returns the ratio) or "power" (its square root).
    max_scale: the factor is clipped to [1 / max_scale, max_scale].
    min_share: floor of X's level as a share of y's (B as loud as the mixtures).
  """
  if statistic not in ("mean", "power"):
    raise ValueError(f"statistic must be 'mean' or 'power', got {statistic!r}")
  if not all(map(math.isfinite, (y_level, b_level, x_level))) or x_level <= 0:
    return 1.0
  target = max(y_level - b_level, min_share * y_level)
  ratio = target / x_level
  scale = math.sqrt(ratio) if statistic == "power" else ratio
  return float(min(max(scale, 1.0 / max_scale), max_scale))


def estimate_batches(separate_fn, batches, progress=None):
  """x_{t+1} = y - T(y) for batches of mixtures (paper Algorithm 1, step 3).

  Args:
    separate_fn: y [batch, ...] -> (x, b, mask).
    batches: iterable of {"y": [batch, ...], "index": [batch]} (tensors or arrays).
    progress: optional object with update(n) (eggsep_tf.progress.Progress).

  Yields:
    {"x": float32 array [batch, ...], "index": int array [batch]}.

  Raises:
    FloatingPointError: an estimate is NaN or infinite.
  """
  for rec in batches:
    x, _, _ = separate_fn(rec["y"])
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
      raise FloatingPointError("non-finite X estimates while re-estimating")
    if progress is not None:
      progress.update(len(x))
    yield {"x": x, "index": np.asarray(rec["index"])}


def evaluate(separate_fn, batches, num_examples=8, progress=None):
  """PSNR/SSIM of X and B estimates over batches with references.

  Args:
    separate_fn: y -> (x, b, mask).
    batches: iterable of {"y", "x", "b"} batches [batch, H, W, C] on the [0, 1] scale.
    num_examples: how many first examples to return for image summaries.
    progress: optional object with update(n).

  Returns:
    (scores, examples): scores is a dict psnr_x, ssim_x, psnr_b, ssim_b (means
    over all examples, dB and unitless); examples is a dict of numpy arrays
    mixture, x, b, mask, x_true, b_true of the first examples.
  """
  sums = {"psnr_x": [], "ssim_x": [], "psnr_b": [], "ssim_b": []}
  shown = None
  for rec in batches:
    x, b, mask = separate_fn(rec["y"])
    sums["psnr_x"].append(np.asarray(metrics.psnr(x, rec["x"])))
    sums["ssim_x"].append(np.asarray(metrics.ssim(x, rec["x"])))
    sums["psnr_b"].append(np.asarray(metrics.psnr(b, rec["b"])))
    sums["ssim_b"].append(np.asarray(metrics.ssim(b, rec["b"])))
    if shown is None:
      shown = {"mixture": np.asarray(rec["y"]), "x": np.asarray(x), "b": np.asarray(b),
               "mask": np.asarray(mask), "x_true": np.asarray(rec["x"]),
               "b_true": np.asarray(rec["b"])}
      shown = {k: v[:num_examples] for k, v in shown.items()}
    if progress is not None:
      progress.update(len(rec["y"]))
  scores = {k: float(np.mean(np.concatenate(v))) for k, v in sums.items()}
  return scores, shown
