"""Iterating a tf.data pipeline without waiting for its iterator to be torn down.

Destroying a tf.data iterator joins its pipeline's background threads. On TF 2.21 with
a busy CPU that join sometimes takes seconds even when the pipeline has nothing left to
do: 9.8 and 9.2 s at the end of 2 of the 5 epochs of a 64x64x3 NES iteration (about one
epoch's worth of time), 1.2 s after some finished passes over a test split
(bench/iterator_release.py measures the epoch case). Nothing of a finished iterator is needed any more, so `elements` hands
it to a thread of its own and the caller goes on with the next epoch or phase.

  for batch in iteration.elements(dataset.take(steps)):
    ...
"""

import threading


def elements(dataset):
  """Yields the elements of `dataset` (a tf.data.Dataset, a distributed dataset or any
  iterable); after the last one, or when the caller stops early, its iterator is
  released on a background thread.

  The thread is not a daemon: an interpreter that exits waits for the release.
  """
  box = [iter(dataset)]
  try:
    yield from box[0]
  finally:
    release_in_background(box)


def release_in_background(box):
  """Empties the list `box` on a new thread, so that the last reference to what it
  holds (e.g. a tf.data iterator) is dropped, and its destructor runs, there."""
  threading.Thread(target=box.clear, name="eggsep-iterator-release").start()
