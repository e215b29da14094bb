"""The mask network T: a U-Net whose sigmoid output m(y) gives T(y) = y * m(y)."""

import keras

from eggsep_tf import padding
from eggsep_tf.batch_norm import FusedBatchNorm


@keras.saving.register_keras_serializable(package="eggsep_tf")
class ConvBlock(keras.layers.Layer):
  """3x3 convolutions (two by default), each followed by batch norm and ReLU.

  Batch norm (TF's fused kernel on one replica) is synchronized: under a
  distribution strategy its statistics come
  from the global batch, so every replica keeps the same moving averages (on
  one device it is plain batch norm).
  """

  def __init__(self, filters, fused_batch_norm=True, convs=2, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.fused_batch_norm = fused_batch_norm
    self.convs = convs
    norm = FusedBatchNorm if fused_batch_norm else keras.layers.BatchNormalization
    self.layers = []
    for i in range(convs):
      self.layers += [
          keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              name=f"conv{i}"),
          norm(synchronized=True, name=f"bn{i}"),
          keras.layers.ReLU(),
      ]

  def call(self, x, training=None):
    for layer in self.layers:
      x = layer(x, training=training) if isinstance(
          layer, keras.layers.BatchNormalization) else layer(x)
    return x

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "fused_batch_norm": self.fused_batch_norm, "convs": self.convs}


@keras.saving.register_keras_serializable(package="eggsep_tf")
class MaskUNet(keras.Model):
  """U-Net mask estimator with skip connections (the package default).

  Input is a non-negative mixture (image pixels or a magnitude spectrogram);
  output is a mask in [0, 1] of the same spatial size, one channel per output
  channel. Inputs whose height/width are not multiples of 2**(len(filters)-1)
  (28x28 digits, 257 frequency bins) are zero-padded inside and cropped back.

  Args:
    filters: channels per resolution level, finest first; its length is the
      depth (len(filters) - 1 down-samplings).
    out_channels: mask channels; None means "as many as the input".
    skip_connections: concatenate encoder features into the decoder. False
      gives a plain encoder-decoder with the same layers.
    fused_batch_norm: TF's fused batch-norm kernel (same variables and
      results as Keras' BatchNormalization, faster); False for Keras' own.
  """

  def __init__(self, filters=(32, 64, 128, 256), out_channels=None,
               skip_connections=True, fused_batch_norm=True, **kwargs):
    super().__init__(**kwargs)
    self.filters = list(filters)
    self.out_channels = out_channels
    self.skip_connections = skip_connections
    self.fused_batch_norm = fused_batch_norm
    self.down_blocks = [ConvBlock(f, fused_batch_norm, name=f"down{i}")
                        for i, f in enumerate(self.filters)]
    self.pools = [keras.layers.MaxPooling2D(2) for _ in self.filters[:-1]]
    decoder_filters = self.filters[-2::-1]
    self.upsamplers = [keras.layers.Conv2DTranspose(f, 2, strides=2,
                                                    name=f"upsample{i}")
                       for i, f in enumerate(decoder_filters)]
    self.up_blocks = [ConvBlock(f, fused_batch_norm, name=f"up{i}")
                      for i, f in enumerate(decoder_filters)]
    self.head = None  # Built once the number of input channels is known.

  @property
  def total_stride(self):
    return 2 ** (len(self.filters) - 1)

  def build(self, input_shape):
    channels = self.out_channels or input_shape[-1]
    # The sigmoid runs in float32 so that masks stay in [0, 1] under mixed precision.
    self.head = keras.layers.Conv2D(channels, 1, activation="sigmoid",
                                    dtype="float32", name="mask")
    super().build(input_shape)

  def call(self, y, training=None):
    """Args: y [batch, H, W, C] non-negative. Returns: mask [batch, H, W, C_out] in [0, 1]."""
    h, size = padding.pad_to_multiple(y, self.total_stride)
    skips = []
    for i, block in enumerate(self.down_blocks):
      h = block(h, training=training)
      if i < len(self.pools):
        skips.append(h)
        h = self.pools[i](h)
    for upsample, block, skip in zip(self.upsamplers, self.up_blocks, skips[::-1]):
      h = upsample(h)
      if self.skip_connections:
        h = keras.ops.concatenate([h, skip], axis=-1)
      h = block(h, training=training)
    return padding.crop_to(self.head(h), size)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "out_channels": self.out_channels,
            "skip_connections": self.skip_connections,
            "fused_batch_norm": self.fused_batch_norm}
