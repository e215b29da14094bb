"""Writes separators as SavedModels in TF-Serving's layout BASE/NAME/<version>/.

Only the separator is exported: no optimiser state, discriminator or GLO tables.
A version is written under a temporary name and renamed into place, so a
running server never sees half a model. metadata.json sits in the version
folder beside saved_model.pb (TF-Serving ignores it).
"""

import json
import os
import re
import shutil

import keras
import tensorflow as tf

from eggsep_tf.errors import InputError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def versions(model_dir):
  """Integer versions present under BASE/NAME (finished exports only), ascending."""
  if not os.path.isdir(model_dir):
    return []
  found = []
  for entry in os.listdir(model_dir):
    if entry.isdigit() and os.path.exists(os.path.join(model_dir, entry, "saved_model.pb")):
      found.append(int(entry))
  return sorted(found)


def _write_version(archive, export_base, model_name, metadata, version):
  if not _NAME.match(model_name):
    raise InputError(f"model name {model_name!r}: use letters, digits, '_', '.', '-'")
  model_dir = os.path.join(export_base, model_name)
  os.makedirs(model_dir, exist_ok=True)
  if version is None:
    version = (versions(model_dir) or [0])[-1] + 1
  final = os.path.join(model_dir, str(version))
  tmp = os.path.join(model_dir, f".tmp-{version}")
  shutil.rmtree(tmp, ignore_errors=True)
  archive.write_out(tmp, verbose=False)
  with open(os.path.join(tmp, "metadata.json"), "w") as f:
    json.dump({**metadata, "version": version}, f, indent=2, default=str)
  if os.path.exists(final):
    shutil.rmtree(final)
  os.replace(tmp, final)
  return final


def image_archive(separator, channels, invert=False):
  """An ExportArchive with the image signatures.

  serving_default(mixture: float32 [batch, H, W, C]) -> {"x", "b", "mask"}
    mixtures on the training scale (background 0; sums of two images lie in [0, 2]).
  separate_png(png_bytes: string [batch]) -> {"x_png_bytes", "b_png_bytes"}
    encoded PNG/JPEG images of one size in, PNG out (8-bit, clipped to [0, 1];
    `invert` undoes the v <- 1 - v the training data had).
  """
  archive = keras.export.ExportArchive()
  if not separator.built:
    separator(tf.zeros([1, 8, 8, channels]))  # Any size: the mask net pads inside.
  archive.track(separator)

  def serve(mixture):
    return separator(mixture)

  def separate_png(png_bytes):
    def decode(data):
      image = tf.io.decode_image(data, channels=channels, expand_animations=False)
      return tf.image.convert_image_dtype(image, tf.float32)
    images = tf.map_fn(decode, png_bytes, fn_output_signature=tf.TensorSpec(
        [None, None, channels], tf.float32))
    if invert:
      images = 1.0 - images
    out = separator(images)

    def encode(batch):
      batch = tf.clip_by_value(batch, 0.0, 1.0)
      if invert:
        batch = 1.0 - batch
      pixels = tf.image.convert_image_dtype(batch, tf.uint8, saturate=True)
      return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
    return {"x_png_bytes": encode(out["x"]), "b_png_bytes": encode(out["b"])}

  archive.add_endpoint("serving_default", serve, input_signature=[
      tf.TensorSpec([None, None, None, channels], tf.float32, name="mixture")])
  archive.add_endpoint("separate_png", separate_png, input_signature=[
      tf.TensorSpec([None], tf.string, name="png_bytes")])
  return archive


def export_image_separator(separator, channels, export_base, model_name, metadata,
                           invert=False, version=None):
  """Exports an ImageSeparator; returns the version folder written."""
  return _write_version(image_archive(separator, channels, invert), export_base,
                        model_name, metadata, version)


def write_archive(archive, export_base, model_name, metadata, version=None):
  """Writes any ExportArchive as the next version (for other domains)."""
  return _write_version(archive, export_base, model_name, metadata, version)
