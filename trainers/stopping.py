"""Stopping a run cleanly: SIGTERM/SIGINT and --max_runtime end it at an epoch boundary.

A Stopper is made and installed when a command starts (runner.run_main), so its
clock starts with the run, not when a module is imported. The epoch loop asks
`check(last_epoch_seconds)` before each epoch; without an installed Stopper (a
run called in-process, e.g. by a test) nothing stops it.
"""

import signal
import time

from absl import logging


class StopRequested(Exception):
  """Raised at an epoch boundary after SIGTERM/SIGINT or when --max_runtime is near."""


class Stopper:
  """Signals seen and the time budget of one run.

  Args:
    max_runtime: seconds; 0 means no limit.
    started: the run's start (time.time()); default now.
  """

  def __init__(self, max_runtime=0.0, started=None):
    self.max_runtime = float(max_runtime or 0.0)
    self.started = time.time() if started is None else started
    self.signal = None

  def on_signal(self, signum, frame):
    """The first SIGTERM/SIGINT asks for a stop at the next epoch boundary; the handlers
    then go back to the system's, so that a second one ends the process at once (even
    inside a long TensorFlow call). Saved epochs are safe either way: a checkpoint is
    used only once state.json names it."""
    del frame
    self.signal = signal.Signals(signum).name
    for sig in (signal.SIGTERM, signal.SIGINT):
      signal.signal(sig, signal.SIG_DFL)
    logging.warning("%s received: stopping after the current epoch (send it again to stop "
                    "now; finished epochs are kept)", self.signal)

  def install(self):
    """Handles SIGTERM and SIGINT with on_signal and makes this the active Stopper."""
    global _ACTIVE  # pylint: disable=global-statement
    signal.signal(signal.SIGTERM, self.on_signal)
    signal.signal(signal.SIGINT, self.on_signal)
    _ACTIVE = self
    return self

  def check(self, last_epoch_seconds):
    """Raises StopRequested if a signal came or the next epoch would pass max_runtime."""
    if self.signal is not None:
      raise StopRequested(f"stopped on {self.signal} at an epoch boundary")
    if self.max_runtime > 0 and \
        time.time() - self.started + last_epoch_seconds > self.max_runtime:
      raise StopRequested(f"stopped before passing --max_runtime={self.max_runtime:g} s")


_ACTIVE = None  # The Stopper of the running command (None until one is installed).


def active():
  return _ACTIVE


def check(last_epoch_seconds):
  """Stopper.check of the active Stopper (nothing without one)."""
  if _ACTIVE is not None:
    _ACTIVE.check(last_epoch_seconds)
