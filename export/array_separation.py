"""Separating numpy arrays with an exported separator, local or served.

The array-level half of separation (export/separation.py does files):
  separate_waveform(model, audio, rate) -> (x, b)
      audio [samples] or [samples, channels] at `rate` Hz; each channel is
      separated on its own (the model is mono), at the model's sample rate
      (soxr there and back), and x, b come back with the input's shape and rate.
      Long signals are sent in segments whose edges fall on the model's own
      chunk grid (metadata.json's hop_length and chunk_frames), with one chunk
      of real signal as margin on each side that is cut off again: the result
      equals one call on the whole signal (to float rounding), and the caller
      sees progress per segment.
  separate_image_array(model, images) -> (x, b)
      images [H, W], [H, W, C] or [N, H, W, C]; uint8 (/255), uint16
      (/65535) or float already in [0, 1] (sums of two, up to 2, as the
      training mixtures are, work too); x and b are float32 in [0, 1] of the
      same shape.
The model is export/model_access.py's LocalModel or RemoteModel.
"""

import io
import math

from absl import logging
import numpy as np

from eggsep_tf.errors import InputError
from eggsep_tf.export.model_access import DEFAULT_SIGNATURE
from eggsep_tf.export.model_access import WAV_SIGNATURE
from eggsep_tf.progress import EXPORT_PROGRESS
from eggsep_tf.progress import Progress

SEGMENT_SECONDS = 60.0  # Audio sent per call (plus margins) when the model's chunking is known.
IMAGE_BATCH = 64


def _audio_io():
  try:
    from eggsep_tf.data import audio_io  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise InputError(f"audio needs soundfile and soxr ({e}); install them with "
                     "pip install eggsep-tf[audio]") from None
  return audio_io


def bytes_array(items):
  array = np.empty(len(items), dtype=object)
  array[:] = list(items)
  return array


def first_output(outputs, suffix, prefix=""):
  """The first item of the output whose name is prefix...suffix (bytes)."""
  for name, value in outputs.items():
    if name.endswith(suffix) and name.startswith(prefix):
      return bytes(np.asarray(value, dtype=object).reshape(-1)[0])
  raise InputError(f"the model returned {sorted(outputs)}; expected an output named "
                   f"{prefix}*{suffix}")


def _wav_bytes(mono, rate):
  import soundfile  # pylint: disable=import-outside-toplevel
  out = io.BytesIO()
  soundfile.write(out, np.clip(mono, -1.0, 1.0), int(rate), subtype="PCM_16", format="WAV")
  return out.getvalue()


def _wav_samples(data):
  import soundfile  # pylint: disable=import-outside-toplevel
  audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
  return audio.mean(axis=1), rate


def model_sample_rate(model, sample_rate=None):
  """The audio model's sample rate in Hz.

  From `sample_rate` if given, else metadata.json's "sample_rate", else (a
  served model with separate_wav) the rate its reply to one second of silence
  reports.

  Raises:
    InputError: none of those is available.
  """
  known = model.metadata.get("sample_rate")
  if sample_rate:
    if known and int(known) != int(sample_rate):
      logging.warning("Using sample rate %d Hz, but %s says the model was trained at %d Hz",
                      sample_rate, model.description, known)
    return int(sample_rate)
  if known:
    return int(known)
  if WAV_SIGNATURE in model.signatures:
    _audio_io()
    name = model.signatures[WAV_SIGNATURE].only_input(WAV_SIGNATURE)
    out = model.call(WAV_SIGNATURE, {name: bytes_array([_wav_bytes(np.zeros(16000), 16000)])})
    if "sample_rate" in out:
      return int(np.asarray(out["sample_rate"]).reshape(-1)[0])
    return _wav_samples(first_output(out, "_wav_bytes"))[1]
  raise InputError(f"model {model.description}: its sample rate is unknown (no metadata.json "
                   "sample_rate and no separate_wav signature); give the sample rate")


def segments(length, hop_length, chunk_frames, context_frames, n_fft, rate,
             segment_seconds=SEGMENT_SECONDS):
  """[(start, stop, keep_start, keep_stop)] calls that cover [0, length) samples.

  Each call separates samples [start, stop) and keeps [keep_start, keep_stop)
  of them (absolute indices). Kept parts tile [0, length). Starts and margins
  are whole multiples of the model's chunk (chunk_frames * hop_length samples),
  so the model's internal chunks fall where they would for the whole signal.
  """
  unit = int(hop_length) * int(chunk_frames)
  if unit <= 0:
    return [(0, length, 0, length)]
  margin = unit * max(1, math.ceil((int(context_frames) * hop_length + 2 * n_fft) / unit))
  per = unit * max(1, round(segment_seconds * rate / unit))
  if length <= per + 2 * margin:
    return [(0, length, 0, length)]
  calls = []
  for keep_start in range(0, length, per):
    keep_stop = min(length, keep_start + per)
    calls.append((max(0, keep_start - margin), min(length, keep_stop + margin),
                  keep_start, keep_stop))
  return calls


def _waveform_call(model, waves):
  """x, b [channels, samples] for mono rows `waves` [channels, samples] at the model rate."""
  if DEFAULT_SIGNATURE in model.signatures and \
      next(iter(model.signatures[DEFAULT_SIGNATURE].inputs.values()))[1] in (2, None):
    name = model.signatures[DEFAULT_SIGNATURE].only_input(DEFAULT_SIGNATURE)
    out = model.call(DEFAULT_SIGNATURE, {name: np.ascontiguousarray(waves, np.float32)})
    for key in ("x", "b"):
      if key not in out:
        raise InputError(f"{DEFAULT_SIGNATURE} returned {sorted(out)}; expected x and b")
    return np.asarray(out["x"], np.float32), np.asarray(out["b"], np.float32)
  if WAV_SIGNATURE in model.signatures:
    rate = model_sample_rate(model)
    name = model.signatures[WAV_SIGNATURE].only_input(WAV_SIGNATURE)
    out = model.call(WAV_SIGNATURE, {name: bytes_array([_wav_bytes(w, rate) for w in waves])})
    parts = []
    for prefix in ("x", "b"):
      items = [o for k, o in out.items() if k.startswith(prefix) and k.endswith("_wav_bytes")]
      if not items:
        raise InputError(f"{WAV_SIGNATURE} returned {sorted(out)}; expected x/b_wav_bytes")
      rows = [_wav_samples(bytes(v))[0][:waves.shape[1]]
              for v in np.asarray(items[0], object).reshape(-1)]
      parts.append(np.stack([np.pad(r, (0, waves.shape[1] - len(r))) for r in rows]))
    return parts[0], parts[1]
  raise InputError(f"model {model.description} has neither a waveform {DEFAULT_SIGNATURE} "
                   f"nor {WAV_SIGNATURE}")


def separate_waveform(model, audio, rate=None, model_rate=None,
                      segment_seconds=SEGMENT_SECONDS, desc="audio", progress_level=1):
  """Separates audio, each channel on its own, at the model's rate.

  Args:
    model: an audio LocalModel or RemoteModel.
    audio: [samples] or [samples, channels] float in [-1, 1].
    rate: its sample rate; default the model's.
    model_rate: the model's rate (default: model_sample_rate(model)).
    segment_seconds: audio per call when the model's chunking is known.
    desc, progress_level: how the per-segment progress is labelled and nested.

  Returns:
    (x, b), each of audio's shape, at `rate`. Content above the model's
    Nyquist frequency is not in either (x + b is y low-passed to it).
  """
  audio_io = _audio_io()
  audio = np.asarray(audio, np.float32)
  if audio.ndim not in (1, 2) or audio.size == 0:
    raise InputError(f"audio of shape {audio.shape}: expected [samples] or "
                     "[samples, channels] with at least one sample")
  if not np.all(np.isfinite(audio)):
    raise InputError("audio holds NaN or infinite samples")
  model_rate = int(model_rate or model_sample_rate(model))
  rate = int(rate or model_rate)
  frames = audio if audio.ndim == 2 else audio[:, np.newaxis]
  waves = audio_io.resample(frames, rate, model_rate).T  # [channels, samples]
  meta = model.metadata
  calls = segments(waves.shape[1], meta.get("hop_length", 0), meta.get("chunk_frames", 0),
                   meta.get("context_frames", 0), meta.get("n_fft", 0), model_rate,
                   segment_seconds)
  x = np.zeros_like(waves)
  b = np.zeros_like(waves)
  with Progress(len(calls), desc, unit="segments", level=progress_level, **EXPORT_PROGRESS,
                enabled=len(calls) > 1) as bar:
    for start, stop, keep_start, keep_stop in calls:
      part_x, part_b = _waveform_call(model, waves[:, start:stop])
      x[:, keep_start:keep_stop] = part_x[:, keep_start - start:keep_stop - start]
      b[:, keep_start:keep_stop] = part_b[:, keep_start - start:keep_stop - start]
      bar.update()
  outputs = []
  for source in (x, b):
    back = audio_io.resample(source.T, model_rate, rate)
    back = back[:frames.shape[0]]
    if back.shape[0] < frames.shape[0]:
      back = np.pad(back, [(0, frames.shape[0] - back.shape[0]), (0, 0)])
    outputs.append(back if audio.ndim == 2 else back[:, 0])
  return outputs[0], outputs[1]


def to_unit_images(images, pixel_scale=None):
  """uint8 -> /255, uint16 -> /65535, float kept: [0, 1] images or, on the training scale,
  sums of two up to 2 (InputError beyond that unless scaled)."""
  images = np.asarray(images)
  if pixel_scale:
    return images.astype(np.float32) / float(pixel_scale)
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  if images.dtype == np.uint16:
    return images.astype(np.float32) / 65535.0
  if images.dtype == bool:
    return images.astype(np.float32)
  images = images.astype(np.float32)
  if images.size and (images.min() < 0 or images.max() > 2.0 + 1e-6):
    raise InputError(f"float images with values in [{images.min():.4g}, {images.max():.4g}]: "
                     "expected [0, 1] (or mixtures as sums of two such images, up to 2); "
                     "give uint8/uint16 pixels or a pixel scale")
  return images


def separate_image_array(model, images, pixel_scale=None):
  """Separates images [H, W], [H, W, C] or [N, H, W, C]; (x, b) float32 in [0, 1], same shape.

  The model's training scale is applied (metadata.json's "invert": v <- 1 - v
  before and after); channels are matched to the model's (grey <-> RGB).
  """
  unit = to_unit_images(images, pixel_scale)
  shape = unit.shape
  if unit.ndim == 2:
    batch = unit[np.newaxis, ..., np.newaxis]
  elif unit.ndim == 3:
    batch = unit[np.newaxis]
  elif unit.ndim == 4:
    batch = unit
  else:
    raise InputError(f"images of shape {shape}: expected [H, W], [H, W, C] or [N, H, W, C]")
  channels = (model.metadata.get("image_shape") or [None])[-1] or batch.shape[-1]
  given = batch.shape[-1]
  if given != channels:
    if given == 1:
      batch = np.repeat(batch, channels, axis=-1)
    elif channels == 1:
      batch = batch[..., :3].mean(axis=-1, keepdims=True)
    else:
      raise InputError(f"images with {given} channels; the model takes {channels}")
  invert = bool(model.metadata.get("invert", False))
  if invert:
    batch = 1.0 - batch
  signature = model.signatures.get(DEFAULT_SIGNATURE)
  if signature is None:
    raise InputError(f"model {model.description} has no {DEFAULT_SIGNATURE} signature")
  name = signature.only_input(DEFAULT_SIGNATURE)
  xs, bs = [], []
  for i in range(0, len(batch), IMAGE_BATCH):
    out = model.call(DEFAULT_SIGNATURE, {name: np.ascontiguousarray(batch[i:i + IMAGE_BATCH],
                                                                   np.float32)})
    xs.append(np.asarray(out["x"], np.float32))
    bs.append(np.asarray(out["b"], np.float32))
  results = []
  for part in (np.concatenate(xs), np.concatenate(bs)):
    part = np.clip(1.0 - part if invert else part, 0.0, 1.0)
    if given != channels:
      part = part.mean(axis=-1, keepdims=True) if given == 1 else np.repeat(part, given, -1)
    results.append(part.reshape(shape).astype(np.float32))
  return results[0], results[1]
