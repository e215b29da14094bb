r"""Runs the semi-supervised NMF baseline (Smaragdis et al. 2007) on images or audio.

(The trainer's half of NMF; the method's pure half is eggsep_tf/nmf.py.)

  python -m trainers.nmf --flagfile=mnist_demo.flags
  python -m trainers.nmf --workdir=/tmp/run --data=mnist5k --nmf_bases=100
  python -m trainers.nmf --flagfile=speech_noise.flags --speech_dir=S --noise_dir=N

NMF reaches its data through the domain (trainers/domain.py) as rows of
non-negative values. Images: rows are flattened pixels. Audio (--domain=audio):
rows are magnitude spectrogram frames (|STFT|, n_fft // 2 + 1 values); test
tracks are separated frame by frame with both bases fixed, the X magnitude
becomes a Wiener-style mask on the complex mixture STFT (mixture phase), and the
inverse STFT gives waveforms scored with BSS Eval like the NES rows.

1. Sparse NMF of the clean B images gives --nmf_bases bases W_b.
2. NMF of the training mixtures with W_b fixed learns as many X bases W_x.
3. Test mixtures are split with both W_b and W_x fixed (only the activations
   are fitted), so no test mixture informs the bases.
Writes the `nmf` row of WORKDIR/results.json/.md (with the seconds taken),
TensorBoard scalars and images under WORKDIR/tb/nmf, and in WORKDIR/nmf the
bases (w_b.npy, w_x.npy), objective histories and the X estimates of the
training mixtures (images: estimates/x, a record split like NES's x_t). Rerunning
skips finished stages. Takes about 1.5 min on 2 CPU cores for the MNIST
protocol at 28x28 with 200 iterations (12k B, 12k mixtures, 5k test).
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf import nmf
from eggsep_tf import results
from eggsep_tf import workdir_layout
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import configs
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import summaries

NMF_FLAGS = common_flags.DATA_FLAGS + ["seed", "nmf_bases", "nmf_sparsity",
                                       "nmf_iterations", "nmf_wiener_mask"]


def _bases_image(tiles, count=16):
  """The first `count` bases [n, H, W, C] side by side, each scaled to its maximum:
  [1, H, n*W, C]."""
  tiles = tiles[:count]
  peak = tiles.reshape(len(tiles), -1).max(axis=1)
  tiles = tiles / np.maximum(peak, 1e-12).reshape((-1,) + (1,) * (tiles.ndim - 1))
  return np.concatenate(list(tiles), axis=1)[None]


def _log_history(writer, name, history):
  with writer.as_default():
    for i, value in enumerate(history):
      tf.summary.scalar(f"nmf/{name}_objective", value, step=i)


def _stage(path, compute):
  """Loads path (.npz) if a previous run finished this stage, else computes and saves."""
  if os.path.exists(path):
    with np.load(path) as saved:
      return {k: saved[k] for k in saved.files}
  out = compute()
  np.savez(path + ".tmp.npz", **out)
  os.replace(path + ".tmp.npz", path)
  return out


def _check_bases_flag(requested, count, values, what, clamp=False):
  """NMF with l bases needs at least l rows and l values per row.

  Returns the bases to use: --nmf_bases, or with `clamp` (NES's own start, where the
  user did not ask for NMF) at most min(count, values).
  """
  if clamp and requested > min(count, values):
    logging.info("NMF: %d bases (--nmf_bases=%d is more than min(%s, values per row) = %d)",
                 min(count, values), requested, what, min(count, values))
    return min(count, values)
  if requested > min(count, values):
    raise InputError(f"--nmf_bases={requested}: at most min({what}, values per row) "
                     f"= min({count}, {values}); lower --nmf_bases or raise the count")
  return requested


def make_separate_rows(w_b, w_x, settings, wiener_mask):
  """v [n, values] -> (x, b) rows with both bases fixed (test mixtures)."""

  def separate(v):
    sep = nmf.separate(v, w_b, w_x=w_x, learn_x_bases=False, wiener_mask=wiener_mask,
                       **settings)
    return sep.x, sep.b

  return separate


def run():
  cluster.make_strategy("default")  # NMF runs on one device, as a single worker.
  cfg = configs.from_flags()  # The flags, mapped once.
  run_in(runner.setup_workdir(cfg, "nmf", NMF_FLAGS), cfg)


def run_in(workdir, cfg, domain=None, clamp_bases=False):
  """The NMF run in `workdir` (checked by setup_workdir): bases, the training mixtures'
  X estimates where the domain keeps them (images: WORKDIR/nmf/estimates/x), the test
  row. trainers.nes calls it for its NMF start (--init=nmf without --init_workdir) with
  its domain and `clamp_bases`: fewer bases than --nmf_bases where the data have fewer
  rows or values. cfg: trainers/configs.Configs (cfg.nmf the NMF settings)."""
  domain = domain or domains.make_domain(workdir, cfg)
  ncfg = cfg.nmf
  domain.prepare()
  runner.record_run(cfg, workdir, "nmf", NMF_FLAGS)
  x_name, b_name = domain.names()
  nmf_dir = workdir_layout.method_dir(workdir, "nmf")
  os.makedirs(nmf_dir, exist_ok=True)
  writer = runner.summary_writer(workdir, "nmf")
  settings = dict(sparsity=ncfg.nmf_sparsity, iterations=ncfg.nmf_iterations,
                  seed=cfg.run.seed, batch_size=ncfg.nmf_batch_size)
  started = time.time()

  def fit():
    v_b = domain.rows("b_train")
    bases = _check_bases_flag(ncfg.nmf_bases, *v_b.shape, domain.rows_description("b_train"),
                              clamp_bases)
    logging.info("NMF: fitting %d bases to %d B rows of %d values", bases, *v_b.shape)
    w_b, history = nmf.fit_bases(v_b, bases, **settings)
    _log_history(writer, "fit_bases", history)
    return {"w_b": w_b, "history": history}

  fitted = _stage(os.path.join(nmf_dir, "w_b.npz"), fit)
  w_b = fitted["w_b"]
  logging.info("NMF: B bases fitted, objective %.4g -> %.4g", fitted["history"][0],
               fitted["history"][-1])

  def learn_x():
    v_y = domain.rows("y_train")
    bases = _check_bases_flag(ncfg.nmf_bases, *v_y.shape, domain.rows_description("y_train"),
                              clamp_bases)
    logging.info("NMF: learning %d X bases from %d mixture rows", bases, len(v_y))
    sep = nmf.separate(v_y, w_b, bases, wiener_mask=ncfg.nmf_wiener_mask, **settings)
    domain.write_row_estimates(sep.x, workdir_layout.method_estimates(workdir, "nmf"))
    _log_history(writer, "separate_train", sep.history)
    return {"w_x": sep.w_x, "history": sep.history}

  learned = _stage(os.path.join(nmf_dir, "w_x.npz"), learn_x)
  w_x = learned["w_x"]
  logging.info("NMF: X bases learned, objective %.4g -> %.4g", learned["history"][0],
               learned["history"][-1])

  logging.info("NMF: separating the test mixtures with fixed bases")
  wiener = ncfg.nmf_wiener_mask or domain.rows_need_wiener_mask
  scores, examples = domain.evaluate_rows(make_separate_rows(w_b, w_x, settings, wiener))
  # Seconds of this invocation (a resumed run counts only what it redid).
  scores["seconds"] = time.time() - started
  results.update(workdir, "nmf", scores, x_name, b_name)
  domain.log(writer, ncfg.nmf_iterations, "test/nmf", scores, examples)
  images = [domain.rows_as_images(w) for w in (w_b, w_x)]
  if images[0] is not None:
    with writer.as_default(step=0):
      tf.summary.image("nmf/bases_b", _bases_image(images[0]))
      tf.summary.image("nmf/bases_x", _bases_image(images[1]))
    writer.flush()
  logging.info("NMF: %s", summaries.describe(scores))


if __name__ == "__main__":
  runner.start(run)
