"""Generated stand-ins for speech and noise, for tests and quick benchmarks (no files needed)."""

import numpy as np


def tones(seconds, rng, sample_rate=8000):
  """Harmonic tones with a new pitch every 0.25 s (a stand-in for voiced speech).

  Returns: [samples] float32.
  """
  n = int(seconds * sample_rate)
  t = np.arange(n) / sample_rate
  out = np.zeros(n)
  step = sample_rate // 4
  for start in range(0, n, step):
    end = min(n, start + step)
    f0 = rng.uniform(150, 600)
    out[start:end] = np.hanning(end - start) * sum(
        0.3 / k * np.sin(2 * np.pi * k * f0 * t[start:end]) for k in range(1, 4))
  return out.astype(np.float32)


def noise(seconds, rng, sample_rate=8000):
  """Low-passed Gaussian noise with a slowly varying level. Returns: [samples] float32."""
  n = int(seconds * sample_rate)
  width = rng.integers(1, 6)
  filtered = np.convolve(rng.normal(size=n), np.ones(width) / width, "same")
  level = np.repeat(rng.uniform(0.3, 1.0, n // 800 + 1), 800)[:n]
  return (0.2 * filtered * level).astype(np.float32)
