"""Semi-supervised NMF separation (Smaragdis, Raj & Shashanka 2007), in TF ops.

The SS-NMF baseline of the paper's tables:
  1. `fit_bases`: sparse NMF of the clean B samples, V_b ~ H_b W_b, gives l
     bases W_b.
  2. `separate`: NMF of the mixtures with 2l bases whose first l are W_b, held
     fixed: V_y ~ H_b W_b + H_x W_x. Then b = H_b W_b and x = H_x W_x, or the
     Wiener-style mask x = V_y * H_x W_x / (H_x W_x + H_b W_b).

Samples are rows: V [N, D] holds N non-negative samples of D values each
(flattened images, magnitude-spectrogram frames). Both stages minimise

  J(H, W) = KL(V | H W) + sparsity * sum(H),   every row of W in the unit
                                                L2 ball (||W_k||_2 <= 1),

the generalised Kullback-Leibler divergence
KL(V | R) = sum(V log(V / R) - V + R) with an L1 penalty on the activations H.
Bounding the bases' size stops the penalty from being dodged by growing W and
shrinking H; the penalty then pushes every basis to unit norm. The bound is
Euclidean on purpose: with rows summing to one, sum(H) would equal
sum(H W) = sum(V) at the optimum and the penalty would only rescale H (no
sparsity at all). `sparsity` is free of the data's scale (multiplying V by c
multiplies both terms of J by c) and acts against sum_d W_kd, which lies
between 1 and sqrt(D) for a unit-norm basis (about 10 for an MNIST stroke).

KL rather than the Euclidean distance (Smaragdis et al. use KL) because its
majorise-minimise steps are cheap for both factors:
  H <- H * ((V / HW) W^T) / (sum_d W + sparsity)
  W <- argmin over the unit ball of KL's auxiliary function, row by row:
       W_kd = 2 a_kd / (c_k + sqrt(c_k^2 + 8 mu_k a_kd)),
       a = W * (H^T (V / HW)), c_k = sum_n H_nk,
  with mu_k >= 0 the Lagrange multiplier of the norm bound, found by
  bisection (mu_k = 0 gives the ordinary update a / c). Each step minimises a
  function that touches J at the current point and lies above it, so J never
  increases: no renormalise-and-hope heuristic. Fixed rows of W are left out
  of the W step, which stays exact because the auxiliary function separates
  over rows.

Speed: all work is [batch, K] x [K, D] matrix products in float32, with the
samples processed `batch_size` rows at a time so that memory is bounded by
V, H and a few [batch_size, D] intermediates whatever N is. One iteration
costs about 8 N K D flops. Measured on 2 shared CPU cores, MNIST protocol
sizes (12k B, 12k mixtures, 5k test, l = 100) at 784 pixels: 67, 276 and
83 ms per iteration for the three stages (about 85 s for 200 iterations);
at 4096 pixels 303, 1112 and 192 ms (about 5.5 min).
"""

import time
from typing import NamedTuple

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError

# Floors for divisions: reconstructions and row sums smaller than this are
# treated as this (only reached by all-zero pixels, which stay zero).
_EPS = 1e-12
_LOG_SECONDS = 15.0


class Separation(NamedTuple):
  """Output of `separate`.

  x: estimate of the unobserved source, [M, D] float32.
  b: estimate of the observed source, [M, D] float32.
  w_x: the X bases, [num_x_bases, D] float32, rows of unit L2 norm (at most).
  w_b: the B bases as the solver held them at the end, [l, D] float32; equal
    to the `w_b` given (they are fixed).
  history: objective before each iteration and after the last,
    [iterations + 1] float64, per entry of V (J / (M * D)).
  """
  x: np.ndarray
  b: np.ndarray
  w_x: np.ndarray
  w_b: np.ndarray
  history: np.ndarray


# ---------------------------------------------------------------------------
# Input checks: one clear InputError instead of NaN factors or a TF traceback.


def _check_samples(v, name):
  """Returns v as float32 [N, D] or raises InputError."""
  try:
    v = np.asarray(v, dtype=np.float32)
  except (TypeError, ValueError) as e:
    raise InputError(f"{name}: expected a numeric array of samples [N, D], "
                     f"could not convert it ({e})") from None
  if v.ndim != 2:
    raise InputError(f"{name}: expected samples as a 2-D array [N, D] (one "
                     f"flattened image or spectrogram frame per row), got "
                     f"shape {v.shape}")
  if v.shape[0] < 1 or v.shape[1] < 1:
    raise InputError(f"{name}: is empty (shape {v.shape}); expected at least "
                     "one sample of at least one value")
  finite = np.isfinite(v)
  if not finite.all():
    rows = int(np.sum(~finite.all(axis=1)))
    raise InputError(f"{name}: {rows} sample(s) contain NaN or Inf; expected "
                     "finite values")
  low = float(v.min())
  if low < 0:
    row = int(np.argmin(v.min(axis=1)))
    raise InputError(
        f"{name}: NMF needs non-negative data (pixels or spectrogram "
        f"magnitudes), but the minimum is {low:.4g} (sample {row}). Images "
        "must be non-negative with a zero background: scale pixels to "
        "[0, 1] (x / 255), and invert (1 - v) only images already in [0, 1]; "
        "use magnitudes, not signed or log spectrograms.")
  return v


def _check_count(value, name, low, high, what):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise InputError(f"{name}: expected an integer, got {value!r}")
  if not low <= value <= high:
    raise InputError(f"{name}={value}: expected {low} <= {name} <= {high} "
                     f"({what})")
  return int(value)


def _check_rank(num, v_shape, name, data_name):
  n, d = v_shape
  return _check_count(
      num, name, 1, min(n, d),
      f"at most min(samples, values per sample) = min({n}, {d}) for "
      f"{data_name} of shape {v_shape}")


def _check_settings(sparsity, iterations, batch_size):
  try:
    sparsity = float(sparsity)
  except (TypeError, ValueError):
    raise InputError(f"sparsity: expected a number >= 0, got {sparsity!r}") from None
  if not np.isfinite(sparsity) or sparsity < 0:
    raise InputError(f"sparsity={sparsity}: expected a finite number >= 0")
  iterations = _check_count(iterations, "iterations", 0, 10**7,
                            "multiplicative-update iterations")
  batch_size = _check_count(batch_size, "batch_size", 1, 10**9,
                            "samples processed at once")
  return sparsity, iterations, batch_size


def _check_bases(w, name, d, data_name):
  """Returns bases as float32 [K, D] or raises InputError."""
  w = _check_samples(w, name)
  if w.shape[1] != d:
    raise InputError(f"{name}: bases have {w.shape[1]} values each but "
                     f"{data_name} has {d} per sample; they must match")
  if not (w.sum(axis=1) > 0).all():
    raise InputError(f"{name}: {int(np.sum(w.sum(axis=1) <= 0))} basis "
                     "row(s) are all zero; every basis needs a positive value")
  return w


# ---------------------------------------------------------------------------
# The solver: one iteration = an H sweep then a W sweep over row batches.


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
  log_high = tf.math.log(tf.reduce_sum(a, axis=1, keepdims=True) / 2.0 + _EPS)
  log_low = log_high - 27.6  # log(1e-12)
  for _ in range(bisections):
    mid = 0.5 * (log_low + log_high)
    ok = inside(tf.exp(mid))
    log_high = tf.where(ok, mid, log_high)
    log_low = tf.where(ok, log_low, mid)
  new_w = tf.where(inside(tf.zeros_like(c)), a / tf.maximum(c, _EPS),
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
  denominator = tf.reduce_sum(w, axis=1) + sparsity + _EPS  # [K]
  new_h = tf.TensorArray(tf.float32, size=0, dynamic_size=True,
                         infer_shape=False)
  for start in tf.range(0, n, batch_size):
    v_b = v[start:start + batch_size]
    h_b = h[start:start + batch_size]
    r = tf.maximum(tf.matmul(h_b, w), _EPS)
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
      r = tf.maximum(tf.matmul(h_b, w), _EPS)
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
    r = tf.maximum(tf.matmul(h_b, w), _EPS)
    objective += _kl_objective(v_b, r, h_b, sparsity)
  return objective


def _initial_activations(v, w, rng):
  """Random activations [N, K] whose reconstruction has about the data's mass."""
  num_bases = w.shape[0]
  totals = v.sum(axis=1, keepdims=True) / (num_bases * w.sum(axis=1).mean())
  return (totals * rng.uniform(0.5, 1.5, (v.shape[0], num_bases))).astype(
      np.float32)


def _unit_rows(w):
  return (w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float32)


def _random_bases(num_bases, d, rng):
  return _unit_rows(rng.uniform(0.0, 1.0, (num_bases, d)) + 1e-3)


def _solve(v, h0, w0, learn, sparsity, iterations, batch_size, stage):
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
    # Progress of long runs only: at most one line per _LOG_SECONDS, so that
    # many small calls (test batches) stay quiet.
    now = time.perf_counter()
    if now - last_log >= _LOG_SECONDS:
      logging.info("NMF %s: iteration %d/%d, objective %.6g, %.0f s", stage,
                   i + 1, iterations, history[-1], now - started)
      last_log = now
  history.append(float(_objective(v_t, h, w, sparsity_t, batch_t)) * scale)
  return h.numpy(), w.numpy(), np.asarray(history, np.float64)


def fit_bases(v_b, num_bases, sparsity=2.0, iterations=200, seed=0,
              batch_size=1024):
  """Sparse KL-NMF of clean B samples: V_b ~ H_b W_b.

  Args:
    v_b: B samples [N, D], non-negative and finite (e.g. flattened images on
      the [0, 1] scale with a zero background, or magnitude-spectrogram
      frames).
    num_bases: l, the number of bases, 1 <= l <= min(N, D).
    sparsity: weight >= 0 of the L1 penalty on the activations H_b,
      independent of the data's scale (see the module docstring). 2.0 was
      best of {0, 0.1, 0.3, 1, 2, 4, 8} for MNIST 0-4 vs 5-9 at 784 pixels.
    iterations: multiplicative-update iterations (>= 0).
    seed: integer seed of the random initialisation.
    batch_size: samples per matrix product; bounds memory, not the result.

  Returns:
    (w_b, history): w_b [num_bases, D] float32, non-negative rows of L2
    norm <= 1 (= 1 when sparsity > 0); history [iterations + 1] float64, the objective
    (KL(V_b | H_b W_b) + sparsity * sum(H_b)) / (N * D) before each
    iteration and after the last; it never increases (up to float32
    rounding).

  Raises:
    InputError: negative, NaN/Inf or empty data, or a bad setting.
  """
  v_b = _check_samples(v_b, "v_b")
  num_bases = _check_rank(num_bases, v_b.shape, "num_bases", "v_b")
  sparsity, iterations, batch_size = _check_settings(sparsity, iterations,
                                                     batch_size)
  rng = np.random.default_rng(seed)
  w0 = _random_bases(num_bases, v_b.shape[1], rng)
  h0 = _initial_activations(v_b, w0, rng)
  _, w_b, history = _solve(v_b, h0, w0, np.ones(num_bases, bool), sparsity,
                           iterations, batch_size, "fit_bases")
  return w_b, history


@tf.function(reduce_retracing=True)
def _split(v, h, w, num_b, batch_size, wiener_mask):
  """Source estimates (x, b) [N, D] from activations and bases."""
  n = tf.shape(v)[0]
  xs = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
  bs = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
  for start in tf.range(0, n, batch_size):
    h_b = h[start:start + batch_size]
    b = tf.matmul(h_b[:, :num_b], w[:num_b])
    x = tf.matmul(h_b[:, num_b:], w[num_b:])
    if wiener_mask:
      v_b = v[start:start + batch_size]
      mask = x / tf.maximum(x + b, _EPS)
      x, b = v_b * mask, v_b * (1.0 - mask)
    xs = xs.write(start // batch_size, x)
    bs = bs.write(start // batch_size, b)
  return xs.concat(), bs.concat()


def separate(v_y, w_b, num_x_bases=None, sparsity=2.0, iterations=200, seed=0,
             wiener_mask=True, w_x=None, learn_x_bases=True, batch_size=1024):
  """Splits mixtures with NMF whose B bases are fixed: V_y ~ H_b W_b + H_x W_x.

  Training mixtures: learn W_x (and all activations) from them. Test
  mixtures: pass the learned `w_x` with `learn_x_bases=False` so that only
  the activations are fitted.

  Args:
    v_y: mixtures [M, D], non-negative and finite.
    w_b: B bases [l, D] from `fit_bases`; never modified.
    num_x_bases: number of X bases; None takes it from `w_x`. When learning,
      1 <= num_x_bases <= min(M, D).
    sparsity: weight >= 0 of the L1 penalty on all activations.
    iterations: multiplicative-update iterations (>= 0).
    seed: integer seed of the random initialisation.
    wiener_mask: True: x = V_y * m, b = V_y * (1 - m) with
      m = H_x W_x / (H_x W_x + H_b W_b), so x + b = V_y. False: x = H_x W_x,
      b = H_b W_b. The mask was 2-3 dB better on MNIST (the L1 penalty
      shrinks H W below V; the mask undoes that).
    w_x: optional X bases [num_x_bases, D] to start from (or to use as they
      are when learn_x_bases is False). Rows to be learned are first scaled
      to unit L2 norm; fixed ones are used as given.
    learn_x_bases: update W_x; False needs `w_x`.
    batch_size: samples per matrix product; bounds memory, not the result.

  Returns:
    Separation(x, b, w_x, w_b, history): x and b [M, D] float32; w_x
    [num_x_bases, D] float32; w_b [l, D] as the solver held it at the end;
    history [iterations + 1] float64, the objective
    (KL(V_y | H W) + sparsity * sum(H)) / (M * D), never increasing.

  Raises:
    InputError: negative, NaN/Inf or empty data, mismatched bases, or a bad
      setting.
  """
  v_y = _check_samples(v_y, "v_y")
  d = v_y.shape[1]
  w_b = _check_bases(w_b, "w_b", d, "v_y")
  sparsity, iterations, batch_size = _check_settings(sparsity, iterations,
                                                     batch_size)
  rng = np.random.default_rng(seed)
  if w_x is None:
    if not learn_x_bases:
      raise InputError("separate: learn_x_bases=False needs the X bases w_x "
                       "(from separating the training mixtures)")
    if num_x_bases is None:
      raise InputError("num_x_bases: expected an integer, got None (and no "
                       "w_x to take it from)")
    num_x_bases = _check_rank(num_x_bases, v_y.shape, "num_x_bases", "v_y")
    w_x = _random_bases(num_x_bases, d, rng)
  else:
    w_x = _check_bases(w_x, "w_x", d, "v_y")
    if num_x_bases is not None and num_x_bases != w_x.shape[0]:
      raise InputError(f"num_x_bases={num_x_bases} but w_x has "
                       f"{w_x.shape[0]} rows; they must agree")
    if learn_x_bases:  # Learned rows live in the unit ball: start there.
      w_x = _unit_rows(w_x)
  num_b = w_b.shape[0]
  w0 = np.concatenate([w_b, w_x]).astype(np.float32)
  learn = np.concatenate([np.zeros(num_b, bool),
                          np.full(w_x.shape[0], bool(learn_x_bases))])
  h0 = _initial_activations(v_y, w0, rng)
  h, w, history = _solve(v_y, h0, w0, learn, sparsity, iterations, batch_size,
                         "separate")
  x, b = _split(tf.constant(v_y), tf.constant(h), tf.constant(w),
                tf.constant(num_b), tf.constant(batch_size, tf.int32),
                bool(wiener_mask))
  return Separation(x.numpy(), b.numpy(), w[num_b:], w[:num_b], history)
