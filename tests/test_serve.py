"""The TF-Serving-compatible REST server (export/serve.py) and its client.

A tiny SavedModel with several signatures is served from a free loopback port.
"""

import base64
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.export import client
from eggsep_tf.export import rest_json
from eggsep_tf.export import rest_reply
from eggsep_tf.export.model_registry import ModelRegistry
from eggsep_tf.export.rest_server import serve_in_thread
from tests.helpers import ROOT

MAX_BODY = 64 * 1024


class _Toy(tf.Module):
  """Signatures shaped like our separators', on toy arithmetic."""

  def __init__(self, scale):
    super().__init__()
    self.scale = tf.Variable(scale, dtype=tf.float32)

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="y")])
  def separate(self, y):
    return {"x": self.scale * y, "b": (1.0 - self.scale) * y}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
  def echo(self, data):
    return {"echo_bytes": data, "text": data, "length": tf.strings.length(data)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="a"),
                                tf.TensorSpec([None], tf.int32, name="n")])
  def scaled(self, a, n):
    return {"y": a * tf.cast(n, tf.float32)}

  @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="pairs")])
  def with_rate(self, pairs):
    return {"pairs": pairs, "sample_rate": tf.constant(16000)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="png_bytes")])
  def png_shape(self, png_bytes):
    return {"shape": tf.map_fn(lambda d: tf.shape(tf.io.decode_png(d)), png_bytes,
                               fn_output_signature=tf.int32)}


def _export(base, version, scale, name="toy"):
  """Writes a toy version the way export/saved_model.py does (temp folder, rename)."""
  module = _Toy(scale)
  tmp = os.path.join(base, name, f".tmp-{version}")
  tf.saved_model.save(module, tmp, signatures={
      "serving_default": module.separate, "echo_bytes": module.echo,
      "scaled": module.scaled, "with_rate": module.with_rate,
      "png_shape": module.png_shape})
  os.replace(tmp, os.path.join(base, name, str(version)))


def _call(url, body=None, method=None):
  """(HTTP status, parsed JSON reply) for a request; body: dict, bytes or None."""
  if isinstance(body, dict):
    body = json.dumps(body).encode()
  request = urllib.request.Request(url, data=body, method=method)
  try:
    with urllib.request.urlopen(request, timeout=30) as reply:
      return reply.status, json.loads(reply.read())
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  return base


@pytest.fixture(scope="module")
def server(model_base):
  running = serve_in_thread(model_base, "toy", max_body_bytes=MAX_BODY, poll_seconds=0.2,
                            version_labels={"stable": 1})
  yield running
  running.stop()


@pytest.fixture
def model_url(server):
  return server.url + "/v1/models/toy"


def _good_request_works(model_url):
  status, reply = _call(model_url + ":predict", {"inputs": [[4.0]]})
  assert status == 200, reply
  assert reply == {"outputs": {"x": [[1.0]], "b": [[3.0]]}}


def test_status_has_tf_serving_shape(model_url):
  expected = {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {
      "error_code": "OK", "error_message": ""}}]}
  for suffix in ("", "/versions/1", "/labels/stable"):
    assert _call(model_url + suffix) == (200, expected)


def test_metadata_has_tf_serving_shape(model_url):
  status, reply = _call(model_url + "/metadata")
  assert status == 200
  assert reply["model_spec"] == {"name": "toy", "signature_name": "", "version": "1"}
  defs = reply["metadata"]["signature_def"]["signature_def"]
  assert {"serving_default", "echo_bytes", "scaled", "with_rate"} <= set(defs)
  default = defs["serving_default"]
  assert default["method_name"] == "tensorflow/serving/predict"
  assert default["inputs"]["y"]["dtype"] == "DT_FLOAT"
  assert default["inputs"]["y"]["tensor_shape"] == {
      "dim": [{"size": "-1", "name": ""}, {"size": "-1", "name": ""}], "unknown_rank": False}
  assert set(default["outputs"]) == {"x", "b"}
  assert defs["echo_bytes"]["inputs"]["data"]["dtype"] == "DT_STRING"
  assert defs["with_rate"]["outputs"]["sample_rate"]["tensor_shape"]["dim"] == []
  assert _call(model_url + "/versions/1/metadata") == (200, reply)


def test_predict_columnar_and_row(model_url):
  y = [[1.0, 2.0], [3.0, 4.0]]
  status, reply = _call(model_url + ":predict", {"inputs": y})
  assert status == 200
  assert reply == {"outputs": {"x": [[0.25, 0.5], [0.75, 1.0]],
                               "b": [[0.75, 1.5], [2.25, 3.0]]}}
  status, reply = _call(model_url + ":predict", {"signature_name": "serving_default",
                                                  "instances": y})
  assert status == 200
  assert reply == {"predictions": [{"x": [0.25, 0.5], "b": [0.75, 1.5]},
                                   {"x": [0.75, 1.0], "b": [2.25, 3.0]}]}
  # Named instances work too, and versions/labels address the same model.
  status, reply2 = _call(model_url + "/labels/stable:predict",
                         {"instances": [{"y": row} for row in y]})
  assert (status, reply2) == (200, reply)


def test_float32_outputs_are_written_shortest():
  outputs = {"x": np.array([0.1, 1.0, np.nan, -np.inf, 1e-5], np.float32)}
  text = rest_reply.outputs_to_json(outputs, rest_json.COLUMNAR).decode()
  assert text == '{"outputs":[0.1,1.0,NaN,-Infinity,1e-05]}'
  outputs = {"x": np.array([[0.1, 1.0, 3e38, 1e-5]], np.float32), "n": np.array([7])}
  text = rest_reply.outputs_to_json(outputs, rest_json.ROW).decode()
  assert json.loads(text) == {"predictions": [{"x": [0.1, 1.0, 3e38, 1e-5], "n": 7}]}
  assert "0.1," in text and "1.0," in text


@pytest.mark.parametrize("outputs", [
    {"y": np.arange(100 * 700, dtype=np.float32).reshape(100, 700) / 7},
    {"y": np.linspace(-1, 1, 20000, dtype=np.float32).reshape(1, 20000)},
    {"y": np.ones((2, 3, 4000), np.float16)},
    {"y": np.arange(30000, dtype=np.int64)},
    {"y": np.zeros((0, 5), np.float32)},
    {"a": np.full((40, 900), 0.1, np.float32), "n": np.arange(40)},
    {"a": np.full((40, 900), 0.1, np.float32), "s": np.array([b"x\xff"] * 40, object)},
    {"y": np.array([[1.0, np.nan]] * 3000, np.float32)},
], ids=["rows", "one_long_row", "rank3", "ints", "empty", "two_outputs", "strings", "nan"])
@pytest.mark.parametrize("request_format", [rest_json.ROW, rest_json.COLUMNAR])
def test_reply_pieces_join_to_the_whole_reply(outputs, request_format):
  pieces = rest_reply.outputs_to_pieces(outputs, request_format, piece_elements=1000)
  whole = rest_reply.outputs_to_json(outputs, request_format)
  assert b"".join(pieces) == whole
  finite = all(np.isfinite(a).all() for a in outputs.values() if a.dtype.kind == "f")
  if finite and len(whole) > 100_000:  # Large replies come in bounded pieces.
    assert len(pieces) > 5 and max(len(p) for p in pieces) < 40_000


def test_scalar_output_in_pieces():
  outputs = {"y": np.float32(2.5)}
  assert rest_reply.outputs_to_pieces(outputs, rest_json.COLUMNAR) == [b'{"outputs":2.5}']


def test_single_output_is_a_bare_value(model_url):
  status, reply = _call(model_url + ":predict", {
      "signature_name": "scaled", "inputs": {"a": [1.5, 2.0], "n": [2, 3]}})
  assert (status, reply) == (200, {"outputs": [3.0, 6.0]})
  status, reply = _call(model_url + ":predict", {
      "signature_name": "scaled", "instances": [{"a": 1.5, "n": 2}, {"a": 2.0, "n": 3}]})
  assert (status, reply) == (200, {"predictions": [3.0, 6.0]})


def test_b64_round_trip(model_url):
  binary = bytes([0, 255, 254, 10])
  request = {"signature_name": "echo_bytes",
             "inputs": [{"b64": base64.b64encode(binary).decode()}, "h\u00e9llo"]}
  status, reply = _call(model_url + ":predict", request)
  assert status == 200
  outputs = reply["outputs"]
  # "_bytes" outputs are always b64; other strings are text unless not UTF-8.
  assert [base64.b64decode(v["b64"]) for v in outputs["echo_bytes"]] == [
      binary, "h\u00e9llo".encode()]
  assert outputs["text"] == [{"b64": base64.b64encode(binary).decode()}, "h\u00e9llo"]
  assert outputs["length"] == [4, 6]
  status, reply = _call(model_url + ":predict", {"signature_name": "echo_bytes",
                                                  "instances": request["inputs"]})
  assert status == 200
  assert reply["predictions"][0]["echo_bytes"] == request["inputs"][0]
  png = tf.io.encode_png(tf.zeros([3, 5, 1], tf.uint8)).numpy()
  out = client.predict(model_url, {"png_bytes": [png]}, signature_name="png_shape")
  assert out.tolist() == [[3, 5, 1]]
  # A TF error inside the graph becomes a 400 with TF's message, without node names.
  status, reply = _call(model_url + ":predict", {"signature_name": "png_shape",
                                                  "inputs": [{"b64": "AAAA"}]})
  assert status == 400 and reply["error"].startswith("Unknown image file format"), reply


def test_client(model_url, server):
  y = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
  for columnar in (True, False):
    out = client.predict(model_url, {"y": y}, columnar=columnar)
    np.testing.assert_allclose(out["x"], 0.25 * y)
    np.testing.assert_allclose(out["b"], 0.75 * y)
    out = client.predict(model_url, [b"ab", b"\xff"], signature_name="echo_bytes",
                         columnar=columnar)
    assert out["echo_bytes"].tolist() == [b"ab", b"\xff"]
    assert out["text"].tolist() == ["ab", b"\xff"]
  out = client.predict(model_url, {"pairs": [[1.0, 2.0]]}, signature_name="with_rate")
  assert out["sample_rate"] == 16000
  assert client.status(model_url)["model_version_status"][0]["state"] == "AVAILABLE"
  assert "serving_default" in client.signatures(model_url)
  assert "__saved_model_init_op" not in client.signatures(model_url)
  with pytest.raises(client.ServingError) as error:
    client.predict(server.url + "/v1/models/other", y)
  assert error.value.status == 404
  with pytest.raises(client.ServingError) as error:
    client.predict(model_url, {"y": [1.0]})
  assert error.value.status == 400 and "shape" in error.value.message


_BAD_PREDICTS = {
    "malformed JSON": b'{"inputs": [1,',
    "empty body": b"",
    "not an object": b"[1, 2]",
    "not UTF-8": b'{"inputs": "\xff"}',
    "strings for float": {"inputs": [["a", "b"]]},
    "booleans for float": {"inputs": [[True]]},
    "null": {"inputs": None},
    "b64 for float": {"inputs": [[{"b64": "AA=="}]]},
    "float for int": {"signature_name": "scaled", "inputs": {"a": [1.0], "n": [1.5]}},
    "int out of range": {"signature_name": "scaled", "inputs": {"a": [1.0], "n": [2**40]}},
    "wrong rank": {"inputs": [1.0, 2.0]},
    "ragged": {"instances": [[1.0, 2.0], [3.0]]},
    "wrong static shape": {"signature_name": "with_rate", "inputs": [[1.0, 2.0, 3.0]]},
    "unknown signature": {"signature_name": "nope", "inputs": [[1.0]]},
    "signature not a string": {"signature_name": 3, "inputs": [[1.0]]},
    "instances and inputs": {"instances": [[1.0]], "inputs": [[1.0]]},
    "neither": {"signature_name": "serving_default"},
    "empty instances": {"instances": []},
    "instances not a list": {"instances": {"y": [1.0]}},
    "missing named input": {"signature_name": "scaled", "inputs": {"a": [1.0]}},
    "plain instances, two inputs": {"signature_name": "scaled", "instances": [1.0]},
    "instance keys differ": {"signature_name": "scaled",
                             "instances": [{"a": 1.0, "n": 1}, {"a": 1.0}]},
    "mixed instances": {"instances": [{"y": [1.0]}, [1.0]]},
    "bad b64": {"signature_name": "echo_bytes", "inputs": [{"b64": "!!!"}]},
    "number for string": {"signature_name": "echo_bytes", "inputs": [1]},
    "scalar output in row format": {"signature_name": "with_rate", "instances": [[1.0, 2.0]]},
    "graph error (not a PNG)": {"signature_name": "png_shape", "inputs": ["not a png"]},
}


@pytest.mark.parametrize("case", sorted(_BAD_PREDICTS))
def test_bad_predict_gets_400_and_server_keeps_serving(model_url, case):
  status, reply = _call(model_url + ":predict", _BAD_PREDICTS[case])
  assert status == 400, reply
  assert set(reply) == {"error"} and reply["error"]
  _good_request_works(model_url)


@pytest.mark.parametrize("path,method,status", [
    ("/v1/models/other:predict", "POST", 404),
    ("/v1/models/toy/versions/7:predict", "POST", 404),
    ("/v1/models/toy/labels/beta:predict", "POST", 400),
    ("/v1/models/other", "GET", 404),
    ("/v1/models/toy/versions/7", "GET", 404),
    ("/v1/models/toy/versions/7/metadata", "GET", 404),
    ("/v1/models/..%2F..%2Ftoy", "GET", 404),
    ("/v1/models/toy%2F1", "GET", 404),
    ("/v1/models/toy/what", "GET", 400),
    ("/v1/models/toy:predict", "GET", 400),
    ("/v1/models", "GET", 400),
    ("/v1/models/toy:classify", "POST", 400),
    ("/elsewhere", "GET", 404),
])
def test_bad_path_gets_4xx(server, path, method, status):
  body = json.dumps({"inputs": [[1.0]]}).encode() if method == "POST" else None
  got, reply = _call(server.url + path, body, method)
  assert got == status, reply
  assert set(reply) == {"error"}
  _good_request_works(server.url + "/v1/models/toy")


def test_oversize_body_gets_413(model_url, server):
  big = json.dumps({"inputs": [[0.5] * (MAX_BODY // 4)]}).encode()
  assert len(big) > MAX_BODY
  status, reply = _call(model_url + ":predict", big)
  assert status == 413 and "limit" in reply["error"]
  _good_request_works(model_url)
  # Without a Content-Length (chunked), the limit holds while reading.
  connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
  chunks = (big[i:i + 4096] for i in range(0, len(big), 4096))
  connection.request("POST", "/v1/models/toy:predict", body=chunks, encode_chunked=True)
  reply = connection.getresponse()
  assert reply.status == 413 and "error" in json.loads(reply.read())
  connection.close()
  _good_request_works(model_url)


def test_concurrent_requests(model_url):
  def one(i):
    return _call(model_url + ":predict", {"inputs": [[float(i)]]})

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    replies = list(pool.map(one, range(16)))
  assert replies == [(200, {"outputs": {"x": [[0.25 * i]], "b": [[0.75 * i]]}})
                     for i in range(16)]


def _wait_for(condition, timeout=20.0):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if condition():
      return True
    time.sleep(0.1)
  return False


def test_new_version_is_served_without_restart(tmp_path):
  base = str(tmp_path)
  _export(base, 1, 0.25)
  running = serve_in_thread(base, "toy", poll_seconds=0.1)
  url = running.url + "/v1/models/toy"
  try:
    assert _call(url + ":predict", {"inputs": [[4.0]]})[1]["outputs"]["x"] == [[1.0]]
    # Ignored: a folder without saved_model.pb and a non-integer name.
    os.makedirs(os.path.join(base, "toy", "7", "variables"))
    _export(base, "latest", 0.9)
    _export(base, 2, 0.5)
    assert _wait_for(lambda: _call(url)[1]["model_version_status"][0] == {
        "version": "2", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                         "error_message": ""}})
    assert _call(url + ":predict", {"inputs": [[4.0]]})[1]["outputs"]["x"] == [[2.0]]
    states = {s["version"]: s["state"] for s in _call(url)[1]["model_version_status"]}
    assert states == {"2": "AVAILABLE", "1": "END"}
    assert _call(url + "/versions/1:predict", {"inputs": [[4.0]]})[0] == 404
    # A broken newer export is reported, and the working version keeps serving.
    os.makedirs(os.path.join(base, "toy", "8"))
    with open(os.path.join(base, "toy", "8", "saved_model.pb"), "wb") as f:
      f.write(b"not a SavedModel")
    def version_8():
      status, reply = _call(url + "/versions/8")
      return status == 200 and reply["model_version_status"][0]["state"] == "END"
    assert _wait_for(version_8)
    status = _call(url + "/versions/8")[1]["model_version_status"][0]["status"]
    assert status["error_code"] != "OK" and "could not load" in status["error_message"]
    assert _call(url + ":predict", {"inputs": [[4.0]]})[1]["outputs"]["x"] == [[2.0]]
  finally:
    running.stop()


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "toy name", "../toy"])
def test_bad_model_names_are_refused(model_base, name):
  with pytest.raises(InputError, match="model name"):
    ModelRegistry(model_base, name)


def test_missing_model_folder_is_refused(tmp_path):
  with pytest.raises(InputError, match="saved_model.pb"):
    ModelRegistry(str(tmp_path), "toy")


def test_tf_serving_style_base_path_is_accepted(model_base):
  registry = ModelRegistry(os.path.join(model_base, "toy"), "toy", poll_seconds=0)
  registry.poll()
  assert registry.served_versions == [1]


def test_command_serves_on_loopback(model_base):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  process = subprocess.Popen(
      [sys.executable, "-m", "export.serve", f"--model_base_path={model_base}",
       "--model_name=toy", f"--port={port}"],
      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  url = f"http://127.0.0.1:{port}/v1/models/toy"
  try:
    def up():
      assert process.poll() is None, process.stderr.read().decode()
      try:
        return _call(url)[0] == 200
      except OSError:
        return False
    assert _wait_for(up, timeout=60)
    out = client.predict(url, {"y": [[4.0]]})
    assert out["x"].tolist() == [[1.0]]
  finally:
    process.terminate()
    process.wait(timeout=30)
