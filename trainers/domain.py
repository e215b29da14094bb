"""The interface every trainer uses to reach its data: images or audio (--domain).

NES, the supervised bound, AM, LMM and NMF talk only to a Domain, so that one
trainer serves images (trainers/image_domain.py) and audio
(trainers/audio_domain.py, with its data preparation in audio_data.py and its
whole-track evaluation in audio_evaluation.py). trainers/domains.py picks the
subclass for --domain. A domain owns WORKDIR/data: the prepared record splits
b_train (clean B samples), y_train (training mixtures) and test.

Shapes: an "example" is what the mask net sees, `shape` = [H, W, C] (images:
pixels; audio: |STFT| patches [bins, patch_frames, 1]). NMF works on "rows":
non-negative vectors [n, values] (images: flattened pixels; audio: |STFT| frames).
"""

import abc
import math
import os

import numpy as np

from eggsep_tf.data import tfrecords
from eggsep_tf import workdir_layout
from eggsep_tf.trainers import workdir_checks


class Domain(abc.ABC):
  """Data, estimates, evaluation, summaries and export of one kind of signal.

  Attributes:
    name: "image" or "audio" (the --domain value).
    workdir: the run's folder.
    data_dir: WORKDIR/data once prepared.
    shape: the mask net's input shape [H, W, C] (set by prepare()).
    default_init_fraction: c of NES's x_0 = c * y when --init_fraction is unset.
    default_batch_norm_stats: what --batch_norm_stats=auto means here ("real":
      statistics of real mixtures; "synthetic": the moving averages of training).
    rows_need_wiener_mask: True where NMF's X rows become a mask on another
      representation (audio: |STFT| frames, masked on the complex STFT), so the
      X and B rows must add up to the mixture row.
    row_estimates: whether NMF's X rows are whole examples (images), which
      write_row_estimates keeps as a start for NES (--init=nmf).
    default_init: NES's start under --init=auto ("nmf" or "const").
    level_statistic: what adds over sources for --x_level ("mean" pixels, "power").
    default_x_level: what --x_level=auto means here ("match" or "off").
  """

  name = None
  default_batch_norm_stats = "synthetic"
  rows_need_wiener_mask = False
  row_estimates = False
  default_init = "const"
  level_statistic = "mean"
  default_x_level = "off"

  def __init__(self, workdir, cfg):
    """workdir: the run's folder; cfg: trainers/configs.Configs of the run."""
    self.workdir = workdir
    self.cfg = cfg
    self.run = cfg.run
    self.data_dir = workdir_layout.data_dir(workdir)
    self.shape = None

  def split_dir(self, name):
    """WORKDIR/data/<name>: the record split "b_train", "y_train" or "test"."""
    return os.path.join(self.data_dir, name)

  _split = split_dir

  @property
  def default_init_fraction(self):
    """c of x_0 = c * y without --init_fraction: --const_fraction unless a domain says."""
    return self.run.const_fraction

  # --- Data.

  @abc.abstractmethod
  def prepare(self):
    """Writes WORKDIR/data once (the chief); checks that kept data match the flags.

    Returns:
      The mask net's input shape [H, W, C] (also kept as self.shape).
    """

  @abc.abstractmethod
  def names(self):
    """(x name, b name): the short names of X and B in tables."""

  def steps_per_epoch(self):
    """Batches of --batch_size per epoch: one pass over the larger of B and Y."""
    count = max(tfrecords.read_spec(self._split("y_train"))["count"],
                tfrecords.read_spec(self._split("b_train"))["count"])
    return max(1, math.ceil(count / self.run.batch_size))

  def num_mixtures(self):
    """The number of training mixtures (records of y_train)."""
    return tfrecords.read_spec(self._split("y_train"))["count"]

  def estimate_bytes(self):
    """Disk taken by one set of X estimates (float32 records)."""
    spec = tfrecords.read_spec(self._split("y_train"))
    return spec["count"] * int(np.prod(spec["shape"])) * 4

  def check_estimates(self, split_dir):
    """Raises InputError unless split_dir holds one estimate per training mixture."""
    workdir_checks.check_estimates_match(self._split("y_train"), split_dir)

  # --- NES, supervised and AM training.

  @abc.abstractmethod
  def initial_estimates(self, out_dir, fraction):
    """Writes x_0 = fraction * y for every training mixture to the split out_dir."""

  @abc.abstractmethod
  def estimate(self, model, out_dir, shard=None):
    """Writes x = y - T(y) of every training mixture (or of shard (index, count))."""

  @abc.abstractmethod
  def real_mixture_batches(self, count, batch_size):
    """The first `count` training mixtures as mask-net input batches [n, H, W, C]."""

  @abc.abstractmethod
  def nes_dataset(self, x_dir, batch_size, seed, x_scale=1.0):
    """(b + x_scale * x_t, b) batches of mask-net inputs, b and x_t drawn independently."""

  @abc.abstractmethod
  def supervised_dataset(self, batch_size, seed):
    """(x + b, b) batches with the true X of the training mixtures."""

  @abc.abstractmethod
  def unpaired_dataset(self, batch_size, seed):
    """(mixture, B sample) batches drawn independently (Adversarial Masking)."""

  # --- NMF (rows of non-negative values).

  @abc.abstractmethod
  def rows(self, split):
    """Every example of "b_train" or "y_train" as rows [n, values] (float32, >= 0)."""

  @abc.abstractmethod
  def rows_description(self, split):
    """What the rows of `split` are, for messages ("--num_b B images")."""

  def write_row_estimates(self, x_rows, out_dir):
    """Writes NMF's X rows of the training mixtures as a split in NES's x_t format.

    Returns:
      True if written; False where rows are not whole examples (audio frames).
    """
    del x_rows, out_dir
    return False

  def rows_as_images(self, rows):
    """Rows as images [n, H, W, C] for summaries, or None where rows are no images."""
    del rows
    return None

  @abc.abstractmethod
  def evaluate_rows(self, separate_rows):
    """Scores a separation of rows on the test split.

    Args:
      separate_rows: v [n, values] -> (x [n, values], b [n, values]).

    Returns:
      (scores, examples) as evaluate().
    """

  # --- LMM.

  @abc.abstractmethod
  def lmm(self):
    """The domain's half of Latent Mixture Masking (interface: trainers/lmm.py)."""

  # --- Evaluation, summaries and export.

  @abc.abstractmethod
  def evaluate(self, model):
    """(scores, examples) of the mask net on the test split (examples may be None)."""

  @abc.abstractmethod
  def evaluate_const(self, fraction):
    """(scores, None) of x = fraction * y on the test split."""

  @abc.abstractmethod
  def evaluate_oracle(self):
    """Scores of the ideal mask on the test split (the ceiling of mask methods)."""

  @abc.abstractmethod
  def log(self, writer, step, prefix, scores, examples=None):
    """Writes scores (and examples) to TensorBoard under prefix."""

  @abc.abstractmethod
  def export_description(self):
    """What an export's metadata.json says about the separator (JSON-ready): domain,
    source names, shapes, STFT and chunk settings. Recorded in the run record so that
    a re-export (export/workdir_export.py) writes the same metadata."""

  @abc.abstractmethod
  def export(self, model, metadata):
    """Writes the separator of `model` to WORKDIR/export/NAME/VERSION; returns its path.

    metadata: export/separator_metadata.build() of export_description().
    """
