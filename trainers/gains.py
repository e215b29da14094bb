"""--gain_range / --x_gain_range: random source gains of the training mixtures."""

import numpy as np

from eggsep_tf.errors import InputError


def gain_range(flag_values, name="gain_range"):
  """--gain_range (or --x_gain_range) as (low, high), or None for "1" / "" (no gains).

  Args:
    flag_values: the flag's list of strings, e.g. ["0.5", "2"].
    name: the flag, for messages.
  """
  text = ",".join(flag_values)
  try:
    values = [float(v) for v in flag_values]
  except ValueError:
    values = [-1.0]
  if values in ([1.0], []):
    return None
  if len(values) != 2 or not all(np.isfinite(values)) or not 0 < values[0] <= values[1]:
    raise InputError(f"--{name}={text}: expected LOW,HIGH with 0 < LOW <= HIGH "
                     "(e.g. 0.5,2), or 1 for no random gains")
  return tuple(values)


def gain_kwargs(run):
  """The mixture pipeline's random-gain arguments (run: configs.RunConfig)."""
  return {"gain_range": gain_range(run.gain_range),
          "x_gain_range": gain_range(run.x_gain_range, "x_gain_range")}
