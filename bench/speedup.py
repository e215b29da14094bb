r"""Before/after: the NES training step and re-estimation, old path vs new, in one run.

  python bench/speedup.py                       # image (28x28, batch 32) and audio (257x64, batch 16)
  python bench/speedup.py --configs=image --repeats=7

Every variant is built in the same process and timed in turns (variant A, B,
C, ... then again), so machine noise hits them alike; the table gives medians
over the repeats and each variant's speed as a ratio of the "before" row:

  before   model.fit (Keras' own training loop) on the same U-Net with Keras'
           BatchNormalization, float32: how the guide measured its starting
           point (231 samples/s at 32x32, 6.9 at 256x128, other load);
  loop     the trainers' custom step (nes.make_train_step), same model;
  fused    + fused batch-norm kernel (eggsep_tf/batch_norm.py), float32;
  bf16     + mixed bfloat16 (the default where the CPU has AVX512_BF16/AMX).

Re-estimation (inference, --eval_batch_size) is timed the same way for
before/after. Achieved GFLOP/s use the forward FLOPs counted by TF's profiler
(training ~3x forward) next to float32 and bfloat16 matmul peaks measured in
this run.
"""

import os
import sys
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import nes_speed  # noqa: E402  (forward_flops, matmul_peak; defines its flags)
from eggsep_tf import nes  # noqa: E402
from eggsep_tf.mask_unet import MaskUNet  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("configs", ["image", "audio"], "Which of image, audio, guide_image, "
                  "guide_audio (the guide's 32x32 and 256x128 at batch 64) to time.")
flags.DEFINE_integer("timed_steps", 0, "Training steps per timed turn (0: per config).")
flags.DEFINE_boolean("xla", False, "Also time the bf16 variants compiled with XLA.")

CONFIGS = {
    # name: (shape, batch, steps per turn)
    "image": ([28, 28, 1], 32, 60),
    "audio": ([257, 64, 1], 16, 6),
    "guide_image": ([32, 32, 1], 64, 10),
    "guide_audio": ([256, 128, 1], 64, 1),
}


def _model(shape, fused, policy):
  keras.mixed_precision.set_global_policy(policy)
  try:
    model = MaskUNet([int(f) for f in FLAGS.filters], fused_batch_norm=fused)
    model(tf.zeros([1] + shape))
  finally:
    keras.mixed_precision.set_global_policy("float32")
  return model


class MaskProduct(keras.Model):
  """y * m(y): lets model.fit train the mask net with a plain L1 loss, as the guide did."""

  def __init__(self, mask_model):
    super().__init__(name="mask_product")
    self.mask_model = mask_model

  def call(self, y, training=None):
    return y * self.mask_model(y, training=training)


def _fit_step(shape, mixture, target, steps):
  model = MaskProduct(_model(shape, fused=False, policy="float32"))
  model.compile(keras.optimizers.Adam(1e-3), loss="mae")
  data = tf.data.Dataset.from_tensors((mixture, target)).repeat()
  model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # Builds and compiles.
  return lambda: model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)


def _loop_step(shape, mixture, target, steps, fused, policy, xla=False):
  model = _model(shape, fused, policy)
  optimizer = keras.optimizers.Adam(1e-3)
  optimizer.build(model.trainable_variables)
  step = nes.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                             int(mixture.shape[0]), jit_compile=xla)

  def run():
    for _ in range(steps):
      loss = step(mixture, target)["l1"]
    return loss.numpy()
  return run


def _infer(shape, big, fused, policy, xla=False):
  separate = nes.make_separate_fn(_model(shape, fused, policy), jit_compile=xla)
  return lambda: separate(big)[0].numpy()


def _time_in_turns(fns, repeats):
  for fn in fns.values():
    fn()  # Warm-up: tracing, oneDNN primitive caches.
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - start)
  return {name: float(np.median(t)) for name, t in times.items()}


def run_config(name, peaks):
  shape, batch, steps = CONFIGS[name]
  steps = FLAGS.timed_steps or steps
  rng = np.random.default_rng(0)
  mixture = tf.constant(rng.uniform(size=[batch] + shape).astype(np.float32))
  target = mixture * tf.constant(rng.uniform(size=[batch] + shape).astype(np.float32))
  train = {
      "before": _fit_step(shape, mixture, target, steps),
      "loop": _loop_step(shape, mixture, target, steps, False, "float32"),
      "fused": _loop_step(shape, mixture, target, steps, True, "float32"),
      "bf16": _loop_step(shape, mixture, target, steps, True, "mixed_bfloat16"),
  }
  big = tf.concat([mixture] * max(1, FLAGS.eval_batch_size // batch), 0)
  infer = {
      "before": _infer(shape, big, False, "float32"),
      "fused": _infer(shape, big, True, "float32"),
      "bf16": _infer(shape, big, True, "mixed_bfloat16"),
  }
  if FLAGS.xla:
    train["bf16+xla"] = _loop_step(shape, mixture, target, steps, True, "mixed_bfloat16", True)
    infer["bf16+xla"] = _infer(shape, big, True, "mixed_bfloat16", True)
  train = _time_in_turns(train, FLAGS.repeats)
  infer = _time_in_turns(infer, FLAGS.repeats)
  flops = nes_speed.forward_flops(_model(shape, True, "float32"), shape)
  label = f"{name} {shape[0]}x{shape[1]}, batch {batch}"
  rows = []
  for variant, seconds in train.items():
    rate = batch * steps / seconds
    peak = peaks["bfloat16" if variant.startswith("bf16") else "float32"]
    rows.append((label, "training", variant, rate, rate / (batch * steps / train["before"]),
                 3 * flops * rate / 1e9, 3 * flops * rate / peak))
  for variant, seconds in infer.items():
    rate = int(big.shape[0]) / seconds
    peak = peaks["bfloat16" if variant.startswith("bf16") else "float32"]
    rows.append((label, f"re-estimation (batch {int(big.shape[0])})", variant, rate,
                 rate / (int(big.shape[0]) / infer["before"]), flops * rate / 1e9,
                 flops * rate / peak))
  return flops, rows


def main(argv):
  del argv
  for name in FLAGS.configs:
    if name not in CONFIGS:
      raise app.UsageError(f"--configs: {name!r} is not one of {', '.join(CONFIGS)}")
  peaks = {"float32": nes_speed.matmul_peak(tf.float32),
           "bfloat16": nes_speed.matmul_peak(tf.bfloat16)}
  print(f"4096x4096 matmul peak (median of 5): float32 {peaks['float32'] / 1e9:.0f} GFLOP/s, "
        f"bfloat16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s; filters {','.join(FLAGS.filters)}; "
        f"medians of {FLAGS.repeats} turns")
  print("| configuration | path | variant | samples/s | x before | GFLOP/s | share of peak |")
  print("|---|---|---|---|---|---|---|")
  for name in FLAGS.configs:
    flops, rows = run_config(name, peaks)
    for label, path, variant, rate, ratio, gflops, share in rows:
      print(f"| {label} ({flops / 1e9:.3f} GFLOP fwd) | {path} | {variant} | {rate:.1f} | "
            f"{ratio:.2f} | {gflops:.0f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
  app.run(main)
