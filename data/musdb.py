"""MUSDB18 tracks in both layouts users have, and the paper's two music tasks.

Layouts (ROOT is the folder given to the trainer):
- MUSDB18-HQ: ROOT/{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav
- MUSDB18 (original): ROOT/{train,test}/<track>.stem.mp4, five AAC streams in
  the order mixture, drums, bass, other, vocals; read with stempeg, which needs
  ffmpeg and ffprobe on PATH.

Tasks (paper section 4.2, Table 2):
- "vocals": X = vocals, B = instrumental = drums + bass + other.
- "drums": X = drums, B = the instrumental part without drums = bass + other;
  the mixture is drums + bass + other (vocals are left out entirely).
Mixtures are built as x + b from the stems, not read from the stored mixture,
so that references and mixture agree exactly (the .stem.mp4 mixture is a
separately encoded stream).
"""

import dataclasses
import os
import random
import shutil

import numpy as np

from eggsep_tf.data import audio_io
from eggsep_tf.errors import InputError

STEMS = ("mixture", "drums", "bass", "other", "vocals")  # .stem.mp4 stream order.
SUBSETS = ("train", "test")
TASKS = {"vocals": ("vocals", ("drums", "bass", "other")),
         "drums": ("drums", ("bass", "other"))}
HQ = "hq"
STEM_MP4 = "stem_mp4"


@dataclasses.dataclass(frozen=True)
class Track:
  """One MUSDB18 track on disk.

  Attributes:
    name: track name (folder name, or file name without ".stem.mp4").
    subset: "train" or "test".
    path: the track's folder (HQ) or .stem.mp4 file.
    layout: HQ or STEM_MP4.
  """
  name: str
  subset: str
  path: str
  layout: str


def _layout_help(subset_dir):
  return (f"expected {subset_dir}/<track>/{{{','.join(STEMS)}}}.wav (MUSDB18-HQ) or "
          f"{subset_dir}/<track>.stem.mp4 (MUSDB18)")


def list_tracks(root, subset="train"):
  """Tracks of one subset, sorted by name, in whichever layout the tree uses.

  Args:
    root: MUSDB18 or MUSDB18-HQ root folder.
    subset: "train" or "test".

  Returns:
    list of Track.

  Raises:
    InputError: missing root or subset folder, a tree in neither layout, or an
      HQ track folder missing a stem.
  """
  if subset not in SUBSETS:
    raise InputError(f"MUSDB18 subset {subset!r}: expected one of {SUBSETS}")
  if not os.path.isdir(root):
    raise InputError(f"{root}: MUSDB18 root folder not found")
  subset_dir = os.path.join(root, subset)
  if not os.path.isdir(subset_dir):
    raise InputError(f"{root}: no '{subset}' folder; {_layout_help(subset_dir)}")
  tracks = []
  for entry in sorted(os.listdir(subset_dir)):
    path = os.path.join(subset_dir, entry)
    if entry.endswith(".stem.mp4") and os.path.isfile(path):
      tracks.append(Track(entry[:-len(".stem.mp4")], subset, path, STEM_MP4))
    elif os.path.isdir(path):
      present = [s for s in STEMS if os.path.isfile(os.path.join(path, f"{s}.wav"))]
      if not present:
        continue  # Not a track folder.
      missing = [s for s in STEMS if s not in present]
      if missing:
        raise InputError(f"{path}: MUSDB18-HQ track missing stem(s) "
                         f"{', '.join(m + '.wav' for m in missing)}")
      tracks.append(Track(entry, subset, path, HQ))
  if not tracks:
    raise InputError(f"{subset_dir}: no MUSDB18 tracks found; {_layout_help(subset_dir)}")
  return tracks


def _read_stem_mp4(track):
  """[5, samples, channels] float32 and the rate, via stempeg; InputError on failure."""
  if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
    raise InputError(f"{track.path}: reading .stem.mp4 files needs ffmpeg and ffprobe on PATH "
                     "(e.g. apt-get install ffmpeg), or use the MUSDB18-HQ wav layout")
  # pylint: disable=g-import-not-at-top  (stempeg checks for ffmpeg at import)
  import ffmpeg  # ffmpeg-python, installed with stempeg.
  import stempeg
  # pylint: enable=g-import-not-at-top
  failures = (ffmpeg.Error, Warning, RuntimeError, OSError, ValueError, KeyError)
  try:
    info = stempeg.Info(track.path)
    streams = info.nb_audio_streams
  except failures as error:
    detail = getattr(error, "stderr", b"") or b""
    detail = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(error)]
    raise InputError(f"{track.path}: cannot read the stem file (corrupt?): {detail[0]}") from None
  if streams < len(STEMS):
    raise InputError(f"{track.path}: {streams} audio stream(s); a MUSDB18 .stem.mp4 has "
                     f"{len(STEMS)} ({', '.join(STEMS)}), so a stem is missing")
  try:
    audio, rate = stempeg.read_stems(track.path, dtype=np.float32, always_3d=True, info=info)
  except failures as error:
    raise InputError(f"{track.path}: cannot decode the stem file (corrupt?): {error}") from None
  return audio, rate


def load_track(track, sample_rate):
  """Reads a track's five stems as mono float32 at `sample_rate`.

  Args:
    track: a Track from list_tracks.
    sample_rate: Hz (20480 in the paper).

  Returns:
    dict stem name -> [samples] float32, all of the same length (the shortest).

  Raises:
    InputError: a stem file that is missing, corrupt, empty or holds NaN.
  """
  if track.layout == HQ:
    stems = {s: audio_io.read_audio(os.path.join(track.path, f"{s}.wav"), sample_rate)
             for s in STEMS}
  else:
    audio, rate = _read_stem_mp4(track)
    stems = {s: audio_io.to_mono(audio[i], rate, sample_rate, f"{track.path} ({s})")
             for i, s in enumerate(STEMS)}
  return audio_io.check_lengths(stems, track.path, sample_rate)


def sources_for_task(stems, target="vocals"):
  """(x, b) for a task: x the target stem, b the sum of the task's other stems.

  Args:
    stems: dict from load_track.
    target: "vocals" (B = drums + bass + other) or "drums" (B = bass + other).

  Returns:
    (x, b), each [samples] float32; the task's mixture is x + b.
  """
  if target not in TASKS:
    raise InputError(f"MUSDB18 task target {target!r}: expected one of {sorted(TASKS)}")
  x_name, b_names = TASKS[target]
  b = np.sum([stems[n] for n in b_names], axis=0).astype(np.float32)
  return stems[x_name].astype(np.float32), b


def split_disjoint(tracks, b_fraction=0.5, seed=0):
  """Splits tracks into two disjoint groups: B examples and Y mixtures come from different songs.

  Args:
    tracks: list of Track.
    b_fraction: share of tracks whose B stems are observed.
    seed: shuffling seed.

  Returns:
    (b_tracks, y_tracks), each sorted by name, both non-empty.
  """
  if len(tracks) < 2:
    raise InputError(f"{len(tracks)} MUSDB18 track(s): need at least 2 to keep B and Y disjoint")
  shuffled = sorted(tracks, key=lambda t: t.name)
  random.Random(seed).shuffle(shuffled)
  count = min(max(1, round(b_fraction * len(shuffled))), len(shuffled) - 1)
  def by_name(group):
    return sorted(group, key=lambda t: t.name)
  return by_name(shuffled[:count]), by_name(shuffled[count:])
