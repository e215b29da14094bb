"""Progress of long work (training steps, re-estimation, evaluation): a tqdm bar on a
terminal, otherwise a log line about every 10% (none for work done in seconds).

  progress = Progress(1934, "NES iteration 1/10: re-estimating", unit="mixtures")
  for batch in batches:
    ...
    progress.update(len(batch))
  progress.close()
"""

import sys
import time

from absl import logging


class Progress:
  """Counts done units of a known total and shows it.

  Args:
    total: units in all (steps, mixtures, examples); None or 0: unknown.
    label: what is being done, e.g. "Supervised epoch 3/25".
    unit: name of a unit for the display.
    stream: where a bar goes (default sys.stderr); a bar only if it is a TTY.
    quiet_seconds: no log lines before this much time has passed (short work
      stays silent when not on a terminal).
    every: fraction of the total between log lines.
  """

  def __init__(self, total, label, unit="steps", stream=None, quiet_seconds=5.0, every=0.1):
    self.total = int(total or 0)
    self.label = label
    self.unit = unit
    self.done = 0
    self._start = time.time()
    self._quiet = quiet_seconds
    self._every = max(1, round(self.total * every)) if self.total else 0
    self._next_log = self._every
    self._bar = None
    stream = stream or sys.stderr
    if self.total and getattr(stream, "isatty", lambda: False)():
      import tqdm  # pylint: disable=import-outside-toplevel
      self._bar = tqdm.tqdm(total=self.total, desc=label, unit=f" {unit}", leave=False,
                            file=stream, dynamic_ncols=True)

  def update(self, count=1):
    """Adds `count` done units."""
    self.done += count
    if self._bar is not None:
      self._bar.update(count)
      return
    if not self._every or self.done < self._next_log:
      return
    while self._next_log <= self.done:
      self._next_log += self._every
    elapsed = time.time() - self._start
    if elapsed >= self._quiet and self.done < self.total:
      rate = self.done / max(elapsed, 1e-9)
      logging.info("%s: %d/%d %s (%.0f%%), %.1f %s/s, about %.0f s left", self.label,
                   self.done, self.total, self.unit, 100.0 * self.done / self.total, rate,
                   self.unit, (self.total - self.done) / max(rate, 1e-9))

  def close(self):
    if self._bar is not None:
      self._bar.close()
      self._bar = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
