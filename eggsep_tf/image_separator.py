"""The image separator: what gets exported and served (never the training model)."""

import keras


@keras.saving.register_keras_serializable(package="eggsep_tf")
class ImageSeparator(keras.layers.Layer):
  """Applies a mask network to mixtures: b = y * m(y), x = y - b.

  Args:
    mask_model: a model mapping y [batch, H, W, C] to m(y) in [0, 1].
  """

  def __init__(self, mask_model, **kwargs):
    kwargs.setdefault("dtype", "float32")  # Exact whatever the global policy.
    super().__init__(**kwargs)
    self.mask_model = mask_model

  def call(self, mixture):
    """Args: mixture [batch, H, W, C] float32, non-negative (background 0).

    Returns:
      dict with "x", "b" and "mask", each [batch, H, W, C] float32.
    """
    mask = self.mask_model(mixture, training=False)
    b = mixture * mask
    return {"x": mixture - b, "b": b, "mask": mask}

  def get_config(self):
    return {**super().get_config(),
            "mask_model": keras.saving.serialize_keras_object(self.mask_model)}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["mask_model"] = keras.saving.deserialize_keras_object(config["mask_model"])
    return cls(**config)
