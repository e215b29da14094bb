"""Small generated data sets and helpers shared by tests."""

import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bars(n, size=16, seed=0):
  """Labelled images: class 0 = horizontal bars, class 1 = vertical bars.

  Returns (images [n, size, size, 1] float32 in [0, 1], labels [n]).
  """
  rng = np.random.default_rng(seed)
  images = np.zeros((n, size, size, 1), np.float32)
  labels = np.arange(n) % 2
  for i in range(n):
    for _ in range(2):
      pos = rng.integers(0, size - 2)
      value = rng.uniform(0.5, 1.0)
      if labels[i] == 0:
        images[i, pos:pos + 2, :, 0] = value
      else:
        images[i, :, pos:pos + 2, 0] = value
  return images, labels


def write_bars_npz(path, n=600, size=16, seed=0):
  images, labels = bars(n, size, seed)
  np.savez(path, images=images, labels=labels)
  return path


def run_module(module, *args, timeout=600, env=None):
  """Runs `python -m module args` from the repository root; returns CompletedProcess."""
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
  return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=timeout, env=full_env)
