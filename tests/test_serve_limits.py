"""The serving limits: sizes counted while inflating, budget, deadlines, timeouts.

A toy SavedModel (tests/test_serve.py) is served on a free loopback port with
small limits, so every limit is reached in well under a second.
"""

import asyncio
import gzip
import json
import socket
import threading
import time
import zlib

import pytest

from eggsep_tf.export.rest_server import serve_in_thread
from eggsep_tf.export.serving_limits import Busy
from eggsep_tf.export.serving_limits import Limits
from eggsep_tf.export.serving_limits import MemoryBudget
from tests.test_serve import _call
from tests.test_serve import _export

MAX_BODY = 64 * 1024
LIMITS = Limits(max_body_bytes=MAX_BODY, max_inflight_bytes=MAX_BODY, max_waiting=0,
                request_timeout_s=2.0, header_timeout_s=0.5, body_read_timeout_s=0.5,
                max_tensor_elements=1000)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  running = serve_in_thread(base, "toy", limits=LIMITS, poll_seconds=0)
  yield running
  running.stop()


def _raw(server, data, wait=5.0):
  """Sends raw bytes; (status or None, reply bytes) once the server replies or closes."""
  with socket.create_connection((server.host, server.port), timeout=wait) as s:
    s.sendall(data)
    reply = b""
    try:
      while True:
        piece = s.recv(65536)
        if not piece:
          break
        reply += piece
        if b"\r\n\r\n" in reply:
          head, _, rest = reply.partition(b"\r\n\r\n")
          length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")]
          if length and len(rest) >= length[0]:
            break
    except (socket.timeout, ConnectionResetError):
      pass
  status = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/") else None
  return status, reply


def _post(body, headers=""):
  return (f"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
          f"\r\n{headers}\r\n").encode() + body


def _good(server):
  status, reply = _call(server.url + "/v1/models/toy:predict", {"inputs": [[4.0]]})
  assert (status, reply) == (200, {"outputs": {"x": [[1.0]], "b": [[3.0]]}})


def test_compressed_bodies_are_inflated_and_cut_at_the_limit(server):
  good = json.dumps({"inputs": [[4.0]]}).encode()
  for encoding, data in (("gzip", gzip.compress(good)), ("deflate", zlib.compress(good))):
    status, reply = _raw(server, _post(data, f"Content-Encoding: {encoding}\r\n"))
    assert status == 200 and b'"x":[[1.0]]' in reply, reply
  # 100 MB of zeros in 100 KB of gzip: refused after inflating just past the limit.
  bomb = gzip.compress(b'{"inputs": [' + b"0," * 50_000_000 + b"0]}", 9)
  assert len(bomb) < 2 * MAX_BODY
  start = time.monotonic()
  status, reply = _raw(server, _post(bomb[:MAX_BODY], "Content-Encoding: gzip\r\n"))
  assert status == 413 and b"--max_body_bytes" in reply, reply
  assert time.monotonic() - start < 5
  assert _raw(server, _post(b"not gzip at all", "Content-Encoding: gzip\r\n"))[0] == 400
  assert _raw(server, _post(gzip.compress(good)[:-8], "Content-Encoding: gzip\r\n"))[0] == 400
  assert _raw(server, _post(good, "Content-Encoding: br\r\n"))[0] == 415
  _good(server)


def test_plain_body_over_the_limit(server):
  status, reply = _raw(server, _post(b" " * (MAX_BODY + 1)))
  assert status == 413
  _good(server)


def test_tensor_element_cap(server):
  status, reply = _call(server.url + "/v1/models/toy:predict", {"inputs": [[1.0] * 1001]})
  assert status == 400 and "max_tensor_elements" in reply["error"]
  _good(server)


def test_slow_headers_are_cut(server):
  start = time.monotonic()
  status, reply = _raw(server, b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n")
  assert status is None and reply == b""  # Closed without a reply.
  assert time.monotonic() - start < 4
  _good(server)


def test_body_that_stops_arriving_gets_408(server):
  status, reply = _raw(server, _post(b'{"inputs": [[4.0]]}')[:-5])
  assert status == 408, reply
  _good(server)


def test_trickled_body_hits_the_request_deadline(server):
  body = json.dumps({"inputs": [[4.0]]}).encode()
  with socket.create_connection((server.host, server.port), timeout=10) as s:
    s.sendall(_post(body)[:-len(body)])
    start = time.monotonic()
    reply = b""
    for byte in body:  # One byte every 0.2 s: each read is quick, the whole is slow.
      try:
        s.sendall(bytes([byte]))
      except OSError:
        break
      s.settimeout(0.2)
      try:
        reply += s.recv(65536)
      except socket.timeout:
        continue
      if reply:
        break
  assert reply.startswith(b"HTTP/1.1 504"), reply
  assert 1.5 < time.monotonic() - start < 5
  _good(server)


def test_full_budget_gets_503(server):
  # One request holds the whole budget while its body trickles in; the next is refused.
  holder = socket.create_connection((server.host, server.port), timeout=10)
  try:
    holder.sendall(_post(b" " * MAX_BODY)[:-MAX_BODY] + b" ")
    time.sleep(0.2)
    status, reply = _call(server.url + "/v1/models/toy:predict", {"inputs": [[4.0]]})
    assert status == 503 and "busy" in reply["error"], reply
  finally:
    holder.close()
  time.sleep(0.6)
  _good(server)


def test_memory_budget_waits_and_refuses():
  budget = MemoryBudget(100, max_waiting=1)
  assert budget.acquire_blocking(80, 0) == 80
  assert budget.acquire_blocking(30, 0.05) is None  # Waited, then gave up.
  assert budget.acquire_blocking(500, 0.05) is None  # Clipped to the capacity.
  got = []
  waiter = threading.Thread(target=lambda: got.append(budget.acquire_blocking(30, 10)))
  waiter.start()
  time.sleep(0.1)
  with pytest.raises(Busy):  # One is waiting already.
    budget.acquire_blocking(1, 0)
  budget.release(80)
  waiter.join(10)
  assert got == [30] and budget.in_use == 30

  async def main():
    task = asyncio.ensure_future(budget.acquire(100))
    await asyncio.sleep(0.05)
    assert not task.done()
    budget.release(30)
    assert await asyncio.wait_for(task, 5) == 100
    budget.release(100)

  asyncio.run(main())
  assert budget.in_use == 0


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    b"POST /v1/models/toy:predict HTTP/1.1\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n",
    b"POST /v1/models/toy:predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /v1/models/toy HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
], ids=range(8))
def test_malformed_http_gets_a_json_error(server, data):
  status, reply = _raw(server, data)
  assert status == 400, reply
  body = reply.partition(b"\r\n\r\n")[2]
  assert b"\n" not in body and set(json.loads(body)) == {"error"}
  _good(server)
