"""What one request, and all of them together, may cost the server.

- Limits: the numbers (body size, deadlines, tensor size, memory budget).
- MemoryBudget: a weighted semaphore over bytes in flight, shared by the
  REST and gRPC servers. A request holds its share from before its body is
  read until its reply is written; requests that do not fit wait (at most
  `max_waiting` of them, the next ones get 503 / UNAVAILABLE at once).
- read_body: an aiohttp request body, inflated (gzip, deflate) as it arrives
  and cut at the size limit, with a timeout on each read.
"""

import asyncio
import dataclasses
import threading
import time
import zlib

from eggsep_tf.export.rest_json import RestError

_CHUNK = 256 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
  """The server's limits (all sizes in bytes, times in seconds).

  Attributes:
    max_body_bytes: largest request body after decompression (413 above).
    max_inflight_bytes: memory budget: body bytes of all requests being read
      or worked on at once (a request over it alone still runs, alone).
    max_waiting: requests that may wait for the budget; more get 503.
    request_timeout_s: deadline of a request from its headers to its reply
      (504, as TF-Serving's --rest_api_timeout_in_ms). gRPC clients' own
      deadlines apply too.
    header_timeout_s: an idle connection, or one whose request line and
      headers take longer than this, is closed.
    body_read_timeout_s: longest wait for the next piece of a body (408).
    max_tensor_elements: most elements in one input tensor (400 above).
  """
  max_body_bytes: int = 64 * 2**20
  max_inflight_bytes: int = 64 * 2**20
  max_waiting: int = 64
  request_timeout_s: float = 30.0
  header_timeout_s: float = 10.0
  body_read_timeout_s: float = 10.0
  max_tensor_elements: int = 64 * 2**20


class Busy(Exception):
  """The budget's waiting line is full (503 / UNAVAILABLE)."""


class MemoryBudget:
  """A thread-safe weighted semaphore; asyncio and blocking callers can share it."""

  def __init__(self, capacity, max_waiting):
    self.capacity = capacity
    self.max_waiting = max_waiting
    self.in_use = 0
    self._lock = threading.Lock()
    self._waiters = []  # [amount, wake()] in arrival order.

  def _clip(self, amount):
    return max(0, min(int(amount), self.capacity))

  def _try_take(self, amount):
    if self.in_use + amount <= self.capacity:
      self.in_use += amount
      return True
    return False

  def _enqueue(self, amount, wake):
    if len(self._waiters) >= self.max_waiting:
      raise Busy(f"the server is busy ({len(self._waiters)} requests are waiting); "
                 "try again later")
    entry = [amount, wake]
    self._waiters.append(entry)
    return entry

  def release(self, amount):
    """Gives back `amount` (as returned by acquire); any thread."""
    woken = []
    with self._lock:
      self.in_use -= amount
      for entry in list(self._waiters):
        if self._try_take(entry[0]):
          self._waiters.remove(entry)
          woken.append(entry[1])
    for wake in woken:
      wake()

  def _cancel(self, entry):
    """Drops a waiter that timed out; False if it had been granted meanwhile."""
    with self._lock:
      if entry in self._waiters:
        self._waiters.remove(entry)
        return True
    return False

  async def acquire(self, amount):
    """Waits for `amount` bytes (clipped to the capacity); returns what it holds.

    Raises:
      Busy: too many requests are waiting already.
    """
    amount = self._clip(amount)
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def wake():
      loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))

    with self._lock:
      if not self._waiters and self._try_take(amount):
        return amount
      entry = self._enqueue(amount, wake)
    try:
      await future
    except BaseException:
      if not self._cancel(entry):
        self.release(amount)
      raise
    return amount

  def acquire_blocking(self, amount, timeout):
    """acquire() for threads; None if `timeout` seconds pass first."""
    amount = self._clip(amount)
    event = threading.Event()
    with self._lock:
      if not self._waiters and self._try_take(amount):
        return amount
      entry = self._enqueue(amount, event.set)
    if event.wait(max(0.0, timeout)) or not self._cancel(entry):
      return amount
    return None


def _decompressor(encoding):
  encoding = (encoding or "identity").strip().lower()
  if encoding == "identity":
    return None
  if encoding in ("gzip", "x-gzip"):
    return zlib.decompressobj(16 + zlib.MAX_WBITS)
  if encoding == "deflate":
    return zlib.decompressobj(zlib.MAX_WBITS)
  raise RestError(415, f"Content-Encoding {encoding[:40]!r} is not supported "
                  "(use gzip, deflate or none)")


async def read_body(request, limits, deadline):
  """The body of an aiohttp request, decompressed, within the limits.

  Args:
    request: an aiohttp web.Request (the server runs with auto_decompress off).
    limits: Limits.
    deadline: time.monotonic() value by which the whole body must be in.

  Returns:
    a bytearray.

  Raises:
    RestError: 413 over max_body_bytes (counted after decompression, while
      inflating), 415 unknown Content-Encoding, 400 a corrupt compressed body,
      408 a body that stops arriving.
  """
  too_large = RestError(413, f"request body exceeds the server's limit of "
                        f"{limits.max_body_bytes} bytes (--max_body_bytes)")
  inflate = _decompressor(request.headers.get("Content-Encoding"))
  if (inflate is None and request.content_length is not None
      and request.content_length > limits.max_body_bytes):
    raise too_large
  # With a known length the buffer is allocated once (growing one copies it).
  known = inflate is None and request.content_length
  body = bytearray(request.content_length) if known else bytearray()
  filled = 0
  while True:
    wait = min(limits.body_read_timeout_s, deadline - time.monotonic())
    try:
      chunk = await asyncio.wait_for(request.content.readany(), max(wait, 0.001))
    except asyncio.TimeoutError:
      raise RestError(408, "the request body stopped arriving (timed out reading it)") from None
    if not chunk:
      break
    if known:
      if filled + len(chunk) > len(body):
        raise RestError(400, "the request body is longer than its Content-Length")
      body[filled:filled + len(chunk)] = chunk
      filled += len(chunk)
      continue
    if inflate is None:
      if len(body) + len(chunk) > limits.max_body_bytes:
        raise too_large
      body += chunk
      continue
    try:
      while chunk:  # Inflate at most what still fits, then stop.
        room = limits.max_body_bytes - len(body)
        piece = inflate.decompress(chunk, min(room + 1, _CHUNK))
        if len(piece) > room:
          raise too_large
        body += piece
        chunk = inflate.unconsumed_tail
    except zlib.error:
      raise RestError(400, "the request body is not valid "
                      f"{request.headers.get('Content-Encoding')} data") from None
  if known and filled < len(body):
    raise RestError(400, "the request body is shorter than its Content-Length")
  if inflate is not None and not inflate.eof:
    raise RestError(400, "the request body is not valid "
                    f"{request.headers.get('Content-Encoding')} data (truncated)")
  return body
