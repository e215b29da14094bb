r"""Whole-file separation speed through an exported SavedModel: x real time, and memory.

  python bench/audio_separation_speed.py --model=runs/speech_noise_fast/export
  python bench/audio_separation_speed.py --model=WORKDIR --seconds=10,60,300 --repeats=3

Separates noise-like test signals of each length with eggsep_tf.Separator (the
SavedModel's chunked separator: memory should not grow with the file), after
one warm-up call, and prints per length the median wall time, the real-time
factor (signal seconds / wall seconds) and the process's peak resident memory
after that length (ru_maxrss; it only grows, so a flat column means flat memory).
Nothing else heavy should run beside it.
"""

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import eggsep_tf  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", required=True, help="SavedModel, export base or workdir")
  parser.add_argument("--seconds", default="10,60,300", help="signal lengths to time")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  sep = eggsep_tf.Separator.load(args.model)
  if sep.domain != "audio":
    sys.exit(f"--model={args.model}: an image model; this benchmark times audio")
  rate = sep.sample_rate
  rng = np.random.default_rng(0)
  sep.separate(rng.uniform(-0.3, 0.3, rate).astype(np.float32))  # Warm-up (tracing).
  print(f"model {args.model}: {rate} Hz, {sep.metadata.get('settings', {}).get('architecture', '?')}")
  print("| seconds of audio | median wall s | x real time | peak RSS MiB |")
  print("|---|---|---|---|")
  for seconds in (float(s) for s in args.seconds.split(",")):
    signal = rng.uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      x, b = sep.separate(signal)
      times.append(time.perf_counter() - start)
      assert x.shape == signal.shape and np.isfinite(x).all()
    wall = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {seconds:g} | {wall:.3f} | {seconds / wall:.0f} | {rss:.0f} |")


if __name__ == "__main__":
  main()
