"""Speech metrics beside SDR: PESQ (wide band) and STOI, when their packages are installed.

`pesq` (ITU-T P.862.2 wide band, defined at 16 kHz: other rates are resampled with
soxr) and `pystoi` (short-time objective intelligibility, any rate) come with the
[audio] extra. Arrays in, numbers out: no files.
"""

import importlib.util

from absl import logging
import numpy as np

PESQ_RATE = 16000


def available():
  """{"pesq": bool, "stoi": bool}: which of the metrics can be computed here."""
  return {"pesq": importlib.util.find_spec("pesq") is not None,
          "stoi": importlib.util.find_spec("pystoi") is not None}


def _resample(signal, rate, target):
  if rate == target:
    return signal
  import soxr  # pylint: disable=import-outside-toplevel
  return soxr.resample(signal, rate, target).astype(np.float32)


def speech_scores(reference, estimate, rate, which=None):
  """{"pesq": ..., "stoi": ...} of an estimate of speech against its clean reference.

  Args:
    reference, estimate: mono float arrays [samples] (cut to the shorter).
    rate: their sample rate in Hz.
    which: available() (default), or a dict saying which metrics to compute.

  Returns:
    The metrics computed; PESQ is NaN where it refuses the signal (e.g. no speech).
  """
  which = available() if which is None else which
  n = min(len(reference), len(estimate))
  reference = np.asarray(reference[:n], np.float64)
  estimate = np.asarray(estimate[:n], np.float64)
  scores = {}
  if which.get("stoi"):
    from pystoi import stoi  # pylint: disable=import-outside-toplevel
    scores["stoi"] = float(stoi(reference, estimate, rate, extended=False))
  if which.get("pesq"):
    import pesq  # pylint: disable=import-outside-toplevel
    try:
      scores["pesq"] = float(pesq.pesq(PESQ_RATE, _resample(reference, rate, PESQ_RATE),
                                       _resample(estimate, rate, PESQ_RATE), "wb"))
    except Exception as e:  # pylint: disable=broad-except
      # pesq raises its own error types, e.g. "No utterances detected" for silence.
      logging.warning("PESQ not computed (%s: %s)", type(e).__name__, e)
      scores["pesq"] = float("nan")
  return scores
