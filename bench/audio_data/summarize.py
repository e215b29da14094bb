r"""Summary of the audio data sets under a folder, and a check of the music stems.

  python bench/audio_data/summarize.py datasets

Prints, for DIR/speech, DIR/noise and DIR/musdb_synth/{train,test}: files (or
tracks), total duration, size on disk, sample rates. For the music tracks it
also checks (reading the files back as floats) that the five files have equal
lengths, that the mixture equals the sum of the four stems to 1e-6, and that
the drums, bass and vocals stems are not silent; it exits non-zero otherwise.
"""

import os
import sys

import numpy as np
import soundfile

STEMS = ("vocals", "drums", "bass", "other")
MUST_SOUND = ("vocals", "drums", "bass")
SILENT_RMS = 1e-4  # -80 dBFS.
SUM_TOLERANCE = 1e-6


def _wavs(folder):
  return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".wav"))


def _fmt(seconds, size):
  return f"{seconds / 3600:6.2f} h ({seconds / 60:7.1f} min), {size / 2**20:8.1f} MiB"


def clip_folder(folder):
  """One line on a folder of clips."""
  files = _wavs(folder)
  infos = [soundfile.info(f) for f in files]
  seconds = sum(i.duration for i in infos)
  size = sum(os.path.getsize(f) for f in files)
  rates = sorted({i.samplerate for i in infos})
  return (f"{folder}: {len(files)} files, {_fmt(seconds, size)}, rates {rates}, "
          f"clips {min(i.duration for i in infos):.2f}-{max(i.duration for i in infos):.2f} s")


def check_track(track_dir):
  """Problems found in one music track (empty if none)."""
  audio = {s: soundfile.read(os.path.join(track_dir, f"{s}.wav"), dtype="float32")[0]
           for s in ("mixture",) + STEMS}
  lengths = {len(a) for a in audio.values()}
  if len(lengths) != 1:
    return [f"{track_dir}: stem lengths differ {sorted(lengths)}"]
  problems = []
  error = float(np.max(np.abs(audio["mixture"] - sum(audio[s] for s in STEMS))))
  if error > SUM_TOLERANCE:
    problems.append(f"{track_dir}: mixture differs from the sum of the stems by {error:.2e}")
  for s in MUST_SOUND:
    if np.sqrt(np.mean(np.square(audio[s]))) < SILENT_RMS:
      problems.append(f"{track_dir}: {s} is silent")
  return problems


def music_subset(folder):
  """One line on a MUSDB18-HQ subset folder, and the problems found."""
  tracks = sorted(os.path.join(folder, t) for t in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, t, "mixture.wav")))
  seconds = sum(soundfile.info(os.path.join(t, "mixture.wav")).duration for t in tracks)
  size = sum(os.path.getsize(f) for t in tracks for f in _wavs(t))
  rates = sorted({soundfile.info(os.path.join(t, "mixture.wav")).samplerate for t in tracks})
  problems = [p for t in tracks for p in check_track(t)]
  line = (f"{folder}: {len(tracks)} tracks x 5 files, each stem {_fmt(seconds, size)} in all, "
          f"rates {rates}, stems checked: {'OK' if not problems else f'{len(problems)} problems'}")
  return line, problems


def main(root):
  problems = []
  print(f"Audio data under {root}:")
  for kind in ("speech", "noise"):
    folder = os.path.join(root, kind)
    if os.path.isdir(folder) and _wavs(folder):
      print("  " + clip_folder(folder))
  for subset in ("train", "test"):
    folder = os.path.join(root, "musdb_synth", subset)
    if os.path.isdir(folder):
      line, found = music_subset(folder)
      print("  " + line)
      problems += found
  for p in problems:
    print("  PROBLEM " + p)
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "datasets"))
