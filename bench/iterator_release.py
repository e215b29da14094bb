r"""How long the end of an epoch waits for its tf.data iterator to be torn down.

  python bench/iterator_release.py                 # 64x64x3, 2,000 records, 8 epochs each way
  python bench/iterator_release.py --shape=28x28x1 --epochs=12

Runs epochs as the trainers do (a fresh NES mixture pipeline per epoch, `steps` batches
taken from it) with a stand-in for the training step that keeps both cores busy (matrix
products), in turns:
  plain: the iterator is dropped on the main thread, as a `for` loop over the dataset does;
  background: data/iteration.elements, which drops it on a thread of its own.
For each it prints the main thread's wait after each epoch's last batch (its teardown) and
the epochs' wall times. The wait is the time a trainer loses between one epoch and the next.
"""

import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eggsep_tf.data import iteration  # noqa: E402
from eggsep_tf.data import mixtures  # noqa: E402
from eggsep_tf.data import tfrecords  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("shape", "64x64x3", "Record shape HxWxC.")
flags.DEFINE_integer("records", 2000, "Records in each of the B and X splits.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("steps", 0, "Batches per epoch; 0: ceil(records / batch_size), as the "
                     "trainers take.")
flags.DEFINE_integer("epochs", 8, "Epochs per way.")
flags.DEFINE_integer("work", 3, "1500x1500 matrix products per batch (the stand-in step).")


def _epochs(b_dir, x_dir, steps, background):
  waits, walls = [], []
  a = tf.random.normal([1500, 1500])
  for epoch in range(FLAGS.epochs):
    ds = mixtures.mixture_dataset(b_dir, x_dir, FLAGS.batch_size, seed=epoch).take(steps)
    start = time.time()
    if background:
      batches = iteration.elements(ds)
    else:
      batches = iter(ds)
    count = 0
    for _ in batches:
      for _ in range(FLAGS.work):
        tf.matmul(a, a)
      count += 1
      if count == steps:
        last = time.time()
    del batches  # plain: the iterator's teardown runs here, on this thread.
    end = time.time()
    waits.append(end - last)
    walls.append(end - start)
  return np.array(waits), np.array(walls)


def main(argv):
  del argv
  shape = [int(s) for s in FLAGS.shape.split("x")]
  steps = FLAGS.steps or -(-FLAGS.records // FLAGS.batch_size)
  rng = np.random.default_rng(0)
  with tempfile.TemporaryDirectory() as tmp:
    b_dir, x_dir = os.path.join(tmp, "b"), os.path.join(tmp, "x")
    for d, name in ((b_dir, "b"), (x_dir, "x")):
      tfrecords.write_split(d, {name: rng.uniform(size=[FLAGS.records, *shape])
                                .astype(np.float32)})
    print(f"{FLAGS.shape}, {FLAGS.records} records, {steps} batches of {FLAGS.batch_size} "
          f"per epoch, {FLAGS.epochs} epochs each way")
    print("| teardown | waits after the last batch (s) | median | max | epoch wall median (s) |")
    print("|---|---|---|---|---|")
    for name, background in (("plain", False), ("background", True)):
      waits, walls = _epochs(b_dir, x_dir, steps, background)
      print(f"| {name} | {' '.join(f'{w:.2f}' for w in waits)} | {np.median(waits):.2f} | "
            f"{waits.max():.2f} | {np.median(walls):.2f} |", flush=True)


if __name__ == "__main__":
  app.run(main)
