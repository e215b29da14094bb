"""Reading and writing audio files.

soundfile (libsndfile) reads wav, flac, ogg, mp3 and aiff; soxr resamples.
`read_audio` gives mono float32 at the run's sample rate (channels averaged),
for training data; `read_audio_file` keeps the file's channels and rate, for
separating users' files; `write_audio` writes wav or flac at 16 or 24 bits or
32-bit float. Anything a user can fix (a missing, empty, corrupt or too short
file, an unsupported format, NaN samples) raises InputError naming the file.
Clipping is only warned about: the file is still usable.
"""

import os

from absl import logging
import numpy as np
import soundfile
import soxr

from eggsep_tf.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
OUTPUT_FORMATS = ("wav", "flac")
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
CLIP_LEVEL = 0.999  # |sample| at or above this counts as full scale.


def is_audio_file(path):
  """True for names with a supported extension (case-insensitive)."""
  return path.lower().endswith(AUDIO_EXTENSIONS)


def list_audio_files(directory):
  """Sorted paths of the supported audio files under `directory` (recursively).

  Raises:
    InputError: the directory is missing or holds no audio file.
  """
  if not os.path.isdir(directory):
    raise InputError(f"{directory}: audio folder not found")
  paths = sorted(os.path.join(root, name)
                 for root, _, names in os.walk(directory)
                 for name in names if is_audio_file(name))
  if not paths:
    raise InputError(f"{directory}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
  return paths


def _decode(path):
  """[samples, channels] float32 and the file's rate; InputError on any read failure."""
  if not os.path.isfile(path):
    raise InputError(f"{path}: audio file not found")
  if not is_audio_file(path):
    raise InputError(f"{path}: unsupported audio format; expected one of "
                     f"{', '.join(AUDIO_EXTENSIONS)}")
  try:
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
  except (soundfile.LibsndfileError, RuntimeError, ValueError, EOFError) as error:
    raise InputError(f"{path}: cannot decode audio (corrupt or not really "
                     f"{os.path.splitext(path)[1]}): {error}") from None
  return audio, rate


def read_audio_file(path):
  """Reads an audio file as it is: its channels and its sample rate.

  Returns:
    ([samples, channels] float32 in [-1, 1], sample rate in Hz).

  Raises:
    InputError: missing file, unsupported format, undecodable or empty audio,
      NaN/Inf samples.
  """
  audio, rate = _decode(path)
  return check_audio(audio, path), rate


def check_audio(audio, name):
  """[samples, channels] float32 limited to [-1, 1]; InputError if empty or not finite."""
  audio = np.asarray(audio, dtype=np.float32)
  if audio.size == 0:
    raise InputError(f"{name}: the file holds no audio samples (zero length)")
  if not np.all(np.isfinite(audio)):
    bad = int(np.sum(~np.isfinite(audio)))
    raise InputError(f"{name}: {bad} samples are NaN or infinite; re-export the file")
  full_scale = int(np.sum(np.abs(audio) >= CLIP_LEVEL))
  if full_scale:
    logging.warning("%s: %d samples at or beyond full scale (clipping?); values are limited "
                    "to [-1, 1]", name, full_scale)
    audio = np.clip(audio, -1.0, 1.0)
  return audio


def resample(audio, rate, new_rate):
  """[samples] or [samples, channels] float32 from `rate` to `new_rate` Hz (soxr HQ)."""
  if int(rate) == int(new_rate):
    return np.asarray(audio, np.float32)
  out = soxr.resample(np.asarray(audio, np.float32), int(rate), int(new_rate), quality="HQ")
  return np.ascontiguousarray(out, dtype=np.float32)


def read_audio(path, sample_rate, min_samples=1):
  """Reads an audio file as mono float32 at `sample_rate`.

  Args:
    path: a .wav, .flac, .ogg, .mp3 or .aiff file.
    sample_rate: output rate in Hz (resampled with soxr if the file differs).
    min_samples: fewest samples (at `sample_rate`) accepted, e.g. one example.

  Returns:
    [samples] float32 in [-1, 1] (float files beyond full scale are clipped).

  Raises:
    InputError: missing file, unsupported format, undecodable or empty audio,
      NaN/Inf samples, or fewer than `min_samples` samples.
  """
  audio, rate = _decode(path)
  return to_mono(audio, rate, sample_rate, path, min_samples)


# A --sample_rate this many times below or above a file's own rate is warned about.
RATE_FACTOR = 4


def check_lengths(parts, name, sample_rate, tolerance_seconds=0.01):
  """Cuts parts {name: [samples]} to the shortest; warns when they differ by more than
  `tolerance_seconds` (resampling alone moves a length by a sample or two)."""
  lengths = {k: len(v) for k, v in parts.items()}
  shortest = min(lengths.values())
  if max(lengths.values()) - shortest > tolerance_seconds * sample_rate:
    logging.warning("%s: its parts differ in length (%s); all are cut to the shortest, "
                    "%.2f s", name, ", ".join(f"{k} {n / sample_rate:.2f} s"
                                              for k, n in lengths.items()),
                    shortest / sample_rate)
  for k, v in parts.items():
    if v.size and not np.any(v[:shortest]):
      logging.warning("%s: %s is silent (all zeros): its scores will be NaN and left out",
                      name, k)
  return {k: v[:shortest] for k, v in parts.items()}


def to_mono(audio, rate, sample_rate, name, min_samples=1):
  """Checks decoded audio, averages its channels and resamples it.

  Args:
    audio: [samples, channels] float array as decoded.
    rate: its sample rate in Hz.
    sample_rate: output rate in Hz.
    name: what to call it in messages (a path, "track.stem.mp4 (vocals)").
    min_samples: fewest output samples accepted.

  Returns:
    [samples] float32 in [-1, 1].

  Raises:
    InputError: empty audio, NaN/Inf samples, or fewer than `min_samples` samples.
  """
  mono = check_audio(audio, name).mean(axis=1)
  if sample_rate * RATE_FACTOR < rate or sample_rate > rate * RATE_FACTOR:
    logging.log_first_n(
        logging.WARNING, "%s is at %d Hz, resampled to %d Hz (--sample_rate): more than %dx "
        "apart, so %s; is --sample_rate meant?", 1, name, rate, sample_rate, RATE_FACTOR,
        f"everything above {sample_rate / 2:g} Hz is lost" if sample_rate < rate
        else f"nothing lies above the file's {rate / 2:g} Hz")
  if rate != sample_rate:
    # Resampling can overshoot full scale slightly.
    mono = np.clip(resample(mono, rate, sample_rate), -1.0, 1.0)
  mono = np.ascontiguousarray(mono, dtype=np.float32)
  if mono.shape[0] < min_samples:
    raise InputError(f"{name}: {mono.shape[0] / sample_rate:.3f} s ({mono.shape[0]} samples at "
                     f"{sample_rate} Hz) is shorter than the minimum of {min_samples} samples "
                     f"({min_samples / sample_rate:.3f} s)")
  return mono


def write_wav(path, audio, sample_rate, subtype="PCM_16"):
  """Writes [samples] or [samples, channels] audio in [-1, 1] as a wav file.

  Values beyond full scale are clipped first. Parent folders are created.

  Args:
    path: output .wav path.
    audio: float array (numpy or tensor).
    sample_rate: Hz.
    subtype: soundfile subtype: "PCM_16" (default, plays everywhere) or
      "FLOAT" (exact).
  """
  audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  soundfile.write(path, audio, int(sample_rate), subtype=subtype, format="WAV")


def output_subtype(file_format, bit_depth):
  """soundfile's subtype for --format and --bit_depth.

  Raises:
    InputError: an unknown format or depth, or 32-bit float FLAC (FLAC is integer only).
  """
  file_format, bit_depth = str(file_format).lower(), str(bit_depth).lower()
  if file_format not in OUTPUT_FORMATS:
    raise InputError(f"--format={file_format}: expected one of {', '.join(OUTPUT_FORMATS)}")
  if bit_depth not in BIT_DEPTHS:
    raise InputError(f"--bit_depth={bit_depth}: expected one of {', '.join(BIT_DEPTHS)}")
  if file_format == "flac" and bit_depth == "32f":
    raise InputError("--bit_depth=32f: FLAC stores integers only; use --bit_depth=16 or 24, "
                     "or --format=wav")
  return BIT_DEPTHS[bit_depth]


def write_audio(path, audio, sample_rate, file_format="wav", bit_depth="16"):
  """Writes [samples] or [samples, channels] audio as wav or flac.

  Integer depths clip to [-1, 1]; 32-bit float keeps values as they are. The
  file is written under a temporary name and renamed, so a reader never sees
  half a file. Parent folders are created.

  Args:
    path: output path (its extension is not looked at).
    audio: float array.
    sample_rate: Hz.
    file_format: "wav" or "flac".
    bit_depth: "16", "24" or "32f" (float; wav only).
  """
  subtype = output_subtype(file_format, bit_depth)
  audio = np.asarray(audio, dtype=np.float32)
  if subtype != "FLOAT":
    audio = np.clip(audio, -1.0, 1.0)
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  tmp = path + ".tmp"
  soundfile.write(tmp, audio, int(sample_rate), subtype=subtype, format=file_format.upper())
  os.replace(tmp, path)


def cut_examples(audio, length, hop=None):
  """Cuts a clip into fixed-length examples; a tail shorter than `length` is dropped.

  Args:
    audio: [samples] array.
    length: samples per example.
    hop: samples between example starts; defaults to `length` (no overlap).

  Returns:
    [num_examples, length] float32 (a copy); num_examples = 0 when the clip is
    shorter than `length`.
  """
  hop = hop or length
  if length <= 0 or hop <= 0:
    raise InputError(f"example length {length} and hop {hop}: expected positive sample counts")
  audio = np.asarray(audio, dtype=np.float32)
  if audio.shape[0] < length:
    return np.zeros((0, length), np.float32)
  count = 1 + (audio.shape[0] - length) // hop
  starts = np.arange(count) * hop
  return np.stack([audio[s:s + length] for s in starts])
