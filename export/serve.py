r"""Serves a SavedModel folder with TensorFlow Serving's REST API.

  python -m export.serve --model_base_path=WORKDIR/export --model_name=NAME \
      [--port=8501] [--host=127.0.0.1]

serves WORKDIR/export/NAME/<newest integer version>/ at
http://127.0.0.1:8501/v1/models/NAME (status), .../metadata and ...:predict,
and picks up newer versions as they are exported. Try it:

  curl http://127.0.0.1:8501/v1/models/NAME/metadata

The same folder works unchanged with the real server:

  docker run -p 8501:8501 -v $PWD/WORKDIR/export:/models -e MODEL_NAME=NAME \
      tensorflow/serving

Only this entry module reads flags; the server is export/rest_server.py.
"""


from absl import app
from absl import flags
from absl import logging
from aiohttp import web

from eggsep_tf.trainers import cli  # First: quiets TensorFlow's C++ logs before TF loads.
from eggsep_tf.errors import InputError
from eggsep_tf.export import rest_server

_MODEL_BASE_PATH = flags.DEFINE_string(
    "model_base_path", None, "Folder holding NAME/<integer version>/saved_model.pb.")
_MODEL_NAME = flags.DEFINE_string("model_name", None, "Model name used in the URLs.")
_PORT = flags.DEFINE_integer("port", rest_server.DEFAULT_PORT, "HTTP port (TF-Serving: 8501).")
_HOST = flags.DEFINE_string(
    "host", "127.0.0.1", "Address to bind; 0.0.0.0 exposes the server (it has no "
    "authentication) to the network.")
_MAX_BODY_BYTES = flags.DEFINE_integer(
    "max_body_bytes", rest_server.DEFAULT_MAX_BODY_BYTES,
    "Largest request body accepted; larger ones get HTTP 413.")
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


def main(argv):
  del argv
  try:
    application = rest_server.make_app(
        _MODEL_BASE_PATH.value, _MODEL_NAME.value, max_body_bytes=_MAX_BODY_BYTES.value,
        poll_seconds=_POLL_SECONDS.value, version_labels=_parse_labels(_VERSION_LABELS.value),
        num_threads=_NUM_THREADS.value)
  except InputError as e:
    cli.fail(e)
  if _HOST.value not in ("127.0.0.1", "localhost", "::1"):
    logging.warning("Binding %s: the server has no authentication; anyone who can reach "
                    "this address can use the model.", _HOST.value)
  logging.info("Serving model %s on http://%s:%d/v1/models/%s", _MODEL_NAME.value,
               _HOST.value, _PORT.value, _MODEL_NAME.value)
  web.run_app(application, host=_HOST.value, port=_PORT.value, print=None, access_log=None)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
