r"""The mask net (eggsep_tf/mask_unet.py) timed under Keras 3 on the JAX backend.

  KERAS_BACKEND=jax python3 bench/gpu_keras_jax.py                 # the full table (GPU)
  KERAS_BACKEND=jax python3 bench/gpu_keras_jax.py --quick \
      --configs=image --batches=2                                   # smoke test on CPU

Why JAX: the lent GPU machine has no TensorFlow and no network, and TensorFlow
with its CUDA libraries is far larger than what can be carried there. It does
have JAX with CUDA, so this script times the *same Keras network* (MaskUNet,
ConvBlock, FusedBatchNorm from eggsep_tf/) on Keras' JAX backend. It is not the
package's TF trainer (eggsep_tf/nes.make_train_step) and not TF's kernels.

How the package's modules are loaded without TensorFlow:
  * eggsep_tf/padding.py is written with tf ops. A module object named
    eggsep_tf.padding with keras.ops equivalents (static shapes) is placed in
    sys.modules before eggsep_tf.mask_unet is imported, so mask_unet's
    `from eggsep_tf import padding` gets these.
  * eggsep_tf/batch_norm.py does `import tensorflow as tf` at module top, but
    uses `tf` only after FusedBatchNorm._can_fuse has returned early for any
    backend other than "tensorflow"; under JAX every call goes to
    keras.layers.BatchNormalization.call. So while that one module is imported,
    sys.modules["tensorflow"] is a sentinel whose every attribute access raises,
    and it is removed again right after: if any TF path were taken, the run
    would fail loudly rather than measure something else.
  * ConvBlock builds its norms with synchronized=True, which Keras accepts on
    the TensorFlow backend only (elsewhere __init__ raises ValueError). On one
    device synchronized batch norm is plain batch norm (the ConvBlock docstring
    says so), so mask_unet's FusedBatchNorm name is pointed at a subclass that
    passes synchronized=False; nothing else about the layer changes.

What is timed, per configuration (input shape, batch) and precision policy:
  * training: one jitted step = forward (training=True, batch statistics and
    moving-average updates), loss mean(|y * m(y) - b|) in float32 (the NES
    objective, eggsep_tf/losses.masked_l1_per_example), gradients
    (jax.value_and_grad over model.stateless_call) and Adam
    (optimizer.stateless_apply), buffers donated;
  * inference: forward only, training=False, batch 256.
Samples/s are medians of --repeats timed repeats after warm-up; each repeat
runs enough steps to last about --target_s seconds and ends with
block_until_ready. TFLOP/s use forward FLOPs per example computed from the
layer shapes (2 * MACs of every convolution; checked against TF's profiler
counts, 0.287 GFLOP image / 4.736 GFLOP audio) with training counted as 3x
forward. Matmul peaks (8192^3) measured in the same run are printed beside.

Precisions: "float32" is the float32 policy with JAX's default matmul/conv
precision (on NVIDIA Ampere/Hopper XLA may then use TF32 tensor cores);
"float32-highest" is the same under jax.default_matmul_precision("highest")
(true float32 arithmetic); "mixed_bfloat16" is Keras' mixed_bfloat16 policy
(float32 variables, bfloat16 compute, mask head in float32).

On CPU (jax 0.11.2 and 0.12.0.1) the jitted bfloat16 inference forward gave NaN
masks at batch >= 2 (an XLA:CPU fusion problem, by the look of it: the same graph
eagerly gave none); the mask check below reports such a row as FAILED. Results
and the exact GPU command: bench/GPU_RESULTS.md.
"""

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
import types

os.environ.setdefault("KERAS_BACKEND", "jax")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402

if keras.backend.backend() != "jax":
  sys.exit(f"KERAS_BACKEND must be jax, got {keras.backend.backend()!r}")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


# --------------------------------------------------------------------------
# Loading eggsep_tf.mask_unet without TensorFlow.

def _pad_to_multiple(x, multiple):
  """keras.ops version of eggsep_tf.padding.pad_to_multiple (static shapes)."""
  height, width = int(x.shape[1]), int(x.shape[2])
  pad_h, pad_w = (-height) % multiple, (-width) % multiple
  if pad_h or pad_w:
    x = keras.ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
  return x, (height, width)


def _crop_to(x, size):
  """keras.ops version of eggsep_tf.padding.crop_to."""
  height, width = size
  return x[:, :height, :width, :]


class _NoTensorFlow(types.ModuleType):
  """Stands in for `tensorflow` while batch_norm.py is imported; any use raises."""

  def __getattr__(self, name):
    raise RuntimeError(f"tensorflow.{name} used in the JAX benchmark: a TF-only "
                       "path of eggsep_tf was taken; this measurement would be wrong")


def load_mask_unet():
  """Imports eggsep_tf.mask_unet with keras.ops padding and no TensorFlow."""
  if "tensorflow" in sys.modules and not isinstance(sys.modules["tensorflow"], _NoTensorFlow):
    sys.exit("TensorFlow is already imported; run this script without it")
  package = importlib.import_module("eggsep_tf")  # __init__ holds only a docstring/version
  padding = types.ModuleType("eggsep_tf.padding",
                             "keras.ops stand-in for eggsep_tf/padding.py (bench only)")
  padding.pad_to_multiple = _pad_to_multiple
  padding.crop_to = _crop_to
  sys.modules["eggsep_tf.padding"] = padding
  package.padding = padding
  sys.modules["tensorflow"] = _NoTensorFlow("tensorflow")
  try:
    batch_norm = importlib.import_module("eggsep_tf.batch_norm")
  finally:
    del sys.modules["tensorflow"]
  mask_unet = importlib.import_module("eggsep_tf.mask_unet")
  assert mask_unet.padding is padding, "mask_unet did not pick up the keras.ops padding"
  assert mask_unet.FusedBatchNorm is batch_norm.FusedBatchNorm

  class SingleDeviceFusedBatchNorm(batch_norm.FusedBatchNorm):
    """FusedBatchNorm with synchronized=False (one device: the same statistics)."""

    def __init__(self, synchronized=False, **kwargs):
      del synchronized
      super().__init__(synchronized=False, **kwargs)

  mask_unet.FusedBatchNorm = SingleDeviceFusedBatchNorm
  return mask_unet.MaskUNet


MaskUNet = load_mask_unet()


# --------------------------------------------------------------------------
# FLOPs.

def forward_flops(shape, filters, in_channels=1, out_channels=1):
  """2 * multiply-adds of every conv of MaskUNet for one example of `shape` (H, W)."""
  stride = 2 ** (len(filters) - 1)
  h = -(-shape[0] // stride) * stride
  w = -(-shape[1] // stride) * stride
  flops, c = 0, in_channels
  for level, f in enumerate(filters):  # encoder: two 3x3 convs per level
    pixels = (h >> level) * (w >> level)
    flops += 2 * pixels * 9 * (c * f + f * f)
    c = f
  for i, f in enumerate(filters[-2::-1]):  # decoder
    level = len(filters) - 2 - i
    pixels = (h >> level) * (w >> level)
    flops += 2 * (pixels // 4) * 4 * c * f  # 2x2 stride-2 transposed conv
    flops += 2 * pixels * 9 * (2 * f * f + f * f)  # concat(2f) -> f, then f -> f
    c = f
  flops += 2 * h * w * c * out_channels  # 1x1 sigmoid head
  return flops


TF_PROFILER_GFLOP = {"image": 0.287, "audio": 4.736}  # bench/RESULTS.md (CPU, TF profiler)


# --------------------------------------------------------------------------
# Timing.

def _timed(run_steps, n, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run_steps(n)
    times.append(time.perf_counter() - start)
  return times


def _calibrate(run_steps, target_s, max_steps):
  """Steps per repeat so that one repeat lasts about target_s."""
  n = 1
  while True:
    start = time.perf_counter()
    run_steps(n)
    elapsed = time.perf_counter() - start
    if elapsed >= target_s / 4 or n >= max_steps:
      break
    n = min(max_steps, n * 4)
  return max(1, min(max_steps, int(round(n * target_s / max(elapsed, 1e-9)))))


def _build(shape, filters, policy):
  keras.mixed_precision.set_global_policy(policy)
  try:
    model = MaskUNet(filters)
    # A subclassed model's sublayers get their variables on the first call
    # (model.build alone would leave them unbuilt), so call it once eagerly.
    model(np.zeros((1, *shape), np.float32), training=False)
  finally:
    keras.mixed_precision.set_global_policy("float32")
  # 4 levels: 14 convs, 14 batch norms (gamma, beta / moving mean, variance),
  # 3 transposed convs (kernel, bias), 1 head (kernel, bias).
  n_convs = 2 * (2 * len(filters) - 1)
  assert len(model.trainable_variables) == 3 * n_convs + 2 * (len(filters) - 1) + 2, (
      len(model.trainable_variables))
  assert len(model.non_trainable_variables) == 2 * n_convs
  return model


def _data(shape, batch, seed=0):
  rng = np.random.default_rng(seed)
  b = rng.uniform(0, 1, (batch, *shape)).astype(np.float32)
  x = rng.uniform(0, 1, (batch, *shape)).astype(np.float32)
  return jnp.asarray(b + x), jnp.asarray(b)


def time_training(shape, batch, filters, policy, precision, args):
  model = _build(shape, filters, policy)
  optimizer = keras.optimizers.Adam(learning_rate=1e-3)
  optimizer.build(model.trainable_variables)
  state = ([v.value for v in model.trainable_variables],
           [v.value for v in model.non_trainable_variables],
           [v.value for v in optimizer.variables])
  y, b = _data(shape, batch)

  def loss_fn(trainable, non_trainable, y, b):
    mask, non_trainable = model.stateless_call(trainable, non_trainable, y, training=True)
    estimate = y.astype(jnp.float32) * mask.astype(jnp.float32)
    return jnp.mean(jnp.abs(estimate - b.astype(jnp.float32))), non_trainable

  def step(trainable, non_trainable, opt_vars, y, b):
    (loss, non_trainable), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        trainable, non_trainable, y, b)
    trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
    return trainable, non_trainable, opt_vars, loss

  jitted = jax.jit(step, donate_argnums=(0, 1, 2))
  holder = {"state": state, "loss": None}

  def run_steps(n):
    with jax.default_matmul_precision(precision):
      t, nt, o = holder["state"]
      for _ in range(n):
        t, nt, o, loss = jitted(t, nt, o, y, b)
      holder["state"] = (t, nt, o)
      holder["loss"] = loss
      jax.block_until_ready((t, nt, o, loss))

  start = time.perf_counter()
  run_steps(1)
  compile_s = time.perf_counter() - start
  first_loss = float(holder["loss"])
  run_steps(args.warmup)
  n = _calibrate(run_steps, args.target_s, args.max_steps)
  times = _timed(run_steps, n, args.repeats)
  last_loss = float(holder["loss"])
  if not (np.isfinite(first_loss) and np.isfinite(last_loss)):
    raise FloatingPointError(f"loss not finite: {first_loss} -> {last_loss}")
  return {"steps": n, "times": times, "compile_s": compile_s,
          "loss_first": first_loss, "loss_last": last_loss}


def time_inference(shape, batch, filters, policy, precision, args):
  model = _build(shape, filters, policy)
  trainable = [v.value for v in model.trainable_variables]
  non_trainable = [v.value for v in model.non_trainable_variables]
  y, _ = _data(shape, batch)

  @jax.jit
  def forward(trainable, non_trainable, y):
    mask, _ = model.stateless_call(trainable, non_trainable, y, training=False)
    return mask

  holder = {}

  def run_steps(n):
    with jax.default_matmul_precision(precision):
      for _ in range(n):
        mask = forward(trainable, non_trainable, y)
      jax.block_until_ready(mask)
      holder["mask"] = mask

  start = time.perf_counter()
  run_steps(1)
  compile_s = time.perf_counter() - start
  run_steps(args.warmup)
  n = _calibrate(run_steps, args.target_s, args.max_steps)
  times = _timed(run_steps, n, args.repeats)
  mask = np.asarray(holder["mask"], np.float32)
  if not (mask.shape == (batch, *shape) and np.all((mask >= 0) & (mask <= 1))):
    raise ValueError(f"bad mask: shape {mask.shape}, range {mask.min()}..{mask.max()}")
  return {"steps": n, "times": times, "compile_s": compile_s}


def matmul_peak(dtype, precision, size, repeats):
  """TFLOP/s of a size^3 matmul (median of `repeats` timed runs of 10 products)."""
  key = jax.random.PRNGKey(0)
  a = jax.random.normal(key, (size, size), dtype)
  b = jax.random.normal(jax.random.fold_in(key, 1), (size, size), dtype)
  with jax.default_matmul_precision(precision):
    f = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(f(a, b))
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      for _ in range(10):
        c = f(a, b)
      jax.block_until_ready(c)
      times.append(time.perf_counter() - start)
  return 10 * 2 * size ** 3 / statistics.median(times) / 1e12


# --------------------------------------------------------------------------

CONFIGS = {"image": (28, 28, 1), "audio": (257, 64, 1)}
TRAIN_BATCHES = {"image": (32, 256), "audio": (16, 64)}
INFER_BATCH = 256
PRECISIONS = {  # name: (keras policy, jax default matmul/conv precision)
    "float32": ("float32", None),
    "float32-highest": ("float32", "highest"),
    "mixed_bfloat16": ("mixed_bfloat16", None),
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--configs", default="image,audio")
  parser.add_argument("--precisions", default="float32,float32-highest,mixed_bfloat16")
  parser.add_argument("--batches", default="",
                      help="Override every training and inference batch (e.g. 2 for a CPU smoke test).")
  parser.add_argument("--filters", default="32,64,128,256")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--warmup", type=int, default=3, help="Untimed steps after compilation.")
  parser.add_argument("--target_s", type=float, default=0.4, help="Seconds per timed repeat.")
  parser.add_argument("--max_steps", type=int, default=2000)
  parser.add_argument("--no_inference", action="store_true")
  parser.add_argument("--peak_size", type=int, default=8192, help="0: skip the matmul peaks.")
  parser.add_argument("--quick", action="store_true",
                      help="Tiny run: 2 repeats, 1 warm-up step, 0.05 s repeats, small matmul.")
  parser.add_argument("--json", default="", help="Also write the raw results here.")
  args = parser.parse_args()
  if args.quick:
    args.repeats, args.warmup, args.target_s, args.max_steps = 2, 1, 0.05, 3
    args.peak_size = min(args.peak_size, 512)
  filters = [int(f) for f in args.filters.split(",")]
  configs = [c for c in args.configs.split(",") if c]
  precisions = [p for p in args.precisions.split(",") if p]

  device = jax.devices()[0]
  print(f"python {platform.python_version()}, keras {keras.__version__} "
        f"(backend {keras.backend.backend()}), jax {jax.__version__}, numpy {np.__version__}")
  print(f"device: {device.platform} {getattr(device, 'device_kind', '?')} "
        f"({len(jax.devices())} device(s)); tensorflow imported: {'tensorflow' in sys.modules}")
  print(f"MaskUNet filters {filters}; repeats {args.repeats}, warm-up {args.warmup}, "
        f"~{args.target_s} s per repeat")

  gflop = {}
  for name in configs:
    gflop[name] = forward_flops(CONFIGS[name][:2], filters) / 1e9
    ref = TF_PROFILER_GFLOP.get(name) if filters == [32, 64, 128, 256] else None
    note = f" (TF profiler on CPU: {ref})" if ref else ""
    print(f"forward FLOPs per example, {name} {CONFIGS[name]}: {gflop[name]:.3f} GFLOP{note}")

  peaks = {}
  if args.peak_size:
    for label, dtype, prec in (("float32", jnp.float32, None),
                               ("float32-highest", jnp.float32, "highest"),
                               ("bfloat16", jnp.bfloat16, None)):
      peaks[label] = matmul_peak(dtype, prec, args.peak_size, args.repeats)
      print(f"matmul peak {args.peak_size}^3 {label}: {peaks[label]:.1f} TFLOP/s", flush=True)

  rows, raw = [], []
  jobs = []
  for name in configs:
    batches = TRAIN_BATCHES[name]
    infer_batch = INFER_BATCH
    if args.batches:
      batches = tuple(int(b) for b in args.batches.split(","))
      infer_batch = batches[-1]
    for prec_name in precisions:
      for batch in batches:
        jobs.append((name, "training", batch, prec_name))
    if not args.no_inference:
      for prec_name in precisions:
        jobs.append((name, "inference", infer_batch, prec_name))

  for name, path, batch, prec_name in jobs:
    policy, precision = PRECISIONS[prec_name]
    fn = time_training if path == "training" else time_inference
    try:
      result = fn(CONFIGS[name], batch, filters, policy, precision, args)
    except Exception as e:  # report and go on: one failure should not lose the rest
      print(f"FAILED {name} {path} batch {batch} {prec_name}: {type(e).__name__}: {e}", flush=True)
      raw.append({"config": name, "path": path, "batch": batch, "precision": prec_name,
                  "error": f"{type(e).__name__}: {e}"})
      continue
    per_sample = [t / (result["steps"] * batch) for t in result["times"]]
    samples_s = 1.0 / statistics.median(per_sample)
    spread = (min(per_sample) / max(per_sample)) if per_sample else 1.0
    factor = 3 if path == "training" else 1
    tflops = samples_s * gflop[name] * factor / 1e3
    peak_key = "bfloat16" if prec_name == "mixed_bfloat16" else prec_name
    share = f"{100 * tflops / peaks[peak_key]:.1f}%" if peak_key in peaks else "-"
    ms = 1e3 * batch / samples_s
    extra = (f", loss {result['loss_first']:.4f} -> {result['loss_last']:.4f}"
             if path == "training" else "")
    print(f"{name} {path} batch {batch} {prec_name}: {samples_s:.1f} samples/s, "
          f"{ms:.2f} ms/step, {tflops:.2f} TFLOP/s, {result['steps']} steps/repeat, "
          f"min/max {spread:.2f}, compile {result['compile_s']:.1f} s{extra}", flush=True)
    rows.append(f"| {name} {'x'.join(map(str, CONFIGS[name][:2]))} | {path} | {batch} | "
                f"{prec_name} | {samples_s:,.0f} | {ms:.2f} | {tflops:.2f} | {share} |")
    raw.append({"config": name, "path": path, "batch": batch, "precision": prec_name,
                "samples_per_s": samples_s, "ms_per_step": ms, "tflops": tflops, **result})

  print()
  print("| configuration | path | batch | precision | samples/s | ms/step | TFLOP/s | share of matmul peak |")
  print("|---|---|---|---|---|---|---|---|")
  for row in rows:
    print(row)
  if peaks:
    print()
    print("Matmul peaks in this run (" + f"{args.peak_size}^3, TFLOP/s): " +
          ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"device": str(getattr(device, "device_kind", device.platform)),
                 "jax": jax.__version__, "keras": keras.__version__, "filters": filters,
                 "gflop_forward": gflop, "peaks_tflops": peaks, "results": raw}, f, indent=1)
  if any("error" in r for r in raw):
    sys.exit(1)


if __name__ == "__main__":
  main()
