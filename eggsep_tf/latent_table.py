"""A table of trainable latent codes, one per sample, kept inside the unit ball (GLO)."""

import keras
import tensorflow as tf


def project_to_unit_ball(z):
  """z / max(1, ||z||) row by row: codes inside the ball are left as they are.

  Args:
    z: [..., latent_dim] latent codes.

  Returns:
    Codes of the same shape with Euclidean norm <= 1 along the last axis.
  """
  norm = tf.norm(z, axis=-1, keepdims=True)
  return z / tf.maximum(norm, 1.0)


@keras.saving.register_keras_serializable(package="eggsep_tf")
class LatentTable(keras.layers.Layer):
  """One trainable latent code per sample, looked up by sample index.

  The codes live in a keras.layers.Embedding table of shape
  [num_samples, latent_dim]. They start as Gaussian draws scaled so that their
  expected norm is about `init_norm`, and `project()` pulls every code back into
  the unit ball; trainers call it after each optimiser step (GLO, paper eqs.
  5-7).

  Args:
    num_samples: rows of the table (training samples, mixtures, ...).
    latent_dim: length of each code.
    init_norm: typical norm of a fresh code (< 1 so that it starts inside).
  """

  def __init__(self, num_samples, latent_dim, init_norm=0.5, **kwargs):
    super().__init__(**kwargs)
    self.num_samples = num_samples
    self.latent_dim = latent_dim
    self.init_norm = init_norm
    self.embedding = keras.layers.Embedding(
        num_samples, latent_dim, name="codes",
        embeddings_initializer=keras.initializers.RandomNormal(
            stddev=init_norm / latent_dim ** 0.5))

  def build(self, input_shape=None):
    self.embedding.build(None)
    self.project()
    super().build(input_shape)

  @property
  def codes(self):
    """The [num_samples, latent_dim] table variable."""
    return self.embedding.embeddings

  def call(self, indices):
    """Args: indices [batch] integers in [0, num_samples). Returns: [batch, latent_dim]."""
    return self.embedding(indices)

  def project(self):
    """Projects every code into the unit ball (in place)."""
    self.codes.assign(project_to_unit_ball(self.codes))

  def get_config(self):
    return {**super().get_config(), "num_samples": self.num_samples,
            "latent_dim": self.latent_dim, "init_norm": self.init_norm}
