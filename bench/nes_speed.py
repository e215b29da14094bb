r"""Speed of NES against this CPU's limit: pipeline, training step, training loop, inference.

  python bench/nes_speed.py        # 28x28x1 and 64x64x3, the default net and the demo's, one run
  python bench/nes_speed.py --shapes=257x64x1 --batch_size=64 --net=strided_unet:32,64,128,256

For every shape and net (timed in turns, medians over repeats) prints samples/s of:
the mixture input pipeline alone (reading TFRecords, drawing b and x_t, summing,
batching); the training step alone (one batch held in memory); the training loop
(the same step fed by that pipeline, as the trainers run it: loop / step is the
loop's overhead); inference (re-estimation, batch --eval_batch_size, in the
--inference_precision the trainers use). Counts each net's FLOPs (TF's profiler on
the forward graph; training ~3x forward) and measures the peak with a 4096x4096
matmul, so that the achieved FLOP/s can be read against the physical limit.
"""

import os
import resource
import sys
import tempfile
import time
import types

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eggsep_tf.data import mixtures  # noqa: E402
from eggsep_tf.data import tfrecords  # noqa: E402
from eggsep_tf import mask_nets  # noqa: E402
from eggsep_tf import nes  # noqa: E402
from eggsep_tf import precision  # noqa: E402
from eggsep_tf import strided_mask_unet  # noqa: E402
from eggsep_tf.trainers import nets  # noqa: E402
from eggsep_tf.trainers import runner  # noqa: E402,F401  (defines the model/optimiser flags)

FLAGS = flags.FLAGS
flags.DEFINE_list("shapes", ["28x28x1", "64x64x3"], "Example shapes HxWxC to time.")
flags.DEFINE_multi_string("net", ["strided_unet:32,64,128,256",
                                  "strided_unet:32,64,128,256:auto:full",
                                  "unet:32,64,128,256", "encoder_decoder:64,128,256,512"],
                          "A net to time (repeat the flag for more), architecture:filters"
                          "[:stride[:variant]]; the last one is the reference of the ratios.")
flags.DEFINE_integer("num_records", 2000, "Records per split for the pipeline test.")
flags.DEFINE_integer("steps", 30, "Timed steps per repeat.")
flags.DEFINE_integer("repeats", 5, "Repeats (the median is reported).")


def _rate(fn, samples_per_call, steps):
  start = time.perf_counter()
  for _ in range(steps):
    fn()
  return samples_per_call * steps / (time.perf_counter() - start)


def _median_rate(fn, samples_per_call, steps, repeats):
  fn()  # Warm-up (tracing, buffers).
  return float(np.median([_rate(fn, samples_per_call, steps) for _ in range(repeats)]))


def parse_shape(text):
  try:
    shape = [int(v) for v in text.lower().split("x")]
  except ValueError:
    shape = []
  if len(shape) != 3 or min(shape) < 1:
    sys.exit(f"--shapes: {text!r} is not HxWxC")
  return shape


def parse_net(text):
  """architecture:filters[:stride[:variant]], e.g. strided_unet:24,48,96,192:2:full."""
  architecture, _, rest = text.partition(":")
  filters, _, rest = rest.partition(":")
  stride, _, variant = rest.partition(":")
  if (architecture not in mask_nets.ARCHITECTURES or not filters
      or variant not in ("",) + strided_mask_unet.VARIANTS):
    sys.exit(f"--net: {text!r} is not architecture:filters[:stride[:variant]] with an "
             f"architecture of {mask_nets.ARCHITECTURES} and a variant of "
             f"{strided_mask_unet.VARIANTS}")
  return architecture, [int(f) for f in filters.split(",")], stride or "auto", variant or "auto"


def training_form(shape, architecture, stride, variant):
  """(policy, variant) the trainers build under --precision (e.g. "measured" on a CPU
  with bfloat16: mixed_bfloat16 and, for variant auto, the refined form)."""
  cfg = types.SimpleNamespace(precision=FLAGS.precision, architecture=architecture,
                              stride=stride, domain="image", unet_variant=variant)
  return nets.precision_policy(cfg, shape), nets.unet_variant(cfg, shape)


class Candidate:
  """One net at one shape: its compiled step, the pipeline feeding it, its inference."""

  def __init__(self, shape, architecture, filters, stride, variant, b_dir, x_dir):
    self.name = f"{architecture} {','.join(map(str, filters))}" + (
        f" stride {stride}" if stride != "auto" else "") + (
        f" {variant}" if variant != "auto" else "")
    self.policy, built = training_form(shape, architecture, stride, variant)
    if self.policy != "float32" or built != variant:
      self.name += f" ({self.policy}{', ' + built if built != variant else ''})"
    variant = built
    keras.mixed_precision.set_global_policy(self.policy)
    self.model = mask_nets.build_mask_net(architecture, filters,
                                          stride=stride if stride == "auto" else int(stride),
                                          variant=variant)
    self.model(tf.zeros([1] + shape))
    keras.mixed_precision.set_global_policy("float32")
    self.optimizer = keras.optimizers.Adam(FLAGS.learning_rate, beta_1=FLAGS.beta1)
    self.optimizer.build(self.model.trainable_variables)
    self.step = nes.make_train_step(self.model, self.optimizer, tf.distribute.get_strategy(),
                                    FLAGS.batch_size)
    self.pipeline = iter(mixtures.mixture_dataset(b_dir, x_dir, FLAGS.batch_size, seed=0))
    self.batch = next(self.pipeline)
    infer = precision.copy_with_policy(self.model, shape,
                                       precision.resolve(FLAGS.inference_precision))
    self.separate = nes.make_separate_fn(infer)
    self.big = tf.concat([self.batch[0]] * max(1, FLAGS.eval_batch_size // FLAGS.batch_size), 0)
    self.flops = forward_flops(self.model, shape)
    self.params = self.model.count_params()
    self.rates = {"step": [], "loop": [], "inference": []}
    for fn in (self.train_alone, self.train_loop, self.infer):
      fn()  # Warm-up (tracing, buffers).

  def train_alone(self):
    self.step(*self.batch)["l1"].numpy()

  def train_loop(self):
    # As the trainers' epoch loop: next batch from the pipeline, the step, the loss
    # kept on the device (read once at the end of the timed window).
    return self.step(*next(self.pipeline))["l1"]

  def infer(self):
    self.separate(self.big)[0].numpy()

  def time_once(self):
    self.rates["step"].append(_rate(self.train_alone, FLAGS.batch_size, FLAGS.steps))
    start = time.perf_counter()
    losses = [self.train_loop() for _ in range(FLAGS.steps)]
    float(losses[-1])
    self.rates["loop"].append(FLAGS.batch_size * FLAGS.steps / (time.perf_counter() - start))
    self.rates["inference"].append(_rate(self.infer, int(self.big.shape[0]),
                                         max(2, FLAGS.steps // 8)))

  def median(self, key):
    return float(np.median(self.rates[key]))


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
  shapes = [parse_shape(s) for s in FLAGS.shapes]
  nets = [parse_net(n) for n in FLAGS.net]
  peak = matmul_peak()
  peak_bf16 = matmul_peak(tf.bfloat16)
  rng = np.random.default_rng(0)
  print(f"batch {FLAGS.batch_size}, training {FLAGS.precision}, inference "
        f"{FLAGS.inference_precision} (batch {FLAGS.eval_batch_size}); medians of "
        f"{FLAGS.repeats} turns of {FLAGS.steps} steps; 4096x4096 matmul "
        f"{peak / 1e9:.0f} GFLOP/s float32, {peak_bf16 / 1e9:.0f} bfloat16")
  for shape in shapes:
    tmp = tempfile.mkdtemp()
    for key in ("b", "x"):
      tfrecords.write_split(os.path.join(tmp, key), {key: rng.uniform(
          size=[FLAGS.num_records] + shape).astype(np.float32)})
    b_dir, x_dir = os.path.join(tmp, "b"), os.path.join(tmp, "x")
    ds = iter(mixtures.mixture_dataset(b_dir, x_dir, FLAGS.batch_size, seed=0))
    pipeline = _median_rate(lambda: next(ds), FLAGS.batch_size, FLAGS.steps * 4, FLAGS.repeats)
    candidates = [Candidate(shape, *net, b_dir, x_dir) for net in nets]
    for _ in range(FLAGS.repeats):  # In turns, so that load changes hit every net alike.
      for candidate in candidates:
        candidate.time_once()
    reference = candidates[-1]
    print(f"\n{'x'.join(map(str, shape))}: input pipeline alone {pipeline:.0f} samples/s")
    print(f"| net | M params | GFLOP fwd | step alone /s | training loop /s | loop / step | "
          f"GFLOP/s (% f32 peak) | inference /s | loop vs {reference.name} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in candidates:
      step, loop, infer = c.median("step"), c.median("loop"), c.median("inference")
      achieved = 3 * c.flops * step
      print(f"| {c.name} | {c.params / 1e6:.2f} | {c.flops / 1e9:.3f} | {step:.1f} | {loop:.1f} "
            f"| {loop / step:.2f} | {achieved / 1e9:.0f} ({achieved / peak:.0%}) | {infer:.0f} | "
            f"{loop / reference.median('loop'):.2f}x |")
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"\npeak RSS {rss:.0f} MiB")


if __name__ == "__main__":
  app.run(main)
