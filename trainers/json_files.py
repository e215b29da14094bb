"""The small JSON files of a workdir (state.json, run records, settings), read with
one-line errors and written atomically."""

import json
import os

from eggsep_tf import provenance
from eggsep_tf.errors import InputError


def read_json(path, default=None):
  """The JSON value in `path`, `default` if there is no such file.

  Raises:
    InputError: the file exists but is not readable JSON (named).
  """
  if not os.path.exists(path):
    return default
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    raise InputError(f"{path}: unreadable (expected JSON written by a previous run); "
                     "remove it or use another --workdir") from None


# One atomic JSON writer for run records and trainer state (eggsep_tf/provenance.py).
write_json = provenance.write_json
