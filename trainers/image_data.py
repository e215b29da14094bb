"""The image domain's data preparation: WORKDIR/data/{b_train,y_train,test} from the
image settings (trainers/configs.ImageDataConfig: --data with --task classes or
denoise, or the user's folders --b_data, --y_data, --test_data), and the short names
of X and B.
"""

import os

from absl import logging

from eggsep_tf.data import image_sources
from eggsep_tf.data import prepare
from eggsep_tf.data import tfrecords
from eggsep_tf import workdir_layout
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import workdir_checks

def _split_sizer(cfg):
  """limits -> --num_b/--num_y/--num_test, the ones left at their defaults shrunk to fit."""

  def sizes(limits):
    found, note = prepare.fit_split_sizes(
        {"num_b": cfg.num_b, "num_y": cfg.num_y, "num_test": cfg.num_test}, cfg.sizes_given,
        limits)
    if note:
      logging.warning("%s", note)
    return found

  return sizes


def prepare_image_data(workdir, cfg):
  """Writes WORKDIR/data/{b_train,y_train,test} once; checks a kept one matches the flags.

  Args:
    workdir: the run's folder.
    cfg: trainers/configs.ImageDataConfig.

  Returns (data_dir, spec of the test split).
  """
  data_dir = workdir_layout.data_dir(workdir)
  settings = cfg.settings
  split_sizes = _split_sizer(cfg)
  settings_path = workdir_layout.data_settings(workdir)
  if not cluster.is_chief():
    cluster.wait_for(lambda: os.path.exists(settings_path), f"the chief to prepare {data_dir}")
  if prepare.splits_ready(data_dir):
    workdir_checks.check_same(json_files.read_json(settings_path, {}), settings, "data set",
                              settings_path, workdir)
    if cluster.is_chief() and not os.path.exists(settings_path):  # Killed before writing it.
      json_files.write_json(settings_path, settings)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  image_size = image_sources.parse_image_size(cfg.image_size)
  if cfg.b_data or cfg.y_data:
    logging.info("Preparing data from B %s, mixtures %s, test %s", cfg.b_data, cfg.y_data,
                 cfg.test_data)
    splits, description = prepare.folder_task(cfg.b_data, cfg.y_data, cfg.test_data,
                                              image_size, cfg.invert, split_sizes,
                                              cfg.data_seed)
    os.makedirs(data_dir, exist_ok=True)
    counts = prepare.write_splits(data_dir, splits, description)
    json_files.write_json(settings_path, settings)
    logging.info("Wrote %s to %s", counts, data_dir)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  logging.info("Preparing data from %s", cfg.data)
  images, labels = image_sources.load_source(cfg.data, invert=cfg.invert,
                                             tfds_data_dir=cfg.tfds_data_dir,
                                             image_size=image_size,
                                             pixel_scale=cfg.pixel_scale)
  if cfg.task == "classes":
    observed = prepare.parse_classes(cfg.observed, "observed")
    unobserved = prepare.parse_classes(cfg.unobserved, "unobserved")
    test_images = test_labels = None
    if cfg.test_data:
      test_images, test_labels = image_sources.load_source(
          cfg.test_data, split="test", invert=cfg.invert, tfds_data_dir=cfg.tfds_data_dir,
          image_size=image_size, pixel_scale=cfg.pixel_scale)
      if test_images.shape[1:] != images.shape[1:]:
        raise InputError(f"--test_data images are {test_images.shape[1:]}, --data images "
                         f"are {images.shape[1:]}; expected one size")
    sizes = split_sizes(prepare.class_task_limits(labels, observed, unobserved, test_labels)
                         if labels is not None else [])
    splits = prepare.class_task_arrays(images, labels, observed, unobserved, sizes["num_b"],
                                       sizes["num_y"], sizes["num_test"], cfg.data_seed,
                                       test_images, test_labels)
    description = {"x": f"classes {cfg.unobserved}", "b": f"classes {cfg.observed}"}
  else:
    sizes = split_sizes([(("num_b", "num_y", "num_test"), len(images))])
    splits = prepare.denoise_task_arrays(images, sizes["num_b"], sizes["num_y"],
                                         sizes["num_test"], cfg.noise_sigma, cfg.data_seed)
    description = {"x": f"noise sigma {cfg.noise_sigma}", "b": "clean images"}
  os.makedirs(data_dir, exist_ok=True)
  counts = prepare.write_splits(data_dir, splits, {**description, "source": cfg.data})
  json_files.write_json(settings_path, settings)
  logging.info("Wrote %s to %s", counts, data_dir)
  return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))


def source_names(cfg):
  """Short names of X and B for tables (cfg: trainers/configs.ImageDataConfig)."""
  if cfg.task == "denoise":
    return "noise", "clean"
  if cfg.b_data:  # The user's own folders: B is named after its folder.
    return "x", os.path.basename(os.path.normpath(cfg.b_data))
  return cfg.unobserved, cfg.observed
