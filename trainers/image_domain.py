"""The image domain of the trainers: data, estimates, evaluation and export.

The NES and supervised trainers talk to a domain object with this interface,
so that images and audio share one training loop:
  prepare() -> example shape [H, W, C] of the mask net's input
  names() -> (x name, b name) for tables
  initial_estimates(out_dir, fraction); estimate(model, out_dir, shard=None)
  nes_dataset(x_dir, batch_size, seed); supervised_dataset(batch_size, seed);
  unpaired_dataset(batch_size, seed) (trainers.am); steps_per_epoch(); estimate_bytes()
  evaluate(model) -> (scores, examples); log(writer, step, prefix, scores, examples)
  export(model, metadata) -> exported version folder
"""

import math
import os

import numpy as np

from eggsep_tf.data import estimates
from eggsep_tf.data import mixtures
from eggsep_tf.data import tfrecords
from eggsep_tf import metrics
from eggsep_tf import nes
from eggsep_tf import oracle
from eggsep_tf import precision
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.export import saved_model
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import gains
from eggsep_tf.trainers import runner

FLAGS = common_flags.FLAGS


class ImageDomain:
  """Images: the mask net sees pixels; mixtures are sums of images."""

  name = "image"

  # NES level matching (--x_level): the statistic that adds over sources, and the default.
  level_statistic = "mean"
  # NES's start under --init=auto.
  default_init = "nmf"
  default_x_level = "off"

  def __init__(self, workdir):
    self.workdir = workdir
    self.data_dir = None
    self.shape = None

  def _split(self, name):
    return os.path.join(self.data_dir, name)

  def prepare(self):
    self.data_dir, test_spec = runner.prepare_image_data(self.workdir)
    self.shape = test_spec["shape"]
    return self.shape

  def names(self):
    return runner.source_names()

  def steps_per_epoch(self):
    count = max(tfrecords.read_spec(self._split("y_train"))["count"],
                tfrecords.read_spec(self._split("b_train"))["count"])
    return max(1, math.ceil(count / FLAGS.batch_size))

  def num_mixtures(self):
    return tfrecords.read_spec(self._split("y_train"))["count"]

  def estimate_bytes(self):
    """Disk taken by one set of X estimates (float32 records)."""
    spec = tfrecords.read_spec(self._split("y_train"))
    return spec["count"] * int(np.prod(spec["shape"])) * 4

  def initial_estimates(self, out_dir, fraction):
    estimates.estimate_split(nes.const_separate_fn(fraction), self._split("y_train"), out_dir,
                             FLAGS.eval_batch_size)

  def estimate(self, model, out_dir, shard=None):
    estimates.estimate_split(nes.make_separate_fn(model), self._split("y_train"), out_dir,
                             FLAGS.eval_batch_size, shard=shard)

  def real_mixture_batches(self, count, batch_size):
    """The first `count` training mixtures y as mask-net input batches."""
    ds = tfrecords.dataset(self._split("y_train"), ["y"]).take(count).batch(batch_size)
    return (rec["y"] for rec in ds)

  def nes_dataset(self, x_dir, batch_size, seed, x_scale=1.0):
    return mixtures.mixture_dataset(self._split("b_train"), x_dir, batch_size, seed,
                                    x_scale=x_scale, **gains.gain_kwargs())

  def supervised_dataset(self, batch_size, seed):
    return mixtures.supervised_dataset(self._split("b_train"), self._split("y_train"),
                                       batch_size, seed, **gains.gain_kwargs())

  def unpaired_dataset(self, batch_size, seed):
    """(mixtures, B images) batches drawn independently (Adversarial Masking)."""
    return mixtures.unpaired_dataset(self._split("y_train"), self._split("b_train"),
                                     batch_size, seed)

  def evaluate(self, model):
    return estimates.evaluate_split(nes.make_separate_fn(model), self._split("test"),
                                    FLAGS.eval_batch_size)

  def evaluate_const(self, fraction):
    return estimates.evaluate_split(nes.const_separate_fn(fraction), self._split("test"),
                                    FLAGS.eval_batch_size)

  def evaluate_oracle(self):
    """Scores of the ideal mask b / y on the test split (the ceiling of mask methods)."""
    sums = {"psnr_x": [], "ssim_x": [], "psnr_b": [], "ssim_b": []}
    for rec in tfrecords.dataset(self._split("test"), ["y", "x", "b"]).batch(
        FLAGS.eval_batch_size):
      x, b, _ = oracle.ideal_image_separation(rec["y"], rec["b"])
      for name, estimate, reference in (("x", x, rec["x"]), ("b", b, rec["b"])):
        sums[f"psnr_{name}"].append(metrics.psnr(estimate, reference).numpy())
        sums[f"ssim_{name}"].append(metrics.ssim(estimate, reference).numpy())
    return {k: float(np.mean(np.concatenate(v))) for k, v in sums.items()}

  def log(self, writer, step, prefix, scores, examples=None):
    runner.log_scores(writer, step, prefix, scores, examples)

  def check_estimates(self, split_dir):
    """Raises InputError unless split_dir holds one estimate per training mixture."""
    runner.check_estimates_match(self._split("y_train"), split_dir)

  def export(self, model, metadata):
    metadata = {"domain": "image", "image_shape": self.shape, "invert": FLAGS.invert,
                "precision": "float32", **metadata}
    return saved_model.export_image_separator(
        ImageSeparator(precision.float32_copy(model, self.shape)), self.shape[-1], os.path.join(self.workdir, "export"),
        FLAGS.model_name, metadata, invert=FLAGS.invert)
