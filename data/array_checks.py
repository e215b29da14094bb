"""Checks of user arrays that numpy would otherwise convert silently, and warnings for
data that train and score but mean nothing (constant images score 100 dB).

  check_numeric(array, where)   strings, objects, booleans or complex -> InputError
  integer_labels(labels, where) float labels must be whole numbers -> int64 [N]
  warn_constant(images, where)  logs constant images (all of them, or how many)
"""

from absl import logging
import numpy as np

from eggsep_tf.errors import InputError


def check_numeric(array, where):
  """Raises InputError unless `array` holds real numbers (bools, ints or floats); returns it."""
  array = np.asarray(array)
  kind = array.dtype.kind
  if kind == "c":
    raise InputError(f"{where}: complex values ({array.dtype}); expected real pixel values "
                     "(take np.abs or .real yourself if that is what you mean)")
  if kind not in "biuf":
    raise InputError(f"{where}: values of dtype {array.dtype}; expected numbers (uint8 "
                     "0..255, uint16 or floats in [0, 1])")
  return array


def integer_labels(labels, where):
  """Labels as int64 [N]; InputError for non-numbers or fractional values (not truncated)."""
  labels = check_numeric(labels, f"{where} (labels)")
  if labels.dtype.kind == "b":
    raise InputError(f"{where}: boolean labels; expected integer class labels")
  if labels.dtype.kind == "f":
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
      bad = labels[~np.isfinite(labels) | (labels != np.round(labels))][:3]
      raise InputError(f"{where}: labels must be whole numbers, found {bad.tolist()}; "
                       "expected integer class labels")
  return labels.astype(np.int64)


def warn_constant(images, where):
  """Logs a warning when images [N, ...] are constant (no content to separate)."""
  if not images.size:
    return 0
  flat = images.reshape(len(images), -1)
  constant = int(np.sum(flat.min(axis=1) == flat.max(axis=1)))
  if constant == len(images):
    logging.warning("%s: every image is constant (all pixels %.3g): there is nothing to "
                    "separate, and scores on such data (PSNR 100 dB, SSIM 1) mean nothing",
                    where, float(flat.flat[0]))
  elif constant:
    logging.warning("%s: %d of %d images are constant (blank)", where, constant,
                    len(images))
  return constant
