"""The audio domain's evaluation: whole test tracks scored with BSS Eval v4, and the
clips, spectrograms and masks that TensorBoard shows.

Scores follow eggsep_tf/bss_eval.py (1 s windows, NaN windows dropped, median per
track, then the median over tracks); where a source is speech, PESQ and STOI too.
"""

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import audio_prepare
from eggsep_tf import bss_eval
from eggsep_tf import speech_metrics

EXAMPLE_SECONDS = 5.0  # Audio shown per summary clip.


def _median(values):
  values = np.asarray(values, np.float64)
  values = values[~np.isnan(values)]
  return float(np.median(values)) if values.size else float("nan")


def _image(values):
  """[bins, frames] in [0, 1] -> [1, bins, frames, 1], low frequencies at the bottom."""
  return np.asarray(values, np.float32)[::-1][np.newaxis, :, :, np.newaxis]


def decibel_image(magnitude, floor_db=80.0):
  """|STFT| [bins, frames] -> [0, 1] image: dB relative to its peak, floor_db below it -> 0."""
  db = 20.0 * np.log10(np.maximum(magnitude, 1e-10) / max(float(np.max(magnitude)), 1e-10))
  return np.clip(1.0 + db / floor_db, 0.0, 1.0)


def test_tracks(test_dir):
  """(name, {"y", "x", "b"} waveforms) of every test track, in order."""
  spec = audio_prepare.read_test_spec(test_dir)
  for i in range(spec["count"]):
    yield spec["names"][i], audio_prepare.load_test_track(test_dir, i)


def evaluate_tracks(test_dir, names, sample_rate, separate, with_references=False):
  """BSS Eval of separate(y [samples]) -> (x, b) over the test tracks (MUSDB medians).

  Args:
    test_dir: the test split (data/audio_prepare.py's track files).
    names: (x name, b name); PESQ / STOI are added for a source named "speech".
    sample_rate: Hz.
    separate: y [samples] -> (x [samples], b [samples]).
    with_references: call separate(track) with the whole track dict {"y", "x", "b"}
      instead (the oracle).

  Returns:
    {metric: median over tracks, "num_tracks": n}; {} without test tracks.
  """
  per_track = []
  speech_source = {names[0]: "x", names[1]: "b"}.get("speech")
  speech = speech_metrics.available()
  for name, track in test_tracks(test_dir):
    x, b = separate(track if with_references else track["y"])
    scores = bss_eval.evaluate_track({"x": track["x"], "b": track["b"]}, {"x": x, "b": b},
                                     sample_rate)
    for source, estimate in (("x", x), ("b", b)):
      scores[f"si_sdr_{source}"] = float(bss_eval.si_sdr(track[source][None],
                                                         estimate[None])[0])
      if speech_source == source:  # PESQ / STOI where the source is speech.
        for metric, value in speech_metrics.speech_scores(
            track[source], estimate, sample_rate, speech).items():
          scores[f"{metric}_{source}"] = value
    logging.info("test %s: %s", name, ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
    per_track.append(scores)
  if not per_track:
    logging.warning("No test tracks: no test scores")
    return {}
  results = {k: _median([t[k] for t in per_track]) for k in per_track[0]}
  unscored = max(sum(np.isnan(t[k]) for t in per_track) for k in per_track[0])
  if unscored:
    logging.warning("BSS Eval: %d of %d test tracks had a metric with no scorable window "
                    "(silent source); left out of its median", unscored, len(per_track))
  results["num_tracks"] = len(per_track)
  return results


def examples(test_dir, sample_rate, stft, separate_with_mask):
  """The first EXAMPLE_SECONDS of the first test track: audio, spectrogram and mask.

  Args:
    separate_with_mask: waveform [1, samples] -> {"x", "b", "mask"} tensors.
  """
  name, track = next(test_tracks(test_dir))
  count = min(len(track["y"]), round(EXAMPLE_SECONDS * sample_rate))
  clip = {k: v[:count] for k, v in track.items()}
  out = separate_with_mask(tf.constant(clip["y"][np.newaxis]))
  magnitude = np.abs(stft(clip["y"][np.newaxis]).numpy()[0]).T  # [bins, frames]
  return {"track": name, "sample_rate": sample_rate, "mixture": clip["y"],
          "x": out["x"].numpy()[0], "b": out["b"].numpy()[0], "x_true": clip["x"],
          "b_true": clip["b"], "spectrogram": decibel_image(magnitude),
          "mask": out["mask"].numpy()[0, :, :, 0]}


def log(writer, step, prefix, scores, shown=None):
  """Scores as scalars; examples as audio clips and spectrogram/mask images."""
  with writer.as_default(step=step):
    for k, v in scores.items():
      tf.summary.scalar(f"{prefix}/{k}", v)
    if shown is not None:
      rate = shown["sample_rate"]
      for key in ("mixture", "x", "b", "x_true", "b_true"):
        audio = np.clip(shown[key], -1.0, 1.0)[np.newaxis, :, np.newaxis]
        tf.summary.audio(f"{prefix}/audio_{key}", audio, rate)
      tf.summary.image(f"{prefix}/mixture_spectrogram_db", _image(shown["spectrogram"]))
      tf.summary.image(f"{prefix}/b_mask", _image(shown["mask"]))
  writer.flush()
