"""GLO generator: a latent code per training sample and a convolutional decoder.

Generative Latent Optimisation trains the decoder and the codes together by
reconstruction; there is no encoder. LMM (Latent Mixture Masking, paper
section 4.1) uses one generator for B and one for X.
"""

import math

import keras
import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.latent_table import LatentTable

OUTPUT_ACTIVATIONS = ("sigmoid", "softplus")


@keras.saving.register_keras_serializable(package="eggsep_tf")
class GloGenerator(keras.Model):
  """Latent table plus decoder: call(indices) -> images, decode(z) -> images.

  Decoder: Dense -> reshape to [h0, w0, filters[0]] -> one stride-2
  Conv2DTranspose + ReLU per entry of `filters` -> 3x3 Conv2D to the image
  channels -> non-negative output (scale * sigmoid or scale * softplus),
  cropped to `image_shape`. h0 = ceil(height / 2**len(filters)), so any size
  works (28x28 with two stages starts at 7x7).

  Args:
    num_samples: latent codes in the table (training samples of this source).
    image_shape: (height, width, channels) of the generated images.
    latent_dim: length of each code.
    filters: channels of the upsampling stages, coarsest first; the Dense
      layer emits filters[0] channels.
    output_activation: "sigmoid" (values in (0, scale): images) or "softplus"
      (values in (0, inf) times scale: magnitude spectrograms).
    output_scale: multiplies the activation (e.g. the largest pixel value).
    init_norm: typical norm of a fresh latent code.
  """

  def __init__(self, num_samples, image_shape=(28, 28, 1), latent_dim=32,
               filters=(64, 32), output_activation="sigmoid", output_scale=1.0,
               init_norm=0.5, **kwargs):
    super().__init__(**kwargs)
    if output_activation not in OUTPUT_ACTIVATIONS:
      raise InputError(f"output_activation={output_activation!r}: expected one of "
                       f"{OUTPUT_ACTIVATIONS}")
    if not filters:
      raise InputError("filters: expected at least one upsampling stage")
    self.num_samples = num_samples
    self.image_shape = tuple(int(s) for s in image_shape)
    self.latent_dim = latent_dim
    self.filters = list(filters)
    self.output_activation = output_activation
    self.output_scale = output_scale
    self.init_norm = init_norm

    stride = 2 ** len(self.filters)
    height, width, channels = self.image_shape
    self.start_shape = (math.ceil(height / stride), math.ceil(width / stride), self.filters[0])
    self.latents = LatentTable(num_samples, latent_dim, init_norm, name="latents")
    self.project_in = keras.layers.Dense(math.prod(self.start_shape), name="project")
    self.reshape = keras.layers.Reshape(self.start_shape)
    self.upsamplers = [keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same",
                                                    activation="relu", name=f"up{i}")
                       for i, f in enumerate(self.filters)]
    # The head runs in float32 so that outputs stay non-negative under mixed precision.
    self.head = keras.layers.Conv2D(channels, 3, padding="same", dtype="float32", name="head")

  def build(self, input_shape=None):
    self.latents.build()
    self.decode(tf.zeros([1, self.latent_dim]))
    super().build(input_shape)

  def decode(self, z):
    """Args: z [batch, latent_dim]. Returns: images [batch, height, width, channels] >= 0."""
    h = self.reshape(keras.activations.relu(self.project_in(z)))
    for upsample in self.upsamplers:
      h = upsample(h)
    h = self.head(h)
    if self.output_activation == "sigmoid":
      h = keras.activations.sigmoid(h)
    else:
      h = keras.activations.softplus(h)
    height, width, _ = self.image_shape
    return self.output_scale * h[:, :height, :width, :]

  def call(self, indices):
    """Args: indices [batch] integer sample indices. Returns: G(z_indices), images as in decode."""
    return self.decode(self.latents(indices))

  @property
  def decoder_variables(self):
    """Trainable variables of the decoder (everything but the latent table)."""
    codes = {id(v) for v in self.latents.trainable_variables}
    return [v for v in self.trainable_variables if id(v) not in codes]

  def project_latents(self):
    """Projects every latent code into the unit ball; call after each optimiser step."""
    self.latents.project()

  def get_config(self):
    return {**super().get_config(), "num_samples": self.num_samples,
            "image_shape": list(self.image_shape), "latent_dim": self.latent_dim,
            "filters": self.filters, "output_activation": self.output_activation,
            "output_scale": self.output_scale, "init_norm": self.init_norm}
