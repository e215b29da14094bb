"""The image domain's data preparation: WORKDIR/data/{b_train,y_train,test} from the
image flags (--data with --task classes or denoise, or the user's folders --b_data,
--y_data, --test_data), and the short names of X and B.
"""

import os

from absl import logging

from eggsep_tf.data import image_sources
from eggsep_tf.data import prepare
from eggsep_tf.data import tfrecords
from eggsep_tf import workdir_layout
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import workdir_checks

FLAGS = common_flags.FLAGS


def _split_sizes(limits):
  """--num_b/--num_y/--num_test, the ones left at their defaults shrunk to fit the source."""
  names = ("num_b", "num_y", "num_test")
  sizes, note = prepare.fit_split_sizes({n: FLAGS[n].value for n in names},
                                        {n for n in names if FLAGS[n].present}, limits)
  if note:
    logging.warning("%s", note)
  return sizes


def prepare_image_data(workdir):
  """Writes WORKDIR/data/{b_train,y_train,test} once; checks a kept one matches the flags.

  Returns (data_dir, spec of the test split).
  """
  data_dir = workdir_layout.data_dir(workdir)
  settings = common_flags.values(common_flags.DATA_FLAGS)
  settings_path = workdir_layout.data_settings(workdir)
  if not cluster.is_chief():
    cluster.wait_for(lambda: os.path.exists(settings_path), f"the chief to prepare {data_dir}")
  if prepare.splits_ready(data_dir):
    workdir_checks.check_same(json_files.read_json(settings_path, {}), settings, "data set",
                              settings_path)
    if cluster.is_chief() and not os.path.exists(settings_path):  # Killed before writing it.
      json_files.write_json(settings_path, settings)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  image_size = image_sources.parse_image_size(FLAGS.image_size)
  if FLAGS.b_data or FLAGS.y_data:
    logging.info("Preparing data from B %s, mixtures %s, test %s", FLAGS.b_data, FLAGS.y_data,
                 FLAGS.test_data)
    splits, description = prepare.folder_task(FLAGS.b_data, FLAGS.y_data, FLAGS.test_data,
                                              image_size, FLAGS.invert, _split_sizes,
                                              FLAGS.data_seed)
    os.makedirs(data_dir, exist_ok=True)
    counts = prepare.write_splits(data_dir, splits, description)
    json_files.write_json(settings_path, settings)
    logging.info("Wrote %s to %s", counts, data_dir)
    return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))
  logging.info("Preparing data from %s", FLAGS.data)
  images, labels = image_sources.load_source(FLAGS.data, invert=FLAGS.invert,
                                             tfds_data_dir=FLAGS.tfds_data_dir,
                                             image_size=image_size,
                                             pixel_scale=FLAGS.pixel_scale)
  if FLAGS.task == "classes":
    observed = prepare.parse_classes(FLAGS.observed, "observed")
    unobserved = prepare.parse_classes(FLAGS.unobserved, "unobserved")
    test_images = test_labels = None
    if FLAGS.test_data:
      test_images, test_labels = image_sources.load_source(
          FLAGS.test_data, split="test", invert=FLAGS.invert, tfds_data_dir=FLAGS.tfds_data_dir,
          image_size=image_size, pixel_scale=FLAGS.pixel_scale)
      if test_images.shape[1:] != images.shape[1:]:
        raise InputError(f"--test_data images are {test_images.shape[1:]}, --data images "
                         f"are {images.shape[1:]}; expected one size")
    sizes = _split_sizes(prepare.class_task_limits(labels, observed, unobserved, test_labels)
                         if labels is not None else [])
    splits = prepare.class_task_arrays(images, labels, observed, unobserved, sizes["num_b"],
                                       sizes["num_y"], sizes["num_test"], FLAGS.data_seed,
                                       test_images, test_labels)
    description = {"x": f"classes {FLAGS.unobserved}", "b": f"classes {FLAGS.observed}"}
  else:
    sizes = _split_sizes([(("num_b", "num_y", "num_test"), len(images))])
    splits = prepare.denoise_task_arrays(images, sizes["num_b"], sizes["num_y"],
                                         sizes["num_test"], FLAGS.noise_sigma, FLAGS.data_seed)
    description = {"x": f"noise sigma {FLAGS.noise_sigma}", "b": "clean images"}
  os.makedirs(data_dir, exist_ok=True)
  counts = prepare.write_splits(data_dir, splits, {**description, "source": FLAGS.data})
  json_files.write_json(settings_path, settings)
  logging.info("Wrote %s to %s", counts, data_dir)
  return data_dir, tfrecords.read_spec(os.path.join(data_dir, "test"))


def source_names():
  """Short names of X and B for tables."""
  if FLAGS.task == "denoise":
    return "noise", "clean"
  if FLAGS.b_data:  # The user's own folders: B is named after its folder.
    return "x", os.path.basename(os.path.normpath(FLAGS.b_data))
  return FLAGS.unobserved, FLAGS.observed
