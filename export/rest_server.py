"""An HTTP server that speaks TensorFlow Serving's REST API, on aiohttp.

Endpoints (export/rest_json.py and rest_reply.py have the JSON formats):

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
import re
import signal
import threading
import time
import urllib.parse

from absl import logging
from aiohttp import web
from aiohttp import web_protocol
from aiohttp import web_server
import orjson

from eggsep_tf.export import rest_json
from eggsep_tf.export import rest_reply
from eggsep_tf.export.model_registry import ModelRegistry
from eggsep_tf.export.rest_json import RestError
from eggsep_tf.export.serving_limits import Busy
from eggsep_tf.export.serving_limits import Limits
from eggsep_tf.export.serving_limits import MemoryBudget
from eggsep_tf.export.serving_limits import read_body

DEFAULT_PORT = 8501
DEFAULT_MAX_BODY_BYTES = Limits.max_body_bytes  # A minute of stereo WAV in base64 is ~14 MB.
REGISTRY = web.AppKey("registry", ModelRegistry)
LIMITS = web.AppKey("limits", Limits)
BUDGET = web.AppKey("budget", MemoryBudget)
EXECUTOR = web.AppKey("executor", concurrent.futures.ThreadPoolExecutor)
GRPC = web.AppKey("grpc", object)

# TF-Serving's URL patterns (http_rest_api_util.cc), case-insensitive as there.
_PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict)",
    re.IGNORECASE)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?",
    re.IGNORECASE)
_CORS_HEADERS = {"Access-Control-Allow-Origin": "*",
                 "Access-Control-Allow-Methods": "POST, GET",
                 "Access-Control-Allow-Headers": "Content-Type"}
_INT64_MAX = 2**63 - 1


def _one_line(text, limit=300):
  """`text` on one line, cut to `limit`, without lone surrogates (orjson refuses them)."""
  text = " ".join(str(text).split()).encode("utf-8", "backslashreplace").decode("utf-8")
  return text if len(text) <= limit else text[:limit] + "..."


class _RestApi:
  """Request handling for one registry (the aiohttp handler is `handle`)."""

  def __init__(self, registry, limits, budget, executor, enable_cors):
    self.registry = registry
    self.limits = limits
    self.budget = budget
    self.executor = executor
    self.headers = dict(_CORS_HEADERS) if enable_cors else {}

  def _reply(self, body, status=200):
    return web.Response(body=body, status=status, content_type="application/json",
                        headers=self.headers)

  async def handle(self, request):
    state = {"body_read": request.method not in ("POST", "PUT", "PATCH")}
    try:
      async with asyncio.timeout(self.limits.request_timeout_s):
        return await self._dispatch(request, state)
    except (RestError, Busy, TimeoutError) as e:
      if isinstance(e, RestError):
        status, message = e.status, e.message
      elif isinstance(e, Busy):
        status, message = 503, str(e)
      else:
        status, message = 504, (f"Request timed out after {self.limits.request_timeout_s:g} "
                                "s (--request_timeout_s)")
      message = _one_line(message)
      logging.info("HTTP %d for %s %s: %s", status, request.method,
                   _one_line(request.raw_path, 120), message)
      response = self._reply(orjson.dumps({"error": message}), status)
    except ConnectionError:  # The client went away while we wrote the reply.
      raise asyncio.CancelledError() from None
    except Exception:  # pylint: disable=broad-except
      logging.exception("Internal error on %s %s", request.method,
                        _one_line(request.raw_path, 120))
      response = self._reply(b'{"error": "internal server error"}', 500)
    if state.get("prepared"):  # Timed out while sending the reply: drop the connection.
      if request.transport is not None:
        request.transport.close()
      raise asyncio.CancelledError()
    if not state["body_read"]:
      response.force_close()  # The rest of an unread body must not become a request.
    return response

  async def _dispatch(self, request, state):
    path, method = request.raw_path, request.method
    if method == "OPTIONS":
      if re.search(r"https?://", request.headers.get("Origin", "")):
        return self._reply(b"")
      raise RestError(400, "Origin header is missing in CORS preflight")
    match = _PREDICT_PATH.fullmatch(path) if method == "POST" else None
    if match:
      name, version, label, verb = match.groups()
      if verb != "predict":
        raise RestError(400, f"Malformed request: {method} {path[:200]} (this server "
                        "serves predict signatures only: use :predict)")
      served = self.registry.resolve(*self._spec(name, version, label))
      return await self._predict(request, served, state)
    match = _STATUS_PATH.fullmatch(path) if method == "GET" else None
    if match:
      name, version, label, metadata = match.groups()
      if not name:
        raise RestError(400, "Missing model name in request.")
      lookup = self.registry.metadata if metadata == "metadata" else self.registry.status
      return self._reply(orjson.dumps(lookup(*self._spec(name, version, label)),
                                      option=orjson.OPT_INDENT_2))
    if path.lower().startswith("/v1/"):
      raise RestError(400, f"Malformed request: {method} {path[:200]}")
    raise RestError(404, f"Not found: {path[:200]} (this server answers /v1/models/...)")

  @staticmethod
  def _spec(name, version, label):
    if version is not None:
      if len(version) > 19 or int(version) > _INT64_MAX:
        raise RestError(400, f"Failed to convert version: {version[:40]} to numeric.")
      version = int(version)
    return (urllib.parse.unquote(name), version,
            None if label is None else urllib.parse.unquote(label))

  async def _predict(self, request, served, state):
    """Holds the memory budget from before the body is read until the reply is sent."""
    deadline = time.monotonic() + self.limits.request_timeout_s
    identity = request.headers.get("Content-Encoding", "identity").lower() == "identity"
    wanted = request.content_length if identity and request.content_length else None
    held = await self.budget.acquire(wanted or self.limits.max_body_bytes)
    release_now = True
    try:
      body = await read_body(request, self.limits, deadline)
      state["body_read"] = True
      keep = min(held, len(body))
      self.budget.release(held - keep)
      held = keep
      # In a box, so that the worker can drop the body once parsed.
      future = self.executor.submit(self._work, served, [body])
      del body
      try:
        reply = await asyncio.wrap_future(future)
      except BaseException:
        # Timed out or cancelled: the worker may still run; it gives the budget back.
        release_now = False
        future.add_done_callback(lambda _: self.budget.release(held))
        raise
      response = self._reply(reply)
      del reply
      state["prepared"] = True
      await response.prepare(request)
      await response.write_eof()
      return response
    finally:
      if release_now:
        self.budget.release(held)

  def _work(self, served, box):
    signature, request_format, payload, has_bools = rest_json.parse_predict_request(box.pop())
    arrays = rest_json.request_to_arrays(
        request_format, payload, served.specs(signature), has_bools,
        self.limits.max_tensor_elements)
    del payload
    outputs = served.run(signature, arrays)
    del arrays
    return rest_reply.outputs_to_json(outputs, request_format)


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
  api = _RestApi(registry, limits, budget, executor, enable_cors)
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


def runner_kwargs(app):
  """aiohttp server settings for `app`: its header timeout, no auto-inflating."""
  return {"keepalive_timeout": app[LIMITS].header_timeout_s, "auto_decompress": False,
          "access_log": None}


class _ProtocolErrorsAsJson(web_protocol.RequestHandler):
  """aiohttp's connection handler, answering malformed HTTP with a one-line JSON error
  and one log line (aiohttp's own writes text and logs a traceback)."""

  def handle_error(self, request, status=500, exc=None, message=None):
    text = _one_line(getattr(exc, "message", None) or message or HTTPStatus(status).phrase)
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
