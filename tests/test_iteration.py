import threading

import numpy as np
import tensorflow as tf

from eggsep_tf.data import iteration


class _Iterable:
  """An iterable whose iterator records the thread that destroys it."""

  def __init__(self, n):
    self.n = n
    self.released_on = []

  def __iter__(self):
    owner = self

    class _Iterator:
      def __init__(self):
        self.i = 0

      def __iter__(self):
        return self

      def __next__(self):
        if self.i >= owner.n:
          raise StopIteration
        self.i += 1
        return self.i - 1

      def __del__(self):
        owner.released_on.append(threading.current_thread().name)

    return _Iterator()


def _wait_for_release_threads():
  for thread in threading.enumerate():
    if thread.name == "eggsep-iterator-release":
      thread.join(timeout=10)


def test_elements_yields_a_dataset_in_order():
  ds = tf.data.Dataset.range(7).batch(3)
  got = [b.numpy().tolist() for b in iteration.elements(ds)]
  assert got == [[0, 1, 2], [3, 4, 5], [6]]


def test_exhausted_iterator_is_released_off_the_calling_thread():
  source = _Iterable(5)
  assert list(iteration.elements(source)) == [0, 1, 2, 3, 4]
  _wait_for_release_threads()
  assert source.released_on == ["eggsep-iterator-release"]


def test_stopping_early_also_releases_in_the_background():
  source = _Iterable(100)
  gen = iteration.elements(source)
  first = [next(gen) for _ in range(3)]
  gen.close()
  _wait_for_release_threads()
  assert first == [0, 1, 2]
  assert source.released_on == ["eggsep-iterator-release"]


def test_a_tf_data_iterator_released_in_the_background_leaves_the_next_one_intact():
  # Epochs one after another, as the epoch loop runs them: each one's data are complete.
  ds = tf.data.Dataset.range(50).shuffle(50, seed=1).repeat().batch(8).prefetch(2)
  for _ in range(3):
    got = np.concatenate([b.numpy() for b in iteration.elements(ds.take(6))])
    assert got.shape == (48,)
    assert len(set(got[:48].tolist()) - set(range(50))) == 0
  _wait_for_release_threads()
