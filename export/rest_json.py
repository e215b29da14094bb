"""TensorFlow Serving's JSON tensor encoding, between request bodies and numpy.

Follows TF-Serving's REST API (tensorflow.org/tfx/serving/api_rest):

- Request: {"signature_name": str (optional), "instances": [...]} (row format)
  or {"signature_name": ..., "inputs": ...} (columnar format), never both.
  Row format: each instance is a value (single-input signature) or an object
  with every named input; instances are stacked on a new batch axis.
  Columnar: a value (single-input signature) or an object of named inputs.
- Binary strings travel as {"b64": "<standard base64>"} and reach the graph as
  bytes; a plain JSON string reaches it as its UTF-8 bytes.
- Reply: {"predictions": [...]} (row: one entry per instance, a bare value
  when the signature has one output, else an object) or {"outputs": ...}
  (columnar: a bare value or an object). String outputs whose name ends in
  "_bytes" are written as {"b64": ...}. Float32 values are written with the
  shortest decimal that reads back to the same float32 (0.1, not
  0.10000000149011612), NaN and +-Infinity as the tokens NaN/Infinity.

One addition to TF-Serving: a string output that is not valid UTF-8 is also
written as {"b64": ...} (TF-Serving would emit invalid JSON).

Every user error raises RestError with an HTTP status and one message.
"""

import base64
import binascii
import json

import numpy as np
import tensorflow as tf

ROW = "row"
COLUMNAR = "columnar"
DEFAULT_SIGNATURE = "serving_default"
BYTES_SUFFIX = "_bytes"


class RestError(Exception):
  """A request the server answers with {"error": message} and `status`."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status
    self.message = message


def _bad(message):
  return RestError(400, message)


def _short(value, limit=80):
  """The JSON text of `value`, cut to `limit` characters (for error messages)."""
  try:
    text = json.dumps(value)
  except (TypeError, ValueError):
    text = repr(value)
  return text if len(text) <= limit else text[:limit] + "..."


def is_b64(value):
  """True for a {"b64": "<string>"} object (the only key, a string value)."""
  return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_named(value):
  """An object of named inputs (any object that is not a b64 value)."""
  return isinstance(value, dict) and not is_b64(value)


def parse_predict_request(body):
  """Parses a :predict body.

  Args:
    body: the request body, bytes (UTF-8 JSON).

  Returns:
    (signature_name, format, payload): the signature ("serving_default" when
    absent or empty), ROW or COLUMNAR, and the value of "instances"/"inputs".

  Raises:
    RestError(400): not JSON, not an object, a non-string signature_name,
      both or neither of "instances" and "inputs", or empty "instances".
  """
  if not body:
    raise _bad("JSON Parse error: the document is empty")
  try:
    request = json.loads(body)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise _bad(f"JSON Parse error: {e}") from None
  except RecursionError:
    raise _bad("JSON Parse error: nested too deeply") from None
  if not isinstance(request, dict):
    raise _bad(f"JSON Value: {_short(request)} Is not object")
  signature = request.get("signature_name", "")
  if not isinstance(signature, str):
    raise _bad("'signature_name' key must be a string value")
  signature = signature or DEFAULT_SIGNATURE
  has_instances, has_inputs = "instances" in request, "inputs" in request
  if has_instances and has_inputs:
    raise _bad("expecting only one of 'inputs' or 'instances' keys, got both")
  if has_instances:
    instances = request["instances"]
    if not isinstance(instances, list):
      raise _bad("expecting 'instances' to be a list/array")
    if not instances:
      raise _bad("no values in 'instances' array")
    return signature, ROW, instances
  if has_inputs:
    return signature, COLUMNAR, request["inputs"]
  raise _bad("missing 'inputs' or 'instances' key")


# --- JSON values -> numpy arrays -------------------------------------------------


def _decode_b64(value, name):
  text = value["b64"]
  try:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
  except (binascii.Error, ValueError):
    raise _bad(f"input '{name}': unable to base64 decode {_short(text, 40)}") from None


def _string_array(value, name):
  """Nested lists of strings / b64 objects -> object array of bytes (dense)."""
  shape = []
  probe = value
  while isinstance(probe, list):
    shape.append(len(probe))
    if not probe:
      break
    probe = probe[0]
  flat = []

  def walk(v, level):
    if isinstance(v, list):
      if level >= len(shape) or len(v) != shape[level]:
        raise _bad(f"input '{name}': nested lists of unequal length (a tensor must be "
                   f"a dense, rectangular list); expected shape {shape}")
      for item in v:
        walk(item, level + 1)
      return
    if level != len(shape):
      raise _bad(f"input '{name}': value {_short(v)} found at depth {level}, "
                 f"expected depth {len(shape)}")
    if isinstance(v, str):
      flat.append(v.encode("utf-8"))
    elif is_b64(v):
      flat.append(_decode_b64(v, name))
    else:
      raise _bad(f"input '{name}': JSON value {_short(v)} is not of expected type: "
                 "string (a JSON string or {\"b64\": ...})")

  walk(value, 0)
  array = np.empty(len(flat), dtype=object)
  array[:] = flat
  return array.reshape(shape)


def _numeric_array(value, name, dtype):
  """Nested lists of numbers (or booleans) -> a dense array of `dtype`."""
  try:
    array = np.asarray(value)
  except (ValueError, TypeError):
    raise _bad(f"input '{name}': nested lists of unequal length (a tensor must be a "
               "dense, rectangular list)") from None
  kind = array.dtype.kind
  np_dtype = dtype.as_numpy_dtype
  if dtype.is_bool:
    ok = kind == "b" or array.size == 0
  elif dtype.is_integer:
    ok = kind in "iu" or array.size == 0
  elif dtype.is_floating:
    ok = kind in "iuf" or array.size == 0
  else:
    raise _bad(f"input '{name}': JSON conversion to {dtype.name} is not supported")
  if not ok:
    found = {"U": "strings", "O": "objects, nulls or mixed values", "b": "booleans",
             "f": "non-integer numbers"}.get(kind, array.dtype.name)
    raise _bad(f"input '{name}': expected {dtype.name} values, got {found}")
  if array.size and dtype.is_integer:
    info = np.iinfo(np_dtype)
    if array.min() < info.min or array.max() > info.max:
      raise _bad(f"input '{name}': values outside the range of {dtype.name}")
  if array.size and dtype.is_floating and kind == "f":
    finite = np.abs(array[np.isfinite(array)])
    if finite.size and finite.max() > np.finfo(np_dtype).max:
      raise _bad(f"input '{name}': cannot convert values to {dtype.name} without "
                 "loss of precision (too large)")
  return array.astype(np_dtype, copy=False)


def _to_array(value, name, spec):
  """One JSON value -> an array checked against `spec` (dtype, rank, static dims)."""
  if spec.dtype == tf.string:
    array = _string_array(value, name)
  else:
    if _is_named(value) or is_b64(value):
      raise _bad(f"input '{name}': JSON value {_short(value)} is not of expected type: "
                 f"{spec.dtype.name}")
    array = _numeric_array(value, name, spec.dtype)
  shape = spec.shape
  if shape.rank is not None:
    expected = [-1 if d is None else d for d in shape.as_list()]
    if array.ndim != shape.rank or any(
        d != -1 and d != got for d, got in zip(expected, array.shape)):
      raise _bad(f"input '{name}': expected shape {expected} (rank {shape.rank}, -1 = any "
                 f"size) but got shape {list(array.shape)}")
  return array


def request_to_arrays(request_format, payload, input_specs):
  """The tensors a request gives each input of a signature.

  Args:
    request_format: ROW or COLUMNAR (from parse_predict_request).
    payload: the value of "instances" (ROW) or "inputs" (COLUMNAR).
    input_specs: {input name: tf.TensorSpec} of the signature.

  Returns:
    {input name: np.ndarray} with the dtype of each spec (strings as object
    arrays of bytes); in ROW format the first axis is the instance axis.

  Raises:
    RestError(400): a missing input, a wrong type, rank or shape, ragged lists.
  """
  names = list(input_specs)
  if request_format == ROW:
    if _is_named(payload[0]):
      columns = {n: [] for n in names}
      for i, instance in enumerate(payload):
        if not _is_named(instance):
          raise _bad(f"expecting object but got {_short(instance, 40)} at item {i} of "
                     "'instances'")
        if set(instance) != set(names):
          raise _bad(f"item {i} of 'instances' must have exactly the keys "
                     f"{sorted(names)}, got {sorted(instance)}")
        for n in names:
          columns[n].append(instance[n])
    else:
      if len(names) > 1:
        raise _bad(f"'instances' is a plain list, but the signature has several inputs "
                   f"{sorted(names)}: give each instance as an object of named inputs")
      for i, instance in enumerate(payload):
        if _is_named(instance):
          raise _bad(f"expecting value/list but got object at item {i} of 'instances'")
      columns = {names[0]: payload}
  else:
    if _is_named(payload):
      missing = [n for n in names if n not in payload]
      if missing:
        raise _bad(f"missing named input(s) {missing} in 'inputs' object; the signature "
                   f"takes {sorted(names)}")
      columns = {n: payload[n] for n in names}
    else:
      if len(names) > 1:
        raise _bad(f"'inputs' is a plain value/list, but the signature has several inputs "
                   f"{sorted(names)}: give an object of named inputs")
      columns = {names[0]: payload}
  return {n: _to_array(columns[n], n, input_specs[n]) for n in names}


# --- numpy outputs -> JSON -------------------------------------------------------


def _b64(data):
  return {"b64": base64.b64encode(data).decode("ascii")}


def _strings_to_json(value, as_bytes):
  if isinstance(value, list):
    return [_strings_to_json(v, as_bytes) for v in value]
  if as_bytes:
    return _b64(value)
  try:
    return value.decode("utf-8")
  except UnicodeDecodeError:
    return _b64(value)


def _tensor_to_json(name, array):
  """An output array -> nested lists (or a scalar) that json.dumps writes."""
  array = np.asarray(array)
  kind = array.dtype.kind
  if kind in "OSU":
    if kind == "U":
      array = np.char.encode(array, "utf-8")
    return _strings_to_json(array.tolist(), name.endswith(BYTES_SUFFIX))
  if kind == "f" and array.dtype.itemsize < 8:
    # numpy's str() of a float32 is its shortest round-trip decimal; float64 of
    # that decimal prints the same digits.
    return array.astype(str).astype(np.float64).tolist()
  if kind in "biuf":
    return array.tolist()
  raise _bad(f"output '{name}': cannot write a {array.dtype} tensor as JSON")


def outputs_to_json(outputs, request_format):
  """Encodes a signature's outputs as the reply body.

  Args:
    outputs: {output name: np.ndarray} in signature order.
    request_format: ROW ({"predictions": [...]}) or COLUMNAR ({"outputs": ...}).

  Returns:
    The reply body, bytes.

  Raises:
    RestError(400): in ROW format, an output without a batch axis or with a
      batch size that differs from the others (as TF-Serving; ask in the
      columnar format instead).
  """
  if not outputs:
    raise _bad("the signature returned no outputs")
  single = len(outputs) == 1
  if request_format == ROW:
    batch = None
    for name, array in outputs.items():
      if np.ndim(array) == 0:
        raise _bad(f"output '{name}' is a scalar (no batch axis), so it cannot be "
                   "returned in the row ('instances') format; use 'inputs'")
      size = np.shape(array)[0]
      if size < 1 or (batch is not None and size != batch):
        raise _bad(f"output '{name}' has batch size {size}, expecting {batch or '>= 1'}; "
                   "use the columnar ('inputs') format")
      batch = size
    columns = {n: _tensor_to_json(n, a) for n, a in outputs.items()}
    if single:
      predictions = next(iter(columns.values()))
    else:
      predictions = [{n: columns[n][i] for n in columns} for i in range(batch)]
    reply = {"predictions": predictions}
  else:
    columns = {n: _tensor_to_json(n, a) for n, a in outputs.items()}
    reply = {"outputs": next(iter(columns.values())) if single else columns}
  return json.dumps(reply, separators=(",", ":")).encode("utf-8")
