"""The `eggsep` command: one entry point for training, separating, exporting, serving, scoring.

  eggsep nes --flagfile=mnist_demo.flags          # = python -m trainers.nes ...
  eggsep separate song.mp3 --model=runs/x/export/eggsep --out=separated/
  eggsep evaluate --estimates=separated/ --references=refs/
  eggsep --help                                   # the subcommands
  eggsep nes --helpfull                           # one subcommand's flags
  python -m eggsep_tf ...                         # the same without the script

Each subcommand runs its module as __main__ with the remaining arguments, so
its absl flags (and --flagfile) work exactly as with `python -m MODULE`.
"eggsep train nes ..." is accepted as a spelling of "eggsep nes ...".
TensorFlow's C++ log lines are quieted (TF_CPP_MIN_LOG_LEVEL=2) unless the
variable is already set: TF_CPP_MIN_LOG_LEVEL=0 eggsep ... restores them.
Nothing heavy is imported before a subcommand is chosen.
"""

import os
import re
import runpy
import sys
import tempfile

COMMANDS = {
    "nes": ("eggsep_tf.trainers.nes", "train Neural Egg Separation (also --init=lmm|am)"),
    "supervised": ("eggsep_tf.trainers.supervised", "train the supervised upper bound"),
    "nmf": ("eggsep_tf.trainers.nmf", "fit the semi-supervised NMF baseline"),
    "lmm": ("eggsep_tf.trainers.lmm", "train the GLO latent mixture model (LM/LMM)"),
    "am": ("eggsep_tf.trainers.am", "train the adversarial masking baseline (AM)"),
    "separate": ("eggsep_tf.export.separate", "separate image or audio files with a model"),
    "export": ("eggsep_tf.export.export_model", "export a finished run as a SavedModel"),
    "serve": ("eggsep_tf.export.serve", "serve exported models over TF-Serving's REST API"),
    "evaluate": ("eggsep_tf.export.evaluate",
                 "score a folder of estimates against references (any tool's)"),
}


def usage():
  width = max(map(len, COMMANDS))
  lines = ["usage: eggsep COMMAND [--flags ...]   (python -m eggsep_tf COMMAND ...)", "",
           "Semi-supervised source separation (Neural Egg Separation) in TensorFlow.", "",
           "commands:"]
  lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
  lines += ["", "eggsep COMMAND --help shows a command's flags; a flagfile works with any "
            "trainer:", "  eggsep nes --flagfile=mnist_demo.flags",
            "TensorFlow's C++ logs are off unless TF_CPP_MIN_LOG_LEVEL is set (e.g. to 0)."]
  return "\n".join(lines) + "\n"


# What TensorFlow's C++ side prints at import, before its log level applies.
_IMPORT_NOISE = re.compile(r"^(I\d{4} .*|WARNING: All log messages before absl::InitializeLog\(\) "
                           r"is called are written to STDERR)$")


def _import_tensorflow_quietly():
  """Imports TensorFlow with its import-time INFO lines dropped; other lines pass through."""
  try:
    stderr_fd = sys.stderr.fileno()
  except (AttributeError, OSError, ValueError):
    return
  sys.stderr.flush()
  saved = os.dup(stderr_fd)
  with tempfile.TemporaryFile(mode="w+b") as caught:
    os.dup2(caught.fileno(), stderr_fd)
    try:
      import tensorflow  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
      pass  # The subcommand reports it.
    finally:
      os.dup2(saved, stderr_fd)
      os.close(saved)
    caught.seek(0)
    for line in caught.read().decode("utf-8", "replace").splitlines():
      if not _IMPORT_NOISE.match(line):
        sys.stderr.write(line + "\n")


def main(argv=None):
  """Runs `eggsep ARGS`; returns the exit status (a subcommand may also exit itself)."""
  args = list(sys.argv[1:] if argv is None else argv)
  if args[:1] == ["train"]:
    args = args[1:]
  if not args or args[0] in ("-h", "--help", "help"):
    sys.stdout.write(usage())
    return 0
  if args[0] in ("--version", "version"):
    from eggsep_tf import __version__  # pylint: disable=import-outside-toplevel
    sys.stdout.write(f"eggsep-tf {__version__}\n")
    return 0
  if args[0] not in COMMANDS:
    sys.stderr.write(f"error: unknown command {args[0]!r}; expected one of "
                     f"{', '.join(COMMANDS)} (eggsep --help)\n")
    return 2
  module, _ = COMMANDS[args[0]]
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
    _import_tensorflow_quietly()
  sys.argv = [f"eggsep {args[0]}", *args[1:]]
  try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
  except SystemExit as e:
    # absl exits with 1 after printing --help; asking for help is not a failure.
    if e.code == 1 and set(args[1:]) & {"--help", "-h", "-?", "--helpshort", "--helpfull"}:
      return 0
    raise
  return 0


def entry_point():
  """The console script's target."""
  sys.exit(main())


if __name__ == "__main__":
  entry_point()
