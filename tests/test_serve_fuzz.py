"""Malformed and hostile requests, generated from a seed: never a 500, server alive.

The fast test sends 400 requests; the slow one (pytest --runslow) sends the
issue's 10,000. Loopback only; each request is bounded by the client timeout.
"""

import base64
import gzip
import http.client
import json
import random

import pytest

from eggsep_tf.export.rest_server import serve_in_thread
from eggsep_tf.export.serving_limits import Limits
from tests.test_serve import _export

_VALID = [
    {"inputs": [[1.0, 2.0]]},
    {"instances": [[1.0], [2.0]]},
    {"signature_name": "scaled", "inputs": {"a": [1.5], "n": [2]}},
    {"signature_name": "scaled", "instances": [{"a": 1.5, "n": 2}]},
    {"signature_name": "echo_bytes", "inputs": ["a", {"b64": "AAE="}]},
    {"signature_name": "with_rate", "inputs": [[1.0, 2.0]]},
    {"signature_name": "png_shape", "inputs": [{"b64": "iVBORw0KGgo="}]},
]
_TOKENS = [b"NaN", b"-Infinity", b"Inf", b"1e400", b"1e39", b"9" * 5000, b"-" + b"9" * 30,
           b'"\\ud800"', b'"\\udc00x"', b"[" * 200, b"]" * 3, b"true", b"null", b"{}",
           b'{"b64": "!!"}', b'{"b64": 1}', b"\xff\xfe", b"\x00", b"-", b"1e", b"0x1F",
           b'"', b"\\", b",", b":", b'"signature_name"', b'"instances"', b'"inputs"',
           b"[[1.0],[2.0,3.0]]", b"[" * 70 + b'"s"' + b"]" * 70, b"\xf0\x9f\x98", b"1" * 20]
_PATHS = ["/v1/models/toy:predict", "/v1/models/toy/versions/1:predict",
          "/v1/models/toy/labels/stable:predict", "/v1/models/toy/labels/x%00:predict",
          "/v1/models/toy/versions/" + "9" * 40 + ":predict", "/v1/models/%ff%fe:predict",
          "/v1/models/toy:classify", "/v1/models/toy:PREDICT", "/v1/models/toy/metadata",
          "/v1/models/toy", "/v1/models//:predict", "/v1/models/toy?%%%", "/v1/",
          "/v1/models/" + "a" * 3000, "/", "/v1/models/toy:predict#frag"]


def _random_value(rng, depth=0):
  choice = rng.randrange(8 if depth < 4 else 5)
  if choice == 0:
    return rng.choice([None, True, False, 0, -1, 2**63, 1e308, float("nan")])
  if choice == 1:
    return rng.uniform(-1e6, 1e6)
  if choice == 2:
    return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(5)))
  if choice == 3:
    return {"b64": base64.b64encode(rng.randbytes(rng.randrange(6))).decode()}
  if choice == 4:
    return rng.randrange(-2**40, 2**40)
  if choice in (5, 6):
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
  return {rng.choice(["y", "a", "n", "data", "b64", "inputs"]): _random_value(rng, depth + 1)
          for _ in range(rng.randrange(3))}


def _mutated_body(rng):
  body = json.dumps(rng.choice(_VALID)).encode()
  for _ in range(rng.randrange(1, 4)):
    at = rng.randrange(len(body) + 1)
    kind = rng.randrange(4)
    if kind == 0:
      body = body[:at] + rng.choice(_TOKENS) + body[at:]
    elif kind == 1:
      body = body[:at] + body[at + rng.randrange(1, 8):]
    elif kind == 2 and body:
      body = body[:at] + bytes([rng.randrange(256)]) + body[at + 1:]
    else:
      body = body[:at]
  return body


def _request(rng):
  """(method, path, body, headers) of one hostile request."""
  kind = rng.randrange(10)
  headers = {"Content-Type": "application/json"}
  path, method = "/v1/models/toy:predict", "POST"
  if kind < 5:
    body = _mutated_body(rng)
  elif kind < 8:
    top = {rng.choice(["inputs", "instances"]): _random_value(rng)}
    if rng.random() < 0.5:
      top["signature_name"] = rng.choice(["scaled", "echo_bytes", "with_rate", "png_shape",
                                          "serving_default", 7, ""])
    body = json.dumps(top).encode()
  elif kind == 8:
    body = json.dumps(rng.choice(_VALID)).encode()
    path = rng.choice(_PATHS)
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
  else:
    body = json.dumps(rng.choice(_VALID)).encode()
    encoding = rng.choice(["gzip", "deflate", "br", "gzip, gzip", "identity"])
    headers["Content-Encoding"] = encoding
    if encoding.startswith("gzip") and rng.random() < 0.7:
      body = gzip.compress(body)
      if rng.random() < 0.5:
        body = body[:rng.randrange(len(body))]
  return method, path, body, headers


def _fuzz(server, count, seed):
  rng = random.Random(seed)
  statuses = {}
  connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
  for i in range(count):
    method, path, body, headers = _request(rng)
    try:
      connection.request(method, path, body=body, headers=headers)
      reply = connection.getresponse()
      content = reply.read()
      status = reply.status
    except (OSError, http.client.HTTPException):
      connection.close()
      connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
      status, content = "dropped", b""
    statuses[status] = statuses.get(status, 0) + 1
    assert status != 500, (i, method, path, body[:300], content)
    if isinstance(status, int) and status >= 400:
      error = json.loads(content)["error"]
      assert "\n" not in error and "Traceback" not in error, error
    if reply.will_close if isinstance(status, int) else True:
      connection.close()
      connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
  connection.close()
  return statuses


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  running = serve_in_thread(base, "toy", poll_seconds=0, version_labels={"stable": 1},
                            limits=Limits(max_body_bytes=64 * 1024, request_timeout_s=10,
                                          body_read_timeout_s=2, max_tensor_elements=10**5))
  yield running
  running.stop()


def _alive_and_correct(server):
  connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
  connection.request("POST", "/v1/models/toy:predict", body=b'{"inputs": [[4.0]]}')
  reply = connection.getresponse()
  assert (reply.status, json.loads(reply.read())) == (
      200, {"outputs": {"x": [[1.0]], "b": [[3.0]]}})
  connection.close()


def test_fuzz_never_500(server):
  statuses = _fuzz(server, 400, seed=1)
  assert 200 in statuses and 400 in statuses  # The generator reaches both.
  _alive_and_correct(server)


@pytest.mark.slow
def test_fuzz_10000_never_500(server):
  statuses = _fuzz(server, 10_000, seed=2)
  print("statuses:", statuses)
  _alive_and_correct(server)
