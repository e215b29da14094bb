"""VGG16 perceptual loss from a local weights file (nothing is downloaded)."""

import os

import keras
import tensorflow as tf

from eggsep_tf.errors import InputError

DEFAULT_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3")


class PerceptualLoss:
  """L1 on pixels plus L1 between VGG16 feature maps: loss(estimate, target) -> scalar.

  Images are expected in [0, 1] (values above 1, such as mixtures, are fine);
  one-channel images are repeated to three. They are scaled to [0, 255] and
  mean-centred as VGG16 was trained (keras.applications.vgg16.preprocess_input).
  Feature terms are on VGG's own scale; `layer_weights` sets their balance
  against the pixel term.

  Args:
    weights_path: local VGG16 weights without the classifier, e.g. Keras'
      vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 or a file written by
      VGG16(include_top=False).save_weights(...).
    layers: names of the VGG16 layers whose outputs are compared.
    layer_weights: one weight per layer (default 1 each).
    pixel_weight: weight of the pixel L1 term.
  """

  def __init__(self, weights_path, layers=DEFAULT_LAYERS, layer_weights=None,
               pixel_weight=1.0):
    if not weights_path:
      raise InputError("loss=perceptual needs a local VGG16 weights file (include_top=False, "
                       "e.g. vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5); none was given "
                       "and nothing is downloaded. Use loss=l1 otherwise")
    if not os.path.isfile(weights_path):
      raise InputError(f"VGG16 weights file {weights_path}: not found (expected a local "
                       "VGG16 include_top=False weights file)")
    self.layers = tuple(layers)
    self.layer_weights = tuple(layer_weights or [1.0] * len(self.layers))
    if len(self.layer_weights) != len(self.layers):
      raise InputError(f"perceptual loss: {len(self.layer_weights)} layer weights for "
                       f"{len(self.layers)} layers; expected one per layer")
    self.pixel_weight = pixel_weight
    try:
      vgg = keras.applications.VGG16(include_top=False, weights=weights_path,
                                     input_shape=(None, None, 3))
    except (ValueError, OSError) as e:
      raise InputError(f"VGG16 weights file {weights_path}: could not be loaded as VGG16 "
                       f"weights without the classifier ({e})") from None
    try:
      outputs = [vgg.get_layer(name).output for name in self.layers]
    except ValueError:
      raise InputError(f"perceptual loss layers {list(self.layers)}: expected VGG16 layer "
                       "names such as block1_conv2, block3_conv3") from None
    vgg.trainable = False
    self.features = keras.Model(vgg.input, outputs)

  def _features(self, images):
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
      images = tf.repeat(images, 3, axis=-1)
    images = keras.applications.vgg16.preprocess_input(images * 255.0)
    outputs = self.features(images, training=False)
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]

  def __call__(self, estimate, target):
    """Args: estimate, target [batch, H, W, 1 or 3]. Returns: scalar loss (mean over batch)."""
    loss = self.pixel_weight * tf.reduce_mean(tf.abs(estimate - target))
    for w, fa, fb in zip(self.layer_weights, self._features(estimate), self._features(target)):
      loss += w * tf.reduce_mean(tf.abs(fa - fb))
    return loss
