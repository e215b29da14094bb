"""Progress of long work, and what every command does first: quiet TensorFlow logs
and a line naming the devices."""

import io
import logging

from eggsep_tf.progress import Progress
from eggsep_tf.trainers import cli
from eggsep_tf.trainers import cluster


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def _progress_lines(caplog):
  return [r.getMessage() for r in caplog.records if r.getMessage().startswith("work:")]


def test_log_line_about_every_tenth_when_not_a_terminal(caplog):
  with caplog.at_level(logging.INFO, logger="absl"):
    with Progress(100, "work", unit="items", stream=io.StringIO(), quiet_seconds=0) as p:
      for _ in range(100):
        p.update()
  lines = _progress_lines(caplog)
  assert len(lines) == 9 and lines[0].startswith("work: 10/100 items (10%)")


def test_short_work_stays_silent(caplog):
  with caplog.at_level(logging.INFO, logger="absl"):
    with Progress(100, "work", stream=io.StringIO()) as p:  # Done well within 5 s.
      p.update(100)
  assert not _progress_lines(caplog)


def test_bar_on_a_terminal(caplog):
  terminal = _Terminal()
  with caplog.at_level(logging.INFO, logger="absl"):
    with Progress(50, "work", stream=terminal, quiet_seconds=0) as p:
      p.update(50)
  assert "work:" in terminal.getvalue() and "/50" in terminal.getvalue()
  assert not _progress_lines(caplog)


def test_tensorflow_logs_quiet_unless_asked_for():
  assert cli.quiet_tensorflow_logs(["nes"], {}, load=False) == "2"
  assert cli.quiet_tensorflow_logs(["nes", "--verbosity=1"], {}, load=False) == "0"
  assert cli.quiet_tensorflow_logs(["nes", "-v", "2"], {}, load=False) == "0"
  assert cli.quiet_tensorflow_logs(["nes"], {"TF_CPP_MIN_LOG_LEVEL": "1"}, load=False) == "1"


def test_every_run_logs_its_devices(caplog):
  with caplog.at_level(logging.INFO, logger="absl"):
    strategy = cluster.make_strategy("default")
  assert strategy.num_replicas_in_sync == 1
  assert any(r.getMessage().startswith("Devices: /device:CPU:0")
             for r in caplog.records), caplog.text
  assert cluster.is_chief() and cluster.num_workers() == 1
