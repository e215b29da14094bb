"""Adversarial Masking (AM, paper section 4.2) as plain functions.

(The method's pure half of AM; the trainer's half is trainers/am.py.)

A mask net m is trained so that y * m(y) looks like a sample of B to a
least-squares discriminator D with spectral normalisation:
  D:    mean D(y m(y))^2 + mean (D(b) - 1)^2                  (eq. 11)
  mask: mean (D(y m(y)) - 1)^2 + lambda * mean |m(y) - 1|      (eq. 12)
The magnitude prior lambda * L1(m, 1) pulls the mask towards 1 (keep all of y
as B), against a mask that shrinks y to whatever part D accepts most easily.
The result is used like a NES mask net: x = y (1 - m(y)), b = y m(y).
"""

import tensorflow as tf

from eggsep_tf import replicas


def discriminator_loss(d_fake, d_real):
  """LS-GAN discriminator loss (eq. 11): mean D(fake)^2 + mean (D(real) - 1)^2."""
  return tf.reduce_mean(tf.square(d_fake)) + tf.reduce_mean(tf.square(d_real - 1.0))


def mask_losses(d_fake, mask, magnitude_weight):
  """Mask net loss (eq. 12) and its parts.

  Args:
    d_fake: discriminator scores of y * m(y).
    mask: m(y) [batch, H, W, C] in [0, 1].
    magnitude_weight: lambda of the magnitude prior.

  Returns:
    (total, adversarial, prior) scalars.
  """
  adversarial = tf.reduce_mean(tf.square(d_fake - 1.0))
  prior = tf.reduce_mean(tf.abs(mask - 1.0))
  return adversarial + magnitude_weight * prior, adversarial, prior


def make_train_step(mask_model, discriminator, mask_optimizer, disc_optimizer,
                    magnitude_weight=0.0, strategy=None):
  """A compiled AM step updating the discriminator and the mask net once each.

  Both updates use the gradients of one forward pass (simultaneous updates).
  y * m(y) and b go through D as one batch, so its spectral normalisation
  does one power iteration per step. Under a strategy every mean is weighted by
  the replica's share of the global batch (eggsep_tf/replicas.py), so the losses
  and gradients are those of the global batch.

  Args:
    mask_model: mask net y -> m(y) in [0, 1] (e.g. MaskUNet), built.
    discriminator: LsganDiscriminator, built.
    mask_optimizer: Keras optimizer built on mask_model.trainable_variables.
    disc_optimizer: Keras optimizer built on discriminator.trainable_variables.
    magnitude_weight: lambda in eq. 12 (0 turns the prior off).
    strategy: a tf.distribute.Strategy the models and optimizers were built
      under, or None for the default (one device).

  Returns:
    step(y [n_y, H, W, C] mixtures, b [n_b, H, W, C] clean B samples) -> dict of
    scalars: d_loss, d_real (mean D(b)), d_fake (mean D(y m(y))), mask_loss,
    mask_adversarial, mask_prior.
  """
  magnitude_weight = float(magnitude_weight)

  def replica_step(y, b):
    y = tf.cast(y, tf.float32)
    b = tf.cast(b, tf.float32)
    n_y = tf.shape(y)[0]
    share_y, share_b = replicas.batch_share(n_y), replicas.batch_share(tf.shape(b)[0])
    with tf.GradientTape(persistent=True) as tape:
      mask = tf.cast(mask_model(y, training=True), tf.float32)
      fake = y * mask
      scores = discriminator(tf.concat([fake, b], axis=0), training=True)
      d_fake, d_real = scores[:n_y], scores[n_y:]
      fake_term = tf.reduce_mean(tf.square(d_fake)) * share_y
      real_term = tf.reduce_mean(tf.square(d_real - 1.0)) * share_b
      d_loss = fake_term + real_term  # eq. 11 (discriminator_loss) over the global batch.
      _, adversarial, prior = mask_losses(d_fake, mask, magnitude_weight)
      adversarial, prior = adversarial * share_y, prior * share_y
      mask_loss = adversarial + magnitude_weight * prior
    d_vars = discriminator.trainable_variables
    m_vars = mask_model.trainable_variables
    d_grads = tape.gradient(d_loss, d_vars)
    m_grads = tape.gradient(mask_loss, m_vars)
    del tape
    disc_optimizer.apply_gradients(zip(d_grads, d_vars))
    with replicas.in_order(d_vars):
      mask_optimizer.apply_gradients(zip(m_grads, m_vars))
    return {"d_loss": d_loss, "d_real": tf.reduce_mean(d_real) * share_b,
            "d_fake": tf.reduce_mean(d_fake) * share_y, "mask_loss": mask_loss,
            "mask_adversarial": adversarial, "mask_prior": prior}

  return replicas.distributed_step(strategy, replica_step)
