"""Latent Mixture Masking (LM / LMM, paper section 4.1) as plain functions.

(The method's pure half of LMM; the trainer's half is trainers/lmm.py.)

  stage 1 (eq. 5):  G_B and one code per B sample fit the B samples
                    -> make_stage1_step
  stage 2 (eq. 6):  G_B frozen; G_X, a z_X per mixture (G_X's own table) and a
                    z_B per mixture (a separate LatentTable) fit
                    G_B(z_B) + G_X(z_X) = y                  -> make_stage2_step
  test    (eq. 7):  generators frozen, only the codes of new mixtures are
                    optimised                                 -> make_latent_fit_fn
  LM      (eq. 8):  b = G_B(z_B), x = G_X(z_X)                -> lm_estimates
  LMM     (eq. 10): m = G_B / (G_B + G_X), b = m y, x = (1 - m) y
                                                              -> lmm_mask, apply_mask
make_separate_fn wraps the test-time fit into the y -> (x, b, mask) function
that data.estimates.estimate_split and evaluate_split take; make_training_separate_fn
reads the stage-2 codes of the training mixtures instead (no fit needed, e.g.
for the x_0 of LMM+NES). The trainer owns the loops.
Images and spectrograms are [batch, H, W, C] non-negative tensors.
"""

import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.losses import l1_loss
from eggsep_tf.losses import l2_loss
from eggsep_tf.glo_training import make_stage1_step  # noqa: F401  (stage 1, eq. 5)
from eggsep_tf.glo_training import make_stage2_step  # noqa: F401  (stage 2, eq. 6)
from eggsep_tf.latent_table import project_to_unit_ball
from eggsep_tf.perceptual_loss import PerceptualLoss

LOSSES = ("l1", "l2", "perceptual")


def make_reconstruction_loss(loss="l1", vgg_weights=None):
  """The GLO reconstruction loss: fn(estimate, target) -> scalar.

  Measured here on sparse images (MNIST 0-4, 1000 digits, 1000 steps of
  batch 32): with "l1" the generator collapses to an all-zero output (the
  per-pixel median of digits is 0 and the sigmoid saturates before the codes
  carry information; L1 0.127, the same as predicting 0), while "l2" fits
  (L1 0.021). Prefer "l2" for data whose background is mostly 0.

  Args:
    loss: "l1" (the paper's default), "l2", or "perceptual" (VGG16 features,
      the paper's choice for colour images; see PerceptualLoss).
    vgg_weights: local VGG16 include_top=False weights file; needed for
      "perceptual" (nothing is downloaded).

  Raises:
    InputError: unknown loss, or "perceptual" without a usable weights file.
  """
  if loss == "l1":
    return l1_loss
  if loss == "l2":
    return l2_loss
  if loss == "perceptual":
    return PerceptualLoss(vgg_weights)
  raise InputError(f"loss={loss!r}: expected one of {', '.join(LOSSES)}")


def make_latent_fit_fn(g_b, g_x, loss_fn=l1_loss, steps=100, learning_rate=0.03,
                       seed=0, init_norm=0.5):
  """Test time (eq. 7): optimises a code pair per new mixture, generators frozen.

  Each call starts from fresh random codes of norm about `init_norm` and runs
  `steps` Adam steps (beta1 0.9, beta2 0.999) on the codes only, projecting
  them into the unit ball after each step. Adam is written out on the code
  tensors so that the whole fit is one graph (a tf.while_loop) that works for
  any batch size without per-batch optimiser variables.

  Args:
    g_b, g_x: trained GloGenerators (their decoders are used, not updated).
    loss_fn: reconstruction loss (a mean over the batch; each mixture's codes
      only affect its own term).
    steps: optimisation steps.
    learning_rate: Adam step size for the codes.
    seed: seed of the initial codes (calls draw successive codes from it).
    init_norm: typical norm of the initial codes.

  Returns:
    fit(y [batch, H, W, C]) -> (z_b [batch, latent_dim_b], z_x [batch, latent_dim_x]).
  """
  generator = tf.random.Generator.from_seed(seed)
  beta1, beta2, epsilon = 0.9, 0.999, 1e-8

  def initial_codes(n, dim):
    return project_to_unit_ball(generator.normal([n, dim]) * (init_norm / dim ** 0.5))

  @tf.function(reduce_retracing=True)
  def fit(y):
    y = tf.cast(y, tf.float32)
    n = tf.shape(y)[0]
    z = (initial_codes(n, g_b.latent_dim), initial_codes(n, g_x.latent_dim))
    zeros = tuple(tf.zeros_like(c) for c in z)

    def body(i, z, m, v):
      with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(z)
        loss = loss_fn(g_b.decode(z[0]) + g_x.decode(z[1]), y)
      grads = tape.gradient(loss, z)
      t = tf.cast(i + 1, tf.float32)
      m = tuple(beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads))
      v = tuple(beta2 * vi + (1 - beta2) * tf.square(g) for vi, g in zip(v, grads))
      rate = learning_rate * tf.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
      z = tuple(project_to_unit_ball(zi - rate * mi / (tf.sqrt(vi) + epsilon))
                for zi, mi, vi in zip(z, m, v))
      return i + 1, z, m, v

    _, z, _, _ = tf.while_loop(lambda i, *_: i < steps, body, (0, z, zeros, zeros))
    return z

  return fit


def lm_estimates(g_b, g_x, z_b, z_x):
  """LM (eq. 8): x = G_X(z_X), b = G_B(z_B). Returns (x, b), [batch, H, W, C] each."""
  return g_x.decode(z_x), g_b.decode(z_b)


def lmm_mask(b_hat, x_hat, epsilon=1e-6):
  """LMM mask (eq. 10): m = G_B / (G_B + G_X), guarded against 0 / 0.

  Computed as (b + eps) / (b + x + 2 eps): within eps of the formula where
  the generators are not both ~0, and 0.5 (an even split) where they are.

  Args:
    b_hat, x_hat: non-negative generator outputs [batch, H, W, C].
    epsilon: guard.

  Returns:
    Mask [batch, H, W, C] in [0, 1].
  """
  b_hat = tf.maximum(tf.cast(b_hat, tf.float32), 0.0)
  x_hat = tf.maximum(tf.cast(x_hat, tf.float32), 0.0)
  return (b_hat + epsilon) / (b_hat + x_hat + 2.0 * epsilon)


def apply_mask(y, mask):
  """b = y * m, x = y * (1 - m) (eq. 10). Returns (x, b)."""
  b = y * mask
  return y - b, b


def make_separate_fn(g_b, g_x, loss_fn=l1_loss, steps=100, learning_rate=0.03, seed=0,
                     method="lmm"):
  """y -> (x, b, mask) by test-time latent fitting (data.estimates.estimate_split/evaluate_split).

  Args:
    g_b, g_x: trained generators.
    loss_fn, steps, learning_rate, seed: as in make_latent_fit_fn.
    method: "lmm" (mask applied to y, eq. 10) or "lm" (generator outputs,
      eq. 8; the returned mask is then the LMM mask, for display).

  Returns:
    separate(y [batch, H, W, C]) -> (x, b, mask), each [batch, H, W, C].
  """
  if method not in ("lm", "lmm"):
    raise InputError(f"method={method!r}: expected lm or lmm")
  fit = make_latent_fit_fn(g_b, g_x, loss_fn, steps, learning_rate, seed)

  def separate(y):
    x_hat, b_hat = lm_estimates(g_b, g_x, *fit(y))
    mask = lmm_mask(b_hat, x_hat)
    if method == "lm":
      return x_hat, b_hat, mask
    x, b = apply_mask(tf.cast(y, tf.float32), mask)
    return x, b, mask

  return separate


def make_training_separate_fn(g_b, g_x, z_b_table, method="lmm"):
  """(indices, y) -> (x, b, mask) for training mixtures, from their stage-2 codes.

  Args:
    g_b, g_x, z_b_table: as trained by make_stage2_step (g_x's table holds z_X).
    method: "lmm" or "lm", as in make_separate_fn.

  Returns:
    separate(indices [batch] int mixture indices, y [batch, H, W, C]) -> (x, b, mask).
  """
  if method not in ("lm", "lmm"):
    raise InputError(f"method={method!r}: expected lm or lmm")

  @tf.function(reduce_retracing=True)
  def separate(indices, y):
    x_hat, b_hat = lm_estimates(g_b, g_x, z_b_table(indices), g_x.latents(indices))
    mask = lmm_mask(b_hat, x_hat)
    if method == "lm":
      return x_hat, b_hat, mask
    x, b = apply_mask(tf.cast(y, tf.float32), mask)
    return x, b, mask

  return separate


def separate_both(g_b, g_x, fit, y):
  """LM and LMM estimates from one test-time fit (saves a second fit).

  Args:
    g_b, g_x: trained generators.
    fit: a function from make_latent_fit_fn.
    y: mixtures [batch, H, W, C].

  Returns:
    dict lm_x, lm_b, lmm_x, lmm_b, mask, each [batch, H, W, C].
  """
  x_hat, b_hat = lm_estimates(g_b, g_x, *fit(y))
  mask = lmm_mask(b_hat, x_hat)
  x, b = apply_mask(tf.cast(y, tf.float32), mask)
  return {"lm_x": x_hat, "lm_b": b_hat, "lmm_x": x, "lmm_b": b, "mask": mask}
