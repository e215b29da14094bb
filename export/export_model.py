r"""Exports the separator of a finished training run as a servable SavedModel.

  python -m export.export_model --workdir=WORKDIR
  python -m export.export_model --workdir=WORKDIR --export_base=/srv/models \
      --model_name=digits [--trainer=supervised] [--version=3]

writes EXPORT_BASE/NAME/VERSION/ (saved_model.pb, variables/, metadata.json),
the layout TF-Serving and export/serve.py serve; the defaults are
WORKDIR/export, the run's --model_name and the next free version. The trainers
already export at the end of training; this re-exports from the run's last
checkpoint without training (seconds), image and audio runs alike (audio: the
whole-file waveform separator with the run's STFT settings). An unfinished run
is refused with one line. An existing version is never replaced without
--overwrite. Only this entry module reads flags; the work is in
export/workdir_export.py.
"""

import os

from absl import app
from absl import flags
from absl import logging

from eggsep_tf.trainers import cli  # First: quiets TensorFlow's C++ logs before TF loads.
from eggsep_tf.errors import InputError
from eggsep_tf.export import workdir_export

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's --workdir.")
_EXPORT_BASE = flags.DEFINE_string("export_base", None, "Model base folder (holds "
                                   "NAME/VERSION/); default WORKDIR/export.")
_MODEL_NAME = flags.DEFINE_string("model_name", None, "Model name; default: the run's "
                                  "--model_name.")
_TRAINER = flags.DEFINE_enum("trainer", "nes", list(workdir_export.TRAINERS),
                             "Which run of the workdir to export.")
_VERSION = flags.DEFINE_integer("version", None, "Version number; default: one above the "
                                "newest.", lower_bound=1)
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace an existing --version "
                                  "(refused otherwise).")

flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}: every setting is a --flag")
  try:
    path = workdir_export.export_workdir(_WORKDIR.value, _EXPORT_BASE.value, _MODEL_NAME.value,
                                         _TRAINER.value, _VERSION.value,
                                         overwrite=_OVERWRITE.value)
  except InputError as e:
    cli.fail(e)
  except OSError as e:
    cli.fail(cli.environment_message(e))
  model_dir = os.path.dirname(path)
  logging.info("Serve it with: python -m export.serve --model_base_path=%s --model_name=%s",
               os.path.dirname(model_dir), os.path.basename(model_dir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
