"""--gain_range / --x_gain_range: random source gains of the training mixtures."""

import numpy as np

from eggsep_tf.errors import InputError
from eggsep_tf.trainers import common_flags

FLAGS = common_flags.FLAGS


def gain_range(name="gain_range"):
  """--gain_range (or --x_gain_range) as (low, high), or None for "1" / "" (no gains)."""
  text = ",".join(FLAGS[name].value)
  try:
    values = [float(v) for v in FLAGS[name].value]
  except ValueError:
    values = [-1.0]
  if values in ([1.0], []):
    return None
  if len(values) != 2 or not all(np.isfinite(values)) or not 0 < values[0] <= values[1]:
    raise InputError(f"--{name}={text}: expected LOW,HIGH with 0 < LOW <= HIGH "
                     "(e.g. 0.5,2), or 1 for no random gains")
  return tuple(values)


def gain_kwargs():
  """The mixture pipeline's random-gain arguments from the flags."""
  return {"gain_range": gain_range(), "x_gain_range": gain_range("x_gain_range")}
