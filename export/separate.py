r"""Separates image or audio files with an exported model, local or served.

  eggsep separate mixtures/ one.png --model=WORKDIR/export/NAME --out=separated/
  eggsep separate song.mp3 --model=http://127.0.0.1:8501/v1/models/NAME \
      --out=separated/ --format=flac --bit_depth=24
  python -m export.separate ...   (the same, from a checkout)

--model is a SavedModel folder (BASE/NAME/VERSION, or BASE/NAME for its newest
version) or a TF-Serving REST URL (our export/serve.py or tensorflow/serving).
Outputs are named by --name_template, default "{stem}.{source}.{ext}", with the
model's source names from its metadata.json: song.mp3 -> song.speech.wav and
song.noise.wav (x and b when the model does not name them). Images (png, jpg,
bmp, gif) give PNGs; audio (wav, flac, ogg, mp3, aiff) keeps its channels and
sample rate. Folders are searched recursively for files of the model's kind and
their sub-folders are kept under OUT.

Exit status: 0 when every file was separated, 1 when some failed (each one is
logged on one line), 2 when nothing could be done (no model, no server, no
inputs). Only this entry module reads flags; the work is in export/separation.py.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging

from eggsep_tf.trainers import cli  # First: quiets TensorFlow's C++ logs before TF loads.
from eggsep_tf.errors import InputError
from eggsep_tf.export import model_access
from eggsep_tf.export import separation

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel folder (BASE/NAME/VERSION or BASE/NAME) or "
    "http://HOST:PORT/v1/models/NAME[/versions/V].")
_OUT = flags.DEFINE_string("out", None, "Folder for the separated files.")
_SAMPLE_RATE = flags.DEFINE_integer(
    "sample_rate", None, "Audio: the model's sample rate in Hz, if neither its "
    "metadata.json nor its separate_wav signature tells it.", lower_bound=1)
_TIMEOUT = flags.DEFINE_float("timeout", 300.0, "Served models: seconds to wait for each "
                              "reply.", lower_bound=0)

_FORMAT = flags.DEFINE_enum("format", "wav", ["wav", "flac"], "Audio output format.")
_BIT_DEPTH = flags.DEFINE_enum("bit_depth", "16", ["16", "24", "32f"],
                               "Audio output samples: 16- or 24-bit integers, or 32-bit "
                               "float (32f, wav only).")
_NAME_TEMPLATE = flags.DEFINE_string(
    "name_template", separation.DEFAULT_NAME_TEMPLATE,
    "Output path below --out: {stem} (input name without extension, sub-folders kept), "
    "{source} (the model's source name, e.g. speech or noise; x/b if unnamed), {role} "
    "(x or b), {ext} (png, wav, flac). E.g. '{stem}/{source}.{ext}'.")

flags.mark_flags_as_required(["model", "out"])


def main(argv):
  inputs = argv[1:]
  if not inputs:
    cli.fail("give the files or folders to separate, e.g. "
             "python -m export.separate mixtures/ --model=... --out=...")
  if os.path.exists(_OUT.value) and not os.path.isdir(_OUT.value):
    cli.fail(f"--out={_OUT.value} is a file; expected a folder for the separated files")
  try:
    options = separation.OutputOptions(_NAME_TEMPLATE.value, _FORMAT.value, _BIT_DEPTH.value)
    options.check()
    model = model_access.open_model(_MODEL.value, timeout=_TIMEOUT.value)
    if isinstance(model, model_access.LocalModel):
      import tensorflow as tf  # pylint: disable=import-outside-toplevel
      logging.info("Separating on %s", ", ".join(
          f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_logical_devices()))
    summary = separation.separate_files(model, inputs, _OUT.value,
                                        sample_rate=_SAMPLE_RATE.value, options=options)
  except InputError as e:
    cli.fail(e)
  except OSError as e:  # A full disk or an unwritable --out stops every file: exit 2.
    cli.fail(cli.environment_message(e))
  done = len(summary.written)
  logging.info("Separated %d of %d files in %.1f s (%.1f files/s) into %s", done,
               summary.total, summary.seconds, done / max(summary.seconds, 1e-9), _OUT.value)
  if summary.failed:
    sys.stderr.write(f"error: {len(summary.failed)} of {summary.total} files failed: "
                     + "; ".join(path for path, _ in summary.failed[:5])
                     + (" ..." if len(summary.failed) > 5 else "") + "\n")
    sys.exit(1)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
