r"""Separates image or audio files with an exported model, local or served.

  python -m export.separate mixtures/ one.png --model=WORKDIR/export/NAME --out=separated/
  python -m export.separate song.flac --model=http://127.0.0.1:8501/v1/models/NAME \
      --out=separated/

--model is a SavedModel folder (BASE/NAME/VERSION, or BASE/NAME for its newest
version) or a TF-Serving REST URL (our export/serve.py or tensorflow/serving).
Images (png, jpg, bmp, gif) give OUT/<stem>_x.png and OUT/<stem>_b.png; audio
(wav, flac, ogg) gives OUT/<stem>_x.wav and OUT/<stem>_b.wav. Folders are
searched recursively for files of the model's kind and their sub-folders are
kept under OUT.

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

flags.mark_flags_as_required(["model", "out"])


def main(argv):
  inputs = argv[1:]
  if not inputs:
    cli.fail("give the files or folders to separate, e.g. "
             "python -m export.separate mixtures/ --model=... --out=...")
  if os.path.exists(_OUT.value) and not os.path.isdir(_OUT.value):
    cli.fail(f"--out={_OUT.value} is a file; expected a folder for the separated files")
  try:
    model = model_access.open_model(_MODEL.value, timeout=_TIMEOUT.value)
    summary = separation.separate_files(model, inputs, _OUT.value,
                                        sample_rate=_SAMPLE_RATE.value)
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
