"""Latent Mixture Masking on images: the image half of trainers/lmm.py.

trainers/lmm.py runs the method through a domain's LMM half, which
ImageDomain.lmm() returns: this class (trainers/lmm_audio.py is the audio one).
The generators make images of the data's shape; LM (generator outputs, paper
eq. 8) and LMM (mask G_B / (G_B + G_X) on y, eq. 10) are scored with PSNR/SSIM on
the test split from one latent fit per batch.
"""

from absl import logging
import numpy as np

from eggsep_tf.data import iteration
from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf import metrics
from eggsep_tf.glo_generator import GloGenerator
from eggsep_tf.trainers import lmm_fit


class ImageLmm:
  """The LMM half of an ImageDomain (see trainers/lmm.py for the interface)."""

  def __init__(self, domain):
    self.domain = domain
    self.shape = None

  def check_flags(self):
    """Nothing to refuse for images (--glo_output sigmoid or softplus both fit)."""

  def prepare(self, lmm_dir, loss_fn):
    """Called after domain.prepare(): the generators' shape is the data's.

    Returns:
      The reconstruction loss to fit with (loss_fn itself).
    """
    del lmm_dir
    self.shape = list(self.domain.shape)
    return loss_fn

  def make_generator(self, num_samples):
    cfg = self.domain.cfg.lmm
    g = GloGenerator(num_samples, self.shape, latent_dim=cfg.glo_latent_dim,
                     filters=cfg.generator_filters(), output_activation=cfg.glo_output)
    g.build()
    return g

  def batches(self, split, seed, batch_size, shard=None):
    """One shuffled pass over b_train or y_train as (index, image) batches."""
    return lmm_fit.indexed_batches(self.domain.split_dir(split), split[0], batch_size, seed,
                                   shard)

  def training_estimate_fn(self, g_b, g_x, z_b):
    """(index [n], y records [n, H, W, C]) -> LMM x estimates [n, H, W, C]."""
    separate = lmm.make_training_separate_fn(g_b, g_x, z_b)
    return lambda index, y: separate(index, y)[0]

  def evaluate_test(self, g_b, g_x, fit, num_examples=8):
    """LM and LMM scores over the test split from one latent fit per batch.

    Returns:
      ({"lm": scores, "lmm": scores}, {"lm": examples, "lmm": examples}) as in
      data.estimates.evaluate_split.
    """
    test_dir = self.domain.split_dir("test")
    spec = tfrecords.read_spec(test_dir)
    values = {m: {k: [] for k in ("psnr_x", "ssim_x", "psnr_b", "ssim_b")}
              for m in ("lm", "lmm")}
    examples = {}
    done = 0
    test = tfrecords.dataset(test_dir, ["y", "x", "b"]).batch(self.domain.run.eval_batch_size)
    for rec in iteration.elements(test):
      out = lmm.separate_both(g_b, g_x, fit, rec["y"])
      for method in ("lm", "lmm"):
        x, b = out[f"{method}_x"], out[f"{method}_b"]
        values[method]["psnr_x"].append(metrics.psnr(x, rec["x"]).numpy())
        values[method]["ssim_x"].append(metrics.ssim(x, rec["x"]).numpy())
        values[method]["psnr_b"].append(metrics.psnr(b, rec["b"]).numpy())
        values[method]["ssim_b"].append(metrics.ssim(b, rec["b"]).numpy())
        if method not in examples:
          shown = {"mixture": rec["y"], "x": x, "b": b, "mask": out["mask"],
                   "x_true": rec["x"], "b_true": rec["b"]}
          examples[method] = {k: np.asarray(v)[:num_examples] for k, v in shown.items()}
      done += len(rec["y"])
      logging.info("LMM test-time fit: %d/%d mixtures", done, spec["count"])
    scores = {m: {k: float(np.mean(np.concatenate(v))) for k, v in vals.items()}
              for m, vals in values.items()}
    return scores, examples

