"""TF-Serving's REST behaviour, case by case (the README "Serving" table).

Each case is what tensorflow_serving/util/json_tensor.cc (rapidjson with
kParseNanAndInfFlag | kParseStopWhenDoneFlag), its test and
http_rest_api_handler.cc / http_rest_api_util.cc do for that input.
"""

import base64
import json
import socket

import pytest
import tensorflow as tf

from eggsep_tf.export import rest_json
from eggsep_tf.export.rest_json import RestError
from eggsep_tf.export.rest_server import serve_in_thread
from tests.test_serve import _export

_FLOAT = '"signature_name": "scaled", "inputs": {"n": [1], "a": '
_INT = '"signature_name": "scaled", "inputs": {"a": [1.0], "n": '


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  running = serve_in_thread(base, "toy", poll_seconds=0, version_labels={"stable": 1},
                            max_body_bytes=1 << 20)
  yield running
  running.stop()


def _http(server, method, path, body=b"", headers=None):
  """(status, headers dict, body bytes) over one raw connection (bytes go as given)."""
  lines = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}",
           "Connection: close"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
  with socket.create_connection((server.host, server.port), timeout=30) as s:
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    reply = b""
    while piece := s.recv(65536):
      reply += piece
  head, _, content = reply.partition(b"\r\n\r\n")
  head_lines = head.decode("latin-1").split("\r\n")
  fields = dict(line.split(": ", 1) for line in head_lines[1:])
  return int(head_lines[0].split()[1]), fields, content


def _predict(server, body, path="/v1/models/toy:predict"):
  status, _, content = _http(server, "POST", path,
                             body if isinstance(body, bytes) else body.encode())
  assert b"\n" not in content.strip() or status == 200
  return status, json.loads(content, parse_constant=str)


# (body, expected status, expected output or None) -- output of "scaled" is a * n.
_CASES = {
    "NaN and Infinity literals": ("{" + _FLOAT + "[NaN, Infinity, -Infinity]}}", 200,
                                  ["NaN", "Infinity", "-Infinity"]),
    "float beyond float32 becomes inf": ("{" + _FLOAT + "[1e39, -1e39]}}", 200,
                                         ["Infinity", "-Infinity"]),
    "1e400 is refused": ("{" + _FLOAT + "[1e400]}}", 400, None),
    "integer beyond uint64 is a double": ("{" + _FLOAT + "[" + "9" * 25 + "]}}", 200,
                                          [1e25]),
    "integer of 5000 digits": ("{" + _FLOAT + "[" + "9" * 5000 + "]}}", 400, None),
    "integer beyond int64 for an int": ("{" + _INT + "[" + "9" * 20 + "]}}", 400, None),
    "integer above 2**24 for a float": ("{" + _FLOAT + "[16777217]}}", 200, [16777216.0]),
    "boolean mixed into floats": ("{" + _FLOAT + "[1.0, true]}}", 400, None),
    "float for an int": ("{" + _INT + "[1.0]}}", 400, None),
    "trailing bytes are ignored": ("{" + _FLOAT + "[2.0]}} trailing garbage", 200, [2.0]),
    "first duplicate key wins": ("{" + _FLOAT + "[2.0]}, \"inputs\": 7}", 200, [2.0]),
    "UTF-8 byte-order mark": ("\ufeff{" + _FLOAT + "[2.0]}}", 200, [2.0]),
    "empty document": ("  \n", 400, None),
    "nesting 100000 deep": ("[" * 100000 + "]" * 100000, 400, None),
    "not an object": ("[1]", 400, None),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_number_and_syntax_cases(server, case):
  body, status, output = _CASES[case]
  got, reply = _predict(server, body)
  assert got == status, reply
  if output is not None:
    assert reply == {"outputs": output}
  else:
    assert set(reply) == {"error"} and "\n" not in reply["error"]


def _echo(server, raw_strings):
  body = b'{"signature_name": "echo_bytes", "inputs": [' + raw_strings + b"]}"
  return _predict(server, body)


def test_string_cases(server):
  # Invalid UTF-8 passes through unchanged (rapidjson does not validate).
  status, reply = _echo(server, b'"a\xff"')
  assert status == 200
  assert base64.b64decode(reply["outputs"]["echo_bytes"][0]["b64"]) == b"a\xff"
  # ... also in keys and values the request ignores.
  status, _ = _predict(server, b'{"x\xfe": "\xff", "inputs": [[1.0]]}')
  assert status == 200
  # A surrogate pair is one character; a lone surrogate is a parse error.
  status, reply = _echo(server, b'"\\ud83d\\ude00", "\\\\ud800"')
  assert status == 200
  assert reply["outputs"]["text"] == ["\U0001F600", "\\ud800"]
  for lone in (b'"\\ud800"', b'"\\ude00"', b'"\\ud800\\ud800"', b'"x\\ud83d"'):
    assert _echo(server, lone)[0] == 400, lone
  # Base64 with line breaks and without padding.
  wrapped = base64.encodebytes(b"\x00\x01" * 60).decode().rstrip("=\n")
  status, reply = _echo(server, json.dumps({"b64": wrapped}).encode())
  assert status == 200
  assert base64.b64decode(reply["outputs"]["echo_bytes"][0]["b64"]) == b"\x00\x01" * 60
  assert _echo(server, b'{"b64": "!!!!"}')[0] == 400
  # Strings nested deeper than numpy's 64 dimensions.
  assert _echo(server, b"[" * 70 + b'"a"' + b"]" * 70)[0] == 400
  # A UTF-16 body is not UTF-8 JSON.
  assert _predict(server, '{"inputs": [[1.0]]}'.encode("utf-16"))[0] == 400


@pytest.mark.parametrize("method,path,status", [
    ("POST", "/V1/MODELS/toy:predict", 200),            # Paths are case-insensitive...
    ("POST", "/v1/models/toy:PREDICT", 400),            # ... the verb is not.
    ("POST", "/v1/models/toy:predict?x=1", 400),        # The query is part of the path.
    ("GET", "/v1/models/toy?x=1", 404),                 # ... so the name is "toy?x=1".
    ("POST", "/v1/models/toy/labels/nope:predict", 400),
    ("GET", "/v1/models/toy/labels/nope", 400),
    ("POST", "/v1/models/toy/versions/99999999999999999999:predict", 400),
    ("POST", "/v1/models/toy/versions/2:predict", 404),
    ("POST", "/v1/models/toy/labels/stable:predict", 200),
    ("PUT", "/v1/models/toy:predict", 400),
    ("DELETE", "/v1/models/toy", 400),
    ("GET", "/v2/models/toy", 404),
])
def test_url_cases(server, method, path, status):
  body = b'{"inputs": [[4.0]]}' if method in ("POST", "PUT") else b""
  got, _, content = _http(server, method, path, body)
  assert got == status, content
  reply = json.loads(content)
  assert ("outputs" in reply) if status == 200 else (set(reply) == {"error"})


def test_metadata_subresource_is_case_sensitive(server):
  status, _, content = _http(server, "GET", "/v1/models/toy/METADATA")
  assert status == 200 and "model_version_status" in json.loads(content)
  status, _, content = _http(server, "GET", "/v1/models/toy/metadata")
  assert status == 200 and "metadata" in json.loads(content)


def test_cors_preflight(server):
  status, _, content = _http(server, "OPTIONS", "/v1/models/toy:predict",
                             headers={"Origin": "https://example.com"})
  assert status == 200 and content == b""
  status, _, content = _http(server, "OPTIONS", "/v1/models/toy:predict")
  assert status == 400 and "CORS" in json.loads(content)["error"]


def test_parse_json_never_raises_anything_else():
  for body in (b"", b"{", b'{"a": 1e999999}', b"\xff\xfe{\x00}\x00", b'"\\ud800"',
               b"[" * 5000, b"1" * 5000, b'{"a": -' + b"9" * 400 + b".5}", b"nul"):
    with pytest.raises(RestError) as error:
      rest_json.parse_json(body)
    assert error.value.status == 400 and "\n" not in error.value.message
  assert rest_json.parse_json(b'{"a": 1, "a": 2} {') == {"a": 1}


_SPECS = {d: {"v": tf.TensorSpec(None, d)} for d in (tf.float32, tf.int32, tf.bool, tf.string)}


@pytest.mark.parametrize("text", [
    "[[1.0, 2.0], [3.0, 4.0]]", "[[1, 2], [3, 4]]", "[[1, 2.5], [3, 4]]", "[[true], [1.0]]",
    "[[true], [false]]", "[[1.0], [2.0, 3.0]]", "[[1e39], [-1e39]]", "[[1099511627776]]",
    "[[], []]", '[["a"], [1.0]]', '[[1.0], "x"]', "[[[1.0]], [2.0]]", "[[1, true]]",
    "[[NaN, Infinity]]", "[[18446744073709551615]]", '[{"b64": "AA=="}, [1]]', "[1, 2]"])
def test_items_read_one_by_one_decode_as_the_whole(text):
  """Packed items of "inputs" give what parsing the whole value at once gives."""
  for dtype, specs in _SPECS.items():
    results = []
    for way in ("items", "named items", "whole"):
      if way == "items":
        payload = rest_json.parse_json(('{"inputs": ' + text + "}").encode())["inputs"]
      elif way == "named items":
        payload = rest_json.parse_json(('{"inputs": {"v": ' + text + "}}").encode())["inputs"]
      else:
        payload = json.loads(text)
      try:
        arrays = rest_json.request_to_arrays(rest_json.COLUMNAR, payload, specs)
        results.append(("ok", arrays["v"].dtype, repr(arrays["v"].tolist())))
      except RestError as e:
        results.append(("error", e.status))
    assert results[0] == results[1] == results[2], (dtype, results)
