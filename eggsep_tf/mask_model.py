"""The one builder of a run's mask net from its settings, with its variables created.

The trainers build it from their flags (trainers/nets.py) and export.workdir_export
from the run record (run-<trainer>.json) with the same settings, so both get the
same net: mask_nets.build_mask_net is the factory of the classes; this checks the
settings, resolves "auto" and creates the variables.

  model = mask_model.build_mask_model([28, 28, 1], architecture="unet", filters=[8, 16])
"""

import tensorflow as tf

from eggsep_tf import mask_nets
from eggsep_tf import strided_mask_unet
from eggsep_tf.errors import InputError


def parse_filters(filters, what="filters"):
  """Channel counts per level as ints: a list of ints or of integer strings.

  Args:
    filters: e.g. [32, 64] or ["32", "64"] (a flag's list).
    what: how the setting is named in messages ("--filters", "the run's filters").

  Raises:
    InputError: not integers, empty, or a count below 1.
  """
  try:
    values = [int(f) for f in filters]
  except (TypeError, ValueError):
    shown = ",".join(map(str, filters)) if isinstance(filters, (list, tuple)) else filters
    raise InputError(f"{what}={shown}: expected integers like 32,64,128,256") from None
  if not values or min(values) < 1:
    raise InputError(f"{what}: expected at least one positive channel count")
  return values


def parse_stride(text, what="stride"):
  """"auto" or a power of two (1, 2, 4, ...), from a flag's text or a run record."""
  if str(text) == "auto":
    return "auto"
  try:
    stride = int(text)
  except (TypeError, ValueError):
    stride = 0
  if stride < 1 or stride & (stride - 1):
    raise InputError(f"{what}={text}: expected auto or a power of two (1, 2, 4, ...)")
  return stride


def build_mask_model(shape, architecture="auto", filters=(32, 64, 128, 256),
                     skip_connections=True, stride="auto", domain="image", what="--",
                     variant="auto"):
  """The mask net of a run, built for examples of `shape` [H, W, C].

  Args:
    shape: example shape [H, W, C].
    architecture: a name of mask_nets.ARCHITECTURES, or "auto" (by domain).
    filters: channels per level (ints or integer strings).
    skip_connections: U-Net skips ("unet" only).
    stride: "auto" or a power of two ("strided_unet" only).
    domain: "image" or "audio" (resolves architecture "auto").
    what: prefix naming the settings in messages: "--" for flags
      ("--filters=..."), or e.g. "the run's " for a run record.
    variant: "auto", "full", "light", "refined" or "lean" ("strided_unet" only), or
      strided_mask_unet.LEGACY_AUTO for the runs of 0.5-0.6.

  Returns:
    The built Keras model (every variable created, for optimisers and checkpoints).

  Raises:
    InputError: bad filters or stride.
  """
  filters = parse_filters(filters, f"{what}filters")
  stride = parse_stride(stride, f"{what}stride")
  if variant not in strided_mask_unet.BUILDABLE_VARIANTS:
    raise InputError(f"{what}unet_variant={variant}: expected one of "
                     f"{', '.join(strided_mask_unet.VARIANTS)}")
  model = mask_nets.build_mask_net(mask_nets.resolve_architecture(architecture, domain),
                                   filters, bool(skip_connections), stride, variant)
  model(tf.zeros([1] + list(shape)))
  return model


def trains_in_bfloat16(shape, architecture="auto", stride="auto", domain="image",
                       variant="auto"):
  """True where training NES's mask net in mixed bfloat16 was measured to cost no
  quality: the strided U-Net on images whose finest level runs strided (64 px and more)
  in its refined or full form ("auto" builds the refined one there: trainers/nets.py).
  The lean and light forms lost 0.2-0.4 dB in bfloat16; 28x28 digits with the plain
  U-Net computation lost 0.8-2.1 dB of the supervised bound; the demo's encoder-decoder
  and the audio nets are unmeasured (bench/RESULTS.md). The trainers' default
  --precision=measured trains all of those in float32."""
  if domain != "image" or mask_nets.resolve_architecture(architecture, domain) != "strided_unet":
    return False
  if variant not in ("auto", "refined", "full"):
    return False
  stride = parse_stride(stride)
  if stride == "auto":
    stride = strided_mask_unet.auto_stride(shape[0], shape[1])
  return stride > 1
