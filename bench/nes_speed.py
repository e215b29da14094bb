r"""Speed of NES against this CPU's limit: pipeline, training, inference, FLOP/s.

  python bench/nes_speed.py                                   # images: 28x28 digits, batch 32
  python bench/nes_speed.py --height=257 --width=64 --batch_size=64   # audio patches

Prints samples/s for: the mixture input pipeline alone (reading TFRecords,
drawing b and x_t, summing, batching), the training step alone (on one batch
held in memory), and inference (re-estimation) alone; medians over repeats.
Counts the mask net's FLOPs (TF's profiler on the forward graph; training
~3x forward) and measures the peak with a 4096x4096 matmul, so the achieved
FLOP/s can be read against the physical limit. Also peak RSS.
"""

import os
import resource
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eggsep_tf.data import mixtures  # noqa: E402
from eggsep_tf.data import tfrecords  # noqa: E402
from eggsep_tf import nes  # noqa: E402
from eggsep_tf.trainers import runner  # noqa: E402,F401  (defines the model/optimiser flags)

FLAGS = flags.FLAGS
flags.DEFINE_integer("height", 28, "Example height (image rows or frequency bins).")
flags.DEFINE_integer("width", 28, "Example width (image columns or frames).")
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


def forward_flops(model, shape):
  """FLOPs of one forward pass of one example (TF profiler on the frozen graph)."""
  from tensorflow.python.framework import convert_to_constants
  fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
      tf.TensorSpec([1] + list(shape), tf.float32))
  frozen = convert_to_constants.convert_variables_to_constants_v2(fn)
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  return tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops


def matmul_peak(dtype=tf.float32, n=4096, repeats=5):
  """FLOP/s of a large matmul: the practical ceiling of this CPU."""
  a = tf.cast(tf.random.uniform([n, n]), dtype)
  f = tf.function(lambda: tf.matmul(a, a))
  f().numpy()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    f().numpy()
    times.append(time.perf_counter() - start)
  return 2 * n ** 3 / float(np.median(times))


def main(argv):
  del argv
  shape = [FLAGS.height, FLAGS.width, FLAGS.channels]
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
  flops = forward_flops(model, shape)
  peak = matmul_peak()
  peak_bf16 = matmul_peak(tf.bfloat16)
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"NES mask net, {shape[0]}x{shape[1]}x{shape[2]}, filters {','.join(FLAGS.filters)}, "
        f"{params / 1e6:.2f} M parameters, batch {FLAGS.batch_size}, {FLAGS.precision}; "
        f"forward {flops / 1e9:.3f} GFLOP/example")
  print(f"| what | samples/s (median of {FLAGS.repeats}) | GFLOP/s | share of matmul peak |")
  print("|---|---|---|---|")
  print(f"| input pipeline alone | {pipeline:.0f} | | |")
  print(f"| training step (~3x forward) | {train:.1f} | {3 * flops * train / 1e9:.0f} | "
        f"{3 * flops * train / peak:.0%} |")
  print(f"| inference (batch {int(big.shape[0])}) | {infer:.1f} | {flops * infer / 1e9:.0f} | "
        f"{flops * infer / peak:.0%} |")
  print(f"| 4096x4096 matmul float32 / bfloat16 | | {peak / 1e9:.0f} / {peak_bf16 / 1e9:.0f} | |")
  print(f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
  app.run(main)
