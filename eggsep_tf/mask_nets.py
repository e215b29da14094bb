"""One factory for the mask nets, used by the trainers and by re-export alike."""

from eggsep_tf.encoder_decoder_mask import EncoderDecoderMask
from eggsep_tf.mask_unet import MaskUNet
from eggsep_tf.spectral_tcn_mask import SpectralTCNMask
from eggsep_tf.strided_mask_unet import StridedMaskUNet

ARCHITECTURES = ("strided_unet", "unet", "encoder_decoder", "spectral_tcn")


def resolve_architecture(architecture, domain):
  """"auto": the default net of a domain (images: strided_unet; audio: spectral_tcn)."""
  if architecture != "auto":
    return architecture
  return "spectral_tcn" if domain == "audio" else "strided_unet"


def chunks_per_call(requested, architecture):
  """Chunks of whole-file audio separation per mask-net call (AudioSeparator).

  requested: a positive count, or 0 / None (--chunks_per_call=0, a run recorded before
  0.4) to choose by the audio net: the light spectral_tcn runs about twice as fast on
  batches of chunks; the U-Nets' activations are large (a 640-frame chunk of the
  paper's U-Net holds ~100 MB), so they take one chunk at a time.
  """
  if requested:
    return int(requested)
  return 8 if resolve_architecture(architecture, "audio") == "spectral_tcn" else 1


def build_mask_net(architecture, filters, skip_connections=True, stride="auto",
                   variant="auto"):
  """An unbuilt mask net.

  Args:
    architecture: "strided_unet" (the default: a U-Net whose levels run at 1/stride of
      the input's resolution, see StridedMaskUNet), "unet" (the U-Net at full
      resolution), "encoder_decoder" (the authors' demo net, no skips) or
      "spectral_tcn" (audio: a per-frame spectral encoder and dilated temporal
      convolutions, see SpectralTCNMask; far faster than the U-Nets on spectrograms).
    filters: channels per level, finest first ("spectral_tcn": per temporal block).
    skip_connections: U-Net skips ("unet" only).
    stride: "auto" or a power of two ("strided_unet" only).
    variant: "auto", "full", "light", "refined" or "lean" ("strided_unet" only, see
      StridedMaskUNet).
  """
  if architecture == "encoder_decoder":
    return EncoderDecoderMask(filters)
  if architecture == "unet":
    return MaskUNet(filters, skip_connections=skip_connections)
  if architecture == "spectral_tcn":
    return SpectralTCNMask(filters)
  if architecture == "strided_unet":
    return StridedMaskUNet(filters, stride=stride, variant=variant)
  raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
