"""LS-GAN discriminator with spectral normalisation, for Adversarial Masking (paper eq. 11)."""

import keras

from eggsep_tf.errors import InputError

OUTPUTS = ("patch", "global")


@keras.saving.register_keras_serializable(package="eggsep_tf")
class LsganDiscriminator(keras.Model):
  """Scores images or spectrograms: near 1 for real B, near 0 for masked mixtures.

  One stride-2 4x4 convolution + LeakyReLU(0.2) per entry of `filters`, then a
  3x3 convolution to one channel; every convolution is wrapped in
  keras.layers.SpectralNormalization, which rescales its kernel to spectral
  norm ~1 on each training-mode call (one power iteration per call). The
  output is linear (least-squares GAN).

  Args:
    filters: channels of the stride-2 convolutions, finest first.
    output: "patch" ([batch, h, w, 1] scores, one per receptive field) or
      "global" ([batch, 1], their mean).
    power_iterations: power iterations per training-mode call.
  """

  def __init__(self, filters=(64, 128, 256), output="patch", power_iterations=1, **kwargs):
    super().__init__(**kwargs)
    if output not in OUTPUTS:
      raise InputError(f"discriminator output={output!r}: expected patch or global")
    if not filters:
      raise InputError("discriminator filters: expected at least one layer")
    self.filters = list(filters)
    self.output_kind = output
    self.power_iterations = power_iterations
    self.convs = [
        keras.layers.SpectralNormalization(
            keras.layers.Conv2D(f, 4, strides=2, padding="same", name=f"conv{i}"),
            power_iterations=power_iterations, name=f"sn_conv{i}")
        for i, f in enumerate(self.filters)]
    self.activations = [keras.layers.LeakyReLU(0.2) for _ in self.filters]
    # Scores in float32 so that the squared losses are exact under mixed precision.
    self.head = keras.layers.SpectralNormalization(
        keras.layers.Conv2D(1, 3, padding="same", dtype="float32", name="score"),
        power_iterations=power_iterations, dtype="float32", name="sn_score")

  def call(self, images, training=None):
    """Args: images [batch, H, W, C]. Returns: scores [batch, h, w, 1] (patch) or [batch, 1]."""
    h = images
    for conv, activation in zip(self.convs, self.activations):
      h = activation(conv(h, training=training))
    scores = self.head(h, training=training)
    if self.output_kind == "global":
      return keras.ops.mean(scores, axis=(1, 2))
    return scores

  def spectral_normalized_layers(self):
    """The SpectralNormalization wrappers (for inspection and tests)."""
    return self.convs + [self.head]

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "output": self.output_kind,
            "power_iterations": self.power_iterations}
