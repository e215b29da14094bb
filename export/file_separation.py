"""One file through an exported separator: an image (via separate_png, or a 16-bit
PNG via serving_default) or an audio file (every channel, at the file's own rate).
export/separation.py runs these over many files and writes the outputs.
"""

import os

import numpy as np
import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.export import array_separation
from eggsep_tf.export import model_access
from eggsep_tf.export.model_access import DEFAULT_SIGNATURE
from eggsep_tf.export.model_access import PNG_SIGNATURE


def _read_bytes(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except OSError as e:
    raise InputError(f"cannot read the file ({e.strerror})") from None


def separate_image(model, path):
  """(x PNG bytes, b PNG bytes) of one image file, through separate_png.

  Raises:
    InputError: the file is not a readable image, or the model refused it.
  """
  data = _read_bytes(path)
  if not data:
    raise InputError("the file is empty; expected a PNG, JPEG, BMP or GIF image")
  try:  # The graph's own decoder, here, so that a bad file gets a clear message.
    decoded = tf.io.decode_image(data, expand_animations=False)
  except tf.errors.OpError as e:
    raise InputError(f"not a readable image ({model_access.tf_error_message(e)})") from None
  # A PNG's IHDR bit depth is byte 24; decode_image would give 8 bits.
  if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24 and data[24] == 16 and \
      DEFAULT_SIGNATURE in model.signatures:
    del decoded
    return _separate_deep_png(model, tf.io.decode_png(data, dtype=tf.uint16).numpy())
  if PNG_SIGNATURE not in model.signatures:
    raise InputError(f"model {model.description} has no {PNG_SIGNATURE} signature "
                     f"(it has {sorted(model.signatures)})")
  name = model.signatures[PNG_SIGNATURE].only_input(PNG_SIGNATURE)
  out = model.call(PNG_SIGNATURE, {name: array_separation.bytes_array([data])})
  return (array_separation.first_output(out, "_png_bytes", "x"),
          array_separation.first_output(out, "_png_bytes", "b"))


def _separate_deep_png(model, pixels):
  """A 16-bit PNG through serving_default, written back as 16-bit PNGs (separate_png
  would give 8 bits)."""
  if pixels.shape[-1] in (2, 4):
    pixels = pixels[..., :-1]  # Alpha.
  x, b = array_separation.separate_image_array(model, pixels)
  encoded = []
  for image in (x, b):
    deep = np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)
    encoded.append(tf.io.encode_png(deep).numpy())
  return encoded[0], encoded[1]


def separate_audio(model, path, model_rate, desc=None):
  """(x, b, rate) of one audio file: [samples, channels] each at the file's own rate.

  Every channel is separated (see array_separation.separate_waveform).

  Raises:
    InputError: the file is not readable audio, or the model refused it.
  """
  audio_io = array_separation._audio_io()  # pylint: disable=protected-access
  audio, rate = audio_io.read_audio_file(path)
  x, b = array_separation.separate_waveform(model, audio, rate, model_rate,
                                            desc=desc or os.path.basename(path))
  return x, b, rate
