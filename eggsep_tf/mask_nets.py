"""One factory for the mask nets, used by the trainers and by re-export alike."""

from eggsep_tf.encoder_decoder_mask import EncoderDecoderMask
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf.strided_mask_unet import StridedMaskUNet

ARCHITECTURES = ("strided_unet", "unet", "encoder_decoder")


def build_mask_net(architecture, filters, skip_connections=True, stride="auto"):
  """An unbuilt mask net.

  Args:
    architecture: "strided_unet" (the default: a U-Net whose levels run at 1/stride of
      the input's resolution, see StridedMaskUNet), "unet" (the U-Net at full
      resolution), or "encoder_decoder" (the authors' demo net, no skips).
    filters: channels per level, finest first.
    skip_connections: U-Net skips ("unet" only).
    stride: "auto" or a power of two ("strided_unet" only).
  """
  if architecture == "encoder_decoder":
    return EncoderDecoderMask(filters)
  if architecture == "unet":
    return MaskUNet(filters, skip_connections=skip_connections)
  if architecture == "strided_unet":
    return StridedMaskUNet(filters, stride=stride)
  raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
