"""Speech-and-noise separation sets from a folder of speech and a folder of noise.

The paper's speech/noise experiments (section 4.2, Table 2 rows Speech|Noise and
Noise|Speech) mix clean speech with environmental noise. This builder makes the
three sets NES needs from any two folders of recordings:

- "b": clean clips of the observed source B (noise when X is speech),
- "y": training mixtures y = x + b, with their true parts "y_x" and "y_b"
  (only the supervised upper bound may look at those),
- "test_y", "test_x", "test_b": held-out mixtures with references.

Files, not clips, are split, so no recording feeds two sets: B clips, the B
parts of training mixtures and the test set come from disjoint noise files
(the semi-supervised protocol: B samples and Y mixtures are unpaired), and
training and test speech come from disjoint speech files.

Levels: every speech clip is normalised to RMS `speech_rms`; every noise clip,
wherever it is used (B set or mixture), to speech_rms * 10**(-snr / 20) with
snr drawn uniformly from `snr_db` (dB, speech to noise). So the B set has the
same level distribution as the B parts of the mixtures. An example whose
mixture would exceed 0.99 in magnitude is scaled down as a whole.

Clips are `example_samples` long, cut without overlap; remainders, files
shorter than one clip and silent clips are skipped and counted (logged).
To give exactly F centred STFT frames, use example_samples = (F - 1) * hop
(64 frames at 16 kHz, hop 160: 10080 samples).
"""

import os

from absl import logging
import numpy as np

from eggsep_tf.data import audio_io
from eggsep_tf.errors import InputError

SILENCE_RMS = 1e-4  # Clips quieter than this (about -80 dBFS) carry no usable signal.
PEAK_LIMIT = 0.99


def _split_files(paths, fractions, rng):
  """Shuffles paths and cuts them into len(fractions) non-empty groups (fractions sum to 1)."""
  paths = list(paths)
  rng.shuffle(paths)
  groups, start = [], 0
  for i, fraction in enumerate(fractions[:-1]):
    later = len(fractions) - 1 - i  # Groups still to fill after this one, one file each.
    count = min(max(1, round(fraction * len(paths))), len(paths) - start - later)
    groups.append(paths[start:start + count])
    start += count
  groups.append(paths[start:])
  return groups


def _clips(paths, sample_rate, example_samples, skipped):
  """Fixed-length, non-silent clips [n, example_samples] from files; counts what it skips."""
  clips = []
  for path in paths:
    audio = audio_io.read_audio(path, sample_rate)
    if len(audio) < example_samples:
      skipped["short_files"] += 1
      logging.warning("%s: %.2f s is shorter than one example (%.2f s); skipped", path,
                      len(audio) / sample_rate, example_samples / sample_rate)
      continue
    for clip in audio_io.cut_examples(audio, example_samples):
      if np.sqrt(np.mean(np.square(clip))) < SILENCE_RMS:
        skipped["silent_clips"] += 1
      else:
        clips.append(clip)
  return np.array(clips, np.float32).reshape(-1, example_samples)


def _at_rms(clips, rms):
  """Scales each clip [n, samples] to the given RMS ([n] or scalar)."""
  current = np.sqrt(np.mean(np.square(clips), axis=1))
  return clips * (np.asarray(rms) / current)[..., None] if len(clips) else clips


def _noise_rms(count, speech_rms, snr_db, rng):
  return speech_rms * 10.0 ** (-rng.uniform(snr_db[0], snr_db[1], count) / 20.0)


def _limit_peaks(*parts):
  """Scales examples (rows) of all parts alike so that their sum stays within PEAK_LIMIT."""
  peak = np.abs(sum(parts)).max(axis=1)
  scale = np.minimum(1.0, PEAK_LIMIT / np.maximum(peak, 1e-12))[:, None]
  return [p * scale for p in parts]


def _mix(speech, noise, count, speech_rms, snr_db, rng):
  """`count` mixtures of random speech and noise clips (each used at most once when possible)."""
  def pick(pool):
    replace = len(pool) < count
    return pool[rng.choice(len(pool), count, replace=replace)]
  s = _at_rms(pick(speech), speech_rms)
  n = _at_rms(pick(noise), _noise_rms(count, speech_rms, snr_db, rng))
  return _limit_peaks(s, n)


def build(speech_dir, noise_dir, sample_rate=16000, example_samples=16000, snr_db=(-5.0, 5.0),
          x_source="speech", test_fraction=0.2, b_fraction=0.5, speech_rms=0.05,
          max_examples=None, seed=0):
  """Builds B, Y and test sets from a folder of speech and a folder of noise.

  Args:
    speech_dir, noise_dir: folders of .wav/.flac/.ogg files (searched recursively).
    sample_rate: Hz (16000 in the paper).
    example_samples: samples per clip.
    snr_db: (low, high) speech-to-noise ratio range in dB, drawn uniformly per
      mixture.
    x_source: "speech" (X = speech, B = noise; the paper's Speech|Noise row) or
      "noise" (X = noise, B = speech; Noise|Speech).
    test_fraction: share of each folder's files kept for the test set.
    b_fraction: share of the remaining B-source files whose clips form the B
      set; the rest provide the B parts of the training mixtures.
    speech_rms: RMS level of every speech clip.
    max_examples: cap on clips per set (None: as many as the files give; Y has
      one mixture per training X clip).
    seed: random seed (file splits, pairing, SNRs).

  Returns:
    dict of float32 arrays [n, example_samples]: "b", "y", "y_x", "y_b",
    "test_y", "test_x", "test_b"; and "summary": a dict of counts (clips per
    set, files per split, skipped short files and silent clips).

  Raises:
    InputError: a missing or empty folder, too few files to keep the sets
      disjoint, a bad setting, or an unreadable file (named).
  """
  if x_source not in ("speech", "noise"):
    raise InputError(f"x_source={x_source!r}: expected 'speech' or 'noise'")
  low, high = snr_db
  if low > high:
    raise InputError(f"SNR range {snr_db} dB: expected low <= high")
  if not 0 < test_fraction < 1 or not 0 < b_fraction < 1:
    raise InputError(f"test_fraction={test_fraction}, b_fraction={b_fraction}: expected "
                     "fractions strictly between 0 and 1")
  rng = np.random.default_rng(seed)
  folders = {"speech": speech_dir, "noise": noise_dir}
  b_source = "noise" if x_source == "speech" else "speech"
  x_files = audio_io.list_audio_files(folders[x_source])
  b_files = audio_io.list_audio_files(folders[b_source])
  if len(x_files) < 2 or len(b_files) < 3:
    raise InputError(f"{folders[x_source]} has {len(x_files)} and {folders[b_source]} "
                     f"{len(b_files)} audio files: need at least 2 {x_source} files (train, "
                     f"test) and 3 {b_source} files (B set, mixtures, test), so that no "
                     "recording is used twice")
  x_train, x_test = _split_files(x_files, [1 - test_fraction, test_fraction], rng)
  b_set, b_mix, b_test = _split_files(
      b_files, [(1 - test_fraction) * b_fraction, (1 - test_fraction) * (1 - b_fraction),
                test_fraction], rng)
  skipped = {"short_files": 0, "silent_clips": 0}
  clips = {name: _clips(paths, sample_rate, example_samples, skipped)
           for name, paths in [("x_train", x_train), ("x_test", x_test), ("b_set", b_set),
                               ("b_mix", b_mix), ("b_test", b_test)]}
  if max_examples:
    clips = {k: v[rng.permutation(len(v))[:max_examples]] for k, v in clips.items()}
  for name, paths in [("x_train", x_train), ("x_test", x_test), ("b_set", b_set),
                      ("b_mix", b_mix), ("b_test", b_test)]:
    if not len(clips[name]):
      raise InputError(f"no usable {example_samples / sample_rate:.2f} s clips in the "
                       f"{len(paths)} file(s) chosen for {name} (first: {paths[0]}); "
                       "add longer recordings or shorten the examples")

  def as_x_b(speech, noise):
    return (speech, noise) if x_source == "speech" else (noise, speech)

  def mixtures(x_clips, b_clips):
    speech, noise = as_x_b(x_clips, b_clips)  # Same swap maps (x, b) to (speech, noise).
    speech, noise = _mix(speech, noise, len(x_clips), speech_rms, (low, high), rng)
    return as_x_b(speech, noise)

  y_x, y_b = mixtures(clips["x_train"], clips["b_mix"])
  test_x, test_b = mixtures(clips["x_test"], clips["b_test"])
  b_clips = clips["b_set"]
  if b_source == "speech":
    b = _limit_peaks(_at_rms(b_clips, speech_rms))[0]
  else:
    b = _limit_peaks(_at_rms(b_clips, _noise_rms(len(b_clips), speech_rms, (low, high), rng)))[0]
  arrays = {"b": b, "y": y_x + y_b, "y_x": y_x, "y_b": y_b,
            "test_y": test_x + test_b, "test_x": test_x, "test_b": test_b}
  arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
  summary = {**{f"{k}_examples": len(v) for k, v in arrays.items() if k in ("b", "y", "test_y")},
             "x_files_train": len(x_train), "x_files_test": len(x_test),
             "b_files_b_set": len(b_set), "b_files_mixtures": len(b_mix),
             "b_files_test": len(b_test), **skipped}
  if skipped["short_files"] or skipped["silent_clips"]:
    logging.warning("speech/noise sets: skipped %d files shorter than one example and %d "
                    "silent clips", skipped["short_files"], skipped["silent_clips"])
  logging.info("speech/noise sets: %s", summary)
  return {**arrays, "summary": summary}


def write_wavs(arrays, out_dir, sample_rate, max_per_set=None):
  """Writes the clips of `build` as wav files out_dir/<set>/<index>.wav, for listening.

  Args:
    arrays: dict from `build` (the "summary" entry is ignored).
    out_dir: output folder.
    sample_rate: Hz.
    max_per_set: write only the first clips of each set (None: all).
  """
  for name, clips in arrays.items():
    if name == "summary":
      continue
    for i, clip in enumerate(clips[:max_per_set]):
      audio_io.write_wav(os.path.join(out_dir, name, f"{i:05d}.wav"), clip, sample_rate)
