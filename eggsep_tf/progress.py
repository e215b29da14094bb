"""Progress of long work (training steps, re-estimation, evaluation, files to separate): a
tqdm bar on a terminal, otherwise an absl log line each time another part of the total is
done. The one progress display of the trainers, data/ and export/.

  with Progress(1934, "NES iteration 1/10: re-estimating", unit="mixtures") as progress:
    for batch in batches:
      ...
      progress.update(len(batch))

On a TTY (stderr) the bar is tqdm's; nested bars (files, then the segments of a long
file: `level`) stack below each other and inner ones vanish when done. Elsewhere (logs,
CI, a pipe) a line such as "files: 10/40 files (25%), 3.1 files/s, about 10 s left" is
written every `every` of the total; work done within `quiet_seconds` stays silent, and
`log_last` adds a line when all is done.
"""

import sys
import time

from absl import logging


# What export's commands show without a terminal: a line every 5% and one at the end,
# from the start (a separation of one long file is worth watching from its first %).
EXPORT_PROGRESS = {"quiet_seconds": 0.0, "every": 0.05, "log_last": True}


def _is_terminal(stream):
  try:
    import tqdm  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return False
  return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
  """Counts done units of a known total and shows it.

  Args:
    total: units in all (steps, mixtures, files); None or 0: unknown (nothing shown).
    label: what is being done, e.g. "Supervised epoch 3/25" or "files".
    unit: name of the units, plural ("steps", "files").
    stream: where a bar goes (default sys.stderr); a bar only if it is a TTY.
    quiet_seconds: no log lines before this much time has passed (short work
      stays silent when not on a terminal).
    every: fraction of the total between log lines.
    log_last: also log a line when the total is reached.
    level: nesting depth of the bar (0 outer); inner bars are removed when done.
    enabled: False shows nothing at all.
  """

  def __init__(self, total, label="", unit="steps", stream=None, quiet_seconds=5.0, every=0.1,
               log_last=False, level=0, enabled=True):
    self.total = max(int(total or 0), 0)
    self.label = label
    self.unit = unit
    self.done = 0
    self._start = time.time()
    self._quiet = quiet_seconds
    self._log_last = log_last
    self._every = max(1e-3, float(every))
    self._next_log = self._every
    self._bar = None
    self.enabled = bool(enabled) and self.total > 0
    stream = stream or sys.stderr
    if self.enabled and _is_terminal(stream):
      import tqdm  # pylint: disable=import-outside-toplevel
      self._bar = tqdm.tqdm(total=self.total, desc=label, unit=f" {unit}", position=level,
                            leave=level == 0, file=stream, dynamic_ncols=True)

  @property
  def uses_bar(self):
    return self._bar is not None

  def update(self, count=1, note=None):
    """Adds `count` done units; `note` is added to the bar or the log line."""
    self.done = min(self.done + count, self.total)
    if not self.enabled:
      return
    if self._bar is not None:
      if note:
        self._bar.set_postfix_str(str(note), refresh=False)
      self._bar.update(count)
      return
    fraction = self.done / self.total
    last = self.done == self.total
    if fraction + 1e-12 < self._next_log and not (last and self._log_last):
      return
    while self._next_log <= fraction + 1e-12:
      self._next_log += self._every
    elapsed = time.time() - self._start
    if elapsed < self._quiet or (last and not self._log_last):
      return
    line = f"{self.label}: {self.done}/{self.total} {self.unit} ({100.0 * fraction:.0f}%)"
    if not last and elapsed > 0:
      rate = self.done / elapsed
      line += (f", {rate:.1f} {self.unit}/s, about "
               f"{(self.total - self.done) / max(rate, 1e-9):.0f} s left")
    logging.info("%s%s", line, f", {note}" if note else "")

  def close(self):
    if self._bar is not None:
      self._bar.close()
      self._bar = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
    return False
