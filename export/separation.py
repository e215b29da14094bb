"""Separating image and audio files with an exported separator, local or served.

`separate_files(model, inputs, out_dir)`, with a model from
export/model_access.py's open_model() (a SavedModel folder or a TF-Serving URL),
separates every input file (or every file of the model's domain under an input
folder) one file at a time, so that images of different sizes and audio of any
length work:
  images (png, jpg, bmp, gif) -> OUT/<stem>.<source>.png for both sources,
      through the `separate_png` signature (bytes in, 8-bit PNG bytes out);
      16-bit PNGs through `serving_default`, written as 16-bit PNGs;
  audio (wav, flac, ogg, mp3, aiff) -> OUT/<stem>.<source>.wav (or .flac),
      every channel separated, at the file's own sample rate
      (export/array_separation.py), 16/24-bit or 32-bit float.
<source> is the model's name for each source from its metadata.json ("speech",
"noise"; x and b when it has none); OutputOptions.name_template changes the
pattern. Files found under an input folder keep their sub-folders below OUT. A
file that cannot be separated is logged as one line and counted as failed; the
others go on. An unreachable server or a model that disappears ends the run.
Progress: a bar over files (and over the segments of a long file) on a
terminal, log lines every few percent otherwise (eggsep_tf/progress.py).
One file's separation is export/file_separation.py.
"""

import dataclasses
import errno
import os
import re
import time

from absl import logging

from eggsep_tf.errors import InputError
from eggsep_tf.export import model_access
from eggsep_tf.export import array_separation
from eggsep_tf.export import file_separation
from eggsep_tf.export.model_access import ModelUnavailable
from eggsep_tf.progress import EXPORT_PROGRESS
from eggsep_tf.progress import Progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")  # As data/audio_io.py.
DEFAULT_NAME_TEMPLATE = "{stem}.{source}.{ext}"
EXTENSIONS = {"image": IMAGE_EXTENSIONS, "audio": AUDIO_EXTENSIONS}
# Write errors after which no other file can be written: stop instead of failing each.
_STOPPING_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def model_sample_rate(model, sample_rate=None):
  """The audio model's sample rate (see export/array_separation.py)."""
  return array_separation.model_sample_rate(model, sample_rate)


def source_names(model):
  """(x name, b name) for output files: metadata.json's "unobserved" and "observed".

  Names are made file-safe (anything but letters, digits, '-', '_', '.' becomes
  '_'); "x" and "b" when the model does not say (a served model) or both are equal.
  """
  names = []
  for key, fallback in (("unobserved", "x"), ("observed", "b")):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(model.metadata.get(key) or "")).strip("._")
    names.append(name or fallback)
  if names[0] == names[1]:
    return "x", "b"
  return names[0], names[1]


@dataclasses.dataclass
class OutputOptions:
  """How separated files are named and written.

  Attributes:
    name_template: output path below OUT, with {stem} (the input's name without
      extension, sub-folders kept), {source} (the source's name from the
      model's metadata.json, e.g. speech, noise; x and b if it has none),
      {role} (x or b) and {ext} (png, wav or flac). Default "{stem}.{source}.{ext}".
    file_format: audio: "wav" or "flac".
    bit_depth: audio: "16", "24" or "32f".
  """
  name_template: str = DEFAULT_NAME_TEMPLATE
  file_format: str = "wav"
  bit_depth: str = "16"

  def check(self):
    """Raises InputError for a template or audio setting that cannot work."""
    try:
      a = self.name_template.format(stem="s", source="one", role="x", ext="wav")
      b = self.name_template.format(stem="s", source="two", role="b", ext="wav")
    except (KeyError, IndexError, ValueError) as e:
      raise InputError(f"--name_template={self.name_template!r}: {type(e).__name__} {e}; "
                       "expected fields among {stem}, {source}, {role}, {ext}") from None
    if a == b or "{stem}" not in self.name_template:
      raise InputError(f"--name_template={self.name_template!r}: expected {{stem}} and "
                       "{source} or {role} in it, so that every output has its own name")
    if os.path.isabs(a):
      raise InputError(f"--name_template={self.name_template!r}: expected a path relative "
                       "to the output folder")

  def paths(self, out_dir, stem, names, ext):
    """{role: output path} for one input."""
    return {role: os.path.join(out_dir, self.name_template.format(
        stem=stem, source=name, role=role, ext=ext)) for role, name in zip(("x", "b"), names)}


# --- Many files -----------------------------------------------------------------------


@dataclasses.dataclass
class Job:
  """One input file and the stem of its outputs (relative to the output folder)."""
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
                       f"{job.stem}.*; rename one or separate them in two runs")
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


def separate_one(model, job, out_dir, domain, model_rate, options, names):
  """Separates one job's file and writes its two outputs; returns (x path, b path).

  Raises:
    InputError, OSError: this file could not be separated or written.
  """
  _check_kind(job.path, domain)
  if domain == "image":
    paths = options.paths(out_dir, job.stem, names, "png")
    x, b = file_separation.separate_image(model, job.path)
    _write(paths["x"], x)
    _write(paths["b"], b)
  else:
    audio_io = array_separation._audio_io()  # pylint: disable=protected-access
    paths = options.paths(out_dir, job.stem, names, options.file_format)
    x, b, rate = file_separation.separate_audio(model, job.path, model_rate)
    for role, audio in (("x", x), ("b", b)):
      audio_io.write_audio(paths[role], audio, rate, options.file_format, options.bit_depth)
  return paths["x"], paths["b"]


def separate_files(model, inputs, out_dir, sample_rate=None, options=None):
  """Separates files into out_dir, one file at a time.

  Args:
    model: from open_model().
    inputs: file and folder paths.
    out_dir: the output folder; names follow `options.name_template`.
    sample_rate: audio only: the model's rate in Hz if neither metadata.json
      nor the model tells it.
    options: OutputOptions (default: "{stem}.{source}.{ext}", 16-bit wav).

  Returns:
    Summary. Each failed file was also logged as one error line.

  Raises:
    InputError: nothing to separate, clashing output names, bad options, an
      unknown domain or sample rate; ModelUnavailable: the server or model went away.
  """
  options = options or OutputOptions()
  options.check()
  domain = model_access.model_domain(model)
  if domain == "audio":
    array_separation._audio_io().output_subtype(  # pylint: disable=protected-access
        options.file_format, options.bit_depth)
  jobs = collect_jobs(inputs, domain)
  rate = model_sample_rate(model, sample_rate) if domain == "audio" else None
  names = source_names(model)
  summary = Summary(total=len(jobs))
  logging.info("Separating %d %s files with %s into %s (%s, %s)", len(jobs), domain,
               model.description, out_dir, *names)
  start = time.time()
  with Progress(len(jobs), "files", unit="files", **EXPORT_PROGRESS) as bar:
    for i, job in enumerate(jobs):
      try:
        summary.written.append(separate_one(model, job, out_dir, domain, rate, options, names))
      except ModelUnavailable:
        summary.seconds = time.time() - start
        logging.error("Stopped after %d of %d files: the model is unavailable", i, len(jobs))
        raise
      except (InputError, OSError) as e:
        if isinstance(e, OSError) and e.errno in _STOPPING_ERRNOS:
          summary.seconds = time.time() - start  # No later file can be written either.
          logging.error("Stopped after %d of %d files: %s", i, len(jobs), e.strerror)
          raise
        message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        logging.error("%s: %s", job.path, message)
        summary.failed.append((job.path, message))
      bar.update(note=f"{len(summary.failed)} failed" if summary.failed else None)
  summary.seconds = time.time() - start
  return summary
