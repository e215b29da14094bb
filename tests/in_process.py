"""Runs a trainer command inside the test process.

run_trainer("trainers.nes", *args) goes through the same steps as
`python -m trainers.nes ARGS` after Python has started: the flags are parsed by
trainers/cli.py (a bad flag is one `error:` line and exit 2) and the run goes
through runner.run_main (its exit codes and one-line messages). It saves the 3-4 s
that a fresh Python process needs to load TensorFlow, which is most of the time of
a tiny run. What a command changes in the process (the flags, signal handlers, the
active Stopper, the Keras dtype policy, absl's log level) is put back afterwards.
A few tests per entry point still start real processes (tests/helpers.run_module).
"""

import contextlib
import dataclasses
import importlib
import io
import logging
import signal

from absl import flags
import keras

from eggsep_tf.trainers import cli
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import stopping


@dataclasses.dataclass
class Completed:
  """What subprocess.run would have given: the exit status and what went to stderr
  (the `error:` lines and the absl log lines) and stdout."""
  returncode: int
  stderr: str
  stdout: str = ""


@contextlib.contextmanager
def parsed_flags(module, *args):
  """The flags of `python -m module args` for the block (defaults again afterwards)."""
  importlib.import_module("eggsep_tf." + module)  # Defines the module's flags.
  values = flags.FLAGS
  values.unparse_flags()
  try:
    cli.parse_flags([module, *[str(a) for a in args]])
    yield values
  finally:
    values.unparse_flags()
    values.mark_as_parsed()


def _exit_code(error):
  if error.code is None:
    return 0
  return error.code if isinstance(error.code, int) else 1


def run_trainer(module, *args):
  """`python -m module args` for module trainers.<name>, in this process: after the
  flags are parsed, main(argv) where the module has one, else runner.run_main(run).

  Returns:
    Completed(returncode, stderr, stdout). An exception that run_main lets through
    (a bug, which a real process would show as a traceback) propagates.
  """
  trainer = importlib.import_module("eggsep_tf." + module)
  values = flags.FLAGS
  handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
  stopper = stopping.active()
  policy = keras.mixed_precision.global_policy().name
  absl_logger = logging.getLogger("absl")
  level = absl_logger.level
  err, out = io.StringIO(), io.StringIO()
  log_handler = logging.StreamHandler(err)
  absl_logger.addHandler(log_handler)
  code = 0
  values.unparse_flags()
  try:
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
      try:
        argv = cli.parse_flags([module, *[str(a) for a in args]])
        absl_logger.setLevel(logging.INFO)  # Parsing --verbosity reset it; absl.app shows INFO.
        if hasattr(trainer, "main"):  # A command with a main(argv) of its own (merge_results).
          trainer.main(argv)
        else:
          runner.run_main(trainer.run)
      except SystemExit as e:
        code = _exit_code(e)
  finally:
    absl_logger.removeHandler(log_handler)
    absl_logger.setLevel(level)
    for sig, handler in handlers.items():
      signal.signal(sig, handler)
    stopping._ACTIVE = stopper  # pylint: disable=protected-access
    keras.mixed_precision.set_global_policy(policy)
    values.unparse_flags()
    values.mark_as_parsed()  # Defaults, readable by in-process tests that use flagsaver.
  return Completed(code, err.getvalue(), out.getvalue())
