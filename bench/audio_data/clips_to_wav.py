r"""Converts the installed speech and noise clips to 16 kHz mono wav files.

  python bench/audio_data/clips_to_wav.py --kind=speech --root=/ --out_dir=datasets/speech
  python bench/audio_data/clips_to_wav.py --kind=noise --root=/ --out_dir=datasets/noise

Sources (Debian packages, installed under --root):
- speech: klettres-data, usr/share/klettres/<language>/{alpha,syllab}/*.ogg,
  spoken letters and syllables in 20 languages; written as
  <language>_<alpha|syllab>_<clip>.wav.
- noise: qabcs-data, usr/share/qabcs/abcs/all/noises/*.ogg, environmental
  sounds (animals, vehicles, instruments, tools); written as <clip>.wav.

Files are read with data/audio_io.read_audio (channels averaged, soxr
resampling) and written as 16-bit PCM; clips that reach full scale are scaled to
a 0.99 peak. A file already converted at the same
rate is kept, so the command can be re-run; silent clips are skipped and counted.
"""

import glob
import os
import sys

from absl import app
from absl import flags
from absl import logging
import numpy as np
import soundfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from eggsep_tf.data import audio_io  # noqa: E402
from eggsep_tf.errors import InputError  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("kind", None, ["speech", "noise"], "Which clips to convert.")
flags.DEFINE_string("root", "/",
                    "Where the Debian packages' files are (/ or a dpkg-deb -x folder).")
flags.DEFINE_string("out_dir", None, "Output folder of .wav files.")
flags.DEFINE_integer("rate", 16000, "Output sample rate (Hz).")
flags.mark_flags_as_required(["kind", "out_dir"])

PEAK = 0.99

SOURCES = {
    "speech": ("usr/share/klettres/*/*/*.ogg", "klettres-data"),
    "noise": ("usr/share/qabcs/abcs/all/noises/*.ogg", "qabcs-data"),
}


def output_name(kind, path):
  """The wav name for a source clip: flat and unique within the kind."""
  stem = os.path.splitext(os.path.basename(path))[0]
  if kind == "speech":  # .../klettres/<language>/<alpha|syllab>/<clip>.ogg
    kind_dir = os.path.dirname(path)
    language = os.path.basename(os.path.dirname(kind_dir))
    return f"{language}_{os.path.basename(kind_dir)}_{stem}.wav"
  return f"{stem}.wav"


def is_current(path, rate):
  """True if `path` is a readable wav at `rate` (a finished earlier conversion)."""
  try:
    info = soundfile.info(path)
  except (soundfile.LibsndfileError, RuntimeError):
    return False
  return info.samplerate == rate and info.frames > 0


def convert(kind, root, out_dir, rate):
  """Converts every clip of `kind`; returns a dict of counts."""
  pattern, package = SOURCES[kind]
  paths = sorted(glob.glob(os.path.join(root, pattern)))
  if not paths:
    raise SystemExit(f"{os.path.join(root, pattern)}: no clips; install the Debian package "
                     f"{package}")
  os.makedirs(out_dir, exist_ok=True)
  counts = {"written": 0, "kept": 0, "silent": 0, "unreadable": 0}
  for i, path in enumerate(paths):
    target = os.path.join(out_dir, output_name(kind, path))
    if is_current(target, rate):
      counts["kept"] += 1
      continue
    try:
      audio = audio_io.read_audio(path, rate)
    except InputError as error:
      logging.warning("%s", error)
      counts["unreadable"] += 1
      continue
    if not np.any(audio):
      counts["silent"] += 1
      continue
    peak = float(np.max(np.abs(audio)))
    if peak > PEAK:  # Clipped sources: stay below full scale, so readers warn only once.
      audio *= PEAK / peak
    tmp = target + ".tmp"  # Not .wav: readers never pick up a half-written file.
    audio_io.write_wav(tmp, audio, rate)
    os.replace(tmp, target)
    counts["written"] += 1
    if (i + 1) % 200 == 0:
      logging.info("%s: %d/%d clips", kind, i + 1, len(paths))
  return counts


def main(argv):
  del argv
  counts = convert(FLAGS.kind, FLAGS.root, FLAGS.out_dir, FLAGS.rate)
  logging.info("%s -> %s: %s", FLAGS.kind, FLAGS.out_dir, counts)


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main)
