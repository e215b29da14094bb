"""Where the audio of a run comes from: B clips, mixtures Y and test tracks, lazily.

Each builder returns `AudioSources`: three lists of `Track`s whose `load()`
reads the audio only when called, so that a data set far larger than memory
can be turned into records one track at a time (data/audio_prepare.py).

- `musdb_sources`: MUSDB18 (either layout). B from some train tracks, mixtures
  from the other train tracks (disjoint songs: the semi-supervised protocol),
  test from MUSDB's test subset.
- `speech_noise_sources`: data/speech_noise.build on a folder of speech and one
  of noise (file-disjoint sets); test clips joined into tracks for BSS Eval.
- `folder_sources`: the user's recordings. B: audio files of the observed
  source. Y: audio files of mixtures, or track folders with references.
  Test (optional): track folders with references. A track folder <name>/
  holds two or three of mixture.*, x.*, b.* (wav, flac, ogg); the missing one
  follows from mixture = x + b.
"""

import dataclasses
import os
from typing import Callable, List, Tuple

from absl import logging

from eggsep_tf.data import audio_io
from eggsep_tf.data import musdb
from eggsep_tf.data import speech_noise
from eggsep_tf.errors import InputError

PARTS = ("mixture", "x", "b")


@dataclasses.dataclass(frozen=True)
class Track:
  """One piece of audio, read on demand.

  Attributes:
    name: for logs and the test split's spec.
    load: () -> dict of float32 arrays, all of one shape: "b" alone (B set),
      "y" alone (a mixture without references) or "y", "x", "b". Arrays are
      [samples] (a recording) or [clips, samples] (clips cut already).
  """
  name: str
  load: Callable[[], dict]


@dataclasses.dataclass(frozen=True)
class AudioSources:
  """What a run is made of.

  Attributes:
    b: tracks of clean B.
    y: training mixtures (with "x", "b" references when has_references).
    test: test tracks with references (may be empty: then no test scores).
    names: (x name, b name) for tables.
    has_references: the mixtures carry x and b (the supervised bound needs them).
    description: what the run separates, for spec files and metadata.
  """
  b: List[Track]
  y: List[Track]
  test: List[Track]
  names: Tuple[str, str]
  has_references: bool
  description: dict


def _first(items, count):
  return list(items)[:count] if count else list(items)


def musdb_sources(root, target="vocals", sample_rate=20480, b_fraction=0.5, max_tracks=0,
                  seed=0):
  """MUSDB18 tracks for the vocals or drums task.

  Args:
    root: MUSDB18 or MUSDB18-HQ root folder.
    target: "vocals" or "drums" (see data/musdb.py).
    sample_rate: Hz.
    b_fraction: share of the train tracks whose B stems form the B set.
    max_tracks: use at most this many train and this many test tracks (0: all).
    seed: seed of the B/Y track split.
  """
  if not root:
    raise InputError("no MUSDB18 root folder given: expected the folder holding train/ and "
                     "test/")
  if target not in musdb.TASKS:
    raise InputError(f"MUSDB18 target {target!r}: expected one of {sorted(musdb.TASKS)}")
  train = _first(musdb.list_tracks(root, "train"), max_tracks)
  test = _first(musdb.list_tracks(root, "test"), max_tracks)
  b_tracks, y_tracks = musdb.split_disjoint(train, b_fraction, seed)

  def loader(track, parts):
    def load():
      x, b = musdb.sources_for_task(musdb.load_track(track, sample_rate), target)
      arrays = {"y": x + b, "x": x, "b": b}
      return {k: arrays[k] for k in parts}
    return load

  x_name, b_names = musdb.TASKS[target]
  b_name = "instrumental" if target == "vocals" else "+".join(b_names)
  logging.info("MUSDB18 %s task: B from %d train tracks, mixtures from %d others, %d test "
               "tracks", target, len(b_tracks), len(y_tracks), len(test))
  return AudioSources(
      b=[Track(t.name, loader(t, ("b",))) for t in b_tracks],
      y=[Track(t.name, loader(t, ("y", "x", "b"))) for t in y_tracks],
      test=[Track(t.name, loader(t, ("y", "x", "b"))) for t in test],
      names=(x_name, b_name), has_references=True,
      description={"source": f"musdb18:{root}", "x": x_name, "b": b_name,
                   "b_tracks": [t.name for t in b_tracks],
                   "y_tracks": [t.name for t in y_tracks]})


def _constant(arrays):
  return lambda: arrays


def speech_noise_sources(speech_dir, noise_dir, sample_rate=16000, clip_samples=16000,
                         snr_db=(-5.0, 5.0), x_source="speech", test_track_seconds=10.0,
                         max_clips=None, max_test_tracks=0, seed=0):
  """Speech-and-noise sets (data/speech_noise.build); test clips joined into tracks.

  The builder holds all clips in memory, so cap them with `max_clips` for big
  folders.

  Args:
    speech_dir, noise_dir: folders of recordings.
    sample_rate: Hz.
    clip_samples: samples per clip.
    snr_db: (low, high) speech-to-noise ratio range in dB.
    x_source: "speech" or "noise": the unobserved source.
    test_track_seconds: consecutive test clips are joined into tracks of about
      this length (at least one clip each), so that 1 s BSS Eval windows fit.
    max_clips: cap on the clips of each set (None: all).
    max_test_tracks: at most this many test tracks (0: all).
    seed: random seed of the builder.
  """
  for what, folder in (("speech", speech_dir), ("noise", noise_dir)):
    if not folder:
      raise InputError(f"no {what} folder given")
  sets = speech_noise.build(speech_dir, noise_dir, sample_rate, clip_samples, snr_db, x_source,
                            max_examples=max_clips, seed=seed)
  per_track = max(1, int(round(test_track_seconds * sample_rate / clip_samples)))
  test = []
  for start in range(0, len(sets["test_y"]), per_track):
    arrays = {k: sets[f"test_{k}"][start:start + per_track].reshape(-1)
              for k in ("y", "x", "b")}
    test.append(Track(f"test_{len(test):04d}", _constant(arrays)))
  test = _first(test, max_test_tracks)
  b_name = "noise" if x_source == "speech" else "speech"
  return AudioSources(
      b=[Track("b", _constant({"b": sets["b"]}))],
      y=[Track("y", _constant({"y": sets["y"], "x": sets["y_x"], "b": sets["y_b"]}))],
      test=test, names=(x_source, b_name), has_references=True,
      description={"source": f"speech:{speech_dir} noise:{noise_dir}", "x": x_source,
                   "b": b_name, "snr_db": list(snr_db), **sets["summary"]})


def _part_files(folder):
  """{part: path} of the mixture.*, x.*, b.* files directly in `folder`."""
  found = {}
  for name in sorted(os.listdir(folder)):
    stem, _ = os.path.splitext(name)
    path = os.path.join(folder, name)
    if stem in PARTS and audio_io.is_audio_file(name) and os.path.isfile(path):
      if stem in found:
        raise InputError(f"{folder}: two {stem}.* files ({os.path.basename(found[stem])}, "
                         f"{name}); expected one")
      found[stem] = path
  return found


def reference_track_folders(directory):
  """Sorted track folders (holding any of mixture.*, x.*, b.*) directly under `directory`."""
  if not os.path.isdir(directory):
    raise InputError(f"{directory}: audio folder not found")
  return [os.path.join(directory, name) for name in sorted(os.listdir(directory))
          if os.path.isdir(os.path.join(directory, name))
          and _part_files(os.path.join(directory, name))]


def load_reference_track(folder, sample_rate):
  """{"y", "x", "b"} [samples] float32 of a track folder (two of mixture, x, b given).

  Raises:
    InputError: fewer than two parts, or a part that cannot be read (named).
  """
  files = _part_files(folder)
  if len(files) < 2:
    raise InputError(f"{folder}: holds only {', '.join(files) or 'nothing'}; a track folder "
                     "needs two of mixture.*, x.*, b.* (mixture = x + b)")
  parts = {k: audio_io.read_audio(p, sample_rate) for k, p in files.items()}
  parts = audio_io.check_lengths(parts, folder, sample_rate)
  y = parts["mixture"] if "mixture" in parts else parts["x"] + parts["b"]
  x = parts["x"] if "x" in parts else y - parts["b"]
  b = parts["b"] if "b" in parts else y - x
  return {"y": y, "x": x, "b": b}


def folder_sources(b_dir, y_dir, test_dir="", sample_rate=16000, max_files=0):
  """The user's recordings (see the module docstring for the layouts).

  Args:
    b_dir: folder of clean B recordings (searched recursively).
    y_dir: folder of mixture recordings, or of track folders with references.
    test_dir: optional folder of test track folders with references ("" for none).
    sample_rate: Hz.
    max_files: at most this many files/tracks from each folder (0: all).
  """
  for what, folder in (("B recordings", b_dir), ("mixtures", y_dir)):
    if not folder:
      raise InputError(f"no folder of {what} given")

  def recording(path, name):
    return lambda: {name: audio_io.read_audio(path, sample_rate)}

  def reference(folder):
    return lambda: load_reference_track(folder, sample_rate)

  b = [Track(os.path.relpath(p, b_dir), recording(p, "b"))
       for p in _first(audio_io.list_audio_files(b_dir), max_files)]
  y_folders = reference_track_folders(y_dir)
  if y_folders:
    y = [Track(os.path.basename(f), reference(f)) for f in _first(y_folders, max_files)]
  else:
    y = [Track(os.path.relpath(p, y_dir), recording(p, "y"))
         for p in _first(audio_io.list_audio_files(y_dir), max_files)]
  test = []
  if test_dir:
    folders = reference_track_folders(test_dir)
    if not folders:
      raise InputError(f"{test_dir}: no test track folders <name>/ holding two of "
                       "mixture.*, x.*, b.* (wav, flac, ogg)")
    test = [Track(os.path.basename(f), reference(f)) for f in _first(folders, max_files)]
  else:
    logging.warning("No test folder: the run trains and exports but reports no test scores")
  b_name = os.path.basename(os.path.normpath(b_dir))
  return AudioSources(b=b, y=y, test=test, names=("x", b_name),
                      has_references=bool(y_folders),
                      description={"source": f"b:{b_dir} y:{y_dir} test:{test_dir}",
                                   "x": "x", "b": b_name})

