"""Load on the server (slow; pytest --runslow): slow connections and memory.

- 2,000 connections that send half a request line and stall, while good
  clients keep being answered quickly; the stalled ones are then closed by
  the header timeout.
- 8 concurrent maximum-size requests against `python -m export.serve` in its
  own process: its peak RSS growth stays a bounded multiple of
  --max_body_bytes (the memory budget lets one such request work at a time).

Loopback only; everything is bounded in count and time.
"""

import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from eggsep_tf.export.rest_server import serve_in_thread
from eggsep_tf.export.serving_limits import Limits
from tests.helpers import ROOT
from tests.test_serve import _call
from tests.test_serve import _export

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  return base


def _good_latencies(url, seconds, clients=4):
  """Latencies [s] of good :predict calls from `clients` threads for `seconds`."""
  deadline = time.monotonic() + seconds

  def client():
    times = []
    while time.monotonic() < deadline:
      start = time.monotonic()
      status, _ = _call(url + "/v1/models/toy:predict", {"inputs": [[4.0]]})
      assert status == 200
      times.append(time.monotonic() - start)
    return times

  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    return np.concatenate([f.result() for f in [pool.submit(client) for _ in range(clients)]])


def test_2000_slow_connections(model_base):
  server = serve_in_thread(model_base, "toy", poll_seconds=0,
                           limits=Limits(header_timeout_s=6.0))
  slow = []
  try:
    for _ in range(2000):
      s = socket.create_connection((server.host, server.port), timeout=10)
      s.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-")
      slow.append(s)
    latencies = _good_latencies(server.url, 3.0)
    p99 = np.percentile(latencies, 99)
    print(f"2000 stalled connections: {latencies.size} good requests, p50 "
          f"{np.median(latencies) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    assert p99 < 2.0
    time.sleep(6.5)  # Past the header timeout: the server has closed them all.
    closed = 0
    for s in slow:
      s.settimeout(0.01)
      try:
        closed += s.recv(1) == b""
      except (socket.timeout, OSError):
        pass
    assert closed == len(slow)
  finally:
    for s in slow:
      s.close()
    server.stop()


def _rss_kib(pid, field):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1])
  raise AssertionError(field)


def test_memory_under_8_concurrent_max_size_requests(model_base):
  max_body = 8 * 2**20
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  process = subprocess.Popen(
      [sys.executable, "-m", "export.serve", f"--model_base_path={model_base}",
       "--model_name=toy", f"--port={port}", f"--max_body_bytes={max_body}",
       "--request_timeout_s=120", "--poll_seconds=0"],
      cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  url = f"http://127.0.0.1:{port}"
  try:
    deadline = time.monotonic() + 60
    while True:
      try:
        if _call(url + "/v1/models/toy")[0] == 200:
          break
      except OSError:
        pass
      assert time.monotonic() < deadline and process.poll() is None
      time.sleep(0.2)
    rng = np.random.default_rng(0)
    row = rng.uniform(0, 1, 4096).astype(np.float32).tolist()
    rows = max_body // len(json.dumps(row)) - 1
    body = json.dumps({"inputs": [row] * rows}).encode()
    assert max_body * 0.9 < len(body) <= max_body
    _call(url + "/v1/models/toy:predict", json.loads(body))  # Warm up, then measure.
    with open(f"/proc/{process.pid}/clear_refs", "w") as f:
      f.write("5")  # Resets the peak RSS (VmHWM) to the current RSS.
    before = _rss_kib(process.pid, "VmRSS")

    def one(_):
      connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
      connection.request("POST", "/v1/models/toy:predict", body=body)
      reply = connection.getresponse()
      reply.read()
      connection.close()
      return reply.status

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
      statuses = list(pool.map(one, range(8)))
    growth = (_rss_kib(process.pid, "VmHWM") - before) * 1024
    print(f"8 concurrent {len(body) / 2**20:.1f} MiB requests: statuses {statuses}, peak RSS "
          f"growth {growth / 2**20:.0f} MiB = {growth / max_body:.2f}x --max_body_bytes")
    assert statuses == [200] * 8
    assert growth <= 3 * max_body  # The target.
  finally:
    process.terminate()
    process.wait(timeout=30)
