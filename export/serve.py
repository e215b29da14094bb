r"""Serves a SavedModel folder with TensorFlow Serving's REST API.

  python -m export.serve --model_base_path=WORKDIR/export --model_name=NAME \
      [--port=8501] [--grpc_port=8500] [--host=127.0.0.1]

serves WORKDIR/export/NAME/<newest integer version>/ at
http://127.0.0.1:8501/v1/models/NAME (status), .../metadata and ...:predict,
and picks up newer versions as they are exported. With --grpc_port it also
serves TF-Serving's gRPC API (PredictionService, ModelService). Try it:

  curl http://127.0.0.1:8501/v1/models/NAME/metadata

The same folder works unchanged with the real server:

  docker run -p 8500:8500 -p 8501:8501 -v $PWD/WORKDIR/export:/models -e MODEL_NAME=NAME \
      tensorflow/serving

Only this entry module reads flags; the server is export/rest_server.py.
"""

import asyncio
import sys

from absl import app
from absl import flags
from absl import logging

from eggsep_tf.trainers import cli  # First: quiets TensorFlow's C++ logs before TF loads.
from eggsep_tf.errors import InputError
from eggsep_tf.export import rest_server
from eggsep_tf.export import serving_limits

_MODEL_BASE_PATH = flags.DEFINE_string(
    "model_base_path", None, "Folder holding NAME/<integer version>/saved_model.pb.")
_MODEL_NAME = flags.DEFINE_string("model_name", None, "Model name used in the URLs.")
_PORT = flags.DEFINE_integer("port", rest_server.DEFAULT_PORT, "HTTP port (TF-Serving: 8501).")
_HOST = flags.DEFINE_string(
    "host", "127.0.0.1", "Address to bind; 0.0.0.0 exposes the server (it has no "
    "authentication) to the network.")
_GRPC_PORT = flags.DEFINE_integer(
    "grpc_port", None, "Also serve the gRPC API on this port (TF-Serving: 8500).")
_DEFAULTS = serving_limits.Limits()
_MAX_BODY_BYTES = flags.DEFINE_integer(
    "max_body_bytes", _DEFAULTS.max_body_bytes,
    "Largest request body, counted after gzip/deflate decompression; larger ones get "
    "HTTP 413 (gRPC: the largest message).")
_MAX_INFLIGHT_BYTES = flags.DEFINE_integer(
    "max_inflight_bytes", None, "Memory budget: request body bytes being read or worked "
    "on at once, over all requests (default: --max_body_bytes).")
_MAX_WAITING = flags.DEFINE_integer(
    "max_waiting", _DEFAULTS.max_waiting,
    "Requests that may wait for the memory budget; more get HTTP 503 at once.")
_REQUEST_TIMEOUT_S = flags.DEFINE_float(
    "request_timeout_s", _DEFAULTS.request_timeout_s,
    "Deadline of one request, headers to reply (HTTP 504, gRPC DEADLINE_EXCEEDED).")
_HEADER_TIMEOUT_S = flags.DEFINE_float(
    "header_timeout_s", _DEFAULTS.header_timeout_s,
    "Close a connection that is idle, or sends its request headers slower, than this.")
_BODY_READ_TIMEOUT_S = flags.DEFINE_float(
    "body_read_timeout_s", _DEFAULTS.body_read_timeout_s,
    "Longest wait for the next piece of a request body (HTTP 408).")
_MAX_TENSOR_ELEMENTS = flags.DEFINE_integer(
    "max_tensor_elements", _DEFAULTS.max_tensor_elements,
    "Most elements in one input tensor (HTTP 400 / INVALID_ARGUMENT above).")
_ENABLE_CORS = flags.DEFINE_bool(
    "enable_cors_support", False, "Add CORS headers to replies (as TF-Serving's flag).")
_POLL_SECONDS = flags.DEFINE_float(
    "poll_seconds", 1.0, "How often to look for new versions (0: never).")
_VERSION_LABELS = flags.DEFINE_list(
    "version_labels", [], "Labels for /labels/L URLs, e.g. stable=1,canary=2.")
_NUM_THREADS = flags.DEFINE_integer(
    "num_threads", None, "Worker threads for requests (default: Python's default).")

flags.mark_flags_as_required(["model_base_path", "model_name"])


def _parse_labels(items):
  labels = {}
  for item in items:
    label, _, version = item.partition("=")
    if not version.isdigit():
      raise InputError(f"--version_labels: {item!r} is not LABEL=VERSION (e.g. stable=1)")
    labels[label] = int(version)
  return labels


def _limits():
  positive = {"max_body_bytes": _MAX_BODY_BYTES, "max_waiting": _MAX_WAITING,
              "request_timeout_s": _REQUEST_TIMEOUT_S, "header_timeout_s": _HEADER_TIMEOUT_S,
              "body_read_timeout_s": _BODY_READ_TIMEOUT_S,
              "max_tensor_elements": _MAX_TENSOR_ELEMENTS}
  for name, flag in positive.items():
    if flag.value <= 0:
      raise InputError(f"--{name}={flag.value}: expected a number above 0")
  inflight = _MAX_INFLIGHT_BYTES.value or _MAX_BODY_BYTES.value
  if inflight <= 0:
    raise InputError(f"--max_inflight_bytes={inflight}: expected a number above 0")
  return serving_limits.Limits(max_inflight_bytes=inflight,
                               **{name: flag.value for name, flag in positive.items()})


def main(argv):
  del argv
  try:
    for name, port in (("port", _PORT.value), ("grpc_port", _GRPC_PORT.value)):
      if port is not None and not 0 <= port <= 65535:
        raise InputError(f"--{name}={port}: expected a port number, 0 to 65535")
    application = rest_server.make_app(
        _MODEL_BASE_PATH.value, _MODEL_NAME.value, poll_seconds=_POLL_SECONDS.value,
        version_labels=_parse_labels(_VERSION_LABELS.value), num_threads=_NUM_THREADS.value,
        limits=_limits(), enable_cors=_ENABLE_CORS.value, grpc_port=_GRPC_PORT.value,
        grpc_host=_HOST.value)
  except InputError as e:
    cli.fail(e)
  if _HOST.value not in ("127.0.0.1", "localhost", "::1"):
    logging.warning("Binding %s: the server has no authentication; anyone who can reach "
                    "this address can use the model.", _HOST.value)
  logging.info("Serving model %s on http://%s:%d/v1/models/%s%s", _MODEL_NAME.value,
               _HOST.value, _PORT.value, _MODEL_NAME.value,
               "" if _GRPC_PORT.value is None else f" and gRPC port {_GRPC_PORT.value}")
  try:
    asyncio.run(rest_server.serve_forever(application, _HOST.value, _PORT.value))
  except InputError as e:  # The gRPC port could not be bound.
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except OSError as e:  # The HTTP port could not be bound.
    print(f"error: --port={_PORT.value}: cannot listen on {_HOST.value}: {e.strerror}",
          file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
