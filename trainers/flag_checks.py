"""Checks of flag values that absl's own bounds do not make, registered as validators
so that a bad value is refused while the command line is parsed, before any work.

absl's float bounds let NaN through (every comparison with NaN is false), so every
float flag gets a finite-number check; the others here are checks of one flag each.
"""

import math
import re

from absl import flags

from eggsep_tf.errors import InputError

MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

_FINITE = set()  # Float flags that already have the check (flag_values id, name).


def require_finite_floats(flag_values):
  """Adds "expected a finite number" to every float flag of flag_values (idempotent)."""
  for name, flag in flag_values._flags().items():  # pylint: disable=protected-access
    key = (id(flag_values), flag.name)
    if name != flag.name or key in _FINITE or not isinstance(flag.parser, flags.FloatParser):
      continue
    _FINITE.add(key)
    flags.register_validator(
        flag.name, lambda v: v is None or math.isfinite(v),
        message="expected a finite number (not nan or inf)", flag_values=flag_values)


def _check(name, predicate, message, flag_values):
  if name in flag_values:
    flags.register_validator(name, predicate, message=message, flag_values=flag_values)


def positive_ints(values):
  """True if every item of a list flag is an integer >= 1 (and there is one)."""
  try:
    return bool(values) and min(int(v) for v in values) >= 1
  except (TypeError, ValueError):
    return False


def _snr_ok(values):
  try:
    low, high = (float(v) for v in values)
  except (TypeError, ValueError):
    return False
  return math.isfinite(low) and math.isfinite(high) and low <= high


def _stride_ok(value):
  if str(value) == "auto":
    return True
  try:
    stride = int(value)
  except (TypeError, ValueError):
    return False
  return stride >= 1 and not stride & (stride - 1)


def _gains_ok(values, allow_empty):
  """LOW,HIGH with 0 < LOW <= HIGH, or 1 (no gains), or empty where that means the default."""
  values = list(values or [])
  if not values:
    return allow_empty
  try:
    numbers = [float(v) for v in values]
  except (TypeError, ValueError):
    return False
  if numbers == [1.0]:
    return True
  return (len(numbers) == 2 and all(math.isfinite(v) for v in numbers)
          and 0 < numbers[0] <= numbers[1])


def _classes_ok(value):
  from eggsep_tf.data import prepare  # pylint: disable=import-outside-toplevel
  try:
    prepare.parse_classes(value, "classes")
  except (InputError, ValueError):
    return False
  return True


def register(flag_values):
  """Registers every check on the trainers' flags (those defined at this point)."""
  require_finite_floats(flag_values)
  _check("beta1", lambda v: v is None or 0 <= v < 1,
         "expected Adam's beta1 in [0, 1), e.g. 0.5", flag_values)
  _check("max_runtime", lambda v: v is None or v >= 0,
         "expected seconds >= 0 (0: no limit)", flag_values)
  _check("seed", lambda v: v is None or v >= 0, "expected an integer >= 0", flag_values)
  _check("data_seed", lambda v: v is None or v >= 0, "expected an integer >= 0", flag_values)
  _check("model_name", lambda v: v is None or bool(MODEL_NAME.match(v)),
         "expected a name of letters, digits, '_', '.', '-' (a folder of the export base)",
         flag_values)
  _check("filters", positive_ints,
         "expected positive integers, one per level, like 32,64,128,256", flag_values)
  for name in ("glo_filters", "am_disc_filters"):
    _check(name, positive_ints, "expected positive integers like 32,64,128", flag_values)
  _check("snr_db", _snr_ok, "expected two numbers low,high in dB with low <= high, e.g. -5,5",
         flag_values)
  _check("stride", _stride_ok, "expected auto or a power of two (1, 2, 4, ...)", flag_values)
  _check("gain_range", lambda v: _gains_ok(v, allow_empty=True),
         "expected LOW,HIGH with 0 < LOW <= HIGH (e.g. 0.5,2), or 1 for no random gains",
         flag_values)
  _check("x_gain_range", lambda v: _gains_ok(v, allow_empty=True),
         "expected LOW,HIGH with 0 < LOW <= HIGH, 1, or nothing (then --gain_range)",
         flag_values)
  for name in ("observed", "unobserved"):
    _check(name, lambda v: not v or _classes_ok(v),
           "expected class labels like 0-4 or 1,3,5", flag_values)
