"""Training steps under a tf.distribute strategy whose losses are means over a batch.

The LMM and AM losses are means over every element of a batch (not per-example
losses like NES's), and their last batch of an epoch may be short. Under a strategy
each replica sees its share of the global batch, so a replica's mean is weighted by
its share of the examples: the weighted means add up to the mean over the global
batch, and the gradients (which the optimizer sums over replicas) to its gradient.
On one replica the weight is exactly 1: the default strategy computes what a plain
step would.

  step = replicas.distributed_step(strategy, replica_step, after=project)
"""

import tensorflow as tf


def batch_share(examples):
  """This replica's share of the global batch: examples / (examples over all replicas).

  Call it inside strategy.run (or outside any strategy: the share is then 1).

  Args:
    examples: scalar int or float, the examples of this replica's batch.

  Returns:
    float32 scalar in (0, 1]; 1.0 exactly on one replica.
  """
  local = tf.cast(examples, tf.float32)
  total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local)
  return local / tf.maximum(total, 1.0)


def in_order(updated):
  """A context whose ops run after the updates of the variables `updated`.

  Two optimizers in one step each all-reduce their gradients across replicas;
  unless the second waits for the first, replicas may start the two collectives
  in different orders and TF aborts them (shape mismatch in the collective).

    optimizer.apply_gradients(zip(grads, variables))
    with replicas.in_order(variables):
      other_optimizer.apply_gradients(zip(other_grads, other_variables))
  """
  return tf.control_dependencies([tf.identity(v) for v in updated[:1]])


def distributed_step(strategy, replica_step, after=None):
  """A compiled step that runs replica_step on every replica and sums its losses.

  Args:
    strategy: a tf.distribute.Strategy, or None for the default (one device).
    replica_step: (*batch) -> dict of scalar losses, each already weighted by
      batch_share (so that their sum over replicas is the global-batch value).
    after: optional () -> None run once after the update in cross-replica context,
      e.g. projecting a latent table into the unit ball (a mirrored variable is
      assigned on every replica at once).

  Returns:
    step(*batch) -> dict of the losses over the global batch; batch is a
    per-replica value from a distributed dataset, or plain tensors.
  """
  strategy = strategy or tf.distribute.get_strategy()

  @tf.function
  def step(*batch):
    per_replica = strategy.run(replica_step, args=batch)
    if after is not None:
      after()
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()}

  return step
