"""JSON text -> Python values, read the way TF-Serving's rapidjson reads it.

TF-Serving parses with kParseIterativeFlag | kParseNanAndInfFlag |
kParseStopWhenDoneFlag and does not validate UTF-8
(tensorflow_serving/util/json_tensor.cc). So here: parsing stops after the
first value, the first of duplicate keys wins, a UTF-8 byte-order mark is
skipped, invalid UTF-8 passes through (as surrogate escapes, turned back into
the same bytes for string tensors), a \\u escape of an unpaired UTF-16
surrogate is an error, NaN/Infinity/-Infinity are numbers, a number beyond
the double range is an error and an integer beyond uint64 becomes a double.

The arrays under the top-level "inputs" or "instances" key are read one item
at a time, and each numeric item becomes a numpy array at once (Packed): a
large body then never exists as Python floats all at once (they cost about
1.6x the JSON text; numpy float64 about 0.4x).
"""

import json
import re

import numpy as np


class RestError(Exception):
  """A request the server answers with {"error": message} and `status`."""

  def __init__(self, status, message, code=None):
    super().__init__(message)
    self.status = status
    self.message = message
    self.code = code  # A TF error code (tf.errors.*) when the model raised it.


def bad(message):
  return RestError(400, message)


class _NumberTooBig(ValueError):
  pass


def short(value, limit=80):
  """The JSON text of `value`, cut to `limit` characters (for error messages)."""
  try:
    text = json.dumps(value, ensure_ascii=True)
  except (TypeError, ValueError, RecursionError):
    text = type(value).__name__
  return text if len(text) <= limit else text[:limit] + "..."


def is_b64(value):
  """True for a {"b64": "<string>"} object (the only key, a string value)."""
  return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def is_named(value):
  """An object of named inputs (any object that is not a b64 value)."""
  return isinstance(value, dict) and not is_b64(value)


# --- the JSON text ----------------------------------------------------------------

# Bodies that need the exact (slower, Python) number hooks: integers of 20 digits or
# more (beyond uint64), exponents of 3 digits or numbers of 309 digits (beyond double).
# Others use the C decoder's own number parsing.
_BIG_EXPONENT = re.compile(rb"[eE][+-]?0*[0-9]{3}")
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_SCAN_CHUNK = 1 << 20


def _has_digit_run(view, length):
  """Whether `view` holds `length` digits in a row (translate + find: fast in C)."""
  needle = b"0" * length
  for start in range(0, len(view), _SCAN_CHUNK):
    if needle in bytes(view[start:start + _SCAN_CHUNK + length - 1]).translate(
        _DIGITS_TO_ZERO):
      return True
  return False
_ESCAPED_SURROGATE = re.compile(rb"(\\+)u[dD][89a-fA-F][0-9a-fA-F]{2}")
_UINT64_MAX = 2**64 - 1
_LEADING = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")  # A UTF-8 BOM is skipped.


def _first_key_wins(pairs):
  result = {}
  for key, value in pairs:
    result.setdefault(key, value)
  return result


def _parse_float(text):
  value = float(text)
  if value in (float("inf"), float("-inf")):
    raise _NumberTooBig(text)
  return value


def _parse_int(text):
  digits = len(text) - (text[0] == "-")
  if digits <= 20:
    value = int(text)
    if value <= _UINT64_MAX:
      return value
  return _parse_float(text)  # rapidjson turns such integers into doubles.


def _check_escaped_surrogates(body):
  """rapidjson refuses a \\u escape of a UTF-16 surrogate that is not in a pair."""
  expect_low_at = -1
  for match in _ESCAPED_SURROGATE.finditer(body):
    if len(match.group(1)) % 2 == 0:  # An escaped backslash, then "u...".
      continue
    high = match.group(0)[-4:-2].lower() in (b"d8", b"d9", b"da", b"db")
    if high:
      if expect_low_at >= 0:
        break
      expect_low_at = match.end()
    elif len(match.group(1)) == 1 and match.start() == expect_low_at:
      expect_low_at = -1
    else:
      break
  else:
    if expect_low_at < 0:
      return
  raise bad("JSON Parse error: The surrogate pair in string is invalid.")


def parse_json(body, has_bools=True):
  """The first JSON value in `body` (bytes-like), as TF-Serving's parser reads it.

  A bytearray `body` is emptied once decoded (so that a large body is not held
  twice while it is parsed). Items of a top-level "inputs"/"instances" array
  may come back as Packed arrays; `has_bools` False says the text holds no
  true/false (which spares a check of each packed item).

  Raises:
    RestError(400): empty, not JSON, numbers beyond double, bad surrogates.
  """
  start = _LEADING.match(body).end()
  if start == len(body):
    raise bad("JSON Parse error: The document is empty.")
  view = memoryview(body)[start:]
  if b"\\u" in body:
    _check_escaped_surrogates(view)
  exact_int = _has_digit_run(view, 20)
  exact_float = _BIG_EXPONENT.search(view) is not None or _has_digit_run(view, 309)
  # surrogateescape keeps invalid UTF-8 as it came (rapidjson does not check).
  text = str(view, "utf-8", "surrogateescape")
  view.release()
  if isinstance(body, bytearray):
    body.clear()  # The caller's copy too: a large body need not outlive its text.
  del view, body
  decoder = json.JSONDecoder(
      object_pairs_hook=_first_key_wins,
      parse_float=_parse_float if exact_float else None,
      parse_int=_parse_int if exact_int else None)
  try:
    value = _top_level(decoder, text, has_bools)
  except _NumberTooBig:
    raise bad("JSON Parse error: Number too big to be stored in double.") from None
  except json.JSONDecodeError as e:
    raise bad(f"JSON Parse error: {e.msg} at offset: {e.pos}") from None
  except (ValueError, RecursionError, MemoryError):
    raise bad("JSON Parse error: nested too deeply or a number too long") from None
  return value


# --- the top-level object, item by item ----------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_STREAMED_KEYS = ("inputs", "instances")


class Packed:
  """One item of a top-level "inputs"/"instances" array, already a numpy array.

  Only items that were lists of numbers, or of booleans only, are packed;
  np.asarray of the item gave `array` (float64, int64, uint64 or bool).
  """

  __slots__ = ("array",)

  def __init__(self, array):
    self.array = array

  def unpack(self):
    return self.array.tolist()


def holds_bool(value):
  """Whether nested lists `value` hold a JSON true/false anywhere."""
  stack = [value]
  while stack:
    v = stack.pop()
    if isinstance(v, list):
      stack.extend(v)
    elif isinstance(v, bool):
      return True
  return False


def _pack(item, has_bools):
  if not isinstance(item, list):
    return item
  try:
    array = np.asarray(item)
  except (ValueError, TypeError, OverflowError):
    return item
  kind = array.dtype.kind
  if kind not in "biuf" or (has_bools and kind != "b" and holds_bool(item)):
    return item
  return Packed(array)


def _skip(text, i):
  return _WS.match(text, i).end()


def _expect(text, i, chars, what):
  if i >= len(text) or text[i] not in chars:
    raise json.JSONDecodeError(f"Expecting {what}", text, i)


def _array_items(decoder, text, i, has_bools):
  """The array at text[i] ('['), its numeric items packed; (list, end)."""
  items = []
  i = _skip(text, i + 1)
  if i < len(text) and text[i] == "]":
    return items, i + 1
  while True:
    item, i = decoder.raw_decode(text, i)
    items.append(_pack(item, has_bools))
    i = _skip(text, i)
    _expect(text, i, ",]", "',' or ']'")
    if text[i] == "]":
      return items, i + 1
    i = _skip(text, i + 1)


def _object_members(decoder, text, i, value_reader):
  """The object at text[i] ('{'), value_reader(key, i) reading each value; (dict, end)."""
  result = {}
  i = _skip(text, i + 1)
  if i < len(text) and text[i] == "}":
    return result, i + 1
  while True:
    _expect(text, i, '"', "property name enclosed in double quotes")
    key, i = decoder.raw_decode(text, i)
    i = _skip(text, i)
    _expect(text, i, ":", "':' delimiter")
    i = _skip(text, i + 1)
    value, i = value_reader(key in result, key, i)
    result.setdefault(key, value)  # The first of duplicate keys wins.
    i = _skip(text, i)
    _expect(text, i, ",}", "',' or '}'")
    if text[i] == "}":
      return result, i + 1
    i = _skip(text, i + 1)


def _top_level(decoder, text, has_bools):
  """The first value of `text`; the arrays of "inputs"/"instances" read item by item.

  Anything after that value is ignored.
  """
  def packed_arrays(duplicate, key, i):  # Values of a named-inputs object.
    if not duplicate and text.startswith("[", i):
      return _array_items(decoder, text, i, has_bools)
    return decoder.raw_decode(text, i)

  def top_member(duplicate, key, i):
    if not duplicate and key in _STREAMED_KEYS:
      if text.startswith("[", i):
        return _array_items(decoder, text, i, has_bools)
      if key == "inputs" and text.startswith("{", i):
        return _object_members(decoder, text, i, packed_arrays)
    return decoder.raw_decode(text, i)

  if not text.startswith("{"):
    return decoder.raw_decode(text)[0]
  return _object_members(decoder, text, 0, top_member)[0]
