"""The `eggsep` command (python -m eggsep_tf): subcommands, help, errors, quiet TensorFlow."""

import os
import subprocess
import sys

import pytest

from eggsep_tf.export import cli
from tests import helpers


def _eggsep(*args, env=None):
  full_env = dict(os.environ, **(env or {}))
  full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # The command's own default applies.
  return subprocess.run([sys.executable, "-m", "eggsep_tf", *args], cwd=helpers.ROOT,
                        capture_output=True, text=True, timeout=300, env=full_env)


def test_help_lists_every_subcommand(capsys):
  assert cli.main(["--help"]) == 0
  out = capsys.readouterr().out
  for name in ("nes", "supervised", "nmf", "lmm", "am", "separate", "export", "serve",
               "evaluate"):
    assert f"\n  {name} " in out
  assert cli.main(["bogus"]) == 2
  assert "unknown command 'bogus'" in capsys.readouterr().err


def test_every_subcommand_module_exists():
  import importlib.util  # pylint: disable=import-outside-toplevel
  for module, _ in cli.COMMANDS.values():
    assert importlib.util.find_spec(module) is not None, module


@pytest.mark.slow  # The eggsep command in a real process: the next test; quiet TF logs:
# test_progress.test_tensorflow_logs_quiet_unless_asked_for.
def test_subcommand_help_is_quiet_and_succeeds():
  proc = _eggsep("separate", "--help")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "--name_template" in proc.stdout and "--bit_depth" in proc.stdout
  assert "oneDNN" not in proc.stderr and "I0000" not in proc.stderr, proc.stderr


def test_subcommands_keep_their_exit_codes_and_messages(tmp_path):
  proc = _eggsep("separate", "x.wav", f"--model={tmp_path / 'none'}", f"--out={tmp_path / 'o'}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert f"error: model {tmp_path / 'none'}: no such folder" in proc.stderr
  proc = _eggsep("train", "nes", f"--workdir={tmp_path / 'w'}", "--num_b=zero")
  assert proc.returncode == 2 and "flag --num_b=zero" in proc.stderr  # Bad flag: exit 2.
