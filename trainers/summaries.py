"""TensorBoard for the trainers: one writer per method, made at first use, and the
test scores and example images each evaluation logs; the log lines that show scores
and the results table."""


import os

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf import workdir_layout
from eggsep_tf.trainers import cluster


class _LazyWriter:
  """A tf.summary file writer made at its first use, so that a run with nothing left
  to do (a finished run rerun) writes no events file."""

  def __init__(self, logdir):
    self.logdir = logdir
    self._writer = None

  def _get(self):
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self.logdir)
    return self._writer

  def as_default(self, step=None):
    return self._get().as_default(step=step)

  def flush(self):
    if self._writer is not None:
      self._writer.flush()


def summary_writer(workdir, name):
  """TensorBoard writer for WORKDIR/tb/NAME (made at its first use); a no-op writer on
  non-chief workers."""
  if not cluster.is_chief():
    return tf.summary.create_noop_writer()
  return _LazyWriter(workdir_layout.tensorboard_dir(workdir, name))


def image_grid(examples):
  """One picture: a row per example, columns mixture/2, x, b, mask, x_true, b_true."""
  columns = [examples["mixture"] / 2.0, examples["x"], examples["b"], examples["mask"],
             examples["x_true"], examples["b_true"]]
  rows = np.concatenate([np.clip(c, 0, 1) for c in columns], axis=2)  # [n, H, 6W, C]
  return rows.reshape((1, -1) + rows.shape[2:])


def log_scores(writer, step, prefix, scores, examples=None):
  with writer.as_default(step=step):
    for k, v in scores.items():
      tf.summary.scalar(f"{prefix}/{k}", v)
    if examples is not None:
      tf.summary.image(f"{prefix}/mixture_x_b_mask_xtrue_btrue", image_grid(examples))
  writer.flush()


def describe(scores):
  """A log line's text for a method's test scores (images: PSNR/SSIM; audio: BSS Eval)."""
  if "psnr_x" in scores:
    line = (f"PSNR X {scores['psnr_x']:.2f} dB (SSIM {scores['ssim_x']:.3f}), "
            f"PSNR B {scores['psnr_b']:.2f} dB")
    return line + (f", {scores['seconds']:.0f} s" if "seconds" in scores else "")
  return ", ".join(f"{k} {v:.3f}" for k, v in scores.items())


def log_results_table(workdir):
  """Logs WORKDIR/results.md, the run's table of every method's scores, if it exists."""
  path = workdir_layout.results_md(workdir)
  if os.path.exists(path):
    with open(path) as f:
      logging.info("Results (%s):\n%s", path, f.read())
