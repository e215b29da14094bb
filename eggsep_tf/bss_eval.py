"""Separation quality: BSS Eval v4 (museval) over whole tracks, and a cheap SDR for TensorBoard.

`evaluate_tracks` follows the MUSDB18/SiSEC convention: SDR, SIR and SAR over
1-second windows (win = hop = sample_rate), windows that come out NaN (silent
reference or estimate there) dropped, the median over windows per track, then
the median over tracks. (The paper's reference demo instead turned NaN windows
into 0 before one global median; that biases scores towards 0 dB.)

museval's package import pulls in stempeg, which refuses to import without
ffmpeg and ffprobe on PATH. Evaluation itself needs neither, so when the normal
import fails, museval's metrics module (numpy/scipy only) is loaded on its
own. museval 0.4.1 also names np.linalg.linalg.LinAlgError, which numpy 2.4
no longer has (only reached on a singular projection matrix); an alias is put
back before evaluating.
"""

import importlib.util
import os
import types

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError

SOURCES = ("x", "b")
METRICS = ("sdr", "sir", "sar")
_metrics_module = None


def _load_metrics():
  """museval.metrics, imported normally or, without ffmpeg, loaded on its own."""
  global _metrics_module
  if _metrics_module is not None:
    return _metrics_module
  if not hasattr(np.linalg, "linalg"):
    # museval catches np.linalg.linalg.LinAlgError; numpy 2.4 removed that module path.
    np.linalg.linalg = types.SimpleNamespace(LinAlgError=np.linalg.LinAlgError)
  try:
    from museval import metrics  # pylint: disable=g-import-not-at-top
  except (ImportError, OSError, RuntimeError) as error:  # stempeg without ffmpeg: RuntimeError.
    spec = importlib.util.find_spec("museval")
    path = os.path.join(os.path.dirname(spec.origin), "metrics.py") if spec else None
    if path is None or not os.path.isfile(path):
      raise InputError("BSS Eval needs the museval package (pip install museval==0.4.1)") from None
    logging.info("museval did not import (%s); loading its metrics module alone "
                 "(ffmpeg is not needed to evaluate)", error)
    standalone = importlib.util.spec_from_file_location("_museval_metrics", path)
    metrics = importlib.util.module_from_spec(standalone)
    standalone.loader.exec_module(metrics)
  _metrics_module = metrics
  return metrics


def _as_mono(signal, name):
  signal = np.asarray(signal, dtype=np.float64)
  if signal.ndim != 1:
    raise InputError(f"BSS Eval {name}: expected a mono signal [samples], got shape {signal.shape}")
  return signal


def evaluate_sources(references, estimates, sample_rate, window_seconds=1.0):
  """BSS Eval v4 of any number of sources of one track, median over windows.

  Args:
    references: {source name: [samples] or [samples, channels]} true sources,
      all of one length and channel count.
    estimates: the same names -> estimates (cut or zero-padded to the reference
      length; the same channel count as the references).
    sample_rate: Hz.
    window_seconds: window and hop in seconds (1 s in the MUSDB convention).

  Returns:
    {source name: {"sdr", "sir", "sar"}} in dB (NaN when no window could be
    scored, e.g. an all-silent source).
  """
  names = list(references)
  refs, ests = [], []
  for name in names:
    ref = np.asarray(references[name], dtype=np.float64)
    ref = ref[:, None] if ref.ndim == 1 else ref
    est = np.asarray(estimates[name], dtype=np.float64)
    est = est[:, None] if est.ndim == 1 else est
    if refs and ref.shape != refs[0].shape:
      raise InputError(f"BSS Eval: references differ in shape ({refs[0].shape} vs {ref.shape})")
    if est.shape[1] != ref.shape[1]:
      raise InputError(f"BSS Eval {name}: estimate has {est.shape[1]} channels, reference "
                       f"{ref.shape[1]}")
    est = np.pad(est[:len(ref)], [(0, max(0, len(ref) - len(est))), (0, 0)])
    refs.append(ref)
    ests.append(est)
  window = round(window_seconds * sample_rate)
  metrics = _load_metrics()
  try:
    sdr, _, sir, sar, _ = metrics.bss_eval(
        np.stack(refs), np.stack(ests), compute_permutation=False,
        window=window, hop=window, framewise_filters=False, bsseval_sources_version=False)
  except ValueError as error:  # An all-silent reference or estimate.
    logging.warning("BSS Eval: track not scored (%s)", str(error).split(".")[0])
    return {name: {m: float("nan") for m in METRICS} for name in names}
  scores = {}
  for i, name in enumerate(names):
    scores[name] = {}
    for metric, values in zip(METRICS, (sdr, sir, sar)):
      scored = values[i][~np.isnan(values[i])]
      scores[name][metric] = float(np.median(scored)) if scored.size else float("nan")
  return scores


def evaluate_track(reference, estimate, sample_rate, window_seconds=1.0):
  """BSS Eval v4 of one track's X and B estimates, median over windows.

  Args:
    reference: dict "x", "b" -> [samples] true sources.
    estimate: dict "x", "b" -> [samples] estimates (cut or zero-padded to the
      reference length).
    sample_rate: Hz.
    window_seconds: window and hop in seconds (1 s in the MUSDB convention).

  Returns:
    dict "sdr_x", "sir_x", "sar_x", "sdr_b", "sir_b", "sar_b" (dB; NaN when no
    window could be scored, e.g. an all-silent source).
  """
  length = len(reference["x"])
  refs, ests = {}, {}
  for source in SOURCES:
    refs[source] = _as_mono(reference[source], f"reference {source}")
    ests[source] = _as_mono(estimate[source], f"estimate {source}")
    if len(refs[source]) != length:
      raise InputError(f"BSS Eval: references x and b differ in length ({length} vs "
                       f"{len(refs[source])})")
  scores = evaluate_sources(refs, ests, sample_rate, window_seconds)
  return {f"{m}_{s}": scores[s][m] for s in SOURCES for m in METRICS}


def evaluate_tracks(references, estimates, sample_rate, window_seconds=1.0):
  """BSS Eval v4 over tracks: median per track, then median over tracks (MUSDB convention).

  Args:
    references: sequence (one per track) of dicts "x", "b" -> [samples] arrays.
    estimates: sequence of the same length, dicts "x", "b" -> [samples].
    sample_rate: Hz; windows are `window_seconds` long, without overlap.
    window_seconds: 1.0 in the MUSDB convention.

  Returns:
    dict "sdr_x", "sir_x", "sar_x", "sdr_b", "sir_b", "sar_b" (floats, dB; NaN
    if no track could be scored), "num_tracks" (tracks given) and
    "unscored_tracks" (tracks left out of a metric's median because it was
    NaN for them: the largest such count over the metrics).
  """
  if len(references) != len(estimates):
    raise InputError(f"BSS Eval: {len(references)} references but {len(estimates)} estimates")
  if not references:
    raise InputError("BSS Eval: no tracks to evaluate")
  per_track = [evaluate_track(r, e, sample_rate, window_seconds)
               for r, e in zip(references, estimates)]
  results = {}
  unscored = 0
  for key in per_track[0]:
    values = np.array([t[key] for t in per_track])
    scored = values[~np.isnan(values)]
    unscored = max(unscored, int(values.size - scored.size))
    results[key] = float(np.median(scored)) if scored.size else float("nan")
  if unscored:
    logging.warning("BSS Eval: %d of %d tracks had no scorable window for some metric "
                    "(silent source); they are left out of those medians",
                    unscored, len(per_track))
  results["num_tracks"] = len(per_track)
  results["unscored_tracks"] = unscored
  return results


def _power_db(numerator, denominator, epsilon):
  return 10.0 * (tf.math.log(numerator + epsilon) - tf.math.log(denominator + epsilon)) / \
      tf.math.log(10.0)


def sdr(reference, estimate, epsilon=1e-8):
  """Plain SDR per example, 10 log10(|s|^2 / |s - s_hat|^2): cheap, for TensorBoard.

  Not BSS Eval: no allowed distortion filter, no windows. epsilon keeps silent
  references scored (a silent reference with a silent estimate gives 0 dB).

  Args:
    reference, estimate: [batch, samples] float (numpy or tensors).

  Returns:
    [batch] float32, dB.
  """
  reference = tf.cast(reference, tf.float32)
  estimate = tf.cast(estimate, tf.float32)
  return _power_db(tf.reduce_sum(tf.square(reference), -1),
                   tf.reduce_sum(tf.square(reference - estimate), -1), epsilon)


def si_sdr(reference, estimate, epsilon=1e-8):
  """Scale-invariant SDR per example (the reference rescaled to best fit the estimate).

  Args:
    reference, estimate: [batch, samples] float.

  Returns:
    [batch] float32, dB.
  """
  reference = tf.cast(reference, tf.float32)
  estimate = tf.cast(estimate, tf.float32)
  scale = (tf.reduce_sum(reference * estimate, -1, keepdims=True) /
           (tf.reduce_sum(tf.square(reference), -1, keepdims=True) + epsilon))
  target = scale * reference
  return _power_db(tf.reduce_sum(tf.square(target), -1),
                   tf.reduce_sum(tf.square(estimate - target), -1), epsilon)
