"""JSON values -> numpy arrays of a signature input's dtype and shape, as TF-Serving's
JSON decoder fills tensors (export/rest_json.py parses the request around them).

Every user error raises RestError(400, one line), an unsupported dtype RestError(501).
"""

import base64
import binascii
import re

import numpy as np
import tensorflow as tf

from eggsep_tf.export.json_text import Packed
from eggsep_tf.export.json_text import RestError
from eggsep_tf.export.json_text import bad
from eggsep_tf.export.json_text import holds_bool
from eggsep_tf.export.json_text import is_b64
from eggsep_tf.export.json_text import short

MAX_RANK = 64  # numpy's limit; TF-Serving builds no deeper tensors either.

# dtypes TF-Serving's JSON decoder fills (AddValueToTensor); others are 501 there.
_SUPPORTED = {tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8,
              tf.uint32, tf.uint64, tf.bool, tf.string}
_B64_SPACE = re.compile(r"[ \t\r\n]")


def _probe_shape(value, name):
  """The shape given by the first element at each level (TF-Serving's rule)."""
  shape = []
  while isinstance(value, list):
    shape.append(len(value))
    if len(shape) > MAX_RANK:
      raise bad(f"input '{name}': lists nested deeper than {MAX_RANK} levels")
    if not value:
      break
    value = value[0]
  return shape


def _decode_b64(value, name):
  text = _B64_SPACE.sub("", value["b64"])
  try:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
  except (binascii.Error, ValueError):
    raise bad(f"input '{name}': Unable to base64 decode {short(value['b64'], 40)}") from None


def _string_leaf(v, name):
  if isinstance(v, str):
    try:
      return v.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
      raise bad(f"input '{name}': a string holds a lone UTF-16 surrogate") from None
  if is_b64(v):
    return _decode_b64(v, name)
  raise bad(f"input '{name}': JSON Value: {short(v)} is not of expected type: string "
             "(a JSON string or {\"b64\": ...})")


def _string_array(value, name, shape):
  """Nested lists of strings / b64 objects -> object array of bytes (dense)."""
  flat = []

  def walk(v, level):  # Depth is at most MAX_RANK (checked by _probe_shape).
    if isinstance(v, list):
      if level >= len(shape) or len(v) != shape[level]:
        raise bad(f"input '{name}': Encountered list at unexpected size or level "
                   f"(expected shape {shape}; a tensor is a dense, rectangular list)")
      for item in v:
        walk(item, level + 1)
    elif level != len(shape):
      raise bad(f"input '{name}': JSON Value: {short(v)} found at incorrect level: "
                 f"{level + 1}. Expected at level: {len(shape)}")
    else:
      flat.append(_string_leaf(v, name))

  walk(value, 0)
  array = np.empty(len(flat), dtype=object)
  array[:] = flat
  return array.reshape(shape)


def _check_kind(kind, name, dtype, empty):
  """Raises unless values of numpy kind `kind` may fill a `dtype` input."""
  if dtype.is_bool:
    ok = kind == "b"
  elif dtype.is_integer:
    ok = kind in "iu"
  else:
    ok = kind in "iuf"
  if not (ok or empty):
    found = {"U": "strings", "O": "objects, nulls or mixed values", "b": "booleans",
             "f": "non-integer numbers", "n": "numbers"}.get(kind, kind)
    raise bad(f"input '{name}': JSON values are not of expected type {dtype.name} "
              f"(got {found})")


def _check_range(low, high, name, dtype):
  info = np.iinfo(dtype.as_numpy_dtype)
  if low < info.min or high > info.max:
    raise bad(f"input '{name}': values outside the range of {dtype.name}")


def _numeric_array(value, name, dtype, has_bools):
  """Nested lists of numbers (or booleans) -> a dense array of `dtype`."""
  try:
    array = np.asarray(value)
  except (ValueError, TypeError, OverflowError):
    raise bad(f"input '{name}': nested lists of unequal length (a tensor must be a "
              "dense, rectangular list)") from None
  kind = array.dtype.kind
  if has_bools and not dtype.is_bool and kind in "iuf" and holds_bool(value):
    kind = "b"
  _check_kind(kind, name, dtype, array.size == 0)
  if array.size and dtype.is_integer:
    _check_range(array.min(), array.max(), name, dtype)
  with np.errstate(over="ignore"):  # Beyond float32's range -> inf, as TF-Serving.
    return array.astype(dtype.as_numpy_dtype, copy=False)


def _packed_array(items, name, dtype):
  """Packed items -> the array of `dtype` they stack into (as _numeric_array would)."""
  first = items[0].array
  if any(p.array.shape != first.shape for p in items):
    raise bad(f"input '{name}': nested lists of unequal length (a tensor must be a "
              "dense, rectangular list)")
  kinds = {p.array.dtype.kind for p in items}
  if "b" in kinds and len(kinds) > 1:
    kind = "n" if dtype.is_bool else "b"  # Booleans mixed with numbers.
  else:
    kind = "f" if "f" in kinds else min(kinds)
  _check_kind(kind, name, dtype, first.size == 0)
  if first.size and dtype.is_integer:
    _check_range(min(p.array.min() for p in items), max(p.array.max() for p in items),
                 name, dtype)
  array = np.empty((len(items),) + first.shape, dtype.as_numpy_dtype)
  with np.errstate(over="ignore"):
    for i, p in enumerate(items):
      array[i] = p.array
  return array


def to_array(value, name, spec, has_bools, max_elements):
  """One JSON value -> an array checked against `spec` (dtype, rank, static dims)."""
  if spec.dtype not in _SUPPORTED:
    raise RestError(501, f"input '{name}': conversion of JSON values to "
                    f"{spec.dtype.name} is not supported")
  if spec.dtype != tf.string and isinstance(value, dict):
    raise bad(f"input '{name}': JSON Value: {short(value)} Type: Object is not of "
              f"expected type: {spec.dtype.name}")
  packed = isinstance(value, list) and value and isinstance(value[0], Packed)
  if packed and (spec.dtype == tf.string or not all(isinstance(v, Packed) for v in value)):
    value = [v.unpack() if isinstance(v, Packed) else v for v in value]
    packed = False
  shape = [len(value), *value[0].array.shape] if packed else _probe_shape(value, name)
  if max_elements is not None and int(np.prod(shape, dtype=np.float64)) > max_elements:
    raise bad(f"input '{name}': shape {shape} has more than {max_elements} elements "
              "(the server's --max_tensor_elements)")
  expected = None if spec.shape.rank is None else [
      -1 if d is None else d for d in spec.shape.as_list()]
  if expected is not None and len(shape) != len(expected):
    raise bad(f"input '{name}': expected shape {expected} (rank {len(expected)}, -1 = "
              f"any size) but got shape {shape}")
  if spec.dtype == tf.string:
    array = _string_array(value, name, shape)
  elif packed:
    array = _packed_array(value, name, spec.dtype)
  else:
    array = _numeric_array(value, name, spec.dtype, has_bools)
  if expected is not None and (array.ndim != len(expected) or any(
      d != -1 and d != got for d, got in zip(expected, array.shape))):
    raise bad(f"input '{name}': expected shape {expected} (rank {len(expected)}, -1 = "
              f"any size) but got shape {list(array.shape)}")
  return array
