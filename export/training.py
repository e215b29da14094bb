"""Training with plain arguments: eggsep_tf.train(method, workdir, **flags).

  import eggsep_tf
  results = eggsep_tf.train("nes", "runs/mine", b_data="clean/", y_data="photos/",
                            test_data="test/", image_size=[64, 64], iterations=5)

The trainer runs as `python -m eggsep_tf METHOD --workdir=... --k=v ...` in a child
process: absl's flags are global to a process, so a child keeps them apart from the
caller's and lets one program train several times. Nothing here imports TensorFlow.
"""

import json
import os
import subprocess
import sys

from eggsep_tf.errors import InputError

TRAINERS = ("nes", "supervised", "nmf", "lmm", "am")


def _flag_args(settings):
  args = []
  for name, value in settings.items():
    if value is None:
      continue
    if isinstance(value, bool):
      args.append(f"--{name}" if value else f"--no{name}")
    elif isinstance(value, (list, tuple)):
      args.append(f"--{name}={','.join(str(v) for v in value)}")
    else:
      args.append(f"--{name}={os.fspath(value) if hasattr(value, '__fspath__') else value}")
  return args


def train(method, workdir, **settings):
  """Trains with plain arguments: `eggsep METHOD --workdir=... --k=v ...` in a child process.

    results = eggsep_tf.train("nes", "runs/mine", b_data="clean/", y_data="photos/",
                              test_data="test/", image_size=[64, 64], iterations=5)

  Keyword arguments are the trainer's flags (`eggsep nes --helpfull`): lists become
  comma-separated values, True/False become --flag/--noflag. A child process keeps
  absl's global flags apart from the caller's, and a rerun with the same arguments
  resumes the run, as the command does. Its log goes to this process's stderr.

  Returns:
    The run's results.json ({method row: {metric: value}}).

  Raises:
    InputError: the trainer refused its input (exit 2; the message is its error line);
    RuntimeError: it failed otherwise.
  """
  if method not in TRAINERS:
    raise InputError(f"method {method!r}: expected one of {', '.join(TRAINERS)}")
  args = [sys.executable, "-m", "eggsep_tf", method, f"--workdir={os.fspath(workdir)}",
          *_flag_args(settings)]
  lines = []
  with subprocess.Popen(args, stderr=subprocess.PIPE, text=True) as proc:
    for line in proc.stderr:  # Shown as it comes; kept for the error message.
      sys.stderr.write(line)
      lines.append(line.rstrip("\n"))
  if proc.returncode != 0:
    errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
    flag_errors = [line for line in lines if "Flags parsing error" in line]
    message = (errors or flag_errors or [f"exit status {proc.returncode}"])[-1]
    if proc.returncode in (1, 2) and (errors or flag_errors):
      raise InputError(f"eggsep {method}: {message}")
    raise RuntimeError(f"eggsep {method} failed ({message}); its log is above")
  with open(os.path.join(os.fspath(workdir), "results.json")) as f:
    return json.load(f)
