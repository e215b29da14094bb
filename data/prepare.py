"""Builds the semi-supervised splits and writes them as record splits.

Class task (paper section 4.1): B = images of the observed class group, X =
images of the unobserved group. Three disjoint draws:
  b_train  clean B samples (the only supervision NES gets)          {"b"}
  y_train  mixtures y = x + b, b disjoint from b_train              {"y", "x", "b"}
  test     test mixtures with their references                      {"y", "x", "b"}
The references x, b of y_train are never read by NES; the supervised upper
bound trains on them.

Denoise task: B = clean images, X = Gaussian noise clamped to be non-negative.

Folder task (the user's own images): B = a folder of clean B images, Y = a
folder of real mixtures (no references), test = a folder with mixture/, x/, b/.
"""

import os

import numpy as np

from eggsep_tf.data import image_files
from eggsep_tf.data import tfrecords
from eggsep_tf.errors import InputError

SPLITS = ("b_train", "y_train", "test")


def parse_classes(text, flag_name="classes"):
  """'0-4' -> [0..4]; '1,3,5' -> [1, 3, 5]; '' -> []."""
  classes = []
  try:
    for part in filter(None, (p.strip() for p in str(text).split(","))):
      if "-" in part:
        lo, hi = (int(v) for v in part.split("-"))
        if hi < lo:
          raise ValueError
        classes.extend(range(lo, hi + 1))
      else:
        classes.append(int(part))
  except ValueError:
    raise InputError(f"--{flag_name}={text!r}: expected class numbers like '0-4' or "
                     "'0,2,4'") from None
  return classes


def _pick(indices, count, what, flag):
  if count > len(indices):
    raise InputError(f"--{flag}: asked for {count} {what} but only {len(indices)} are "
                     "available; lower it")
  return indices[:count], indices[count:]


def fit_split_sizes(sizes, explicit, limits):
  """Shrinks the split sizes the user did not choose until every limit holds.

  Args:
    sizes: {"num_b": n, "num_y": n, "num_test": n} as requested (flag defaults
      or the user's values).
    explicit: names the user set; these are kept as they are.
    limits: [(names that draw from one pool, pool size)].

  Returns:
    (sizes, note): the sizes to use and a sentence saying what was shrunk, or
    None when nothing was. When even the user's own sizes do not fit, the rest
    are left alone and the draw reports which one to lower.
  """
  scale = {n: 1.0 for n in sizes}  # Each size shrinks by the tightest pool it draws from.
  for names, available in limits:
    fixed = sum(sizes[n] for n in names if n in explicit)
    free = sum(sizes[n] for n in names if n not in explicit)
    if free and fixed + free > available:
      for n in names:
        scale[n] = min(scale[n], max(available - fixed, 0) / free)
  if all(scale[n] >= 1.0 for n in sizes if n not in explicit):
    return dict(sizes), None
  fitted = {n: v if n in explicit else max(1, int(v * scale[n] + 1e-6))
            for n, v in sizes.items()}
  changed = ", ".join(f"--{n}={fitted[n]} (default {sizes[n]})" for n in sizes
                      if fitted[n] != sizes[n])
  return fitted, (f"the data source is smaller than the default split sizes; using {changed}. "
                  "Set --num_b, --num_y and --num_test to choose them")


def class_task_limits(labels, observed, unobserved, test_labels=None):
  """fit_split_sizes' limits for the class task: which splits share which pool."""
  n_obs = int(np.isin(labels, observed).sum())
  n_unobs = int(np.isin(labels, unobserved).sum())
  if test_labels is None:
    return [(("num_b", "num_y", "num_test"), n_obs), (("num_y", "num_test"), n_unobs)]
  test_pool = min(int(np.isin(test_labels, observed).sum()),
                  int(np.isin(test_labels, unobserved).sum()))
  return [(("num_b", "num_y"), n_obs), (("num_y",), n_unobs), (("num_test",), test_pool)]


def class_task_arrays(images, labels, observed, unobserved, num_b, num_y, num_test,
                      seed=0, test_images=None, test_labels=None):
  """Draws the three splits of the class task.

  Args:
    images, labels: the training source, [N, H, W, C] in [0, 1] and [N].
    observed, unobserved: lists of class labels for B and for X.
    num_b, num_y, num_test: split sizes.
    seed: draw seed.
    test_images, test_labels: an optional separate test source (e.g. MNIST's
      test split); otherwise the test split is drawn from `images` too.

  Returns:
    dict split name -> dict of arrays.
  """
  if labels is None:
    raise InputError("the data source has no labels, so class groups cannot be chosen; "
                     "use a labelled source (class sub-folders, idx labels, npz 'labels')")
  if not observed or not unobserved:
    raise InputError("--observed and --unobserved must each name at least one class")
  if set(observed) & set(unobserved):
    raise InputError(f"--observed {observed} and --unobserved {unobserved} overlap")
  present = set(np.unique(labels).tolist())
  unknown = sorted(set(observed + unobserved) - present)
  if unknown:
    raise InputError(f"classes {unknown} are not in the data (it has {sorted(present)})")
  rng = np.random.default_rng(seed)

  def group(lab, classes):
    idx = np.flatnonzero(np.isin(lab, classes))
    return idx[rng.permutation(len(idx))]

  b_pool, x_pool = group(labels, observed), group(labels, unobserved)
  b_train, b_pool = _pick(b_pool, num_b, "observed-class images for B", "num_b")
  y_b, b_pool = _pick(b_pool, num_y, "observed-class images for the mixtures", "num_y")
  y_x, x_pool = _pick(x_pool, num_y, "unobserved-class images for the mixtures", "num_y")
  if test_images is not None:
    if test_labels is None:
      raise InputError("--test_data has no labels")
    t_images, t_b_pool, t_x_pool = (test_images, group(test_labels, observed),
                                    group(test_labels, unobserved))
  else:
    t_images, t_b_pool, t_x_pool = images, b_pool, x_pool
  t_b, _ = _pick(t_b_pool, num_test, "observed-class images for the test mixtures", "num_test")
  t_x, _ = _pick(t_x_pool, num_test, "unobserved-class images for the test mixtures", "num_test")
  return {
      "b_train": {"b": images[b_train]},
      "y_train": _mix(images[y_x], images[y_b]),
      "test": _mix(t_images[t_x], t_images[t_b]),
  }


def denoise_task_arrays(images, num_b, num_y, num_test, noise_sigma, seed=0):
  """B = clean images, X = max(0, N(0, sigma^2)) noise (the paper's denoising case)."""
  if noise_sigma <= 0:
    raise InputError(f"--noise_sigma={noise_sigma}: expected a positive standard deviation")
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(images))
  b_train, order = _pick(order, num_b, "images for B", "num_b")
  y_b, order = _pick(order, num_y, "images for the mixtures", "num_y")
  t_b, _ = _pick(order, num_test, "images for the test mixtures", "num_test")

  def noise(n):
    shape = (n,) + images.shape[1:]
    return np.maximum(0.0, rng.normal(0.0, noise_sigma, shape)).astype(np.float32)

  return {
      "b_train": {"b": images[b_train]},
      "y_train": _mix(noise(num_y), images[y_b]),
      "test": _mix(noise(num_test), images[t_b]),
  }


def folder_task(b_dir, y_dir, test_dir, image_size=None, invert=False, fit_sizes=None,
                seed=0):
  """--b_data, --y_data, --test_data folders -> (splits, description).

  Args:
    b_dir, y_dir: folders of clean B images and of mixtures.
    test_dir: folder of test images with references (load_reference_folder).
    image_size: (H, W) to resize every image to, or None.
    invert: v <- 1 - v (dark objects on white).
    fit_sizes: limits -> {"num_b", "num_y", "num_test"} (see fit_split_sizes);
      default: everything there is.
    seed: draw seed.
  """
  if not (b_dir and y_dir):
    raise InputError("--b_data and --y_data go together: a folder of clean B images and a "
                     "folder of mixtures")
  if not test_dir:
    raise InputError("--b_data/--y_data need --test_data=DIR too: test images with "
                     "references in DIR/mixture/, DIR/x/, DIR/b/ (two of the three, files "
                     "matched by name), for the test scores")
  for flag, folder in (("b_data", b_dir), ("y_data", y_dir)):
    if not os.path.isdir(folder):
      raise InputError(f"--{flag}={folder}: no such folder; expected a folder of images")
  b = image_files.load_image_folder(b_dir, image_size=image_size)[0]
  y = image_files.load_image_folder(y_dir, b.shape[-1], image_size)[0]
  test = image_files.load_reference_folder(test_dir, b.shape[-1], image_size)
  if invert:  # Dark objects on white: make the background 0.
    b, y = 1.0 - b, 1.0 - y
    test = {k: 1.0 - v for k, v in test.items()}
  limits = [(("num_b",), len(b)), (("num_y",), len(y)), (("num_test",), len(test["y"]))]
  sizes = fit_sizes(limits) if fit_sizes else {n[0]: count for n, count in limits}
  splits = folder_task_arrays(b, y, test, sizes["num_b"], sizes["num_y"], sizes["num_test"],
                              seed)
  name = os.path.basename(os.path.normpath(b_dir))
  return splits, {"x": "x", "b": name, "source": f"b:{b_dir} y:{y_dir} test:{test_dir}"}


def folder_task_arrays(b_images, y_images, test, num_b, num_y, num_test, seed=0):
  """The user's own folders: clean B images, real mixtures, test images with references.

  Args:
    b_images: [N_b, H, W, C] clean B in [0, 1].
    y_images: [N_y, H, W, C] mixtures (no references: NES never needs them).
    test: {"y", "x", "b"} from image_sources.load_reference_folder.
    num_b, num_y, num_test: how many of each to use (drawn at random with `seed`).

  Returns:
    dict split name -> dict of arrays; y_train holds "y" only.
  """
  for name, images in (("--y_data", y_images), ("--test_data mixtures", test["y"])):
    if images.shape[1:] != b_images.shape[1:]:
      raise InputError(f"{name} images are {images.shape[1:]}, --b_data images "
                       f"{b_images.shape[1:]}; expected one size and channel count: give "
                       "--image_size=H,W")
  rng = np.random.default_rng(seed)
  b_train, _ = _pick(rng.permutation(len(b_images)), num_b, "B images", "num_b")
  y_train, _ = _pick(rng.permutation(len(y_images)), num_y, "mixtures", "num_y")
  t, _ = _pick(np.arange(len(test["y"])), num_test, "test images", "num_test")
  return {
      "b_train": {"b": b_images[np.sort(b_train)]},
      "y_train": {"y": y_images[np.sort(y_train)].astype(np.float32)},
      "test": {k: v[t].astype(np.float32) for k, v in test.items()},
  }


def _mix(x, b):
  return {"y": (x + b).astype(np.float32), "x": x.astype(np.float32),
          "b": b.astype(np.float32)}


def write_splits(data_dir, splits, description, num_shards=4):
  """Writes each split under data_dir/<name>/; returns {name: count}."""
  counts = {}
  for name in SPLITS:
    counts[name] = tfrecords.write_split(os.path.join(data_dir, name), splits[name],
                                         num_shards=num_shards,
                                         extra_spec={"description": description})
  return counts


def splits_ready(data_dir):
  return all(os.path.exists(os.path.join(data_dir, s, tfrecords.SPEC_FILE)) for s in SPLITS)
