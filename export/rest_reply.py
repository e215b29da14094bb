"""A signature's outputs (numpy) -> TF-Serving's JSON reply, fast.

- {"predictions": [...]} (row format: one entry per instance, a bare value
  when the signature has one output, else an object) or {"outputs": ...}
  (columnar: a bare value or an object).
- Floats: the float32 value itself, written with the shortest decimal that
  reads back to it (0.1, not 0.10000000149011612), whole numbers as 1.0;
  NaN and +-Infinity as the tokens NaN/Infinity, as TF-Serving writes them.
  (TF-Serving prints %g or %.9g digits: the text can differ, the float32
  value read back is the same.)
- Strings: text, or {"b64": ...} for outputs whose name ends in "_bytes".
  One addition to TF-Serving: a string that is not valid UTF-8 is also
  written as {"b64": ...} (TF-Serving would emit invalid JSON).

orjson writes numpy arrays in C (about 20x faster than json.dumps of
nested lists); replies with non-finite floats take the standard library.
outputs_to_pieces gives the same bytes as a list of pieces of about
PIECE_ELEMENTS numbers each (large arrays written slice by slice), so that a
large reply is never held twice (as one buffer, then again as a copy in the
socket's send buffer): the server sends it piece by piece.
"""

import base64
import json

import numpy as np
import orjson

from eggsep_tf.export.rest_json import ROW
from eggsep_tf.export.rest_json import RestError

BYTES_SUFFIX = "_bytes"
PIECE_ELEMENTS = 32768  # About 300 KiB of JSON text for float32.
_ORJSON_KINDS = "biuf"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _b64(data):
  return {"b64": base64.b64encode(data).decode("ascii")}


def _strings_to_json(value, as_bytes):
  if isinstance(value, list):
    return [_strings_to_json(v, as_bytes) for v in value]
  if isinstance(value, str):
    value = value.encode("utf-8")
  if as_bytes:
    return _b64(value)
  try:
    return value.decode("utf-8")
  except UnicodeDecodeError:
    return _b64(value)


def _prepare(name, array):
  """An output -> what orjson writes: a C-contiguous numeric array or lists of str."""
  array = np.asarray(array)
  kind = array.dtype.kind
  if kind in "OSU":
    return _strings_to_json(array.tolist(), name.endswith(BYTES_SUFFIX))
  if kind not in _ORJSON_KINDS:
    raise RestError(400, f"Failed to write JSON value for tensor '{name}' of type "
                    f"{array.dtype}")
  if kind == "f" and array.dtype not in (np.float16, np.float32, np.float64):
    array = array.astype(np.float32)  # bfloat16 and other extension floats.
  if array.ndim == 0:
    return array[()]
  return np.ascontiguousarray(array)


def _finite(prepared):
  return not (isinstance(prepared, (np.ndarray, np.floating)) and prepared.dtype.kind == "f"
              and not np.isfinite(prepared).all())


def _slow_value(value):
  """Lists for json.dumps, float32 as its shortest decimal (non-finite replies)."""
  if isinstance(value, (np.ndarray, np.generic)):
    if value.dtype.kind == "f" and value.dtype.itemsize < 8:
      return value.astype(str).astype(np.float64).tolist()
    return value.tolist()
  return value


def _array_pieces(array, limit):
  """A C-contiguous array (ndim >= 1) as JSON pieces of about `limit` elements."""
  if array.size <= limit:
    yield orjson.dumps(array, option=_NUMPY)
    return
  row = array.size // len(array)  # Elements per item along the first axis (1 for 1-D).
  step = max(1, limit // row)
  yield b"["
  for start in range(0, len(array), step):
    if start:
      yield b","
    if row > limit:  # One item is itself too large: split it in turn.
      yield from _array_pieces(array[start], limit)
    else:
      yield memoryview(orjson.dumps(array[start:start + step], option=_NUMPY))[1:-1]
  yield b"]"


def _pieces(value, limit):
  """JSON pieces of a reply value: dicts, lists of dicts, arrays, scalars, strings."""
  if isinstance(value, np.ndarray) and value.ndim:
    yield from _array_pieces(value, limit)
  elif isinstance(value, dict) and value:
    yield b"{"
    for i, (key, item) in enumerate(value.items()):
      yield (b"," if i else b"") + orjson.dumps(key) + b":"
      yield from _pieces(item, limit)
    yield b"}"
  elif isinstance(value, list) and value and isinstance(value[0], dict):
    yield b"["  # Row format with several outputs: one object per instance.
    for i, item in enumerate(value):
      if i:
        yield b","
      yield from _pieces(item, limit)
    yield b"]"
  else:
    yield orjson.dumps(value, option=_NUMPY)


def _merged(pieces, limit_bytes):
  """Small pieces joined into parts of about `limit_bytes` (fewer socket writes)."""
  merged, pending, size = [], [], 0
  for piece in pieces:
    if size and size + len(piece) > limit_bytes:
      merged.append(b"".join(pending) if len(pending) > 1 else pending[0])
      pending, size = [], 0
    pending.append(piece)
    size += len(piece)
  if pending:
    merged.append(b"".join(pending) if len(pending) > 1 else pending[0])
  return merged


def _reply_value(outputs, request_format):
  """{"predictions"|"outputs": ...} of prepared columns, and the columns."""
  if not outputs:
    raise RestError(400, "Cannot convert empty tensor map to JSON")
  single = len(outputs) == 1
  columns = {n: _prepare(n, a) for n, a in outputs.items()}
  batch = None
  if request_format == ROW:
    for name, array in outputs.items():
      if np.ndim(array) == 0:
        raise RestError(400, f"Tensor name: {name} has no shape information (a scalar "
                        "cannot be returned in the row ('instances') format; use 'inputs')")
      size = np.shape(array)[0]
      if batch is not None and size != batch:
        raise RestError(400, f"Tensor name: {name} has inconsistent batch size: {size} "
                        f"expecting: {batch} (use the columnar ('inputs') format)")
      batch = size
    if single:
      reply = {"predictions": next(iter(columns.values()))}
    else:
      reply = {"predictions": [{n: c[i] for n, c in columns.items()} for i in range(batch)]}
  else:
    reply = {"outputs": next(iter(columns.values())) if single else columns}
  return reply, columns, batch


def _slow_reply(columns, request_format, batch):
  """The reply through json.dumps (non-finite floats as NaN/Infinity), bytes."""
  single = len(columns) == 1
  slow = {n: _slow_value(c) for n, c in columns.items()}
  if request_format == ROW:
    reply = {"predictions": next(iter(slow.values())) if single else
             [{n: c[i] for n, c in slow.items()} for i in range(batch)]}
  else:
    reply = {"outputs": next(iter(slow.values())) if single else slow}
  return json.dumps(reply, separators=(",", ":")).encode("utf-8")


def outputs_to_pieces(outputs, request_format, piece_elements=PIECE_ELEMENTS):
  """Encodes a signature's outputs as the reply body, in pieces.

  Args:
    outputs: {output name: np.ndarray} in signature order.
    request_format: ROW ({"predictions": [...]}) or COLUMNAR ({"outputs": ...}).
    piece_elements: about how many numbers one piece holds.

  Returns:
    A list of bytes-like pieces; joined, they are outputs_to_json's bytes.

  Raises:
    RestError(400): in ROW format, an output without a batch axis or with a
      batch size that differs from the others (as TF-Serving; ask in the
      columnar format instead).
  """
  reply, columns, batch = _reply_value(outputs, request_format)
  if all(_finite(c) for c in columns.values()):
    return _merged(_pieces(reply, piece_elements), 8 * piece_elements)
  return [_slow_reply(columns, request_format, batch)]


def outputs_to_json(outputs, request_format):
  """Encodes a signature's outputs as the reply body (bytes); see outputs_to_pieces."""
  reply, columns, batch = _reply_value(outputs, request_format)
  if all(_finite(c) for c in columns.values()):
    return orjson.dumps(reply, option=_NUMPY)
  return _slow_reply(columns, request_format, batch)
