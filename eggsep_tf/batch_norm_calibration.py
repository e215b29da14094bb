"""Batch-norm statistics measured on the data the net will separate.

NES trains the mask net on synthetic mixtures b + x_t, so the moving averages
that batch norm keeps during training describe synthetic mixtures. At the first
iterations x_t = c * y is far from a real X and those statistics differ most
from the real mixtures' (the net then removes part of X as well: an estimate of
about 0.58 x + 0.21 b on a 64x64 colour pair). The authors' demo sidesteps it by
re-estimating with batch norm in training mode (each batch of real mixtures
normalised by its own statistics), which makes an estimate depend on the other
mixtures in its batch. `recalibrate` instead replaces every batch-norm layer's
moving mean and variance by their average over batches of real mixtures, with
the layers normalising by batch statistics as in training: the statistics the
demo uses, frozen, so that inference stays deterministic per example and the
exported separator needs no batch.
"""

import keras


def batch_norm_layers(model):
  """Every keras BatchNormalization layer inside `model` (depth first)."""
  return [layer for layer in model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
          if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate(model, batches):
  """Sets every batch norm's moving mean/variance to their mean over `batches`.

  Each batch is run with training=True, so layer k normalises with the batch's
  statistics (as while training) and its moving statistics become the running
  mean of the per-batch means and (biased) variances: momentum (n - 1) / n at
  the n-th batch. Weights and gammas/betas do not change.

  Args:
    model: a built Keras model containing BatchNormalization layers.
    batches: iterable of mask-net inputs [batch, ...] (e.g. real mixtures y).

  Returns:
    The number of batches used (0 leaves the model unchanged).
  """
  layers = batch_norm_layers(model)
  if not layers:
    return 0
  saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy())
           for layer in layers]
  count = 0
  try:
    for batch in batches:
      count += 1
      for layer in layers:
        layer.momentum = (count - 1.0) / count  # The n-th batch gets weight 1/n.
      model(batch, training=True)  # Eager, so that each call reads the new momentum.
  finally:
    for layer, (momentum, mean, variance) in zip(layers, saved):
      layer.momentum = momentum
      if count == 0:
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
  return count
