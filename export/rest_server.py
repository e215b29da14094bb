"""An HTTP server that speaks TensorFlow Serving's REST API, on aiohttp.

Endpoints (see export/rest_json.py for the JSON formats):

  GET  /v1/models/NAME[/versions/V | /labels/L]             model status
  GET  /v1/models/NAME[/versions/V | /labels/L]/metadata    signature defs
  POST /v1/models/NAME[/versions/V | /labels/L]:predict     row or columnar

Errors are {"error": "message"} with TF-Serving's HTTP statuses: 400 for a bad
request (JSON, dtype, rank, shape, signature), 404 for an unknown model,
version or label, 413 for a body over `max_body_bytes`. A request never
takes the server down. JSON decoding, the model and JSON encoding run in a
thread pool, so the event loop keeps accepting requests while a long
separation runs. The model name in a URL is only ever compared with the
served name; no part of a URL becomes a file path.

aiohttp is used because it is a maintained, widely deployed asyncio HTTP
server with request size limits built in, and needs nothing else.
"""

import asyncio
import concurrent.futures
import json
import re
import threading
import urllib.parse

from absl import logging
from aiohttp import web

from eggsep_tf.export import rest_json
from eggsep_tf.export.model_registry import ModelRegistry
from eggsep_tf.export.rest_json import RestError

DEFAULT_PORT = 8501
REGISTRY = web.AppKey("registry", ModelRegistry)
DEFAULT_MAX_BODY_BYTES = 64 * 2**20  # A minute of stereo 44.1 kHz WAV in base64 is ~14 MB.

# TF-Serving's URL patterns (http_rest_api_util.cc), case-insensitive as there.
_PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict)",
    re.IGNORECASE)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?",
    re.IGNORECASE)


def _json_response(value, status=200):
  return web.Response(body=json.dumps(value, indent=1).encode("utf-8"), status=status,
                      content_type="application/json")


def _error(status, message):
  return _json_response({"error": message}, status)


class _RestApi:
  """Request handling for one registry (the aiohttp handler is `handle`)."""

  def __init__(self, registry, max_body_bytes, executor):
    self.registry = registry
    self.max_body_bytes = max_body_bytes
    self.executor = executor

  async def handle(self, request):
    try:
      return await self._dispatch(request)
    except RestError as e:
      return _error(e.status, e.message)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception("Internal error on %s %s", request.method, request.path)
      return _error(500, f"internal error: {type(e).__name__}: {e}")

  async def _dispatch(self, request):
    path, method = request.rel_url.raw_path, request.method
    match = _PREDICT_PATH.fullmatch(path) if method == "POST" else None
    if match:
      name, version, label, verb = match.groups()
      if verb.lower() != "predict":
        raise RestError(400, f":{verb} is not supported: this server serves predict "
                        "signatures; use :predict")
      body = await self._read_body(request)
      reply = await asyncio.get_running_loop().run_in_executor(
          self.executor, self._predict, *self._spec(name, version, label), body)
      return web.Response(body=reply, content_type="application/json")
    match = _STATUS_PATH.fullmatch(path) if method == "GET" else None
    if match:
      name, version, label, metadata = match.groups()
      if not name:
        raise RestError(400, "Missing model name in request.")
      lookup = self.registry.metadata if metadata else self.registry.status
      return _json_response(lookup(*self._spec(name, version, label)))
    if path.lower().startswith("/v1/"):
      raise RestError(400, f"Malformed request: {method} {path[:200]}")
    raise RestError(404, f"Not found: {path[:200]} (this server answers /v1/models/...)")

  @staticmethod
  def _spec(name, version, label):
    return (urllib.parse.unquote(name), None if version is None else int(version),
            None if label is None else urllib.parse.unquote(label))

  async def _read_body(self, request):
    size = f" of {request.content_length} bytes" if request.content_length else ""
    too_large = RestError(413, f"request body{size} exceeds the server's limit of "
                          f"{self.max_body_bytes} bytes (--max_body_bytes)")
    if request.content_length is not None and request.content_length > self.max_body_bytes:
      raise too_large
    try:
      return await request.read()
    except web.HTTPRequestEntityTooLarge:
      raise too_large from None

  def _predict(self, name, version, label, body):
    served = self.registry.resolve(name, version, label)
    signature, request_format, payload = rest_json.parse_predict_request(body)
    arrays = rest_json.request_to_arrays(request_format, payload, served.specs(signature))
    outputs = served.run(signature, arrays)
    return rest_json.outputs_to_json(outputs, request_format)


def make_app(model_base_path, model_name, max_body_bytes=DEFAULT_MAX_BODY_BYTES,
             poll_seconds=1.0, version_labels=None, num_threads=None):
  """The aiohttp application serving BASE/NAME/<version>/ SavedModels.

  Args:
    model_base_path: folder holding NAME/<integer version>/saved_model.pb.
    model_name: the name clients use in /v1/models/NAME.
    max_body_bytes: largest request body accepted (413 above it).
    poll_seconds: how often to look for new versions; 0 disables polling.
    version_labels: optional {label: version} for /labels/L URLs.
    num_threads: worker threads for JSON and the model (None: Python's default).

  Returns:
    A web.Application; its registry (app[REGISTRY]) loads the current
    version when the app starts and stops polling when it is cleaned up.

  Raises:
    InputError: a bad model name or label, or no model folder.
  """
  registry = ModelRegistry(model_base_path, model_name, version_labels, poll_seconds)
  executor = concurrent.futures.ThreadPoolExecutor(num_threads, thread_name_prefix="predict")
  api = _RestApi(registry, max_body_bytes, executor)
  app = web.Application(client_max_size=max_body_bytes)
  app[REGISTRY] = registry
  app.router.add_route("*", "/{tail:.*}", api.handle)

  async def start(app):
    await asyncio.get_running_loop().run_in_executor(executor, registry.start)

  async def stop(app):
    registry.stop()
    executor.shutdown(wait=False, cancel_futures=True)

  app.on_startup.append(start)
  app.on_cleanup.append(stop)
  return app


class ServerThread:
  """A server running on its own event loop in a daemon thread (tests, benchmarks).

  Use serve_in_thread() to start one; `url` is http://HOST:PORT, stop() ends it.
  """

  def __init__(self, app, host, port):
    self._loop = asyncio.new_event_loop()
    self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
    self._started = threading.Event()
    self._error = None
    self.host, self.port = host, port
    self.app = app
    self._thread = threading.Thread(target=self._run, daemon=True, name="rest-server")
    self._thread.start()
    self._started.wait()
    if self._error is not None:
      raise self._error

  def _run(self):
    asyncio.set_event_loop(self._loop)
    try:
      self._loop.run_until_complete(self._runner.setup())
      site = web.TCPSite(self._runner, self.host, self.port)
      self._loop.run_until_complete(site.start())
      self.port = self._runner.addresses[0][1]
    except BaseException as e:  # pylint: disable=broad-except
      self._error = e
      self._started.set()
      return
    self._started.set()
    self._loop.run_forever()
    self._loop.run_until_complete(self._runner.cleanup())
    self._loop.close()

  @property
  def url(self):
    return f"http://{self.host}:{self.port}"

  def stop(self):
    if self._thread.is_alive():
      self._loop.call_soon_threadsafe(self._loop.stop)
      self._thread.join(timeout=30)


def serve_in_thread(model_base_path, model_name, host="127.0.0.1", port=0, **app_kwargs):
  """Starts make_app(...) in a background thread; port 0 picks a free port.

  Returns:
    A started ServerThread (its `url`, then stop()).
  """
  return ServerThread(make_app(model_base_path, model_name, **app_kwargs), host, port)
