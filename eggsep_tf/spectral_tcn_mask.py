"""A fast audio mask net: a per-frame spectral encoder and dilated convolutions over time."""

import keras

# Added to linear magnitudes before the log: -92 dB of a full-scale sine's bin at n_fft 512.
LOG_FLOOR = 1e-4


@keras.saving.register_keras_serializable(package="eggsep_tf")
class SpectralTCNMask(keras.Model):
  """Mask net for spectrogram patches [batch, bins, frames, channels].

  Each frame's log-magnitude spectrum (all bins and channels, standardised per
  bin with batch-norm statistics) is mapped by a dense layer to `filters[0]`
  features; residual blocks of dilated 1-D convolutions over time (block i:
  `filters[i]` channels, kernel `kernel_size`, dilation 2**i, layer norm, ReLU)
  give each frame a context of 1 + (kernel_size - 1) * (2**len(filters) - 1)
  frames (31 for four blocks of kernel 3); a dense layer on the last features and
  the frame's own log spectrum gives a sigmoid mask for every linear-frequency
  bin. Frequency is never convolved or pooled, so every bin keeps its full
  resolution, and the cost per frame is a few dense products: at 257 x 64 and
  filters 256 x 4 about 1/50 of the paper's U-Net's work.

  The mask of a frame depends on frames up to the receptive field away, so chunked
  separation (AudioSeparator) needs context_frames >= half of it.

  Args:
    filters: channels of the temporal blocks (one block each, dilations 1, 2, 4, ...).
    kernel_size: taps of each temporal convolution.
    out_channels: mask channels; None means "as many as the input".
  """

  def __init__(self, filters=(256, 256, 256, 256), kernel_size=3, out_channels=None, **kwargs):
    super().__init__(**kwargs)
    self.filters = [int(f) for f in filters]
    if not self.filters or min(self.filters) < 1:
      raise ValueError(f"filters must be positive channel counts, got {filters!r}")
    self.kernel_size = int(kernel_size)
    self.out_channels = out_channels
    self.input_norm = keras.layers.BatchNormalization(dtype="float32", name="input_norm")
    self.encode = keras.layers.Dense(self.filters[0], use_bias=False, name="encode")
    self.encode_norm = keras.layers.LayerNormalization(name="encode_norm")
    self.convs, self.norms, self.projections = [], [], []
    width = self.filters[0]
    for i, f in enumerate(self.filters):
      self.convs.append(keras.layers.Conv1D(f, self.kernel_size, padding="same",
                                            dilation_rate=2 ** i, use_bias=False,
                                            name=f"temporal{i}"))
      self.norms.append(keras.layers.LayerNormalization(name=f"temporal{i}_norm"))
      self.projections.append(None if f == width else
                              keras.layers.Dense(f, use_bias=False, name=f"residual{i}"))
      width = f
    self.head = None

  @property
  def receptive_field(self):
    return 1 + (self.kernel_size - 1) * (2 ** len(self.filters) - 1)

  def build(self, input_shape):
    bins, channels = int(input_shape[1]), int(input_shape[3])
    self._bins, self._channels = bins, channels
    self._out = self.out_channels or channels
    # The sigmoid runs in float32 so that masks stay in [0, 1] under mixed precision.
    self.head = keras.layers.Dense(bins * self._out, activation="sigmoid", dtype="float32",
                                   name="mask")
    super().build(input_shape)

  def call(self, y, training=None):
    """Args: y [batch, bins, frames, C] magnitudes. Returns: mask [batch, bins, frames, C_out]."""
    bins, channels = self._bins, self._channels
    frames = keras.ops.shape(y)[2]
    magnitude = keras.ops.cast(y, "float32")
    features = keras.ops.log(keras.ops.maximum(magnitude, 0.0) + LOG_FLOOR)
    features = keras.ops.transpose(features, (0, 2, 1, 3))  # [batch, frames, bins, C]
    features = keras.ops.reshape(features, (-1, frames, bins * channels))
    features = self.input_norm(features, training=training)
    z = keras.ops.cast(features, self.compute_dtype)
    h = keras.activations.relu(self.encode_norm(self.encode(z)))
    for conv, norm, projection in zip(self.convs, self.norms, self.projections):
      residual = h if projection is None else projection(h)
      h = residual + keras.activations.relu(norm(conv(h)))
    mask = self.head(keras.ops.concatenate([h, z], axis=-1))
    mask = keras.ops.reshape(mask, (-1, frames, bins, self._out))
    return keras.ops.transpose(mask, (0, 2, 1, 3))

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "out_channels": self.out_channels}
