"""The audio separator: waveform in, separated waveforms out (what gets exported and served).

STFT -> magnitude -> mask net -> b = iSTFT(mask * complex STFT of y), x = y - b.
The mask multiplies the complex mixture STFT, so both estimates keep the
mixture's phase (paper section 4; the mask net is T(y) = y * m(y)).

Whole files of any length are separated chunk by chunk inside the graph: a
tf.while_loop cuts the (centred) signal into windows of
`chunk_frames + 2 * context_frames` STFT frames, runs the mask net on one window
at a time, keeps the mask of the middle `chunk_frames` frames, and overlap-adds
the inverse STFT of those frames into the output. The mask net therefore only
ever sees a fixed number of frames: its memory does not depend on the file's
length. What does grow with the length is a few waveform-sized buffers (input,
padded input, output segments, x and b: about 7 float32 copies of the signal,
measured +270 MB for 10 minutes at 16 kHz), which is what holding the file
costs anyway. Running the default MaskUNet on all frames at once would instead
need about 1.1 GB per minute of 16 kHz audio.

When `context_frames` covers the mask net's receptive field (for the default
4-level MaskUNet, context 48 already reproduces the whole-file mask exactly,
32 does not; the default 64 has margin) and chunk and context sizes are multiples of its
total stride, chunked masks equal the mask the net would give on the whole file
at once, except within the receptive field of the file's ends (where the
chunked version sees silence instead of the net's zero padding of activations).
With a smaller context the masks differ slightly near chunk boundaries; the
inverse STFT's overlap-add still joins the chunks without clicks.
"""

import keras
import tensorflow as tf

from eggsep_tf import spectrogram
from eggsep_tf.errors import InputError


def to_mask_layout(spectrum_magnitude):
  """[batch, frames, bins] -> [batch, bins, frames, 1]: the mask net's (H = bins, W = frames)."""
  return tf.transpose(spectrum_magnitude, [0, 2, 1])[..., tf.newaxis]


def from_mask_layout(mask):
  """[batch, bins, frames, 1] -> [batch, frames, bins]."""
  return tf.transpose(mask[..., 0], [0, 2, 1])


@keras.saving.register_keras_serializable(package="eggsep_tf")
class AudioSeparator(keras.layers.Layer):
  """Separates waveforms with a spectrogram mask net, whole files in bounded memory.

  Args:
    mask_model: maps magnitudes [batch, bins, frames, 1] (non-negative) to the
      B mask m(y) in [0, 1] of the same shape (e.g. MaskUNet); run with
      training=False.
    n_fft, win_length, hop_length: STFT settings in samples (as in training).
    chunk_frames: STFT frames kept from each chunk; None runs the mask net on
      the whole file at once (no chunking; memory grows with the length).
    context_frames: extra frames on each side of a chunk, seen by the net but
      discarded from its output.
    return_mask: also return the mask of the whole file.
    chunks_per_call: at most this many consecutive chunks go through the mask net
      as one batch (faster for light nets; the net's activations then grow with
      it, not with the file). The result does not depend on it.
  """

  def __init__(self, mask_model, n_fft=512, win_length=400, hop_length=160, chunk_frames=512,
               context_frames=64, return_mask=False, chunks_per_call=1, **kwargs):
    kwargs.setdefault("dtype", "float32")  # Exact whatever the global policy.
    super().__init__(**kwargs)
    spectrogram.check_settings(n_fft, win_length, hop_length)
    stride = int(getattr(mask_model, "total_stride", 1))
    if chunk_frames is not None:
      if chunk_frames <= 0 or context_frames < 0:
        raise InputError(f"chunk_frames={chunk_frames}, context_frames={context_frames}: "
                         "expected chunk_frames > 0 and context_frames >= 0")
      if chunk_frames * hop_length < n_fft - hop_length:
        raise InputError(f"chunk_frames={chunk_frames}: expected at least "
                         f"{-(-(n_fft - hop_length) // hop_length)} frames (a chunk must span "
                         "the overlap of neighbouring frames)")
      if chunk_frames % stride or context_frames % stride:
        raise InputError(f"chunk_frames={chunk_frames}, context_frames={context_frames}: "
                         f"expected multiples of the mask net's total stride {stride}, so "
                         "that every chunk lines up with the net's pooling grid")
      if int(chunks_per_call) < 1:
        raise InputError(f"chunks_per_call={chunks_per_call}: expected a positive count")
    self.mask_model = mask_model
    self.chunks_per_call = int(chunks_per_call)
    self.n_fft = n_fft
    self.win_length = win_length
    self.hop_length = hop_length
    self.chunk_frames = chunk_frames
    self.context_frames = context_frames
    self.return_mask = return_mask
    # No weights of its own (the mask net builds itself on its first call), so it
    # can be exported without a dummy call first.
    self.built = True

  def _mask(self, magnitude):
    """Magnitudes [batch, frames, bins] -> mask [batch, frames, bins] float32."""
    mask = self.mask_model(to_mask_layout(magnitude), training=False)
    return from_mask_layout(tf.cast(mask, tf.float32))

  def _centred(self, waveform, left_zeros=0, right_zeros=0):
    """Reflect-pads n_fft // 2 samples on both sides (librosa centring), in one copy.

    Clips shorter than n_fft are zero-extended to n_fft first. Optional zeros
    go outside the reflected parts.
    """
    pad = self.n_fft // 2
    length = tf.shape(waveform)[1]
    waveform = tf.cond(length < self.n_fft,
                       lambda: spectrogram.fit_length(waveform, self.n_fft),
                       lambda: waveform)
    batch = tf.shape(waveform)[0]
    return tf.concat([tf.zeros([batch, left_zeros]),
                      tf.reverse(waveform[:, 1:pad + 1], [1]),
                      waveform,
                      tf.reverse(waveform[:, -pad - 1:-1], [1]),
                      tf.zeros([batch, right_zeros])], axis=1)

  def _separate_whole(self, waveform):
    """b and mask [batch, frames, bins] with the mask net run on all frames at once."""
    spectrum = tf.signal.stft(self._centred(waveform), self.n_fft, self.hop_length, self.n_fft,
                              window_fn=self._window_fn, pad_end=False)
    mask = self._mask(tf.abs(spectrum))
    summed = spectrogram.overlap_add_frames(spectrum * tf.cast(mask, tf.complex64), self.n_fft,
                                            self.win_length, self.hop_length)
    envelope = spectrogram.window_envelope(tf.shape(spectrum)[1], self.n_fft, self.win_length,
                                           self.hop_length)
    return spectrogram.normalise(summed, envelope), mask

  def _window_fn(self, length, dtype):
    del length
    return tf.cast(spectrogram.window(self.n_fft, self.win_length), dtype)

  def _separate_chunked(self, waveform):
    """b (uncropped, centred coordinates) and mask [batch, frames', bins], chunk by chunk.

    Each loop step takes a group of g consecutive chunks (g <= chunks_per_call,
    the same for every group, chosen so that the groups cover the file with less
    than one spare chunk per group): one STFT of the group's span, the mask net
    run on the g chunk windows (with their context) as one batch, and one inverse
    STFT of the group's g * core kept frames. Group k masks frames
    [k * g * core, (k + 1) * g * core) and inverts them into a part of
    (g * core - 1) * hop + n_fft samples starting at sample k * g * core * hop of
    the centred signal. Consecutive parts overlap by n_fft - hop samples only, so
    each part is normalised by the global window envelope over its span (its own
    envelope plus its neighbours' overlapping ends) inside the loop, and the loop
    emits finished segments, carrying the overlapping end to the next step: no
    whole-length envelope or overlap-add buffer is ever built. Every chunk's
    window is the same whatever g is, so g changes the speed, not the result.
    """
    n_fft, hop = self.n_fft, self.hop_length
    core, context = self.chunk_frames, self.context_frames
    frames_per_window = core + 2 * context
    overlap = n_fft - hop  # Samples a part shares with the next one (< a group's step).
    length = tf.maximum(tf.shape(waveform)[1], n_fft)
    num_frames = 1 + length // hop
    num_chunks = (num_frames + core - 1) // core
    num_groups = (num_chunks + self.chunks_per_call - 1) // self.chunks_per_call
    group = (num_chunks + num_groups - 1) // num_groups  # Chunks per loop step.
    group_frames = group * core
    step = group_frames * hop  # Samples between group starts.
    group_samples = (group_frames + 2 * context - 1) * hop + n_fft
    # Frame f of the centred signal starts at sample f * hop. Group k's span holds frames
    # [k * group_frames - context, (k + 1) * group_frames + context): `context` silent
    # frames precede the file, and silence follows it up to the last group's end.
    centred_length = length + 2 * (n_fft // 2)
    needed = (num_groups - 1) * step + group_samples
    extended = self._centred(waveform, context * hop,
                             tf.maximum(needed - context * hop - centred_length, 0))
    batch = tf.shape(waveform)[0]
    num_bins = spectrogram.num_bins(n_fft)
    part_envelope = spectrogram.window_envelope(group_frames, n_fft, self.win_length, hop)
    part_samples = (group_frames - 1) * hop + n_fft
    from_previous = tf.pad(part_envelope[step:], [[0, part_samples - overlap]])
    from_next = tf.pad(part_envelope[:overlap], [[step, 0]])

    def body(k, carry, segments, mask_parts):
      start = k * step
      spectrum = tf.signal.stft(extended[:, start:start + group_samples], n_fft, hop, n_fft,
                                window_fn=self._window_fn, pad_end=False)
      # The group's chunk windows, [batch * group, frames_per_window, bins], one net call.
      windows = tf.signal.frame(tf.abs(spectrum), frames_per_window, core, axis=1)
      windows = tf.ensure_shape(tf.reshape(windows, [-1, frames_per_window, num_bins]),
                                [None, frames_per_window, num_bins])
      mask = self._mask(windows)[:, context:context + core]
      mask = tf.reshape(mask, [batch, group_frames, num_bins])
      kept = spectrum[:, context:context + group_frames] * tf.cast(mask, tf.complex64)
      part = spectrogram.overlap_add_frames(kept, n_fft, self.win_length, hop)
      envelope = (part_envelope + tf.cast(k > 0, tf.float32) * from_previous
                  + tf.cast(k < num_groups - 1, tf.float32) * from_next)
      part = spectrogram.normalise(part, envelope)
      segment = part[:, :step] + tf.pad(carry, [[0, 0], [0, step - overlap]])
      # part is step + overlap samples long.
      carry = tf.ensure_shape(part[:, step:], [waveform.shape[0], overlap])
      return k + 1, carry, segments.write(k, segment), mask_parts.write(k, mask)

    segments = tf.TensorArray(tf.float32, size=num_groups, element_shape=[None, None])
    mask_parts = tf.TensorArray(tf.float32, size=num_groups,
                                element_shape=[None, None, num_bins])
    # One group at a time: bounded memory is the point of chunking.
    _, carry, segments, mask_parts = tf.while_loop(
        lambda k, *_: k < num_groups, body,
        (tf.constant(0), tf.zeros([batch, overlap]), segments, mask_parts),
        parallel_iterations=1)
    b = tf.transpose(segments.stack(), [1, 0, 2])
    b = tf.concat([tf.reshape(b, [batch, num_groups * step]), carry], axis=1)
    mask = tf.transpose(mask_parts.stack(), [1, 0, 2, 3])
    mask = tf.reshape(mask, [batch, num_groups * group_frames, num_bins])[:, :num_frames]
    return b, mask

  def call(self, waveform):
    """Args: waveform [batch, samples] float32 mixtures (any length >= 1).

    Returns:
      dict with "x" and "b", each [batch, samples] float32 (x = y - b), and with
      return_mask "mask" [batch, bins, frames, 1] in [0, 1] (frames = 1 +
      max(samples, n_fft) // hop_length).
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    length = tf.shape(waveform)[1]
    if self.chunk_frames is None:
      b, mask = self._separate_whole(waveform)
    else:
      b, mask = self._separate_chunked(waveform)
    pad = self.n_fft // 2
    b = b[:, pad:pad + length]
    outputs = {"x": waveform - b, "b": b}
    if self.return_mask:
      outputs["mask"] = to_mask_layout(mask)
    return outputs

  def get_config(self):
    return {**super().get_config(),
            "mask_model": keras.saving.serialize_keras_object(self.mask_model),
            "n_fft": self.n_fft, "win_length": self.win_length, "hop_length": self.hop_length,
            "chunk_frames": self.chunk_frames, "context_frames": self.context_frames,
            "return_mask": self.return_mask, "chunks_per_call": self.chunks_per_call}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["mask_model"] = keras.saving.deserialize_keras_object(config["mask_model"])
    return cls(**config)
