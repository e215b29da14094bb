r"""Throughput and latency of the REST server, and of the SavedModel alone.

  python bench/serving_bench.py --model_base_path=WORKDIR/export --model_name=NAME \
      --shape=8,28,28,1                       # images: a batch of 8 28x28 mixtures
  python bench/serving_bench.py --model_base_path=... --model_name=NAME \
      --shape=1,44100 --audio_seconds=1       # audio: 1 s at 44.1 kHz, real-time factor too
  python bench/serving_bench.py --model_base_path=... --model_name=NAME \
      --signature_name=separate_wav --bytes_file=song.wav --batch_size=1

Starts `python -m export.serve --grpc_port=...` on free loopback ports (or
uses --url, e.g. a real TF-Serving), sends the same :predict request from 1, 4
and 16 concurrent clients (keep-alive connections, one thread each), each
level bounded by --requests and --seconds, and prints requests/s and p50/p99
latency, first over REST (JSON), then over gRPC (TensorProto, with
TF-Serving's PredictionServiceStub; --nogrpc skips it). The SavedModel alone
is timed in this process on the same input, so the server's overhead (HTTP,
JSON, base64, protos) is the difference: "x model" is p50 / the model's time.
The JSON encoding of the outputs is timed alone too, against the previous
encoder (json.dumps of shortest-decimal lists). Each level takes at most
--seconds; the whole run about 6 * --seconds plus start-up.
"""

import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eggsep_tf.export import client  # noqa: E402
from eggsep_tf.export import rest_json  # noqa: E402
from eggsep_tf.export import rest_reply  # noqa: E402
from eggsep_tf.export.model_registry import ModelRegistry  # noqa: E402

_BASE = flags.DEFINE_string("model_base_path", None, "Folder holding NAME/<version>/.")
_NAME = flags.DEFINE_string("model_name", None, "Model name.")
_URL = flags.DEFINE_string("url", None, "Benchmark this running server "
                           "(http://HOST:PORT) instead of starting export.serve.")
_SIGNATURE = flags.DEFINE_string("signature_name", "serving_default", "Signature to call.")
_SHAPE = flags.DEFINE_list("shape", None, "Full shape of the (single, numeric) input, "
                           "batch first, e.g. 8,28,28,1 or 1,44100.")
_BYTES_FILE = flags.DEFINE_string("bytes_file", None, "For a string input: a file sent "
                                  "as {\"b64\": ...}, --batch_size times.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 1, "Batch for --bytes_file.")
_CONCURRENCY = flags.DEFINE_list("concurrency", ["1", "4", "16"], "Concurrent clients.")
_REQUESTS = flags.DEFINE_integer("requests", 200, "At most this many requests per level.")
_SECONDS = flags.DEFINE_float("seconds", 10.0, "At most this long per level.")
_GRPC = flags.DEFINE_bool("grpc", True, "Also benchmark the gRPC API.")
_AUDIO_SECONDS = flags.DEFINE_float("audio_seconds", None, "Seconds of audio per request "
                                    "item (prints real-time factors).")

flags.mark_flags_as_required(["model_base_path", "model_name"])


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_server(port, grpc_port):
  """Starts export.serve on 127.0.0.1:port; returns the process once it answers."""
  command = [sys.executable, "-m", "export.serve", f"--model_base_path={_BASE.value}",
             f"--model_name={_NAME.value}", f"--port={port}", "--request_timeout_s=600"]
  if grpc_port:
    command.append(f"--grpc_port={grpc_port}")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  url = f"http://127.0.0.1:{port}/v1/models/{_NAME.value}"
  deadline = time.time() + 120
  while time.time() < deadline:
    if process.poll() is not None:
      sys.exit(f"export.serve exited with {process.returncode}: {' '.join(command)}")
    try:
      client.status(url, timeout=2)
      return process
    except client.ServingError:
      time.sleep(0.2)
  process.terminate()
  sys.exit("export.serve did not start within 120 s")


def _inputs(specs):
  """{input name: np.ndarray} for the signature, from --shape or --bytes_file."""
  if len(specs) != 1:
    sys.exit(f"signature {_SIGNATURE.value} has inputs {sorted(specs)}; this benchmark "
             "handles single-input signatures")
  (name, spec), = specs.items()
  if spec.dtype == tf.string:
    if not _BYTES_FILE.value:
      sys.exit(f"input {name!r} is a string: give --bytes_file")
    with open(_BYTES_FILE.value, "rb") as f:
      data = f.read()
    array = np.empty(_BATCH_SIZE.value, dtype=object)
    array[:] = [data] * _BATCH_SIZE.value
    return {name: array}
  if not _SHAPE.value:
    sys.exit(f"input {name!r} is numeric: give --shape (batch first)")
  shape = [int(d) for d in _SHAPE.value]
  rng = np.random.default_rng(0)
  return {name: rng.uniform(0.0, 1.0, shape).astype(spec.dtype.as_numpy_dtype)}


def _time_model(served, inputs):
  """Median seconds per call of the signature alone (in this process)."""
  tensors = {k: tf.constant(v) for k, v in inputs.items()}
  fn = served.signatures[_SIGNATURE.value]
  fn(**tensors)  # Warm-up.
  times = []
  deadline = time.perf_counter() + _SECONDS.value
  while len(times) < 20 and (time.perf_counter() < deadline or len(times) < 3):
    start = time.perf_counter()
    outputs = fn(**tensors)
    _ = {k: v.numpy() for k, v in outputs.items()}
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _run_level(call, concurrency):
  """(requests/s, latencies [s], errors) for `concurrency` clients; call(state) sends one
  request on the client's own connection and returns True when it succeeded."""
  lock = threading.Lock()
  state = {"left": _REQUESTS.value, "latencies": [], "errors": 0}
  deadline = time.perf_counter() + _SECONDS.value

  def worker():
    own = {}
    try:
      while time.perf_counter() < deadline:
        with lock:
          if state["left"] <= 0:
            return
          state["left"] -= 1
        start = time.perf_counter()
        ok = call(own)
        elapsed = time.perf_counter() - start
        with lock:
          if ok:
            state["latencies"].append(elapsed)
          else:
            state["errors"] += 1
    finally:
      if "close" in own:
        own["close"]()

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
    for future in [pool.submit(worker) for _ in range(concurrency)]:
      future.result()
  wall = time.perf_counter() - start
  return len(state["latencies"]) / wall, np.array(state["latencies"]), state["errors"]


def _rest_call(url, body):
  parsed = urllib.parse.urlsplit(url)
  path = parsed.path + ":predict"

  def call(own):
    if "connection" not in own:
      own["connection"] = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=600)
      own["close"] = own["connection"].close
    try:
      own["connection"].request("POST", path, body=body,
                                headers={"Content-Type": "application/json"})
      reply = own["connection"].getresponse()
      reply.read()
      return reply.status == 200
    except (OSError, http.client.HTTPException):
      own["connection"].close()
      del own["connection"]
      return False

  return call


def _grpc_call(port, inputs):
  import grpc  # pylint: disable=import-outside-toplevel
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=import-outside-toplevel
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=import-outside-toplevel
  request = predict_pb2.PredictRequest()
  request.model_spec.name = _NAME.value
  request.model_spec.signature_name = _SIGNATURE.value
  for name, value in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))

  def call(own):
    if "stub" not in own:
      channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
          ("grpc.max_receive_message_length", -1)])
      own["stub"] = prediction_service_pb2_grpc.PredictionServiceStub(channel)
      own["close"] = channel.close
    try:
      response = own["stub"].Predict(request, timeout=600)
      _ = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
      return True
    except grpc.RpcError:
      return False

  return call


def _print_levels(title, call, model_s, batch):
  print(title)
  print(f"{'clients':>8} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>9} "
        f"{'p99 ms':>9} {'x model':>8}" + (f" {'RTF p50':>8}" if _AUDIO_SECONDS.value else ""))
  for concurrency in [int(c) for c in _CONCURRENCY.value]:
    rate, latencies, errors = _run_level(call, concurrency)
    p50, p99 = (np.percentile(latencies, [50, 99]) if latencies.size else (np.nan,) * 2)
    line = (f"{concurrency:>8} {latencies.size:>9} {errors:>7} {rate:>8.2f} "
            f"{p50 * 1e3:>9.1f} {p99 * 1e3:>9.1f} {p50 / model_s:>8.2f}")
    if _AUDIO_SECONDS.value:
      line += f" {p50 / (batch * _AUDIO_SECONDS.value):>8.4f}"
    print(line, flush=True)


def _side_by_side(served, inputs, calls, rounds=15):
  """Model alone, then each API, one client, alternated (fair under a varying load)."""
  tensors = {k: tf.constant(v) for k, v in inputs.items()}
  fn = served.signatures[_SIGNATURE.value]
  times = {"model": [], **{name: [] for name in calls}}
  states = {name: {} for name in calls}
  for _ in range(rounds):
    start = time.perf_counter()
    _ = {k: v.numpy() for k, v in fn(**tensors).items()}
    times["model"].append(time.perf_counter() - start)
    for name, call in calls.items():
      start = time.perf_counter()
      assert call(states[name]), f"{name} request failed"
      times[name].append(time.perf_counter() - start)
  for state in states.values():
    if "close" in state:
      state["close"]()
  medians = {name: float(np.median(t)) for name, t in times.items()}
  print(f"alternated, 1 client, medians of {rounds}: model {medians['model'] * 1e3:.1f} ms, " +
        ", ".join(f"{name} {medians[name] * 1e3:.1f} ms ({medians[name] / medians['model']:.2f}x)"
                  for name in calls))


def _previous_encoder(outputs):
  """The encoder before orjson (for the comparison): shortest decimals via str()."""
  columns = {n: (a.astype(str).astype(np.float64).tolist() if a.dtype.kind == "f"
                 else a.tolist()) for n, a in outputs.items()}
  return json.dumps({"outputs": columns}, separators=(",", ":")).encode()


def _time_encoders(served, inputs):
  outputs = served.run(_SIGNATURE.value, inputs)
  if any(np.asarray(a).dtype.kind in "OSU" for a in outputs.values()):
    return
  times = {}
  for name, encode in (("previous", _previous_encoder), ("orjson", lambda o: (
      rest_reply.outputs_to_json(o, rest_json.COLUMNAR)))):
    runs = []
    for _ in range(5):
      start = time.perf_counter()
      encode(outputs)
      runs.append(time.perf_counter() - start)
    times[name] = float(np.median(runs))
  print(f"JSON encoding of the outputs: previous {times['previous'] * 1e3:.1f} ms, now "
        f"{times['orjson'] * 1e3:.1f} ms ({times['previous'] / times['orjson']:.1f}x faster)")


def main(argv):
  del argv
  registry = ModelRegistry(_BASE.value, _NAME.value, poll_seconds=0)
  registry.poll()
  if not registry.served_versions:
    sys.exit(f"no loadable version under {registry.model_dir}")
  served = registry.resolve(_NAME.value)
  inputs = _inputs(served.specs(_SIGNATURE.value))
  batch = len(next(iter(inputs.values())))
  body = json.dumps({"signature_name": _SIGNATURE.value,
                     "inputs": {k: client.encode(v) for k, v in inputs.items()}}).encode()
  model_s = _time_model(served, inputs)
  print(f"model {_NAME.value} v{served.version}, signature {_SIGNATURE.value}, "
        f"batch {batch}, request body {len(body) / 1e6:.2f} MB")
  print(f"SavedModel alone: {model_s * 1e3:.1f} ms per call")
  if _AUDIO_SECONDS.value:
    print(f"  real-time factor {model_s / (batch * _AUDIO_SECONDS.value):.4f}")

  _time_encoders(served, inputs)

  process, grpc_port = None, None
  if _URL.value:
    url = f"{_URL.value.rstrip('/')}/v1/models/{_NAME.value}"
  else:
    port = _free_port()
    grpc_port = _free_port() if _GRPC.value else None
    process = _start_server(port, grpc_port)
    url = f"http://127.0.0.1:{port}/v1/models/{_NAME.value}"
  try:
    client.predict(url, inputs, _SIGNATURE.value, timeout=600)  # Warm-up.
    calls = {"REST": _rest_call(url, body)}
    if grpc_port:
      calls["gRPC"] = _grpc_call(grpc_port, inputs)
      assert calls["gRPC"]({}), "gRPC warm-up failed"
    _side_by_side(served, inputs, calls)
    _print_levels(f"REST (JSON) {url}", calls["REST"], model_s, batch)
    if grpc_port:
      _print_levels(f"gRPC (TensorProto) 127.0.0.1:{grpc_port}", calls["gRPC"], model_s,
                    batch)
  finally:
    if process is not None:
      process.terminate()
      process.wait(timeout=30)


if __name__ == "__main__":
  app.run(main)
