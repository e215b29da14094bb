"""A U-Net mask net whose levels run at a reduced resolution: fast on large inputs."""

import keras

from eggsep_tf import padding
from eggsep_tf.batch_norm import FusedBatchNorm
from eggsep_tf.mask_unet import ConvBlock

# With stride="auto", the finest U-Net level runs at no less than this many rows/columns.
AUTO_MIN_SIZE = 32
VARIANTS = ("auto", "full", "light", "refined", "lean")
# What "auto" meant in 0.5-0.6 (light where strided): for the runs those versions recorded.
LEGACY_AUTO = "auto_0.6"
BUILDABLE_VARIANTS = VARIANTS + (LEGACY_AUTO,)  # What the model accepts (flags: VARIANTS).
_LIGHT_UNET = ("light", "refined", "lean")  # One conv at the finest level and per decoder level.
_REFINED = ("full", "refined", "lean")  # The full-resolution refinement with the mixture (s > 1).


def recorded_variant(variant, package_version):
  """The variant to build for a run record's unet_variant, written by eggsep-tf
  `package_version` (None: unknown). Records of 0.5-0.6 saying "auto" meant the light
  form where strided: LEGACY_AUTO; records older than the flag had the full form."""
  if variant is None:
    return "full"
  if variant == "auto" and _version_tuple(package_version) < (0, 7):
    return LEGACY_AUTO
  return variant


def _version_tuple(version):
  try:
    return tuple(int(part) for part in str(version).split(".")[:2])
  except ValueError:
    return (0, 0)


def resolve_variant(variant, stride):
  """The form a variant names at a resolved stride: "auto" is lean where the net runs
  strided (stride > 1) and full on small inputs; LEGACY_AUTO is 0.5-0.6's auto."""
  if variant == "auto":
    return "lean" if stride > 1 else "full"
  if variant == LEGACY_AUTO:
    return "light" if stride > 1 else "full"
  return variant


def auto_stride(height, width, min_size=AUTO_MIN_SIZE):
  """The largest power of two s with min(height, width) / s >= min_size (1 for small inputs)."""
  stride = 1
  while min(height, width) // (2 * stride) >= min_size:
    stride *= 2
  return stride


@keras.saving.register_keras_serializable(package="eggsep_tf")
class StridedMaskUNet(keras.Model):
  """U-Net mask estimator with a strided stem, in a full or a light form.

  A stride-s convolution (kernel 2s) maps the input to the first level at 1/s of
  its resolution, the U-Net (max-pool down, transposed conv up, skips) runs
  there, and a stride-s transposed convolution returns to full resolution
  before the 1x1 sigmoid mask. Most of the work of a plain U-Net is at the
  finest level; at 64x64 and s = 2 this net does about a quarter of it and
  keeps its activations small enough to stay in cache.

  variant "full": two 3x3 conv + batch norm + ReLU per level, the decoder's
  upsampled features concatenated with the skip, and at full resolution the
  features concatenated with the mixture itself and refined by one 3x3
  convolution (s > 1). With s = 1 it is exactly MaskUNet's computation.

  variant "light": one conv + batch norm + ReLU at the finest level and per
  decoder level (two at the coarser encoder levels), the skip added to the
  upsampled features (same channels, so no wider convolution), and no
  refinement: about half the full form's multiply-adds. On tinted 64x64x3
  digits (s = 2, 3 x 5 epochs of NES from one NMF start, 3 seeds) it trained
  at 1.6x the full form's speed and ended 0.7 dB below it at equal epochs
  (ahead at equal minutes); removing the coarsest level instead lost 5 dB.

  variant "refined": the light form's U-Net with the full form's refinement at full
  resolution (s > 1). On the same benchmark it ended 0.2 dB above the full form and
  0.9 dB above the light one (on 64x64x1 digits, one seed, halfway between them), at
  1.4x the full form's training speed and 0.89x the light one's.

  variant "lean": the refined form with a refinement of filters[0] // 4 channels
  instead of filters[0] // 2 (the stride-s transposed convolution before it narrows to
  match). Its full-resolution activations are 4x narrower than the light form's, which
  returns to full resolution with filters[0] channels, so it trains as fast as the light
  form while keeping the refinement with the mixture (bench/RESULTS.md, section 0.7).

  Args:
    filters: channels per U-Net level, finest first; len(filters) - 1 poolings.
    stride: s, a power of two, or "auto": auto_stride(H, W) at build time (1 for
      28x28 digits, 2 for 64x64 images and 257x64 spectrogram patches).
    refine_filters: channels of the refinement (s > 1 only); None: filters[0] // 2
      (full, refined) or filters[0] // 4 (lean).
    out_channels: mask channels; None means "as many as the input".
    variant: "full", "light", "refined", "lean" or "auto" (lean where the resolved
      stride is > 1, full otherwise, so that small inputs keep the plain U-Net's
      computation); LEGACY_AUTO: "auto" as 0.5-0.6 resolved it (light, not lean).
  """

  def __init__(self, filters=(32, 64, 128, 256), stride="auto", refine_filters=None,
               out_channels=None, variant="auto", **kwargs):
    super().__init__(**kwargs)
    if variant not in BUILDABLE_VARIANTS:
      raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    self.filters = list(filters)
    self.stride = stride
    self.refine_filters = refine_filters
    self.out_channels = out_channels
    self.variant = variant
    # The layers are made in build, once the stride and the variant are resolved, in
    # the order of the variables that checkpoints hold (as ordered lists).
    self.down_blocks = self.pools = self.upsamplers = self.up_blocks = None
    self.resolved_stride = self.resolved_variant = None
    self.stem = self.unstem = self.refine = self.refine_norm = self.head = None

  def _stride_for(self, input_shape):
    if self.stride == "auto":
      return auto_stride(input_shape[1], input_shape[2])
    stride = int(self.stride)
    if stride < 1 or stride & (stride - 1):
      raise ValueError(f"stride must be a power of two or 'auto', got {self.stride!r}")
    return stride

  def build(self, input_shape):
    s = self.resolved_stride = self._stride_for(input_shape)
    variant = self.resolved_variant = resolve_variant(self.variant, s)
    light = variant in _LIGHT_UNET
    self.down_blocks = [ConvBlock(f, convs=1 if light and i == 0 else 2, name=f"down{i}")
                        for i, f in enumerate(self.filters)]
    self.pools = [keras.layers.MaxPooling2D(2) for _ in self.filters[:-1]]
    decoder_filters = self.filters[-2::-1]
    self.upsamplers = [keras.layers.Conv2DTranspose(f, 2, strides=2, name=f"upsample{i}")
                       for i, f in enumerate(decoder_filters)]
    self.up_blocks = [ConvBlock(f, convs=1 if light else 2, name=f"up{i}")
                      for i, f in enumerate(decoder_filters)]
    channels = self.out_channels or input_shape[-1]
    if s > 1:
      self.stem = keras.layers.Conv2D(self.filters[0], 2 * s, strides=s, padding="same",
                                      use_bias=False, name="stem")
      refine = self.refine_filters or max(1, self.filters[0] // (4 if variant == "lean" else 2))
      refined = variant in _REFINED
      self.unstem = keras.layers.Conv2DTranspose(refine if refined else self.filters[0], s,
                                                 strides=s, name="unstem")
      if refined:
        self.refine = keras.layers.Conv2D(refine, 3, padding="same", use_bias=False,
                                          name="refine")
        self.refine_norm = FusedBatchNorm(synchronized=True, name="refine_bn")
    # The sigmoid runs in float32 so that masks stay in [0, 1] under mixed precision.
    self.head = keras.layers.Conv2D(channels, 1, activation="sigmoid", dtype="float32",
                                    name="mask")
    super().build(input_shape)

  @property
  def total_stride(self):
    return (self.resolved_stride or 1) * 2 ** (len(self.filters) - 1)

  def call(self, y, training=None):
    """Args: y [batch, H, W, C] non-negative. Returns: mask [batch, H, W, C_out] in [0, 1]."""
    light = self.resolved_variant in _LIGHT_UNET
    padded, size = padding.pad_to_multiple(y, self.total_stride)
    h = self.stem(padded) if self.stem is not None else padded
    skips = []
    for i, block in enumerate(self.down_blocks):
      h = block(h, training=training)
      if i < len(self.pools):
        skips.append(h)
        h = self.pools[i](h)
    for upsample, block, skip in zip(self.upsamplers, self.up_blocks, skips[::-1]):
      h = (upsample(h) + skip if light
           else keras.ops.concatenate([upsample(h), skip], axis=-1))
      h = block(h, training=training)
    if self.unstem is not None:
      h = self.unstem(h)
    if self.refine is not None:
      h = keras.ops.concatenate([h, keras.ops.cast(padded, h.dtype)], axis=-1)
      h = keras.activations.relu(self.refine_norm(self.refine(h), training=training))
    return padding.crop_to(self.head(h), size)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "stride": self.stride,
            "refine_filters": self.refine_filters, "out_channels": self.out_channels,
            "variant": self.variant}
