"""The parts of LMM training that images and audio share: the GLO stages 1 and 2
(paper eqs. 5-6) over the one epoch loop, and the record batches they read.

trainers/lmm.py runs them; its domain halves trainers/lmm_image.py (images) and
trainers/lmm_audio.py (mel patches) use indexed_batches; no LMM module imports another
in a circle.
"""

import math
import os

import numpy as np
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import lmm
from eggsep_tf.errors import InputError
from eggsep_tf.latent_table import LatentTable
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import epoch_loop
from eggsep_tf.trainers import initializer_flags
from eggsep_tf.trainers.nets import adam

LMM_FLAGS = (common_flags.DATA_FLAGS + ["batch_size", "beta1", "seed"]
             + initializer_flags.LMM_FLAGS)
SHUFFLE_BUFFER = 4096


def indexed_batches(split_dir, name, batch_size, seed, shard=None):
  """One shuffled pass over a split as (index [batch], tensor [batch, ...]) batches.

  shard: (pipeline, pipelines) under multi_worker: the records whose index is
  pipeline modulo pipelines (disjoint whatever order the files are read in), repeated,
  so that a worker whose shard is one record shorter never runs out of batches
  before the others (an epoch is a number of steps); None or one pipeline: one pass.
  """
  ds = tfrecords.dataset(split_dir, [name], shuffle_files=True, seed=seed)
  sharded = shard is not None and shard[1] > 1
  if sharded:
    ds = ds.filter(lambda r: tf.equal(tf.cast(r["index"], tf.int64) % shard[1], shard[0]))
  # The codes are looked up by record index, so the index travels with each example.
  ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed).map(lambda r: (tf.cast(r["index"], tf.int32),
                                                            r[name]))
  if sharded:
    ds = ds.repeat()
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def check_indices(split_dir, count):
  """GLO tables are indexed by record index: they must be 0..count-1."""
  spec = tfrecords.read_spec(split_dir)
  if spec["count"] != count:
    raise InputError(f"{split_dir}: spec says {spec['count']} records, expected {count}")
  indices = np.concatenate([r["index"] for r in tfrecords.dataset(split_dir, [])
                            .batch(4096).as_numpy_iterator()])
  if indices.min() != 0 or indices.max() != count - 1 or len(np.unique(indices)) != count:
    raise InputError(f"{split_dir}: record indices are not 0..{count - 1}; rewrite the "
                     "split with data.prepare (use a new --workdir)")


def _worker_files(cfg, lmm_dir, stage):
  """run_epochs' ckpt_dir and chief for this worker (its own checkpoints apart)."""
  return {"ckpt_dir": cluster.private_dir(cfg.run.workdir, os.path.join(lmm_dir, stage, "ckpt")),
          "chief": cluster.is_chief()}


def fit_generators(cfg, lmm_dir, shape, num_b, num_y, loss_fn, writer, make_gen, b_batches,
                   y_batches, strategy=None):
  """Stages 1 and 2 (eqs. 5-6), resumable per epoch; images and audio alike.

  The generators, tables and optimizers are built under the strategy's scope (the
  tables become mirrored variables) and the steps run on every replica.

  Args:
    cfg: trainers/configs.Configs of the run (cfg.lmm, batch size, beta1).
    lmm_dir: WORKDIR/lmm (stage1/ and stage2/ hold checkpoints and state).
    shape: the generators' output shape [H, W, C].
    num_b, num_y: B samples and training mixtures (latent table sizes).
    loss_fn: reconstruction loss (lmm.make_reconstruction_loss).
    writer: TensorBoard writer.
    make_gen: (num_samples, shape) -> built GloGenerator.
    b_batches, y_batches: (epoch, batch size, shard) -> dataset of (record index,
      example) batches (the per-replica batch under a strategy; shard: this worker's
      (input pipeline, pipelines), see indexed_batches).
    strategy: the run's tf.distribute.Strategy (None: the default, one device).

  Returns:
    (g_b, g_x, z_b): G_B with its B latents, G_X with the mixtures' x latents, the
    mixtures' b latents.
  """
  strategy = strategy or tf.distribute.get_strategy()
  lcfg, batch_size, beta1 = cfg.lmm, cfg.run.batch_size, cfg.model.beta1
  # Stage 1 (eq. 5).
  with strategy.scope():
    g_b = make_gen(num_b, shape)
    opt = adam(lcfg.glo_learning_rate, beta1, g_b.decoder_variables)
    latent_opt = adam(lcfg.glo_latent_learning_rate, beta1,
                      g_b.latents.trainable_variables)
  step1 = lmm.make_stage1_step(g_b, opt, loss_fn, latent_opt, strategy=strategy)
  steps1 = math.ceil(num_b / batch_size)
  epoch_loop.run_epochs(
      os.path.join(lmm_dir, "stage1"), {"g_b": g_b, "opt": opt, "latent_opt": latent_opt},
      lambda batch: step1(*batch),
      lambda epoch, batch, pipeline: b_batches(epoch, batch, (pipeline, cluster.num_workers())),
      steps1, lcfg.lmm_stage1_epochs, writer, "lmm_stage1", batch_size, strategy=strategy,
      **_worker_files(cfg, lmm_dir, "stage1"))

  # Stage 2 (eq. 6): G_B frozen.
  with strategy.scope():
    g_x = make_gen(num_y, shape)
    z_b = LatentTable(num_y, lcfg.glo_latent_dim, name="z_b")
    z_b.build()
    opt2 = adam(lcfg.glo_learning_rate, beta1, g_x.decoder_variables)
    latent_opt2 = adam(lcfg.glo_latent_learning_rate, beta1,
                       g_x.latents.trainable_variables + z_b.trainable_variables)
  step2 = lmm.make_stage2_step(g_b, g_x, z_b, opt2, loss_fn, latent_opt2, strategy=strategy)
  steps2 = math.ceil(num_y / batch_size)
  epoch_loop.run_epochs(
      os.path.join(lmm_dir, "stage2"),
      {"g_x": g_x, "z_b": z_b, "opt": opt2, "latent_opt": latent_opt2},
      lambda batch: step2(*batch),
      lambda epoch, batch, pipeline: y_batches(epoch, batch, (pipeline, cluster.num_workers())),
      steps2, lcfg.lmm_stage2_epochs, writer, "lmm_stage2", batch_size,
      step_base=lcfg.lmm_stage1_epochs * steps1, strategy=strategy,
      **_worker_files(cfg, lmm_dir, "stage2"))
  return g_b, g_x, z_b
