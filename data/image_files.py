"""Image files from users' folders: bit depths, sizes, class sub-folders, reference folders.

`read_image` decodes one file at its bit depth (16-bit PNGs keep their range);
`read_images` stacks many, resized to one size when asked; `load_image_folder`
reads a flat folder or one with a sub-folder per class; `load_reference_folder`
reads test images with references (mixture/, x/, b/ matched by file name).
Everything is float32 on the [0, 1] scale.
"""

import os

from absl import logging

import numpy as np

from eggsep_tf.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_image(path, channels=None):
  """One image file as float32 [H, W, C] in [0, 1], at its bit depth.

  PNGs are decoded at 16 bits (a 16-bit PNG keeps its full range, an 8-bit one
  becomes v * 257, so that / 65535 is exact for both); JPEG, BMP and GIF at 8.
  An alpha channel is dropped. `channels` 1 or 3 converts (ITU-R 601 luma for
  grey).

  Raises:
    InputError: the file is missing or not a readable image.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise InputError(f"{path}: cannot read the image ({e.strerror})") from None
  try:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
      pixels = tf.io.decode_png(data, dtype=tf.uint16).numpy().astype(np.float32) / 65535.0
    else:
      pixels = tf.io.decode_image(data, expand_animations=False).numpy().astype(
          np.float32) / 255.0
  except (tf.errors.OpError, ValueError) as e:
    message = str(getattr(e, "message", e)).strip().splitlines()
    raise InputError(f"{path}: not a readable image ({message[0] if message else e})") \
        from None
  if pixels.shape[-1] in (2, 4):
    pixels = pixels[..., :-1]
  if channels == 1 and pixels.shape[-1] == 3:
    pixels = pixels @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
  elif channels == 3 and pixels.shape[-1] == 1:
    pixels = np.repeat(pixels, 3, axis=-1)
  return pixels


def resize_images(images, image_size):
  """[N, H, W, C] -> [N, height, width, C] (bilinear, antialiased when shrinking)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  height, width = image_size
  if images.shape[1:3] == (height, width):
    return images
  resized = tf.image.resize(images, [height, width], method="bilinear", antialias=True)
  return np.clip(resized.numpy(), 0.0, 1.0).astype(np.float32)


def parse_image_size(text):
  """'64,64' or '64x48' -> (64, 64) / (64, 48); '' or None -> None."""
  if not text:
    return None
  parts = str(text).replace("x", ",").split(",")
  try:
    size = tuple(int(p) for p in parts)
  except ValueError:
    size = ()
  if len(size) != 2 or min(size) <= 0:
    raise InputError(f"--image_size={text}: expected HEIGHT,WIDTH in pixels, e.g. 64,64")
  return size


def list_image_files(directory):
  """Sorted image paths directly in `directory` (not its sub-folders)."""
  return [os.path.join(directory, f) for f in sorted(os.listdir(directory))
          if f.lower().endswith(IMAGE_EXTENSIONS) and
          os.path.isfile(os.path.join(directory, f))]


def read_images(files, where, channels=None, image_size=None):
  """Image files -> [N, H, W, C] float32 in [0, 1] (see read_image).

  `channels` default: grey if the first file is grey, else RGB. Files of mixed
  sizes need `image_size` (H, W): all are resized to it; without it they are
  refused with one line naming two that differ.
  """
  if not files:
    raise InputError(f"{where}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
  first = read_image(files[0])
  channels = channels or (1 if first.shape[-1] == 1 else 3)
  images = [read_image(f, channels) for f in files]
  if image_size is not None:
    return np.concatenate([resize_images(im[None], image_size) for im in images])
  shapes = {im.shape for im in images}
  if len(shapes) > 1:
    odd = next(i for i, im in enumerate(images) if im.shape != images[0].shape)
    raise InputError(f"{where}: images of mixed sizes ({files[0]} is {images[0].shape[:2]}, "
                     f"{files[odd]} is {images[odd].shape[:2]}); give --image_size=H,W to "
                     "resize them all")
  return np.stack(images)


def _log_class_labels(directory, classes):
  """Says which label each class folder gets; warns when folders named by numbers get
  other numbers (5/ and 7/ become classes 0 and 1)."""
  mapping = ", ".join(f"{name}/ -> {label}" for label, name in enumerate(classes))
  if any(name.isdigit() and int(name) != label for label, name in enumerate(classes)):
    logging.warning("%s: class folders are numbered by sorted name, not by the number "
                    "they are called: %s (--observed/--unobserved take these labels)",
                    directory, mapping)
  else:
    logging.info("%s: class folders -> labels: %s", directory, mapping)


def load_image_folder(directory, channels=None, image_size=None):
  """Image files, flat or in one sub-folder per class (sorted names -> labels 0..K-1)."""
  entries = sorted(os.listdir(directory))
  classes = [d for d in entries if os.path.isdir(os.path.join(directory, d))]
  files, labels = [], []
  if classes:
    _log_class_labels(directory, classes)
    for label, name in enumerate(classes):
      found = list_image_files(os.path.join(directory, name))
      files += found
      labels += [label] * len(found)
  else:
    files = list_image_files(directory)
  images = read_images(files, directory, channels, image_size)
  return images, (np.array(labels) if classes else None)


REFERENCE_PARTS = ("mixture", "x", "b")


def load_reference_folder(directory, channels=None, image_size=None):
  """Test images with references: DIR/mixture/, DIR/x/, DIR/b/ matched by file name.

  Two of the three sub-folders are enough (mixture = x + b gives the third);
  files are matched by name without extension (mixture/0001.png with
  b/0001.png). Returns {"y", "x", "b"} [N, H, W, C] float32 (y in [0, 2]).

  Raises:
    InputError: fewer than two of the sub-folders, names that do not match, or
      images of other sizes.
  """
  if not os.path.isdir(directory):
    raise InputError(f"{directory}: no such folder; expected test images in "
                     "mixture/, x/, b/ sub-folders")
  present = [p for p in REFERENCE_PARTS if os.path.isdir(os.path.join(directory, p))]
  if len(present) < 2:
    raise InputError(f"{directory}: expected two or three of the sub-folders mixture/, x/, "
                     f"b/ (found {', '.join(present) or 'none'}), with images matched by name")
  files = {p: {os.path.splitext(os.path.basename(f))[0]: f
               for f in list_image_files(os.path.join(directory, p))} for p in present}
  names = sorted(files[present[0]])
  for part in present[1:]:
    if sorted(files[part]) != names:
      odd = sorted(set(files[part]) ^ set(names))[:3]
      raise InputError(f"{directory}: {present[0]}/ and {part}/ hold different names (e.g. "
                       f"{', '.join(odd)}); expected the same file names in each")
  arrays = {}
  for part in present:
    arrays[part] = read_images([files[part][n] for n in names], os.path.join(directory, part),
                               channels, image_size)
    channels = arrays[part].shape[-1]
    if arrays[part].shape != arrays[present[0]].shape:
      raise InputError(f"{directory}: {part}/ images are {arrays[part].shape[1:]}, "
                       f"{present[0]}/ images {arrays[present[0]].shape[1:]}; give "
                       "--image_size=H,W")
  y = arrays.get("mixture")
  x = arrays["x"] if "x" in arrays else np.maximum(y - arrays["b"], 0.0)
  b = arrays["b"] if "b" in arrays else np.maximum(y - x, 0.0)
  return {"y": x + b if y is None else y, "x": x, "b": b}
