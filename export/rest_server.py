"""An HTTP server that speaks TensorFlow Serving's REST API, on aiohttp.

Endpoints (export/rest_api.py handles them; rest_json.py and rest_reply.py
have the JSON formats):

  GET  /v1/models/NAME[/versions/V | /labels/L]             model status
  GET  /v1/models/NAME[/versions/V | /labels/L]/metadata    signature defs
  POST /v1/models/NAME[/versions/V | /labels/L]:predict     row or columnar
  OPTIONS (CORS preflight)

URLs are matched as TF-Serving matches them (http_rest_api_util.cc): the
path with its query string, case-insensitively, except the verb and
sub-resource, which are compared exactly. Errors are {"error": "message"} on
one line, with TF-Serving's HTTP statuses: 400 a bad request, 404 an unknown
model or version, 501 an input dtype JSON cannot fill. Limits
(export/serving_limits.py) add 408 a body that stops arriving, 413 a body
over --max_body_bytes, 415 an unknown Content-Encoding, 503 too many
requests waiting, 504 past --request_timeout_s. Each client error is one log
line; 500 means a fault of the server itself (logged with its traceback).

JSON decoding, the model and JSON encoding run in a thread pool, so the
event loop keeps accepting requests while a long separation runs. No part of
a URL becomes a file path.
"""

import asyncio
import concurrent.futures
from http import HTTPStatus
import signal
import threading

from absl import logging
from aiohttp import web
from aiohttp import web_protocol
from aiohttp import web_server
import orjson

from eggsep_tf.export import rest_api
from eggsep_tf.export.model_registry import ModelRegistry
from eggsep_tf.export.serving_limits import Limits
from eggsep_tf.export.serving_limits import MemoryBudget

DEFAULT_PORT = 8501
DEFAULT_MAX_BODY_BYTES = Limits.max_body_bytes  # A minute of stereo WAV in base64 is ~14 MB.
REGISTRY = web.AppKey("registry", ModelRegistry)
LIMITS = web.AppKey("limits", Limits)
BUDGET = web.AppKey("budget", MemoryBudget)
EXECUTOR = web.AppKey("executor", concurrent.futures.ThreadPoolExecutor)
GRPC = web.AppKey("grpc", object)

def make_app(model_base_path, model_name, max_body_bytes=None, poll_seconds=1.0,
             version_labels=None, num_threads=None, limits=None, enable_cors=False,
             grpc_port=None, grpc_host="127.0.0.1"):
  """The aiohttp application serving BASE/NAME/<version>/ SavedModels.

  Args:
    model_base_path: folder holding NAME/<integer version>/saved_model.pb.
    model_name: the name clients use in /v1/models/NAME.
    max_body_bytes: shorthand for limits.max_body_bytes (and the budget).
    poll_seconds: how often to look for new versions; 0 disables polling.
    version_labels: optional {label: version} for /labels/L URLs.
    num_threads: worker threads for JSON and the model (None: Python's default).
    limits: a serving_limits.Limits (None: its defaults).
    enable_cors: add CORS headers to every reply (TF-Serving's
      --enable_cors_support).
    grpc_port: also serve TF-Serving's gRPC API on this port (0: a free one;
      None: no gRPC); app[GRPC].port is the port bound.
    grpc_host: the address gRPC binds.

  Returns:
    A web.Application; run it with runner_kwargs(app). Its registry
    (app[REGISTRY]) loads the current version when the app starts and stops
    polling when it is cleaned up.

  Raises:
    InputError: a bad model name or label, or no model folder.
  """
  limits = limits or Limits()
  if max_body_bytes is not None:
    limits = Limits(**{**limits.__dict__, "max_body_bytes": max_body_bytes,
                       "max_inflight_bytes": max_body_bytes})
  registry = ModelRegistry(model_base_path, model_name, version_labels, poll_seconds)
  budget = MemoryBudget(limits.max_inflight_bytes, limits.max_waiting)
  executor = concurrent.futures.ThreadPoolExecutor(num_threads, thread_name_prefix="predict")
  api = rest_api.RestApi(registry, limits, budget, executor, enable_cors)
  app = web.Application(client_max_size=limits.max_body_bytes)
  app[REGISTRY], app[LIMITS], app[BUDGET], app[EXECUTOR] = registry, limits, budget, executor
  app.router.add_route("*", "/{tail:.*}", api.handle)

  async def start(app):
    await asyncio.get_running_loop().run_in_executor(executor, registry.start)
    if grpc_port is not None:
      from eggsep_tf.export import grpc_server  # pylint: disable=import-outside-toplevel
      app[GRPC] = grpc_server.start(registry, limits, budget, grpc_host, grpc_port,
                                    num_threads)

  async def stop(app):
    if GRPC in app:
      app[GRPC].stop()
    registry.stop()
    executor.shutdown(wait=False, cancel_futures=True)

  app.on_startup.append(start)
  app.on_cleanup.append(stop)
  return app


# What one connection may buffer of a body before the server reads it (aiohttp pauses
# the socket past twice this). Requests waiting for the memory budget hold this much
# each, outside the budget: aiohttp's default (256 KiB) let each hold ~0.75 MB.
READ_BUFFER_BYTES = 2**15


def runner_kwargs(app):
  """aiohttp server settings for `app`: its header timeout, no auto-inflating, small
  per-connection read buffers."""
  return {"keepalive_timeout": app[LIMITS].header_timeout_s, "auto_decompress": False,
          "access_log": None, "read_bufsize": READ_BUFFER_BYTES}


class _ProtocolErrorsAsJson(web_protocol.RequestHandler):
  """aiohttp's connection handler, answering malformed HTTP with a one-line JSON error
  and one log line (aiohttp's own writes text and logs a traceback)."""

  def handle_error(self, request, status=500, exc=None, message=None):
    text = rest_api.one_line(getattr(exc, "message", None) or message
                             or HTTPStatus(status).phrase)
    logging.info("HTTP %d for a malformed request from %s: %s", status, request.remote, text)
    if status >= 500:
      text = "internal server error"
    response = web.Response(status=status, body=orjson.dumps({"error": text}),
                            content_type="application/json")
    response.force_close()
    return response


class _Server(web_server.Server):
  def __call__(self):
    return _ProtocolErrorsAsJson(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
  async def _make_server(self):
    server = await super()._make_server()
    server.__class__ = _Server  # The same server; only its connections' handler differs.
    return server


def make_runner(app):
  """An aiohttp AppRunner for `app` with the settings of runner_kwargs(app)."""
  return _Runner(app, handle_signals=False, **runner_kwargs(app))


async def serve_forever(app, host, port):
  """Runs `app` on host:port until SIGINT or SIGTERM."""
  runner = make_runner(app)
  await runner.setup()
  try:
    await web.TCPSite(runner, host, port, backlog=4096).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
      loop.add_signal_handler(signal_number, stop.set)
    await stop.wait()
  finally:
    await runner.cleanup()


class ServerThread:
  """A server running on its own event loop in a daemon thread (tests, benchmarks).

  Use serve_in_thread() to start one; `url` is http://HOST:PORT, `grpc_port`
  the gRPC port (None without gRPC), stop() ends it.
  """

  def __init__(self, app, host, port):
    self._loop = asyncio.new_event_loop()
    self._runner = make_runner(app)
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
      site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
      self._loop.run_until_complete(site.start())
      self.port = self._runner.addresses[0][1]
    except BaseException as e:  # pylint: disable=broad-except
      self._error = e
      self._started.set()
      return
    self._started.set()
    self._loop.run_forever()
    self._loop.close()

  @property
  def url(self):
    return f"http://{self.host}:{self.port}"

  @property
  def grpc_port(self):
    return self.app[GRPC].port if GRPC in self.app else None

  def stop(self):
    if self._thread.is_alive():
      cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
      try:
        cleanup.result(timeout=30)
      finally:
        self._loop.call_soon_threadsafe(self._loop.stop)
      self._thread.join(timeout=30)


def serve_in_thread(model_base_path, model_name, host="127.0.0.1", port=0, **app_kwargs):
  """Starts make_app(...) in a background thread; port 0 picks a free port.

  Returns:
    A started ServerThread (its `url`, then stop()).
  """
  return ServerThread(make_app(model_base_path, model_name, **app_kwargs), host, port)
