"""Training examples for the audio mask net: fixed-size spectrogram patches.

The mask net trains on patches of `frames` STFT frames (64 in the paper), laid
out [bins, frames, 1] like images. Two ways of making the NES mixture b + x_t
are offered (paper section 3; the reference demo sums magnitudes):

- magnitude summing: store |B| and |X_t| patches; mixture = |B| + |X_t|,
  target |B| (`mix_magnitudes`). x_t estimates come from the mask net on |Y|
  patches: x_t = (1 - m(|Y|)) |Y|, exactly as for images.
- waveform summing: store waveform patches of b and x_t; mixture =
  |STFT(b + x_t)|, target |STFT(b)| (`mix_waveforms`). Closer to how real
  mixtures arise (phases interfere). x_t estimates come from
  `separate_waveform_patches` on y waveform patches.

Every patch is aligned with the frames of the whole clip's centred STFT:
`magnitude(waveform_patches(w), stft)` equals `magnitude_patches(w, stft)`, and
both match the frames `AudioSeparator` masks when it separates the whole clip.

All functions are plain TF ops (usable inside tf.data.Dataset.map); `stft` is
an `eggsep_tf.spectrogram.Stft` layer, used only for its settings.
"""

import tensorflow as tf

from eggsep_tf import audio_separator
from eggsep_tf import spectrogram


def patch_samples(stft, frames=64):
  """Samples of a waveform patch that gives exactly `frames` frames: (frames - 1) * hop + n_fft."""
  return (frames - 1) * stft.hop_length + stft.n_fft


def magnitude(patches, stft):
  """|STFT| of waveform patches, frames not centred (each patch is its own frames).

  Args:
    patches: [batch, patch_samples] float32 waveform patches.
    stft: Stft layer (settings).

  Returns:
    [batch, bins, frames, 1] float32 magnitudes (the mask net's layout).
  """
  spectrum = spectrogram.stft(patches, stft.n_fft, stft.win_length, stft.hop_length,
                              center=False)
  return audio_separator.to_mask_layout(tf.abs(spectrum))


def _centred(waveform, stft):
  """Reflect-pads a clip [samples] by n_fft // 2 on both sides (zero-extends tiny clips first)."""
  waveform = tf.convert_to_tensor(waveform, tf.float32)
  waveform = spectrogram.fit_length(waveform, tf.maximum(tf.shape(waveform)[0], stft.n_fft))
  pad = stft.n_fft // 2
  return tf.pad(waveform, [[pad, pad]], mode="REFLECT")


def waveform_patches(waveform, stft, frames=64, hop_frames=None):
  """Cuts a clip into waveform patches aligned with its centred STFT frames.

  Patch k holds the samples of frames [k * hop_frames, k * hop_frames + frames)
  of the clip's centred STFT (so it includes the reflect padding at the ends).
  Frames past the last whole patch are dropped.

  Args:
    waveform: [samples] float32, one clip.
    stft: Stft layer (settings).
    frames: STFT frames per patch.
    hop_frames: frames between patch starts; defaults to `frames` (no overlap).

  Returns:
    [num_patches, patch_samples(stft, frames)] float32; num_patches =
    max(0, 1 + (clip_frames - frames) // hop_frames), possibly 0.
  """
  hop_frames = hop_frames or frames
  centred = _centred(waveform, stft)
  return tf.signal.frame(centred, patch_samples(stft, frames), hop_frames * stft.hop_length,
                         pad_end=False)


def record_magnitude(patches, stft, mixing):
  """Training records of either --audio_mixing form -> |STFT| patches [batch, F, T, 1].

  Args:
    patches: waveform patches [batch, samples] (mixing "waveform") or |STFT|
      patches [batch, F, T, 1] (mixing "magnitude", returned as they are).
    stft: Stft layer (settings).
    mixing: "waveform" or "magnitude".
  """
  if mixing == "magnitude":
    return tf.cast(patches, tf.float32)
  if mixing != "waveform":
    raise ValueError(f"audio mixing {mixing!r}: expected waveform or magnitude")
  return magnitude(tf.cast(patches, tf.float32), stft)


def magnitude_patches(waveform, stft, frames=64, hop_frames=None):
  """|STFT| patches of a clip: centred STFT of the whole clip, cut every `hop_frames` frames.

  Args:
    waveform: [samples] float32, one clip.
    stft: Stft layer (settings).
    frames, hop_frames: as in `waveform_patches`.

  Returns:
    [num_patches, bins, frames, 1] float32 (same patches as
    magnitude(waveform_patches(...))).
  """
  hop_frames = hop_frames or frames
  spectrum = tf.signal.stft(_centred(waveform, stft)[tf.newaxis], stft.n_fft, stft.hop_length,
                            stft.n_fft, pad_end=False,
                            window_fn=lambda length, dtype: tf.cast(
                                spectrogram.window(stft.n_fft, stft.win_length), dtype))[0]
  patches = tf.signal.frame(tf.abs(spectrum), frames, hop_frames, axis=0, pad_end=False)
  return tf.transpose(patches, [0, 2, 1])[..., tf.newaxis]


def mix_magnitudes(b_magnitude, x_magnitude):
  """Magnitude summing: (|B| + |X_t|, |B|), both [batch, bins, frames, 1]."""
  return b_magnitude + x_magnitude, b_magnitude


def mix_waveforms(b_patches, x_patches, stft):
  """Waveform summing: (|STFT(b + x_t)|, |STFT(b)|) from waveform patches [batch, patch_samples].

  Returns:
    (mixture, target), each [batch, bins, frames, 1] float32.
  """
  return magnitude(b_patches + x_patches, stft), magnitude(b_patches, stft)


# Where the squared-window envelope of a patch is under this share of its peak (its
# ends, covered only by window tails), b fades to the mixture times the end frame's mask.
PATCH_EDGE_ENVELOPE = 0.1


def _patch_edges(b_exact, y_patches, spectrum, mask_frames, stft):
  """b at the ends of patches framed without centring, kept bounded.

  There the exact inverse STFT divides by a near-zero envelope and turns any
  change the mask makes from bin to bin into a spike (estimates once had 40x the
  mixtures' power there). With alpha = min(1, envelope / (share * peak)), b is
  alpha * exact + (1 - alpha) * (energy-weighted mean mask of the end frame) * y:
  the exact inverse wherever the envelope is large, exact for a constant mask.
  """
  samples = tf.shape(y_patches)[1]
  envelope = spectrogram.fit_length(spectrogram.window_envelope(
      tf.shape(spectrum)[-2], stft.n_fft, stft.win_length, stft.hop_length), samples)
  alpha = tf.minimum(envelope / (PATCH_EDGE_ENVELOPE * tf.reduce_max(envelope)), 1.0)
  power = tf.square(tf.abs(spectrum))
  frame_mask = (tf.reduce_sum(mask_frames * power, axis=-1)
                / tf.maximum(tf.reduce_sum(power, axis=-1), 1e-20))  # [batch, frames]
  first_half = tf.range(samples) < samples // 2
  end_mask = tf.where(first_half[tf.newaxis], frame_mask[:, :1], frame_mask[:, -1:])
  return alpha * b_exact + (1.0 - alpha) * end_mask * y_patches


def separate_waveform_patches(mask_model, y_patches, stft):
  """NES re-estimation on waveform patches: x = iSTFT((1 - m(|Y|)) Y), b = y - x.

  Args:
    mask_model: mask net (run with training=False).
    y_patches: [batch, patch_samples] float32 mixture patches.
    stft: Stft layer (settings).

  Returns:
    dict "x", "b" [batch, patch_samples] float32 and "mask" [batch, bins, frames, 1].
    At the patches' ends, under window tails only, b is kept bounded (_patch_edges).
  """
  y_patches = tf.convert_to_tensor(y_patches, tf.float32)
  spectrum = spectrogram.stft(y_patches, stft.n_fft, stft.win_length, stft.hop_length,
                              center=False)
  mask = tf.cast(mask_model(audio_separator.to_mask_layout(tf.abs(spectrum)), training=False),
                 tf.float32)
  mask_frames = audio_separator.from_mask_layout(mask)
  b_spectrum = spectrum * tf.cast(mask_frames, tf.complex64)
  b = spectrogram.inverse_stft(b_spectrum, tf.shape(y_patches)[1], stft.n_fft, stft.win_length,
                               stft.hop_length, center=False)
  b = _patch_edges(b, y_patches, spectrum, mask_frames, stft)
  return {"x": y_patches - b, "b": b, "mask": mask}


def make_waveform_separate_fn(mask_model, stft):
  """A compiled y patches -> (x, b, mask) (data.estimates.estimate_split), waveform mode.

  Args:
    mask_model: mask net (inference mode).
    stft: Stft layer (settings).

  Returns:
    separate(y [batch, patch_samples]) -> (x, b) [batch, patch_samples] and
    mask [batch, bins, frames, 1].
  """

  @tf.function(reduce_retracing=True)
  def separate(y_patches):
    out = separate_waveform_patches(mask_model, y_patches, stft)
    return out["x"], out["b"], out["mask"]

  return separate
