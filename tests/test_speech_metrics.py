import numpy as np
import pytest

from eggsep_tf import speech_metrics

pytestmark = pytest.mark.skipif(not all(speech_metrics.available().values()),
                                reason="pesq / pystoi not installed")


def _speechlike(rate, seconds=3.0, seed=0):
  """A voiced, syllable-rate modulated harmonic signal (PESQ needs speech-like activity)."""
  t = np.arange(int(seconds * rate)) / rate
  f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
  phase = 2 * np.pi * np.cumsum(f0) / rate
  voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
  envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 2
  return (0.3 * voiced * envelope).astype(np.float32)


def test_clean_estimate_scores_best_and_noise_lowers_both():
  rate = 16000
  clean = _speechlike(rate)
  noisy = clean + 0.1 * np.random.default_rng(0).normal(size=clean.shape).astype(np.float32)
  perfect = speech_metrics.speech_scores(clean, clean, rate)
  degraded = speech_metrics.speech_scores(clean, noisy, rate)
  assert perfect["stoi"] > 0.99 and perfect["pesq"] > 4.0
  assert degraded["stoi"] < perfect["stoi"] and degraded["pesq"] < perfect["pesq"]


def test_other_rates_are_resampled_for_pesq():
  clean = _speechlike(8000)
  scores = speech_metrics.speech_scores(clean, clean, 8000)
  assert scores["pesq"] > 4.0 and scores["stoi"] > 0.99


def test_only_the_asked_metrics():
  clean = _speechlike(16000, seconds=1.0)
  assert set(speech_metrics.speech_scores(clean, clean, 16000, {"stoi": True})) == {"stoi"}
