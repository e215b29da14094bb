"""TF-Serving's REST API as an aiohttp handler: URL routing, predict, status, errors.

RestApi.handle answers every request (export/rest_server.py mounts it on all
paths). URLs are matched as TF-Serving matches them (http_rest_api_util.cc):
the path with its query string, case-insensitively, except the verb and
sub-resource, which are compared exactly. A predict request holds its share
of the memory budget from before its body is read until its reply is sent;
JSON decoding, the model and JSON encoding run in the thread pool, and the
reply goes out piece by piece (rest_reply.outputs_to_pieces).
"""

import asyncio
import re
import time
import urllib.parse

from absl import logging
from aiohttp import web
import orjson

from eggsep_tf.export import rest_json
from eggsep_tf.export import rest_reply
from eggsep_tf.export.rest_json import RestError
from eggsep_tf.export.serving_limits import Busy
from eggsep_tf.export.serving_limits import read_body

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


def one_line(text, limit=300):
  """`text` on one line, cut to `limit`, without lone surrogates (orjson refuses them)."""
  text = " ".join(str(text).split()).encode("utf-8", "backslashreplace").decode("utf-8")
  return text if len(text) <= limit else text[:limit] + "..."


class RestApi:
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
      message = one_line(message)
      logging.info("HTTP %d for %s %s: %s", status, request.method,
                   one_line(request.raw_path, 120), message)
      response = self._reply(orjson.dumps({"error": message}), status)
    except ConnectionError:  # The client went away while we wrote the reply.
      raise asyncio.CancelledError() from None
    except Exception:  # pylint: disable=broad-except
      logging.exception("Internal error on %s %s", request.method,
                        one_line(request.raw_path, 120))
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
      # Sent piece by piece with its length up front: the socket's send buffer holds
      # one piece at a time, and each piece is dropped once written.
      response = web.StreamResponse(headers=self.headers)
      response.content_type = "application/json"
      response.content_length = sum(len(piece) for piece in reply)
      state["prepared"] = True
      await response.prepare(request)
      reply.reverse()
      while reply:
        await response.write(reply.pop())
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
    return rest_reply.outputs_to_pieces(outputs, request_format)
