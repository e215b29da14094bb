"""Turns audio tracks into the splits an audio run trains and tests on.

- Training splits (B clips, mixtures Y) are record splits (data/tfrecords.py) of
  fixed-size patches of `frames` STFT frames, written one track at a time so
  that memory stays bounded whatever the data set's size:
    mixing "waveform": waveform patches [patch_samples] (summed by the NES
      pipeline, then |STFT| taken in tf.data);
    mixing "magnitude": |STFT| patches [bins, frames, 1] (summed as magnitudes).
  Patches are aligned with the frames of each track's centred STFT
  (eggsep_tf/audio_patches.py). Silent patches (RMS below SILENCE_RMS in the
  set's own signal) and tracks shorter than one patch are skipped and counted
  in the split's spec.json and the log.
- The test split holds whole tracks of any length: DIR/track_0000.npz ... with
  arrays "y", "x", "b" [samples] float32, and DIR/spec.json. It is written under
  a temporary name and renamed into place, as record splits are.
"""

import json
import math
import os
import shutil

from absl import logging
import numpy as np

from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf.errors import InputError

SILENCE_RMS = 1e-4  # About -80 dBFS: nothing to learn from.
MIXING = ("waveform", "magnitude")
TRAIN_SPLITS = ("b_train", "y_train")
TEST_SPLIT = "test"


def patch_seconds(stft, frames, sample_rate):
  """Seconds of audio one patch stands for: frames * hop / rate."""
  return frames * stft.hop_length / sample_rate


def _waveform_patches(audio, stft, frames):
  """[n, patch_samples] float32 patches of a clip [samples] or of each clip of [clips, samples]."""
  audio = np.asarray(audio, np.float32)
  clips = audio[np.newaxis] if audio.ndim == 1 else audio
  parts = [audio_patches.waveform_patches(c, stft, frames).numpy() for c in clips]
  samples = audio_patches.patch_samples(stft, frames)
  return np.concatenate(parts) if parts else np.zeros((0, samples), np.float32)


def _magnitudes(patches, stft, batch=256):
  """|STFT| [n, bins, frames, 1] of waveform patches, a batch at a time."""
  parts = [audio_patches.magnitude(patches[i:i + batch], stft).numpy()
           for i in range(0, len(patches), batch)]
  return np.concatenate(parts)


def track_patches(arrays, stft, frames, mixing, key, limit=None):
  """Aligned patches of one track's arrays; silent ones (judged on `key`) dropped.

  Args:
    arrays: dict name -> [samples] or [clips, samples] float32, one shape.
    stft: eggsep_tf.spectrogram.Stft (settings).
    frames: STFT frames per patch.
    mixing: "waveform" or "magnitude" (what the patches hold).
    key: the array whose silence drops a patch ("b" for B, "y" for mixtures).
    limit: keep at most this many patches, evenly spread over the track.

  Returns:
    (patches, silent): dict name -> [n, patch_samples] (waveform) or
    [n, bins, frames, 1] (magnitude) float32, and the number of silent patches.
  """
  waves = {k: _waveform_patches(v, stft, frames) for k, v in arrays.items()}
  loud = np.sqrt(np.mean(np.square(waves[key]), axis=1)) >= SILENCE_RMS
  silent = int(np.sum(~loud))
  keep = np.flatnonzero(loud)
  if limit is not None and len(keep) > limit:
    keep = keep[np.round(np.linspace(0, len(keep) - 1, limit)).astype(int)]
  waves = {k: v[keep] for k, v in waves.items()}
  if mixing == "magnitude" and len(keep):
    waves = {k: _magnitudes(v, stft) for k, v in waves.items()}
  return waves, silent


def write_patch_split(directory, tracks, stft, frames, mixing, key, sample_rate,
                      max_seconds=0, extra_spec=None, num_shards=4):
  """Writes the patches of `tracks` as a record split, one track in memory at a time.

  Args:
    directory: the split's folder.
    tracks: list of data.audio_sources.Track; every load() gives the same names.
    stft, frames, mixing, key: as in `track_patches`.
    sample_rate: Hz (for the seconds cap and the spec).
    max_seconds: cap on the audio kept (0: all), shared out over the tracks
      not yet read, so that every track contributes.
    extra_spec: dict merged into spec.json.
    num_shards: record files.

  Returns:
    dict of counts: patches, tracks, silent_patches, short_tracks.

  Raises:
    InputError: a track cannot be read (named), or no patch is left.
  """
  if mixing not in MIXING:
    raise InputError(f"audio mixing {mixing!r}: expected one of {MIXING}")
  seconds = patch_seconds(stft, frames, sample_rate)
  budget = math.floor(max_seconds / seconds) if max_seconds else None
  counts = {"patches": 0, "tracks": len(tracks), "silent_patches": 0, "short_tracks": 0}
  # write_split reads extra_spec after the last batch, so these counts land in spec.json.
  spec = {**(extra_spec or {}), "mixing": mixing, "sample_rate": sample_rate,
          "patch_frames": frames, "n_fft": stft.n_fft, "win_length": stft.win_length,
          "hop_length": stft.hop_length, "counts": counts}

  def batches():
    for i, track in enumerate(tracks):
      if budget is not None and counts["patches"] >= budget:
        break
      limit = None
      if budget is not None:
        limit = math.ceil((budget - counts["patches"]) / (len(tracks) - i))
      patches, silent = track_patches(track.load(), stft, frames, mixing, key, limit)
      counts["silent_patches"] += silent
      count = len(patches[key])
      if count == 0 and not silent:
        counts["short_tracks"] += 1
        logging.warning("%s: shorter than one %d-frame patch (%.2f s); skipped", track.name,
                        frames, seconds)
        continue
      counts["patches"] += count
      logging.info("%s: %d patches from %s (%d so far)", os.path.basename(directory), count,
                   track.name, counts["patches"])
      if count:
        yield patches

  tfrecords.write_split(directory, None, num_shards=num_shards, extra_spec=spec,
                        batches=batches())
  if counts["patches"] == 0:
    shutil.rmtree(directory, ignore_errors=True)
    raise InputError(f"no usable {seconds:.2f} s patch in the {len(tracks)} track(s) for "
                     f"{os.path.basename(directory)} (first: {tracks[0].name if tracks else '-'}"
                     f"; {counts['short_tracks']} too short, {counts['silent_patches']} silent "
                     "patches); give longer or louder recordings")
  if counts["silent_patches"] or counts["short_tracks"]:
    logging.warning("%s: skipped %d silent patches and %d tracks shorter than one patch",
                    os.path.basename(directory), counts["silent_patches"],
                    counts["short_tracks"])
  return counts


def _middle(arrays, max_samples):
  length = len(arrays["y"])
  if not max_samples or length <= max_samples:
    return arrays
  start = (length - max_samples) // 2
  return {k: v[start:start + max_samples] for k, v in arrays.items()}


def write_test_split(directory, tracks, sample_rate, max_seconds=0, extra_spec=None):
  """Writes whole test tracks as DIR/track_XXXX.npz ("y", "x", "b") and DIR/spec.json.

  Args:
    directory: the split's folder (replaced if it exists).
    tracks: list of Track whose load() gives "y", "x", "b" [samples].
    sample_rate: Hz.
    max_seconds: keep the middle `max_seconds` of each track (0: whole tracks).
    extra_spec: dict merged into spec.json.

  Returns:
    The number of tracks written.
  """
  tmp = directory.rstrip("/") + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  names, seconds = [], []
  for i, track in enumerate(tracks):
    arrays = _middle(track.load(), round(max_seconds * sample_rate))
    arrays = {k: np.asarray(arrays[k], np.float32).reshape(-1) for k in ("y", "x", "b")}
    np.savez(os.path.join(tmp, f"track_{i:04d}.npz"), **arrays)
    names.append(track.name)
    seconds.append(len(arrays["y"]) / sample_rate)
  spec = {**(extra_spec or {}), "count": len(names), "names": names, "seconds": seconds,
          "sample_rate": sample_rate}
  with open(os.path.join(tmp, tfrecords.SPEC_FILE), "w") as f:
    json.dump(spec, f, indent=2)
  shutil.rmtree(directory, ignore_errors=True)
  os.replace(tmp, directory)
  logging.info("test: %d tracks, %.1f s in all", len(names), sum(seconds))
  return len(names)


def read_test_spec(directory):
  """The spec dict of a test split (InputError if it is missing)."""
  path = os.path.join(directory, tfrecords.SPEC_FILE)
  if not os.path.exists(path):
    raise InputError(f"{directory}: not a finished test split (no {tfrecords.SPEC_FILE})")
  with open(path) as f:
    return json.load(f)


def load_test_track(directory, index):
  """{"y", "x", "b"} [samples] float32 of test track `index`."""
  with np.load(os.path.join(directory, f"track_{index:04d}.npz")) as data:
    return {k: data[k] for k in ("y", "x", "b")}


def splits_ready(data_dir):
  """True when the training splits and the test split are all written."""
  return all(os.path.exists(os.path.join(data_dir, s, tfrecords.SPEC_FILE))
             for s in TRAIN_SPLITS + (TEST_SPLIT,))

