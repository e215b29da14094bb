"""Semi-supervised NMF separation (Smaragdis, Raj & Shashanka 2007), in TF ops.

(The method's pure half of NMF; the trainer's half is trainers/nmf.py.)

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

The input checks are eggsep_tf/nmf_checks.py, the iterations eggsep_tf/nmf_solver.py.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from eggsep_tf import nmf_checks
from eggsep_tf import nmf_solver
from eggsep_tf.errors import InputError


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
  v_b = nmf_checks.check_samples(v_b, "v_b")
  num_bases = nmf_checks.check_rank(num_bases, v_b.shape, "num_bases", "v_b")
  sparsity, iterations, batch_size = nmf_checks.check_settings(sparsity, iterations,
                                                     batch_size)
  rng = np.random.default_rng(seed)
  w0 = nmf_solver.random_bases(num_bases, v_b.shape[1], rng)
  h0 = nmf_solver.initial_activations(v_b, w0, rng)
  _, w_b, history = nmf_solver.solve(v_b, h0, w0, np.ones(num_bases, bool), sparsity,
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
      mask = x / tf.maximum(x + b, nmf_solver.EPS)
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
  v_y = nmf_checks.check_samples(v_y, "v_y")
  d = v_y.shape[1]
  w_b = nmf_checks.check_bases(w_b, "w_b", d, "v_y")
  sparsity, iterations, batch_size = nmf_checks.check_settings(sparsity, iterations,
                                                     batch_size)
  rng = np.random.default_rng(seed)
  if w_x is None:
    if not learn_x_bases:
      raise InputError("separate: learn_x_bases=False needs the X bases w_x "
                       "(from separating the training mixtures)")
    if num_x_bases is None:
      raise InputError("num_x_bases: expected an integer, got None (and no "
                       "w_x to take it from)")
    num_x_bases = nmf_checks.check_rank(num_x_bases, v_y.shape, "num_x_bases", "v_y")
    w_x = nmf_solver.random_bases(num_x_bases, d, rng)
  else:
    w_x = nmf_checks.check_bases(w_x, "w_x", d, "v_y")
    if num_x_bases is not None and num_x_bases != w_x.shape[0]:
      raise InputError(f"num_x_bases={num_x_bases} but w_x has "
                       f"{w_x.shape[0]} rows; they must agree")
    if learn_x_bases:  # Learned rows live in the unit ball: start there.
      w_x = nmf_solver.unit_rows(w_x)
  num_b = w_b.shape[0]
  w0 = np.concatenate([w_b, w_x]).astype(np.float32)
  learn = np.concatenate([np.zeros(num_b, bool),
                          np.full(w_x.shape[0], bool(learn_x_bases))])
  h0 = nmf_solver.initial_activations(v_y, w0, rng)
  h, w, history = nmf_solver.solve(v_y, h0, w0, learn, sparsity, iterations, batch_size,
                         "separate")
  x, b = _split(tf.constant(v_y), tf.constant(h), tf.constant(w),
                tf.constant(num_b), tf.constant(batch_size, tf.int32),
                bool(wiener_mask))
  return Separation(x.numpy(), b.numpy(), w[num_b:], w[:num_b], history)
