"""Progress of long work: a tqdm bar on a terminal, a log line every few percent otherwise.

  with progress.Progress(total=len(files), desc="files", unit="file") as bar:
    for f in files:
      ...
      bar.update()

On a TTY (stderr) the bar is tqdm's; nested bars (files, then the chunks of a
long file) stack below each other and inner ones vanish when done. Elsewhere
(logs, CI, a pipe) one absl log line is written each time another
`every_percent` of the total is done, and one at the end, so a log shows how
far a long run got without flooding it.
"""

import sys

from absl import logging


def _use_tqdm(stream):
  try:
    import tqdm  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return False
  isatty = getattr(stream, "isatty", None)
  return bool(isatty and isatty())


class Progress:
  """Counts done units of `total`; shows a bar on a TTY, log lines otherwise.

  Args:
    total: units of work (files, chunks, steps).
    desc: what is counted, shown before the count ("files", "song.mp3").
    unit: the unit's name ("file", "chunk").
    every_percent: without a TTY, log a line each time this much more is done.
    level: nesting depth (0 outer); inner bars are removed when they finish.
    enabled: False shows nothing at all.
    stream: where tqdm writes (default sys.stderr); decides TTY or not.
  """

  def __init__(self, total, desc="", unit="it", every_percent=5.0, level=0, enabled=True,
               stream=None):
    self.total = max(int(total), 0)
    self.desc = desc
    self.unit = unit
    self.every = max(float(every_percent), 0.1) / 100.0
    self.done = 0
    self._next_log = self.every
    self._bar = None
    self.enabled = bool(enabled) and self.total > 0
    stream = stream or sys.stderr
    if self.enabled and _use_tqdm(stream):
      import tqdm  # pylint: disable=import-outside-toplevel
      self._bar = tqdm.tqdm(total=self.total, desc=desc, unit=unit, position=level,
                            leave=level == 0, file=stream, dynamic_ncols=True)

  @property
  def uses_bar(self):
    return self._bar is not None

  def update(self, count=1, note=None):
    """Marks `count` more units done; `note` is added to the bar or the log line."""
    self.done = min(self.done + count, self.total)
    if not self.enabled:
      return
    if self._bar is not None:
      if note:
        self._bar.set_postfix_str(str(note), refresh=False)
      self._bar.update(count)
      return
    fraction = self.done / self.total
    if fraction + 1e-12 >= self._next_log or self.done == self.total:
      logging.info("%s: %d/%d %ss (%.0f%%)%s", self.desc or "progress", self.done, self.total,
                   self.unit, 100.0 * fraction, f", {note}" if note else "")
      while self._next_log <= fraction + 1e-12:
        self._next_log += self.every

  def close(self):
    if self._bar is not None:
      self._bar.close()
      self._bar = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
    return False
