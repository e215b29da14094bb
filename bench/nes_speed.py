r"""Training, input-pipeline and inference speed of the image NES configuration.

  python bench/nes_speed.py --filters=32,64,128,256 --batch_size=32 --size=28

Prints samples/s for: the mixture input pipeline alone (reading TFRecords,
drawing b and x_t, summing, batching), the training step alone (on one batch
held in memory), and inference (re-estimation) alone; medians over repeats.
The pipeline must be much faster than the training step.
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

from data import mixtures  # noqa: E402
from data import tfrecords  # noqa: E402
from eggsep_tf import nes  # noqa: E402
from trainers import runner  # noqa: E402,F401  (defines the model/optimiser flags)

FLAGS = flags.FLAGS
flags.DEFINE_integer("size", 28, "Image height and width.")
flags.DEFINE_integer("channels", 1, "Image channels.")
flags.DEFINE_integer("num_records", 2000, "Records per split for the pipeline test.")
flags.DEFINE_integer("steps", 30, "Timed steps per repeat.")
flags.DEFINE_integer("repeats", 5, "Repeats (the median is reported).")


def _median_rate(fn, samples_per_call, steps, repeats):
  fn()  # Warm-up (tracing, buffers).
  rates = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      fn()
    rates.append(samples_per_call * steps / (time.perf_counter() - start))
  return float(np.median(rates))


def main(argv):
  del argv
  shape = [FLAGS.size, FLAGS.size, FLAGS.channels]
  rng = np.random.default_rng(0)
  tmp = tempfile.mkdtemp()
  for name, key in (("b", "b"), ("x", "x")):
    tfrecords.write_split(os.path.join(tmp, name),
                          {key: rng.uniform(size=[FLAGS.num_records] + shape).astype(np.float32)})
  ds = iter(mixtures.mixture_dataset(os.path.join(tmp, "b"), os.path.join(tmp, "x"),
                                     FLAGS.batch_size, seed=0))
  pipeline = _median_rate(lambda: next(ds), FLAGS.batch_size, FLAGS.steps * 4, FLAGS.repeats)

  strategy = tf.distribute.get_strategy()
  model = runner.build_mask_model(shape)
  optimizer = runner.make_optimizer(model)
  step = nes.make_train_step(model, optimizer, strategy, FLAGS.batch_size)
  mixture, target = next(ds)
  train = _median_rate(lambda: step(mixture, target)["l1"].numpy(), FLAGS.batch_size,
                       FLAGS.steps, FLAGS.repeats)
  separate = nes.make_separate_fn(model)
  big = tf.concat([mixture] * max(1, FLAGS.eval_batch_size // FLAGS.batch_size), 0)
  infer = _median_rate(lambda: separate(big)[0].numpy(), int(big.shape[0]),
                       max(3, FLAGS.steps // 4), FLAGS.repeats)
  params = model.count_params()
  print(f"image NES, {FLAGS.size}x{FLAGS.size}x{FLAGS.channels}, filters {FLAGS.filters}, "
        f"{params / 1e6:.2f} M parameters, batch {FLAGS.batch_size}")
  print("| what | samples/s (median of %d) |" % FLAGS.repeats)
  print("|---|---|")
  print(f"| input pipeline alone | {pipeline:.0f} |")
  print(f"| training step | {train:.0f} |")
  print(f"| inference (batch {int(big.shape[0])}) | {infer:.0f} |")


if __name__ == "__main__":
  app.run(main)
