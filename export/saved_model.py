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


def check_target(export_base, model_name, version=None, overwrite=False):
  """Raises InputError unless BASE/NAME/VERSION can be written: a valid name, a base that
  is a folder, and no finished version there unless `overwrite` (version None: the next)."""
  if not _NAME.match(model_name):
    raise InputError(f"model name {model_name!r}: use letters, digits, '_', '.', '-'")
  for path in (export_base, os.path.join(export_base, model_name)):
    if os.path.exists(path) and not os.path.isdir(path):
      raise InputError(f"{path} is a file; expected a folder of model versions (an export "
                       "base holds NAME/VERSION/)")
  final = os.path.join(export_base, model_name, str(version))
  if version is not None and not overwrite and os.path.exists(final):
    made = ""
    try:
      with open(os.path.join(final, "metadata.json")) as f:
        source = json.load(f).get("exported_from", {}).get("workdir")
      made = f" (exported from {source})" if source else ""
    except (OSError, ValueError, AttributeError):
      pass
    raise InputError(f"{final} exists{made}; exporting would replace it: choose another "
                     "version (default: the next free one), or pass --overwrite")


def _write_version(archive, export_base, model_name, metadata, version, overwrite=False):
  check_target(export_base, model_name, version, overwrite)
  model_dir = os.path.join(export_base, model_name)
  os.makedirs(model_dir, exist_ok=True)
  if version is None:
    version = (versions(model_dir) or [0])[-1] + 1
  final = os.path.join(model_dir, str(version))
  tmp = os.path.join(model_dir, f".tmp-{version}")
  shutil.rmtree(tmp, ignore_errors=True)
  try:
    archive.write_out(tmp, verbose=False)
    with open(os.path.join(tmp, "metadata.json"), "w") as f:
      json.dump({**metadata, "version": version}, f, indent=2, default=str)
  except (OSError, tf.errors.OpError):
    shutil.rmtree(tmp, ignore_errors=True)  # A full disk leaves no half version behind.
    raise
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
                           invert=False, version=None, overwrite=False):
  """Exports an ImageSeparator; returns the version folder written.

  An existing `version` is replaced only with overwrite=True (InputError otherwise).
  """
  return _write_version(image_archive(separator, channels, invert), export_base,
                        model_name, metadata, version, overwrite)


def write_archive(archive, export_base, model_name, metadata, version=None, overwrite=False):
  """Writes any ExportArchive as the next version (for other domains)."""
  return _write_version(archive, export_base, model_name, metadata, version, overwrite)


def audio_archive(separator, sample_rate):
  """An ExportArchive with the audio signatures of an AudioSeparator.

  serving_default(waveform: float32 [batch, samples]) -> {"x", "b"}
    mono mixtures at `sample_rate`, any length; whole files are separated
    chunk by chunk inside the graph (memory bounded by the chunk).
  separate_wav(wav_bytes: string [batch]) -> {"x_wav_bytes", "b_wav_bytes",
      "sample_rate"}
    16-bit PCM WAV files (each its own length; stereo is mixed down by
    averaging the channels) at `sample_rate`; 16-bit mono WAVs out, and the
    rate per item ([batch] int32, so TF-Serving's row format works). A WAV at
    another rate fails with a message saying which rate is expected.

  Args:
    separator: eggsep_tf.audio_separator.AudioSeparator (return_mask=False).
    sample_rate: Hz of the model.
  """
  archive = keras.export.ExportArchive()
  archive.track(separator)

  def serve(waveform):
    out = separator(waveform)
    return {"x": out["x"], "b": out["b"]}

  def separate_wav(wav_bytes):
    def encode(waveform):
      # [1, samples] -> 16-bit mono WAV bytes (encode_wav wants [samples, channels]).
      return tf.audio.encode_wav(
          tf.clip_by_value(waveform[0], -1.0, 1.0)[:, tf.newaxis], sample_rate)

    def one(data):
      # desired_channels=1 would keep the first channel only: decode all, then average.
      audio, rate = tf.audio.decode_wav(data)
      tf.debugging.assert_equal(
          rate, tf.constant(sample_rate, tf.int32),
          message=f"separate_wav: the WAV sample rate must be {sample_rate} Hz, the rate "
                  "this model was trained at; resample the file first")
      mono = tf.reduce_mean(audio, axis=1)[tf.newaxis]
      out = separator(mono)
      return encode(out["x"]), encode(out["b"])

    x, b = tf.map_fn(one, wav_bytes, fn_output_signature=(tf.string, tf.string))
    rates = tf.fill(tf.shape(wav_bytes), tf.constant(sample_rate, tf.int32))
    return {"x_wav_bytes": x, "b_wav_bytes": b, "sample_rate": rates}

  archive.add_endpoint("serving_default", serve, input_signature=[
      tf.TensorSpec([None, None], tf.float32, name="waveform")])
  archive.add_endpoint("separate_wav", separate_wav, input_signature=[
      tf.TensorSpec([None], tf.string, name="wav_bytes")])
  return archive


def export_audio_separator(separator, sample_rate, export_base, model_name, metadata,
                           version=None, overwrite=False):
  """Exports an AudioSeparator (signatures: see `audio_archive`); returns the version folder.

  metadata.json gets "domain": "audio", "sample_rate" and the separator's STFT and
  chunk settings, besides `metadata`.
  """
  metadata = {**metadata, "domain": "audio", "sample_rate": int(sample_rate),
              "n_fft": separator.n_fft, "win_length": separator.win_length,
              "hop_length": separator.hop_length, "chunk_frames": separator.chunk_frames,
              "context_frames": separator.context_frames,
              "chunks_per_call": separator.chunks_per_call}
  return _write_version(audio_archive(separator, sample_rate), export_base, model_name,
                        metadata, version, overwrite)
