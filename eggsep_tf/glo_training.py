"""The GLO training steps of LMM (paper eqs. 5-6), on one device or under a strategy.

eggsep_tf/lmm.py holds the rest of the method (test-time fit, LM and LMM
estimates) and re-exports these steps. Under a tf.distribute strategy each
replica's reconstruction loss is weighted by its share of the global batch
(eggsep_tf/replicas.py) and the latent tables, mirrored variables, are projected
into the unit ball once per step after the update.
"""

import tensorflow as tf

from eggsep_tf import replicas
from eggsep_tf.losses import l1_loss


def _apply(tape, loss, optimizer, variables, latent_optimizer, latent_variables):
  """Applies the gradients of `loss`; codes use `latent_optimizer` when one is given."""
  if latent_optimizer is None:
    variables = variables + latent_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return
  grads, latent_grads = tape.gradient(loss, (variables, latent_variables))
  optimizer.apply_gradients(zip(grads, variables))
  with replicas.in_order(variables):
    latent_optimizer.apply_gradients(zip(latent_grads, latent_variables))


def make_stage1_step(g_b, optimizer, loss_fn=l1_loss, latent_optimizer=None, strategy=None):
  """Stage 1 (eq. 5): one step on G_B and the codes of a batch of B samples.

  Args:
    g_b: GloGenerator over the B training samples, built (under strategy.scope()).
    optimizer: a Keras optimizer built on g_b.trainable_variables (decoder and
      codes), or on g_b.decoder_variables if `latent_optimizer` is given.
    loss_fn: reconstruction loss (a mean over the batch).
    latent_optimizer: optional optimizer of the codes alone, built on
      g_b.latents.trainable_variables (GLO often gives codes a larger rate).
    strategy: a tf.distribute.Strategy, or None for the default (one device).

  Returns:
    step(indices [batch] int, b [batch, H, W, C]) -> {"recon": scalar}, the loss
    over the global batch. Codes are projected into the unit ball after the update.
  """

  def replica_step(indices, b):
    with tf.GradientTape() as tape:
      loss = loss_fn(g_b(indices), b) * replicas.batch_share(tf.shape(b)[0])
    _apply(tape, loss, optimizer, g_b.decoder_variables, latent_optimizer,
           g_b.latents.trainable_variables)
    return {"recon": loss}

  return replicas.distributed_step(strategy, replica_step, after=g_b.project_latents)


def make_stage2_step(g_b, g_x, z_b_table, optimizer, loss_fn=l1_loss, latent_optimizer=None,
                     strategy=None):
  """Stage 2 (eq. 6): G_B frozen; G_X and the code pair of each mixture fit y.

  Args:
    g_b: the stage-1 GloGenerator (only its decoder is used; not updated).
    g_x: GloGenerator whose table holds z_X, one code per training mixture.
    z_b_table: LatentTable holding z_B, one code per training mixture, of
      g_b's latent_dim.
    optimizer: a Keras optimizer built on
      g_x.trainable_variables + z_b_table.trainable_variables, or on
      g_x.decoder_variables if `latent_optimizer` is given.
    loss_fn: reconstruction loss (a mean over the batch).
    latent_optimizer: optional optimizer of the codes, built on
      g_x.latents.trainable_variables + z_b_table.trainable_variables.
    strategy: a tf.distribute.Strategy, or None for the default (one device).

  Returns:
    step(indices [batch] int mixture indices, y [batch, H, W, C]) ->
    {"recon": scalar}. Both tables are projected into the unit ball after the
    update.
  """

  def replica_step(indices, y):
    with tf.GradientTape() as tape:
      estimate = g_b.decode(z_b_table(indices)) + g_x(indices)
      loss = loss_fn(estimate, y) * replicas.batch_share(tf.shape(y)[0])
    _apply(tape, loss, optimizer, g_x.decoder_variables, latent_optimizer,
           g_x.latents.trainable_variables + z_b_table.trainable_variables)
    return {"recon": loss}

  def project():
    g_x.project_latents()
    z_b_table.project()

  return replicas.distributed_step(strategy, replica_step, after=project)
