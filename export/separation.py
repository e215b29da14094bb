"""Separating image and audio files with an exported separator, local or served.

`separate_files(model, inputs, out_dir)`, with a model from
export/model_access.py's open_model() (a SavedModel folder or a TF-Serving URL),
separates every input file (or every file of the model's domain under an input
folder) one file at a time, so that images of different sizes and audio of any
length work:
  images (png, jpg, bmp, gif) -> OUT/<stem>_x.png, OUT/<stem>_b.png
      through the `separate_png` signature (bytes in, PNG bytes out);
  audio (wav, flac, ogg) -> OUT/<stem>_x.wav, OUT/<stem>_b.wav
      through `separate_wav` (WAV bytes in and out) when the model has it,
      else decoded to mono at the model's sample rate and sent as a waveform
      [1, samples] to `serving_default`.
Files found under an input folder keep their sub-folders below OUT. A file
that cannot be separated is logged as one line and counted as failed; the
others go on. An unreachable server or a model that disappears ends the run.
"""

import dataclasses
import errno
import io
import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.export import model_access
from eggsep_tf.export.model_access import DEFAULT_SIGNATURE
from eggsep_tf.export.model_access import ModelUnavailable
from eggsep_tf.export.model_access import PNG_SIGNATURE
from eggsep_tf.export.model_access import WAV_SIGNATURE

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")  # data/audio_io.py's (not imported for images).
EXTENSIONS = {"image": IMAGE_EXTENSIONS, "audio": AUDIO_EXTENSIONS}
# Write errors after which no other file can be written: stop instead of failing each.
_STOPPING_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def _audio_modules():
  """(soundfile, data.audio_io), imported only for audio: images need neither."""
  try:
    import soundfile  # pylint: disable=import-outside-toplevel
    from eggsep_tf.data import audio_io  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise InputError(f"audio needs soundfile and soxr ({e}); install them with "
                     "pip install eggsep-tf[audio]") from None
  return soundfile, audio_io


def _wav_header_rate(data):
  """The sample rate stored in a WAV file's bytes (None if not a WAV)."""
  soundfile, _ = _audio_modules()
  try:
    return soundfile.info(io.BytesIO(data)).samplerate
  except (soundfile.LibsndfileError, RuntimeError, ValueError, EOFError):
    return None


def _silent_wav(sample_rate=16000, seconds=1.0):
  soundfile, _ = _audio_modules()
  out = io.BytesIO()
  soundfile.write(out, np.zeros(int(sample_rate * seconds), np.float32), sample_rate,
                  subtype="PCM_16", format="WAV")
  return out.getvalue()


def model_sample_rate(model, sample_rate=None):
  """The audio model's sample rate in Hz.

  From `sample_rate` if given, else metadata.json's "sample_rate", else (a
  served model with separate_wav) the rate its reply to one second of silence
  reports.

  Raises:
    InputError: none of those is available.
  """
  known = model.metadata.get("sample_rate")
  if sample_rate:
    if known and int(known) != int(sample_rate):
      logging.warning("Using sample rate %d Hz, but %s says the model was trained at %d Hz",
                      sample_rate, model.description, known)
    return int(sample_rate)
  if known:
    return int(known)
  if WAV_SIGNATURE in model.signatures:
    name = model.signatures[WAV_SIGNATURE].only_input(WAV_SIGNATURE)
    out = model.call(WAV_SIGNATURE, {name: _bytes_array([_silent_wav()])})
    if "sample_rate" in out:
      return int(np.asarray(out["sample_rate"]).reshape(-1)[0])
    rate = _wav_header_rate(_first(out, "_wav_bytes"))
    if rate:
      return rate
  raise InputError(f"model {model.description}: its sample rate is unknown (no metadata.json "
                   "sample_rate and no separate_wav signature); give the sample rate")


def _bytes_array(items):
  array = np.empty(len(items), dtype=object)
  array[:] = list(items)
  return array


def _first(outputs, suffix, prefix=""):
  """The first item of the output whose name is prefix...suffix (bytes)."""
  for name, value in outputs.items():
    if name.endswith(suffix) and name.startswith(prefix):
      value = np.asarray(value, dtype=object).reshape(-1)
      return bytes(value[0])
  raise InputError(f"the model returned {sorted(outputs)}; expected an output named "
                   f"{prefix}*{suffix}")


# --- One file -----------------------------------------------------------------------


def _read_bytes(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except OSError as e:
    raise InputError(f"cannot read the file ({e.strerror})") from None


def separate_image(model, path):
  """(x PNG bytes, b PNG bytes) of one image file, through separate_png.

  Raises:
    InputError: the file is not a readable image, or the model refused it.
  """
  data = _read_bytes(path)
  if not data:
    raise InputError("the file is empty; expected a PNG, JPEG, BMP or GIF image")
  try:  # The graph's own decoder, here, so that a bad file gets a clear message.
    tf.io.decode_image(data, expand_animations=False)
  except tf.errors.OpError as e:
    raise InputError(f"not a readable image ({model_access.tf_error_message(e)})") from None
  if PNG_SIGNATURE not in model.signatures:
    raise InputError(f"model {model.description} has no {PNG_SIGNATURE} signature "
                     f"(it has {sorted(model.signatures)})")
  name = model.signatures[PNG_SIGNATURE].only_input(PNG_SIGNATURE)
  out = model.call(PNG_SIGNATURE, {name: _bytes_array([data])})
  return _first(out, "_png_bytes", "x"), _first(out, "_png_bytes", "b")


def _wav_for_model(path, sample_rate):
  """The file as 16-bit PCM WAV bytes at `sample_rate`: the file itself when it
  already is one (stereo kept), else decoded, mixed to mono and resampled."""
  soundfile, audio_io = _audio_modules()
  if path.lower().endswith(".wav"):
    try:
      info = soundfile.info(path)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, EOFError) as e:
      raise InputError(f"cannot decode audio (corrupt or not really .wav): {e}") from None
    if info.subtype == "PCM_16" and info.samplerate == sample_rate and info.frames > 0:
      return _read_bytes(path)
  audio = audio_io.read_audio(path, sample_rate)
  out = io.BytesIO()
  soundfile.write(out, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16",
                  format="WAV")
  return out.getvalue()


def separate_audio(model, path, sample_rate):
  """(x WAV bytes, b WAV bytes) of one audio file.

  Uses separate_wav when the model has it; else serving_default on the mono
  waveform at `sample_rate`, written as 16-bit PCM WAV.

  Raises:
    InputError: the file is not readable audio, or the model refused it.
  """
  soundfile, audio_io = _audio_modules()
  if WAV_SIGNATURE in model.signatures:
    name = model.signatures[WAV_SIGNATURE].only_input(WAV_SIGNATURE)
    out = model.call(WAV_SIGNATURE, {name: _bytes_array([_wav_for_model(path, sample_rate)])})
    return _first(out, "_wav_bytes", "x"), _first(out, "_wav_bytes", "b")
  signature = model.signatures.get(DEFAULT_SIGNATURE)
  if signature is None:
    raise InputError(f"model {model.description} has neither {WAV_SIGNATURE} nor "
                     f"{DEFAULT_SIGNATURE}")
  name = signature.only_input(DEFAULT_SIGNATURE)
  waveform = audio_io.read_audio(path, sample_rate)
  out = model.call(DEFAULT_SIGNATURE, {name: waveform[np.newaxis]})
  encoded = []
  for key in ("x", "b"):
    if key not in out:
      raise InputError(f"{DEFAULT_SIGNATURE} returned {sorted(out)}; expected x and b")
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(np.asarray(out[key], np.float32)[0], -1.0, 1.0),
                    sample_rate, subtype="PCM_16", format="WAV")
    encoded.append(buffer.getvalue())
  return tuple(encoded)


# --- Many files -----------------------------------------------------------------------


@dataclasses.dataclass
class Job:
  """One input file and where its outputs go: OUT/<stem>_x.EXT, OUT/<stem>_b.EXT."""
  path: str
  stem: str  # Relative to the output folder, without extension.


@dataclasses.dataclass
class Summary:
  """What separate_files did.

  Attributes:
    total: input files.
    written: [(x path, b path)] of the files separated.
    failed: [(input path, message)] of the files that were not.
    seconds: wall time.
  """
  total: int = 0
  written: list = dataclasses.field(default_factory=list)
  failed: list = dataclasses.field(default_factory=list)
  seconds: float = 0.0


def collect_jobs(inputs, domain):
  """The files to separate, in order, and their output stems.

  Folders are searched recursively for files of the model's domain (their
  sub-folders are kept in the output stems); files are taken as given (a file
  of the wrong kind fails later with a clear message). Missing paths are kept
  too, so that they are reported and counted as failed.

  Raises:
    InputError: nothing to do, or two inputs would write the same outputs.
  """
  jobs, skipped = [], 0
  for item in inputs:
    item = os.fspath(item)
    if os.path.isdir(item):
      found = 0
      for root, dirs, names in os.walk(item):
        dirs.sort()
        for name in sorted(names):
          if not name.lower().endswith(EXTENSIONS[domain]):
            skipped += not name.startswith(".")
            continue
          path = os.path.join(root, name)
          jobs.append(Job(path, os.path.splitext(os.path.relpath(path, item))[0]))
          found += 1
      if not found:
        logging.warning("%s: no %s files (%s) in this folder", item, domain,
                        ", ".join(EXTENSIONS[domain]))
    else:
      jobs.append(Job(item, os.path.splitext(os.path.basename(item))[0]))
  if skipped:
    logging.info("Skipped %d files of other kinds in the input folders", skipped)
  if not jobs:
    raise InputError(f"no {domain} files to separate in {', '.join(map(str, inputs))} "
                     f"(expected {', '.join(EXTENSIONS[domain])} files or folders of them)")
  owners = {}
  for job in jobs:
    if job.stem in owners and owners[job.stem] != job.path:
      raise InputError(f"{owners[job.stem]} and {job.path} would both be written as "
                       f"{job.stem}_x/_b; rename one or separate them in two runs")
    owners[job.stem] = job.path
  return jobs


def _check_kind(path, domain):
  if not os.path.exists(path):
    raise InputError("no such file")
  if not os.path.isfile(path):
    raise InputError("not a regular file")
  if not path.lower().endswith(EXTENSIONS[domain]):
    other = [d for d, exts in EXTENSIONS.items() if path.lower().endswith(exts)]
    kind = f"an {other[0]} file" if other else "an unsupported kind of file"
    raise InputError(f"{kind}, but the model separates {domain}; expected "
                     f"{', '.join(EXTENSIONS[domain])}")


def _write(path, data):
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  try:
    with open(path + ".tmp", "wb") as f:
      f.write(data)
    os.replace(path + ".tmp", path)
  except OSError:
    if os.path.exists(path + ".tmp"):  # A full disk leaves no empty *.tmp behind.
      os.remove(path + ".tmp")
    raise


def separate_files(model, inputs, out_dir, sample_rate=None, progress_seconds=5.0):
  """Separates files into out_dir, one file at a time.

  Args:
    model: from open_model().
    inputs: file and folder paths.
    out_dir: where OUT/<stem>_x.{png,wav} and OUT/<stem>_b.{png,wav} go.
    sample_rate: audio only: the model's rate in Hz if neither metadata.json
      nor the model tells it.
    progress_seconds: at most one progress line per this many seconds (and
      one at the end).

  Returns:
    Summary. Each failed file was also logged as one error line.

  Raises:
    InputError: nothing to separate, clashing output names, an unknown domain
      or sample rate; ModelUnavailable: the server or model went away.
  """
  domain = model_access.model_domain(model)
  jobs = collect_jobs(inputs, domain)
  rate = model_sample_rate(model, sample_rate) if domain == "audio" else None
  ext = ".png" if domain == "image" else ".wav"
  summary = Summary(total=len(jobs))
  logging.info("Separating %d %s files with %s into %s", len(jobs), domain,
               model.description, out_dir)
  start = last_log = time.time()
  for i, job in enumerate(jobs):
    try:
      _check_kind(job.path, domain)
      if domain == "image":
        x, b = separate_image(model, job.path)
      else:
        x, b = separate_audio(model, job.path, rate)
      x_path = os.path.join(out_dir, job.stem + "_x" + ext)
      b_path = os.path.join(out_dir, job.stem + "_b" + ext)
      _write(x_path, x)
      _write(b_path, b)
      summary.written.append((x_path, b_path))
    except ModelUnavailable:
      summary.seconds = time.time() - start
      logging.error("Stopped after %d of %d files: the model is unavailable", i, len(jobs))
      raise
    except OSError as e:
      if e.errno in _STOPPING_ERRNOS:  # No later file can be written either.
        summary.seconds = time.time() - start
        logging.error("Stopped after %d of %d files: %s", i, len(jobs), e.strerror)
        raise
      message = e.strerror if e.strerror else str(e)
      logging.error("%s: %s", job.path, message)
      summary.failed.append((job.path, message))
    except InputError as e:
      message = str(e)
      logging.error("%s: %s", job.path, message)
      summary.failed.append((job.path, message))
    now = time.time()
    if now - last_log >= progress_seconds or i + 1 == len(jobs):
      logging.info("%d/%d files, %.1f files/s, %d failed", i + 1, len(jobs),
                   (i + 1) / max(now - start, 1e-9), len(summary.failed))
      last_log = now
  summary.seconds = time.time() - start
  return summary
