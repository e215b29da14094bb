"""The reference demo's mask network: an encoder-decoder without skip connections."""

import keras

from eggsep_tf import padding
from eggsep_tf.batch_norm import FusedBatchNorm


@keras.saving.register_keras_serializable(package="eggsep_tf")
class EncoderDecoderMask(keras.Model):
  """The authors' architecture (guide section 2), kept for comparison.

  Encoder: 4x4 stride-2 convolutions without bias, LeakyReLU 0.2, batch norm on
  all but the first. Decoder: 4x4 stride-2 transposed convolutions with batch
  norm and ReLU, then one to the mask channels and a sigmoid. Inputs of any
  size are padded to a multiple of 2**len(filters) and cropped back (this
  replaces the demo's one-row reflection pad for 257 frequency bins).

  Args:
    filters: encoder channels, finest first (the demo: 64, 128, 256, 512).
    out_channels: mask channels; None means "as many as the input".
  """

  def __init__(self, filters=(64, 128, 256, 512), out_channels=None, **kwargs):
    super().__init__(**kwargs)
    self.filters = list(filters)
    self.out_channels = out_channels
    self.encoder = []
    for i, f in enumerate(self.filters):
      self.encoder.append(keras.layers.Conv2D(f, 4, strides=2, padding="same",
                                              use_bias=False, name=f"enc{i}"))
      self.encoder.append(FusedBatchNorm(synchronized=True, name=f"enc_bn{i}") if i else None)
    self.encoder = [layer for layer in self.encoder if layer is not None]
    self.decoder = []
    for i, f in enumerate(self.filters[-2::-1]):
      self.decoder.append(keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same",
                                                       use_bias=False, name=f"dec{i}"))
      self.decoder.append(FusedBatchNorm(synchronized=True, name=f"dec_bn{i}"))
    self.head = None

  @property
  def total_stride(self):
    return 2 ** len(self.filters)

  def build(self, input_shape):
    channels = self.out_channels or input_shape[-1]
    self.head = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                             activation="sigmoid", dtype="float32",
                                             name="mask")
    super().build(input_shape)

  def call(self, y, training=None):
    """Args: y [batch, H, W, C] non-negative. Returns: mask [batch, H, W, C_out] in [0, 1]."""
    h, size = padding.pad_to_multiple(y, self.total_stride)
    for layer in self.encoder:
      if isinstance(layer, keras.layers.BatchNormalization):
        h = keras.activations.leaky_relu(layer(h, training=training), 0.2)
      else:
        h = layer(h)
        if layer is self.encoder[0]:
          h = keras.activations.leaky_relu(h, 0.2)
    for layer in self.decoder:
      if isinstance(layer, keras.layers.BatchNormalization):
        h = keras.activations.relu(layer(h, training=training))
      else:
        h = layer(h)
    return padding.crop_to(self.head(h), size)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "out_channels": self.out_channels}
