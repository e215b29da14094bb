"""What every command does before and around its work: quiet TensorFlow's C++ logs,
parse flags into one-line errors, and turn user and environment faults into exit 2.

Imported first by every entry module (trainers/__init__.py calls it for the
trainers), so that TF_CPP_MIN_LOG_LEVEL is set before TensorFlow loads. TF 2.21
also prints a few lines while it loads, before its log settings apply (absl's
"before absl::InitializeLog()" lines): those are hidden by loading TensorFlow
with stderr pointed at /dev/null (a Python error while loading still shows).

  TF_CPP_MIN_LOG_LEVEL=0 python -m trainers.nes ...   # TensorFlow's C++ logs back
  python -m trainers.nes --verbosity=1 ...            # the same, with absl debug logs
"""

import errno
import os
import sys

from absl import flags

# Exit codes (README): 2 for anything a user or the machine's state caused.
EXIT_BAD_INPUT = 2

_VERBOSE_PREFIXES = ("--verbosity=", "-v=")


def _asks_for_logs(argv):
  """True if argv raises absl's --verbosity (or -v) to 1 or more."""
  for i, arg in enumerate(argv):
    value = None
    if arg.startswith(_VERBOSE_PREFIXES):
      value = arg.split("=", 1)[1]
    elif arg in ("--verbosity", "-v") and i + 1 < len(argv):
      value = argv[i + 1]
    if value is not None:
      try:
        return int(value) >= 1
      except ValueError:
        return False
  return False


def quiet_tensorflow_logs(argv=None, environ=None, load=True):
  """Hides TensorFlow's C++ info and warning lines unless the user asked for them.

  A TF_CPP_MIN_LOG_LEVEL the user set is kept; --verbosity >= 1 shows everything
  (level 0); otherwise level 2 (errors only). Must run before TensorFlow is imported;
  with `load`, it then imports TensorFlow with its start-up lines hidden (level > 0).

  Returns:
    The TF_CPP_MIN_LOG_LEVEL now in effect.
  """
  argv = sys.argv if argv is None else argv
  environ = os.environ if environ is None else environ
  if "TF_CPP_MIN_LOG_LEVEL" not in environ:
    environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if _asks_for_logs(argv) else "2"
  level = environ["TF_CPP_MIN_LOG_LEVEL"]
  if load and level not in ("", "0") and "tensorflow" not in sys.modules:
    _import_tensorflow_silently()
  return level


def _import_tensorflow_silently():
  """import tensorflow with file descriptor 2 on /dev/null, restored afterwards."""
  try:
    saved = os.dup(2)
  except OSError:  # No stderr at all: nothing to hide.
    return
  null = os.open(os.devnull, os.O_WRONLY)
  try:
    sys.stderr.flush()
    os.dup2(null, 2)
    import tensorflow  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  finally:
    os.dup2(saved, 2)
    os.close(null)
    os.close(saved)


def fail(message):
  """Writes `error: message` as one line on stderr and exits with status 2."""
  sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
  sys.exit(EXIT_BAD_INPUT)


def parse_flags(argv):
  """absl.app's flags_parser: a bad flag is one `error:` line and exit 2 (absl: two
  lines and exit 1). Registers the finite-number check on float flags defined late."""
  from eggsep_tf.trainers import flag_checks  # pylint: disable=import-outside-toplevel
  flag_checks.require_finite_floats(flags.FLAGS)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(f"{e}. Pass --helpshort to see the flags")
  return None


# errno values that mean the machine, not the input, refused: disk full, quota,
# permission, read-only filesystem.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC: "no space left on the device",
                       errno.EDQUOT: "disk quota exceeded",
                       errno.EACCES: "permission denied",
                       errno.EPERM: "operation not permitted",
                       errno.EROFS: "read-only filesystem"}


def environment_message(error):
  """One line for an OSError: the path, what happened and what to do."""
  path = error.filename or "a file"
  if error.filename2:
    path = f"{path} -> {error.filename2}"
  what = _ENVIRONMENT_ERRNOS.get(error.errno) or error.strerror or type(error).__name__
  hint = {errno.ENOSPC: "free some space (or use a --workdir on another disk) and rerun: "
                        "finished work is kept",
          errno.EDQUOT: "free some space and rerun: finished work is kept",
          errno.EROFS: "use a --workdir on a writable disk"}.get(
              error.errno, "check the path and its permissions")
  return f"{path}: {what}; {hint}"


def is_disk_full(error):
  return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
