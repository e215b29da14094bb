"""The solver of eggsep_tf/nmf.py: majorise-minimise iterations of the sparse KL
objective J(H, W) (eggsep_tf/nmf.py's docstring derives the updates). One iteration is
an H sweep then a W sweep over row batches; W's rows stay in the unit L2 ball.
"""

import time

from absl import logging
import numpy as np
import tensorflow as tf

# Floors for divisions: reconstructions and row sums smaller than this are
# treated as this (only reached by all-zero pixels, which stay zero).
EPS = 1e-12
LOG_SECONDS = 15.0


def _kl_objective(v, r, h_batch, sparsity):
  """sum over a batch of KL(V | R) + sparsity * sum(H), float64."""
  kl = tf.reduce_sum(tf.math.xlogy(v, v) - tf.math.xlogy(v, r) - v + r)
  return tf.cast(kl + sparsity * tf.reduce_sum(h_batch), tf.float64)


def _ball_w_step(w, numerator, activation_totals, bisections=24):
  """KL's auxiliary function minimised over rows in the unit L2 ball.

  Args:
    w: current bases [K, D] float32.
    numerator: H^T (V / HW) [K, D] float32, summed over all samples.
    activation_totals: sum_n H_nk [K] float32.
    bisections: halvings of each row's bracket of log(mu); 24 pin mu down to
      about 1e-6 of itself.

  Returns:
    New bases [K, D] float32, each row of L2 norm <= 1. Rows whose
    activations are all zero (unused bases) are kept as they are.
  """
  a = w * numerator
  c = activation_totals[:, None]

  def at(mu):  # The row minimisers for multipliers mu [K, 1]; a / c at mu = 0.
    return 2.0 * a / (c + tf.sqrt(c * c + 8.0 * mu * a))

  def inside(mu):
    return tf.reduce_sum(tf.square(at(mu)), axis=1, keepdims=True) <= 1.0

  # Bracket: at mu = sum(a) / 2 every row is inside (W_kd <= sqrt(a_kd / 2 mu)),
  # and a row still outside at 1e-12 of that is taken at that multiplier.
  log_high = tf.math.log(tf.reduce_sum(a, axis=1, keepdims=True) / 2.0 + EPS)
  log_low = log_high - 27.6  # log(1e-12)
  for _ in range(bisections):
    mid = 0.5 * (log_low + log_high)
    ok = inside(tf.exp(mid))
    log_high = tf.where(ok, mid, log_high)
    log_low = tf.where(ok, log_low, mid)
  new_w = tf.where(inside(tf.zeros_like(c)), a / tf.maximum(c, EPS),
                   at(tf.exp(log_high)))
  # Rounding could leave a row a hair outside: never leave the ball.
  new_w /= tf.maximum(tf.norm(new_w, axis=1, keepdims=True), 1.0)
  return tf.where(c > 0, new_w, w)


@tf.function(reduce_retracing=True)
def _iterate(v, h, w, learn, sparsity, batch_size, update_w):
  """One multiplicative-update iteration.

  Args:
    v: data [N, D] float32, non-negative.
    h: activations [N, K] float32.
    w: bases [K, D] float32 (rows in the unit L2 ball where learned).
    learn: bool [K], which rows of w are updated.
    sparsity: float32 scalar, L1 weight on h.
    batch_size: int32 scalar, rows of v per step.
    update_w: Python bool; False skips the W sweep (all bases fixed).

  Returns:
    (h, w, objective): the updated factors and J(h, w) before the update,
    float64 scalar.
  """
  n = tf.shape(v)[0]
  objective = tf.constant(0.0, tf.float64)
  # H step: independent per sample, so batches can be updated one by one.
  denominator = tf.reduce_sum(w, axis=1) + sparsity + EPS  # [K]
  new_h = tf.TensorArray(tf.float32, size=0, dynamic_size=True,
                         infer_shape=False)
  for start in tf.range(0, n, batch_size):
    v_b = v[start:start + batch_size]
    h_b = h[start:start + batch_size]
    r = tf.maximum(tf.matmul(h_b, w), EPS)
    objective += _kl_objective(v_b, r, h_b, sparsity)
    new_h = new_h.write(start // batch_size,
                        h_b * tf.matmul(v_b / r, w, transpose_b=True)
                        / denominator)
  h = tf.ensure_shape(new_h.concat(), h.shape)
  if update_w:
    # W step: needs H^T (V / HW) summed over all samples with the new H.
    numerator = tf.zeros_like(w)
    for start in tf.range(0, n, batch_size):
      v_b = v[start:start + batch_size]
      h_b = h[start:start + batch_size]
      r = tf.maximum(tf.matmul(h_b, w), EPS)
      numerator += tf.matmul(h_b, v_b / r, transpose_a=True)
    new_w = _ball_w_step(w, numerator, tf.reduce_sum(h, axis=0))
    w = tf.where(learn[:, None], new_w, w)
  return h, w, objective


@tf.function(reduce_retracing=True)
def _objective(v, h, w, sparsity, batch_size):
  """J(h, w), float64 scalar, without updating anything."""
  n = tf.shape(v)[0]
  objective = tf.constant(0.0, tf.float64)
  for start in tf.range(0, n, batch_size):
    v_b = v[start:start + batch_size]
    h_b = h[start:start + batch_size]
    r = tf.maximum(tf.matmul(h_b, w), EPS)
    objective += _kl_objective(v_b, r, h_b, sparsity)
  return objective


def initial_activations(v, w, rng):
  """Random activations [N, K] whose reconstruction has about the data's mass."""
  num_bases = w.shape[0]
  totals = v.sum(axis=1, keepdims=True) / (num_bases * w.sum(axis=1).mean())
  return (totals * rng.uniform(0.5, 1.5, (v.shape[0], num_bases))).astype(
      np.float32)


def unit_rows(w):
  return (w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float32)


def random_bases(num_bases, d, rng):
  return unit_rows(rng.uniform(0.0, 1.0, (num_bases, d)) + 1e-3)


def solve(v, h0, w0, learn, sparsity, iterations, batch_size, stage):
  """Runs the iterations; returns (h, w, history) as numpy arrays."""
  v_t = tf.constant(v)
  h = tf.constant(h0)
  w = tf.constant(w0)
  learn_t = tf.constant(learn)
  sparsity_t = tf.constant(sparsity, tf.float32)
  batch_t = tf.constant(batch_size, tf.int32)
  update_w = bool(learn.any())
  scale = 1.0 / v.size
  history = []
  started = last_log = time.perf_counter()
  for i in range(iterations):
    h, w, objective = _iterate(v_t, h, w, learn_t, sparsity_t, batch_t,
                               update_w)
    history.append(float(objective) * scale)
    # Progress of long runs only: at most one line per LOG_SECONDS, so that
    # many small calls (test batches) stay quiet.
    now = time.perf_counter()
    if now - last_log >= LOG_SECONDS:
      logging.info("NMF %s: iteration %d/%d, objective %.6g, %.0f s", stage,
                   i + 1, iterations, history[-1], now - started)
      last_log = now
  history.append(float(_objective(v_t, h, w, sparsity_t, batch_t)) * scale)
  return h.numpy(), w.numpy(), np.asarray(history, np.float64)
