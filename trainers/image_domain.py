"""The image domain of the trainers: data, estimates, evaluation and export.

A trainers.domain.Domain: the mask net sees pixels [H, W, C], mixtures are sums of
images, and NMF sees each image as one row of pixels. Its data preparation is
trainers/image_data.py.
"""

import os

import numpy as np

from eggsep_tf.data import estimates
from eggsep_tf.data import iteration
from eggsep_tf.data import mixtures
from eggsep_tf.data import tfrecords
from eggsep_tf import metrics
from eggsep_tf import nes
from eggsep_tf import oracle
from eggsep_tf import precision
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.export import saved_model
from eggsep_tf.trainers import domain as domain_base
from eggsep_tf.trainers import gains
from eggsep_tf.trainers import image_data
from eggsep_tf.trainers import lmm_image
from eggsep_tf.trainers import summaries



class ImageDomain(domain_base.Domain):
  """Images: the mask net sees pixels; mixtures are sums of images."""

  name = "image"
  default_batch_norm_stats = "real"  # Statistics of real mixtures (--batch_norm_stats).
  row_estimates = True  # NMF's X rows are images: a start for NES.

  # NES level matching (--x_level): the statistic that adds over sources, and the default.
  level_statistic = "mean"
  # NES's start under --init=auto.
  default_init = "nmf"
  default_x_level = "off"

  @property
  def default_init_fraction(self):
    return 1.0  # x_0 = y: NES starts from the whole mixture.

  def prepare(self):
    self.data_dir, test_spec = image_data.prepare_image_data(self.workdir, self.cfg.image_data)
    self.shape = test_spec["shape"]
    return self.shape

  def names(self):
    return image_data.source_names(self.cfg.image_data)

  def initial_estimates(self, out_dir, fraction):
    estimates.estimate_split(nes.const_separate_fn(fraction), self._split("y_train"), out_dir,
                             self.run.eval_batch_size)

  def estimate(self, model, out_dir, shard=None):
    estimates.estimate_split(nes.make_separate_fn(model), self._split("y_train"), out_dir,
                             self.run.eval_batch_size, shard=shard)

  def real_mixture_batches(self, count, batch_size):
    """The first `count` training mixtures y as mask-net input batches."""
    ds = tfrecords.dataset(self._split("y_train"), ["y"]).take(count).batch(batch_size)
    return (rec["y"] for rec in iteration.elements(ds))

  def nes_dataset(self, x_dir, batch_size, seed, x_scale=1.0):
    return mixtures.mixture_dataset(self._split("b_train"), x_dir, batch_size, seed,
                                    x_scale=x_scale, **gains.gain_kwargs(self.run))

  def supervised_dataset(self, batch_size, seed):
    return mixtures.supervised_dataset(self._split("b_train"), self._split("y_train"),
                                       batch_size, seed, **gains.gain_kwargs(self.run))

  def unpaired_dataset(self, batch_size, seed):
    """(mixtures, B images) batches drawn independently (Adversarial Masking)."""
    return mixtures.unpaired_dataset(self._split("y_train"), self._split("b_train"),
                                     batch_size, seed)

  # --- NMF: one row of pixels per image.

  def rows(self, split):
    name = split[0]  # b_train -> "b", y_train -> "y".
    images = tfrecords.read_all(self._split(split), [name])[name]
    return images.reshape(len(images), -1)

  def rows_description(self, split):
    return {"b_train": "--num_b B images", "y_train": "--num_y mixtures"}[split]

  def write_row_estimates(self, x_rows, out_dir):
    """NMF's X estimates of the training mixtures, in NES's x_t format (a start for NES)."""
    index = tfrecords.read_all(self._split("y_train"), [])["index"]
    tfrecords.write_split(out_dir, {"x": x_rows.reshape([len(x_rows)] + list(self.shape)),
                                    "index": index})
    return True

  def rows_as_images(self, rows):
    return rows.reshape((-1,) + tuple(self.shape))

  def evaluate_rows(self, separate_rows):
    """PSNR/SSIM of rows separated image by image; the mask is b / y (exact with a
    Wiener mask, descriptive otherwise)."""

    def separate(mixture):
      y = np.asarray(mixture)
      x_rows, b_rows = separate_rows(y.reshape(len(y), -1))
      x, b = x_rows.reshape(y.shape), b_rows.reshape(y.shape)
      return x, b, np.clip(b / np.maximum(y, 1e-12), 0.0, 1.0)

    return estimates.evaluate_split(separate, self._split("test"), self.run.eval_batch_size)

  def lmm(self):
    return lmm_image.ImageLmm(self)

  # --- Evaluation, summaries and export.

  def evaluate(self, model):
    return estimates.evaluate_split(nes.make_separate_fn(model), self._split("test"),
                                    self.run.eval_batch_size)

  def evaluate_const(self, fraction):
    return estimates.evaluate_split(nes.const_separate_fn(fraction), self._split("test"),
                                    self.run.eval_batch_size)

  def evaluate_oracle(self):
    """Scores of the ideal mask b / y on the test split (the ceiling of mask methods)."""
    sums = {"psnr_x": [], "ssim_x": [], "psnr_b": [], "ssim_b": []}
    for rec in iteration.elements(tfrecords.dataset(self._split("test"), ["y", "x", "b"]).batch(
        self.run.eval_batch_size)):
      x, b, _ = oracle.ideal_image_separation(rec["y"], rec["b"])
      for name, estimate, reference in (("x", x, rec["x"]), ("b", b, rec["b"])):
        sums[f"psnr_{name}"].append(metrics.psnr(estimate, reference).numpy())
        sums[f"ssim_{name}"].append(metrics.ssim(estimate, reference).numpy())
    return {k: float(np.mean(np.concatenate(v))) for k, v in sums.items()}

  def log(self, writer, step, prefix, scores, examples=None):
    summaries.log_scores(writer, step, prefix, scores, examples)

  def export_description(self):
    x_name, b_name = self.names()
    return {"domain": "image", "image_shape": list(self.shape), "invert": self.run.invert,
            "precision": "float32", "observed": b_name, "unobserved": x_name}

  def export(self, model, metadata):
    return saved_model.export_image_separator(
        ImageSeparator(precision.float32_copy(model, self.shape)), self.shape[-1],
        os.path.join(self.workdir, "export"), self.run.model_name, metadata, invert=self.run.invert)
