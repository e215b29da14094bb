"""eggsep_tf: Neural Egg Separation for TensorFlow/Keras.

Semi-supervised separation of mixtures y = x + b when clean samples of B exist
and none of X (Halperin, Ephrat & Hoshen, ICML 2019).
"""

__version__ = "0.9.1"

# Installed, data/, trainers/ and export/ live inside this package (setup.py maps them).
# In a source checkout they are the repository's top-level folders: let eggsep_tf.data,
# eggsep_tf.trainers and eggsep_tf.export resolve to them without any install.
def _checkout_root():
  import os  # pylint: disable=import-outside-toplevel
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  marks = ("setup.py", os.path.join("trainers", "nes.py"), os.path.join("data", "mixtures.py"))
  if all(os.path.exists(os.path.join(root, mark)) for mark in marks):
    return root
  return None


if _checkout_root() is not None and _checkout_root() not in __path__:
  __path__.append(_checkout_root())


def __getattr__(name):
  """eggsep_tf.Separator (export/api.py) and eggsep_tf.train (export/training.py),
  imported on first use so that `import eggsep_tf` stays light."""
  if name == "Separator":
    from eggsep_tf.export.api import Separator  # pylint: disable=import-outside-toplevel
    return Separator
  if name == "train":
    from eggsep_tf.export.training import train  # pylint: disable=import-outside-toplevel
    return train
  raise AttributeError(f"module 'eggsep_tf' has no attribute {name!r}")
