r"""Runs the semi-supervised NMF baseline (Smaragdis et al. 2007) on images or audio.

  python -m trainers.nmf --flagfile=mnist_demo.flags
  python -m trainers.nmf --workdir=/tmp/run --data=mnist5k --nmf_bases=100
  python -m trainers.nmf --flagfile=speech_noise.flags --speech_dir=S --noise_dir=N

Images: rows are flattened non-negative pixels. Audio (--domain=audio): rows are
magnitude spectrogram frames (|STFT|, n_fft // 2 + 1 values); test tracks are
separated frame by frame with both bases fixed, the X magnitude becomes a
Wiener-style mask on the complex mixture STFT (mixture phase), and the inverse
STFT gives waveforms scored with BSS Eval like the NES rows.

1. Sparse NMF of the clean B images gives --nmf_bases bases W_b.
2. NMF of the training mixtures with W_b fixed learns as many X bases W_x.
3. Test mixtures are split with both W_b and W_x fixed (only the activations
   are fitted), so no test mixture informs the bases.
Writes the `nmf` row of WORKDIR/results.json/.md (with the seconds taken),
TensorBoard scalars and images under WORKDIR/tb/nmf, and in WORKDIR/nmf the
bases (w_b.npy, w_x.npy), objective histories and the X estimates of the
training mixtures (estimates/x, a record split like NES's x_t). Rerunning
skips finished stages. Takes about 1.5 min on 2 CPU cores for the MNIST
protocol at 28x28 with 200 iterations (12k B, 12k mixtures, 5k test).
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import estimates
from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf import nmf
from eggsep_tf import spectrogram
from eggsep_tf import results
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import domains
from eggsep_tf.trainers import runner

FLAGS = common_flags.FLAGS
NMF_FLAGS = common_flags.DATA_FLAGS + ["seed", "nmf_bases", "nmf_sparsity",
                                       "nmf_iterations", "nmf_wiener_mask"]


def _flat(images):
  return images.reshape(len(images), -1)


def _bases_image(w, shape, count=16):
  """The first `count` bases side by side, each scaled to its maximum: [1, H, n*W, C]."""
  w = w[:count] / np.maximum(w[:count].max(axis=1, keepdims=True), 1e-12)
  tiles = w.reshape((-1,) + tuple(shape))
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


def _check_bases_flag(count, pixels, what, clamp=False):
  """NMF with l bases needs at least l samples and l values per sample.

  Returns the bases to use: --nmf_bases, or with `clamp` (NES's own start, where the
  user did not ask for NMF) at most min(count, pixels).
  """
  if clamp and FLAGS.nmf_bases > min(count, pixels):
    logging.info("NMF: %d bases (--nmf_bases=%d is more than min(%s, pixels) = %d)",
                 min(count, pixels), FLAGS.nmf_bases, what, min(count, pixels))
    return min(count, pixels)
  if FLAGS.nmf_bases > min(count, pixels):
    raise InputError(f"--nmf_bases={FLAGS.nmf_bases}: at most min({what}, pixels per image) "
                     f"= min({count}, {pixels}); lower --nmf_bases or raise the count")
  return FLAGS.nmf_bases


def make_separate_fn(w_b, w_x):
  """y [batch, H, W, C] -> (x, b, mask) with both bases fixed (test mixtures).

  The mask is b / y, the B mask that gives b = y * mask (exact with the Wiener
  mask; descriptive otherwise).
  """

  def separate(mixture):
    y = np.asarray(mixture)
    sep = nmf.separate(_flat(y), w_b, w_x=w_x, learn_x_bases=False,
                       sparsity=FLAGS.nmf_sparsity, iterations=FLAGS.nmf_iterations,
                       seed=FLAGS.seed, wiener_mask=FLAGS.nmf_wiener_mask,
                       batch_size=FLAGS.nmf_batch_size)
    x, b = sep.x.reshape(y.shape), sep.b.reshape(y.shape)
    mask = np.clip(b / np.maximum(y, 1e-12), 0.0, 1.0)
    return x, b, mask

  return separate


def _audio_frames(domain, split, name):
  """|STFT| frames [rows, bins] of every patch of a split (magnitude patches as they are)."""
  rows = []
  ds = tfrecords.dataset(os.path.join(domain.data_dir, split), [name]).batch(256)
  for batch in ds:
    patches = batch[name]
    if domain.mixing == "waveform":
      patches = audio_patches.magnitude(patches, domain.stft)
    # [n, bins, frames, 1] -> [n * frames, bins]
    rows.append(tf.reshape(tf.transpose(patches[..., 0], [0, 2, 1]),
                           [-1, patches.shape[1]]).numpy())
  return np.concatenate(rows)


def run_audio(workdir):
  """NMF on magnitude spectrogram frames; the test rows come from whole-track BSS Eval."""
  domain = domains.make_domain(workdir)
  domain.prepare()
  runner.record_run(workdir, "nmf", NMF_FLAGS)
  x_name, b_name = domain.names()
  nmf_dir = os.path.join(workdir, "nmf")
  os.makedirs(nmf_dir, exist_ok=True)
  writer = runner.summary_writer(workdir, "nmf")
  settings = dict(sparsity=FLAGS.nmf_sparsity, iterations=FLAGS.nmf_iterations,
                  seed=FLAGS.seed, batch_size=FLAGS.nmf_batch_size)
  started = time.time()

  def fit():
    v_b = _audio_frames(domain, "b_train", "b")
    _check_bases_flag(*v_b.shape, "B spectrogram frames")
    logging.info("NMF: fitting %d bases to %d B frames", FLAGS.nmf_bases, len(v_b))
    w_b, history = nmf.fit_bases(v_b, FLAGS.nmf_bases, **settings)
    _log_history(writer, "fit_bases", history)
    return {"w_b": w_b, "history": history}

  w_b = _stage(os.path.join(nmf_dir, "w_b.npz"), fit)["w_b"]

  def learn_x():
    v_y = _audio_frames(domain, "y_train", "y")
    _check_bases_flag(*v_y.shape, "mixture spectrogram frames")
    logging.info("NMF: learning %d X bases from %d mixture frames", FLAGS.nmf_bases, len(v_y))
    sep = nmf.separate(v_y, w_b, FLAGS.nmf_bases, wiener_mask=FLAGS.nmf_wiener_mask,
                       **settings)
    _log_history(writer, "separate_train", sep.history)
    return {"w_x": sep.w_x, "history": sep.history}

  w_x = _stage(os.path.join(nmf_dir, "w_x.npz"), learn_x)["w_x"]
  stft = domain.stft

  def separate(y):
    spectrum = spectrogram.stft(tf.constant(y[np.newaxis]), stft.n_fft, stft.win_length,
                                stft.hop_length)[0]  # [frames, bins] complex
    v = np.abs(spectrum.numpy())
    sep = nmf.separate(v, w_b, w_x=w_x, learn_x_bases=False, wiener_mask=True, **settings)
    mask_x = np.clip(sep.x / np.maximum(v, 1e-12), 0.0, 1.0).astype(np.complex64)
    x = spectrogram.inverse_stft(spectrum * mask_x, len(y), stft.n_fft, stft.win_length,
                                 stft.hop_length).numpy()
    return x, y - x

  logging.info("NMF: separating the test tracks with fixed bases")
  scores = domain.evaluate_waveform_fn(separate)
  scores["seconds"] = time.time() - started
  results.update(workdir, "nmf", scores, x_name, b_name)
  domain.log(writer, FLAGS.nmf_iterations, "test/nmf", scores)
  logging.info("NMF: %s", ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))


def run():
  strategy_free = runner.make_strategy("default")  # NMF runs on one device.
  del strategy_free
  workdir = runner.setup_workdir("nmf", NMF_FLAGS)
  if FLAGS.domain == "audio":
    run_audio(workdir)
    return
  run_images(workdir)


def run_images(workdir, clamp_bases=False):
  """The image NMF run in `workdir` (checked by setup_workdir): bases, the training
  mixtures' X estimates (WORKDIR/nmf/estimates/x), the test row. trainers.nes calls
  it for its NMF start (--init=nmf without --init_workdir) with `clamp_bases`: fewer
  bases than --nmf_bases where the data have fewer samples or pixels."""
  data_dir, test_spec = runner.prepare_image_data(workdir)
  runner.record_run(workdir, "nmf", NMF_FLAGS)
  shape = test_spec["shape"]
  x_name, b_name = runner.source_names()
  nmf_dir = os.path.join(workdir, "nmf")
  os.makedirs(nmf_dir, exist_ok=True)
  writer = runner.summary_writer(workdir, "nmf")
  settings = dict(sparsity=FLAGS.nmf_sparsity, iterations=FLAGS.nmf_iterations,
                  seed=FLAGS.seed, batch_size=FLAGS.nmf_batch_size)
  started = time.time()

  def fit():
    v_b = _flat(tfrecords.read_all(os.path.join(data_dir, "b_train"), ["b"])["b"])
    bases = _check_bases_flag(*v_b.shape, "--num_b B images", clamp_bases)
    logging.info("NMF: fitting %d bases to %d B images of %d pixels", bases, *v_b.shape)
    w_b, history = nmf.fit_bases(v_b, bases, **settings)
    _log_history(writer, "fit_bases", history)
    return {"w_b": w_b, "history": history}

  fitted = _stage(os.path.join(nmf_dir, "w_b.npz"), fit)
  w_b = fitted["w_b"]
  logging.info("NMF: B bases fitted, objective %.4g -> %.4g", fitted["history"][0],
               fitted["history"][-1])

  def learn_x():
    y_train = tfrecords.read_all(os.path.join(data_dir, "y_train"), ["y"])
    bases = _check_bases_flag(*_flat(y_train["y"]).shape, "--num_y mixtures", clamp_bases)
    logging.info("NMF: learning %d X bases from %d mixtures", bases, len(y_train["y"]))
    sep = nmf.separate(_flat(y_train["y"]), w_b, bases,
                       wiener_mask=FLAGS.nmf_wiener_mask, **settings)
    # The training mixtures' X estimates, in NES's x_t format (a start for NES).
    tfrecords.write_split(os.path.join(nmf_dir, "estimates", "x"),
                          {"x": sep.x.reshape(y_train["y"].shape),
                           "index": y_train["index"]})
    _log_history(writer, "separate_train", sep.history)
    return {"w_x": sep.w_x, "history": sep.history}

  learned = _stage(os.path.join(nmf_dir, "w_x.npz"), learn_x)
  w_x = learned["w_x"]
  logging.info("NMF: X bases learned, objective %.4g -> %.4g", learned["history"][0],
               learned["history"][-1])
  train_seconds = time.time() - started

  logging.info("NMF: separating the test mixtures with fixed bases")
  started = time.time()
  scores, examples = estimates.evaluate_split(make_separate_fn(w_b, w_x),
                                              os.path.join(data_dir, "test"),
                                              FLAGS.eval_batch_size)
  # Seconds of this invocation (a resumed run counts only what it redid).
  scores["seconds"] = train_seconds + time.time() - started
  results.update(workdir, "nmf", scores, x_name, b_name)
  runner.log_scores(writer, FLAGS.nmf_iterations, "test/nmf", scores, examples)
  with writer.as_default(step=0):
    tf.summary.image("nmf/bases_b", _bases_image(w_b, shape))
    tf.summary.image("nmf/bases_x", _bases_image(w_x, shape))
  writer.flush()
  logging.info("NMF: PSNR X %.2f dB (SSIM %.3f), PSNR B %.2f dB, %.0f s", scores["psnr_x"],
               scores["ssim_x"], scores["psnr_b"], scores["seconds"])


if __name__ == "__main__":
  runner.start(run)
