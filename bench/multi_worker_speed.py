r"""Training samples/s with 1 and with 2 MultiWorkerMirroredStrategy workers on 127.0.0.1.

  python bench/multi_worker_speed.py [--epochs=3] [--batch_size=32]

Runs one NES iteration of the demo configuration (built-in digits) once as a
single process and once as two worker processes on loopback ports, and prints
the median training samples/s of each (global samples, epochs after the
first). On one 2-core machine two workers cannot be faster: the point is that
the same code path runs, and what the all-reduce costs.
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 3, "Epochs of the timed iteration.")
flags.DEFINE_integer("batch_size", 32, "Global batch size.")
flags.DEFINE_string("filters", "32,64,128,256", "Mask net channels.")


def _args(workdir):
  return ["-m", "trainers.nes", f"--workdir={workdir}", "--data=mnist5k", "--num_b=1000",
          "--num_y=1000", "--num_test=200", "--iterations=1", f"--epochs={FLAGS.epochs}",
          f"--filters={FLAGS.filters}", f"--batch_size={FLAGS.batch_size}"]


def _rates(stderr):
  rates = [float(r) for r in re.findall(r"epoch \d+/\d+: l1 [\d.]+, (\d+) samples/s", stderr)]
  return rates[1:] or rates


def main(argv):
  del argv
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  tmp = tempfile.mkdtemp()
  single = subprocess.run([sys.executable, *_args(os.path.join(tmp, "one"))], cwd=ROOT,
                          env=env, capture_output=True, text=True)
  if single.returncode:
    sys.exit(single.stderr[-2000:])
  socks = [socket.socket() for _ in range(2)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
  for s in socks:
    s.close()
  procs = []
  for i in range(2):
    worker_env = dict(env, TF_CONFIG=json.dumps({"cluster": cluster,
                                                 "task": {"type": "worker", "index": i}}))
    procs.append(subprocess.Popen(
        [sys.executable, *_args(os.path.join(tmp, "two")), "--strategy=multi_worker"],
        cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
  errs = [p.communicate()[1] for p in procs]
  if any(p.returncode for p in procs):
    sys.exit(errs[0][-2000:] + errs[1][-2000:])
  one, two = statistics.median(_rates(single.stderr)), statistics.median(_rates(errs[0]))
  print("| workers | training samples/s (global, median over epochs 2..) |")
  print("|---|---|")
  print(f"| 1 | {one:.0f} |")
  print(f"| 2 (loopback, same 2 cores) | {two:.0f} |")
  print(f"ratio 2/1: {two / one:.2f}")


if __name__ == "__main__":
  app.run(main)
