"""Request bodies of TF-Serving's REST API -> numpy, decoded as TF-Serving does.

TF-Serving parses with rapidjson (tensorflow_serving/util/json_tensor.cc, flags
kParseIterativeFlag | kParseNanAndInfFlag | kParseStopWhenDoneFlag, UTF-8
input without validation). This module reproduces what a client can see of
that, case by case (the README's "Serving" section has the table):

- Request: {"signature_name": str (optional), "instances": [...]} (row format)
  or {"inputs": ...} (columnar format), never both. Row format: each
  instance is a value (single-input signature) or an object with every named
  input; instances are stacked on a new batch axis.
- Parsing stops after the first JSON value (trailing bytes are ignored); the
  first of duplicate keys wins; a UTF-8 byte-order mark is skipped; bytes
  that are not valid UTF-8 pass through into string tensors unchanged; the
  body is UTF-8 only (a UTF-16 body is a parse error).
- Numbers: NaN, Infinity and -Infinity are accepted; a number beyond the
  double range (1e400) is an error; an integer beyond uint64 becomes a double
  (so it fits a float input, not an integer one); a float input takes any
  number, rounding values beyond float32's range to +-inf; an integer input
  takes only integers in its range; booleans only fit bool inputs.
- Binary strings travel as {"b64": "<standard base64>"} (padding optional,
  line breaks ignored) and reach the graph as bytes.

Every user error raises RestError(400, one line); nothing here raises
anything else for any body (tests/test_serve_fuzz.py checks this).
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
from eggsep_tf.export.json_text import is_named
from eggsep_tf.export.json_text import parse_json
from eggsep_tf.export.json_text import short

__all__ = ["COLUMNAR", "DEFAULT_SIGNATURE", "ROW", "RestError", "is_b64", "parse_json",
           "parse_predict_request", "request_to_arrays"]

ROW = "row"
COLUMNAR = "columnar"
DEFAULT_SIGNATURE = "serving_default"
MAX_RANK = 64  # numpy's limit; TF-Serving builds no deeper tensors either.


def parse_predict_request(body):
  """Parses a :predict body.

  Args:
    body: the request body, bytes (or a bytearray, emptied once decoded).

  Returns:
    (signature_name, format, payload, has_bools): the signature
    ("serving_default" when absent or empty), ROW or COLUMNAR, the value of
    "instances"/"inputs", and whether the text holds true/false anywhere.

  Raises:
    RestError(400): not JSON, not an object, a non-string signature_name,
      both or neither of "instances" and "inputs", or empty "instances".
  """
  has_bools = b"true" in body or b"false" in body
  request = parse_json(body, has_bools)
  if not isinstance(request, dict):
    raise bad(f"JSON Value: {short(request)} Is not object")
  signature = request.get("signature_name", "")
  if not isinstance(signature, str):
    raise bad("'signature_name' key must be a string value")
  signature = signature or DEFAULT_SIGNATURE
  has_instances, has_inputs = "instances" in request, "inputs" in request
  if has_instances and has_inputs:
    raise bad("Not formatted correctly expecting only one of 'inputs' or 'instances' "
               "keys to exist")
  if has_instances:
    instances = request["instances"]
    if not isinstance(instances, list):
      raise bad("Expecting 'instances' to be an list/array")
    if not instances:
      raise bad("No values in 'instances' array")
    return signature, ROW, instances, has_bools
  if has_inputs:
    return signature, COLUMNAR, request["inputs"], has_bools
  raise bad("Missing 'inputs' or 'instances' key")


# --- JSON values -> numpy arrays --------------------------------------------------

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


def _to_array(value, name, spec, has_bools, max_elements):
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


def request_to_arrays(request_format, payload, input_specs, has_bools=True,
                      max_elements=None):
  """The tensors a request gives each input of a signature.

  Args:
    request_format: ROW or COLUMNAR (from parse_predict_request).
    payload: the value of "instances" (ROW) or "inputs" (COLUMNAR).
    input_specs: {input name: tf.TensorSpec} of the signature.
    has_bools: whether the body holds true/false (from parse_predict_request);
      False skips the check for booleans inside numeric tensors.
    max_elements: the most elements one input may have (None: no limit).

  Returns:
    {input name: np.ndarray} with the dtype of each spec (strings as object
    arrays of bytes); in ROW format the first axis is the instance axis.

  Raises:
    RestError(400): a missing input, a wrong type, rank or shape, ragged
      lists, too many elements; RestError(501): an input dtype that JSON
      cannot fill (as TF-Serving).
  """
  names = list(input_specs)
  if request_format == ROW:
    if is_named(payload[0]):
      columns = {n: [] for n in names}
      for i, instance in enumerate(payload):
        if not is_named(instance):
          raise bad(f"Expecting object but got list at item {i} of input list")
        if set(instance) != set(names):
          raise bad(f"Failed to process element: {i} of 'instances' list. JSON object: "
                     f"keys must be equal to: {','.join(sorted(names))}")
        for n in names:
          columns[n].append(instance[n])
    else:
      if len(names) > 1:
        raise bad("instances is a plain list, but expecting list of objects as multiple "
                   f"input tensors required as per tensorinfo_map ({sorted(names)})")
      for i, instance in enumerate(payload):
        if is_named(instance):
          raise bad(f"Expecting value/list but got object at item {i} of input list")
      columns = {names[0]: payload}
  else:
    if is_named(payload):
      missing = [n for n in names if n not in payload]
      if missing:
        raise bad(f"Missing named input: {missing[0]} in 'inputs' object.")
      columns = {n: payload[n] for n in names}
    else:
      if len(names) > 1:
        raise bad("inputs is a plain value/list, but expecting an object as multiple "
                   f"input tensors required as per tensorinfo_map ({sorted(names)})")
      columns = {names[0]: payload}
  return {n: _to_array(columns[n], n, input_specs[n], has_bools, max_elements)
          for n in names}
