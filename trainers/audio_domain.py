"""The audio domain of the trainers (--domain=audio): data, estimates, evaluation, export.

A trainers.domain.Domain, so that every trainer runs unchanged on music, speech and
noise; its data preparation is trainers/audio_data.py and its evaluation
trainers/audio_evaluation.py:

  python -m trainers.nes --flagfile=musdb.flags --musdb_root=PATH/musdb18hq
  python -m trainers.nes --flagfile=speech_noise.flags --speech_dir=S --noise_dir=N

The mask net sees |STFT| patches [n_fft // 2 + 1, patch_frames, 1] (257 x 64).
NES mixes b + x_t on the fly (--audio_mixing):
- waveform (default): B and Y records are waveform patches and x_t estimates are
  waveforms (x = iSTFT((1 - m) Y) of each Y patch); tf.data sums b + x_t and
  takes |STFT(b + x_t)| and |STFT(b)|.
- magnitude (the reference demo): records are |STFT| patches; mixture
  |B| + |X_t|, x_t = (1 - m(|Y|)) |Y|.
Both were measured on the same data and seeds (bench/audio_mixing.py; X SDR in
dB after the last NES iteration, mean over seeds, Const alongside):
  tones + noise, 8 kHz, 3 x 3 epochs, 3 seeds:       waveform 1.49, magnitude 0.99 (Const 0.09)
  klettres speech + qabcs noise, 8 kHz, 5 x 4, 2 seeds: waveform 2.54, magnitude 1.59 (Const 2.49)
  MIDI-rendered music, vocals, 8 kHz, 5 x 4, 1 seed:  both collapse to x = 0 (0.00; Const 0.74)
Waveform mixing was better or equal, and steadier over iterations, so it is
the default. (At 16 kHz with only 3 x 2 epochs magnitude did better, 1.98 vs
0.16, but there even the supervised net did not beat Const: too little
training to rank anything.) These budgets are far below the paper's.

Evaluation separates whole test tracks with AudioSeparator (chunked, bounded
memory) and scores them with BSS Eval v4 (trainers/audio_evaluation.py). NMF sees
|STFT| frames as rows; its X rows become a mask on the complex mixture STFT.
"""

import os

import numpy as np
import tensorflow as tf

from eggsep_tf.data import audio_prepare
from eggsep_tf.data import estimates
from eggsep_tf.data import iteration
from eggsep_tf.data import mixtures
from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf import mask_nets
from eggsep_tf import nes
from eggsep_tf import oracle
from eggsep_tf import precision
from eggsep_tf import spectrogram
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.export import saved_model
from eggsep_tf.trainers import audio_data
from eggsep_tf.trainers import audio_evaluation
from eggsep_tf.trainers import audio_flags
from eggsep_tf.trainers import domain as domain_base
from eggsep_tf.trainers import gains
from eggsep_tf.trainers import lmm_audio


SHUFFLE_BUFFER = 2048  # Patches held per stream (about 110-135 MB at 257 x 64).


class AudioDomain(domain_base.Domain):
  """Audio: the mask net sees spectrogram patches; whole tracks are separated for tests.

  Attributes (besides Domain's): sample_rate (Hz), stft (spectrogram.Stft), frames
  (--patch_frames), mixing (--audio_mixing: "waveform" or "magnitude").
  """

  name = "audio"
  default_batch_norm_stats = "synthetic"  # Measured better here (bench/RESULTS.md).
  rows_need_wiener_mask = True

  # NES level matching (--x_level): the statistic that adds over sources, and the default.
  level_statistic = "power"
  # NES's start under --init=auto.
  default_init = "const"
  default_x_level = "match"

  def __init__(self, workdir, cfg):
    super().__init__(workdir, cfg)
    audio = cfg.audio
    self.sample_rate = audio_flags.sample_rate(audio)
    win_length, hop_length = spectrogram.frame_settings(
        self.sample_rate, audio.window_ms, audio.hop_ms, audio.n_fft)
    self.stft = spectrogram.Stft(audio.n_fft, win_length, hop_length)
    self.frames = audio.patch_frames
    self.mixing = audio.audio_mixing
    self.shape = [spectrogram.num_bins(audio.n_fft), self.frames, 1]
    self._separators = {}

  # --- Data.

  def prepare(self):
    """Writes WORKDIR/data/{b_train,y_train,test} once (the chief); checks kept data.

    Returns:
      The mask net's input shape [bins, patch_frames, 1].
    """
    audio_data.prepare(self)
    return self.shape

  def names(self):
    spec = tfrecords.read_spec(self._split("y_train"))
    return spec.get("x_name", "x"), spec.get("b_name", "b")

  # --- NES, supervised and AM training.

  def _separate_patches_fn(self, model):
    if self.mixing == "waveform":
      return audio_patches.make_waveform_separate_fn(model, self.stft)
    return nes.make_separate_fn(model)

  def initial_estimates(self, out_dir, fraction):
    # c * y is the same in both modes: a waveform or a magnitude patch scaled.
    estimates.estimate_split(nes.const_separate_fn(fraction), self._split("y_train"), out_dir,
                             self.run.eval_batch_size)

  def estimate(self, model, out_dir, shard=None):
    estimates.estimate_split(self._separate_patches_fn(model), self._split("y_train"), out_dir,
                             self.run.eval_batch_size, shard=shard)

  def _to_magnitudes(self, ds):
    """Waveform mode: (b + x_t, b) (or (y, b)) waveform batches -> their |STFT| patches."""
    if self.mixing == "magnitude":
      return ds
    stft, mixing = self.stft, self.mixing
    return ds.map(lambda mixture, b: (audio_patches.record_magnitude(mixture, stft, mixing),
                                      audio_patches.record_magnitude(b, stft, mixing)),
                  num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

  def real_mixture_batches(self, count, batch_size):
    """|STFT| patches of the first `count` training mixtures, as the mask net sees them."""
    ds = tfrecords.dataset(self._split("y_train"), ["y"]).take(count).batch(batch_size)
    stft, mixing = self.stft, self.mixing
    for rec in iteration.elements(ds):
      yield (rec["y"] if mixing == "magnitude"
             else audio_patches.record_magnitude(rec["y"], stft, mixing))

  def nes_dataset(self, x_dir, batch_size, seed, x_scale=1.0):
    return self._to_magnitudes(mixtures.mixture_dataset(
        self._split("b_train"), x_dir, batch_size, seed, shuffle_buffer=SHUFFLE_BUFFER,
        x_scale=x_scale, **gains.gain_kwargs(self.run)))

  def supervised_dataset(self, batch_size, seed):
    spec = tfrecords.read_spec(self._split("y_train"))
    if "x" not in spec["names"]:
      raise InputError(f"--y_audio_dir={self.cfg.audio.y_audio_dir} holds mixtures without "
                       "references; "
                       "trainers.supervised needs track folders <name>/ with two of "
                       "mixture.*, x.*, b.*")
    return self._to_magnitudes(mixtures.mixture_dataset(
        self._split("b_train"), self._split("y_train"), batch_size, seed, x_name="x",
        shuffle_buffer=SHUFFLE_BUFFER, **gains.gain_kwargs(self.run)))

  def unpaired_dataset(self, batch_size, seed):
    """(|Y|, |B|) spectrogram patch batches drawn independently (Adversarial Masking).

    The same [bins, patch_frames, 1] magnitudes the mask net sees in NES
    training, in either --audio_mixing mode.
    """
    return self._to_magnitudes(mixtures.unpaired_dataset(
        self._split("y_train"), self._split("b_train"), batch_size, seed,
        shuffle_buffer=SHUFFLE_BUFFER))

  # --- NMF: |STFT| frames as rows.

  def rows(self, split):
    """|STFT| frames [rows, bins] of every patch of a split."""
    name = split[0]  # b_train -> "b", y_train -> "y".
    found = []
    for batch in iteration.elements(tfrecords.dataset(self._split(split), [name]).batch(256)):
      patches = batch[name]
      if self.mixing == "waveform":
        patches = audio_patches.magnitude(patches, self.stft)
      # [n, bins, frames, 1] -> [n * frames, bins]
      found.append(tf.reshape(tf.transpose(patches[..., 0], [0, 2, 1]),
                              [-1, patches.shape[1]]).numpy())
    return np.concatenate(found)

  def rows_description(self, split):
    return {"b_train": "B spectrogram frames", "y_train": "mixture spectrogram frames"}[split]

  def evaluate_rows(self, separate_rows):
    """Each test track's |STFT| frames separated as rows; the X rows, as a mask on the
    complex mixture STFT (mixture phase), give the X waveform and B = y - x."""
    stft = self.stft

    def separate(y):
      spectrum = spectrogram.stft(tf.constant(y[np.newaxis]), stft.n_fft, stft.win_length,
                                  stft.hop_length)[0]  # [frames, bins] complex
      v = np.abs(spectrum.numpy())
      x_rows, _ = separate_rows(v)
      mask_x = np.clip(x_rows / np.maximum(v, 1e-12), 0.0, 1.0).astype(np.complex64)
      x = spectrogram.inverse_stft(spectrum * mask_x, len(y), stft.n_fft, stft.win_length,
                                   stft.hop_length).numpy()
      return x, y - x

    return self.evaluate_waveform_fn(separate), None

  def lmm(self):
    return lmm_audio.AudioLmm(self)

  # --- Whole-track separation, evaluation and summaries.

  def separator(self, model, return_mask=False):
    """AudioSeparator for `model` with the run's STFT and chunk settings."""
    return AudioSeparator(model, self.stft.n_fft, self.stft.win_length, self.stft.hop_length,
                          chunk_frames=self.cfg.audio.chunk_frames,
                          context_frames=self.cfg.audio.context_frames,
                          return_mask=return_mask, chunks_per_call=self.chunks_per_call())

  def chunks_per_call(self):
    """--chunks_per_call, 0 resolved by the architecture (mask_nets.chunks_per_call)."""
    return mask_nets.chunks_per_call(self.cfg.audio.chunks_per_call, self.cfg.audio.architecture)

  def _separate_fn(self, model, return_mask=False):
    """A compiled waveform [batch, samples] -> separator outputs, cached per model."""
    key = (id(model), return_mask)
    if key not in self._separators:
      layer = self.separator(model, return_mask)
      self._separators[key] = (model, tf.function(
          layer.call, input_signature=[tf.TensorSpec([None, None], tf.float32)]))
    return self._separators[key][1]

  def evaluate_waveform_fn(self, separate, with_references=False):
    """BSS Eval of separate(y [samples]) -> (x, b) over the test tracks (MUSDB medians).

    with_references: call separate(track) with the whole track dict {"y", "x", "b"}
    instead (the oracle).
    """
    return audio_evaluation.evaluate_tracks(self._split(audio_prepare.TEST_SPLIT), self.names(),
                                            self.sample_rate, separate, with_references)

  def evaluate(self, model):
    """(scores, examples): SDR/SIR/SAR (and SI-SDR) of X and B, and summary examples."""
    separate = self._separate_fn(model)

    def run(y):
      out = separate(tf.constant(y[np.newaxis]))
      return out["x"].numpy()[0], out["b"].numpy()[0]

    scores = self.evaluate_waveform_fn(run)
    shown = None
    if scores:
      shown = audio_evaluation.examples(self._split(audio_prepare.TEST_SPLIT), self.sample_rate,
                                        self.stft, self._separate_fn(model, return_mask=True))
    return scores, shown

  def evaluate_oracle(self):
    """BSS Eval of the ideal ratio mask |B| / (|X| + |B|) on the run's STFT, mixture phase."""
    stft = self.stft
    return self.evaluate_waveform_fn(
        lambda t: oracle.ideal_ratio_separation(t["y"], t["x"], t["b"], stft.n_fft,
                                                stft.win_length, stft.hop_length),
        with_references=True)

  def evaluate_const(self, fraction):
    return self.evaluate_waveform_fn(lambda y: (fraction * y, (1.0 - fraction) * y)), None

  def log(self, writer, step, prefix, scores, examples=None):
    """Scores as scalars; examples as audio clips and spectrogram/mask images."""
    audio_evaluation.log(writer, step, prefix, scores, examples)

  # --- Export.

  def export_description(self):
    x_name, b_name = self.names()
    stft, audio = self.stft, self.cfg.audio
    return {"domain": "audio", "observed": b_name, "unobserved": x_name,
            "window_ms": audio.window_ms, "hop_ms": audio.hop_ms, "patch_frames": self.frames,
            "audio_mixing": self.mixing, "audio_source": audio.audio_source,
            "precision": "float32", "sample_rate": int(self.sample_rate), "n_fft": stft.n_fft,
            "win_length": stft.win_length, "hop_length": stft.hop_length,
            "chunk_frames": audio.chunk_frames, "context_frames": audio.context_frames,
            "chunks_per_call": self.chunks_per_call()}

  def export(self, model, metadata):
    """Writes WORKDIR/export/NAME/VERSION with serving_default and separate_wav."""
    return saved_model.export_audio_separator(
        self.separator(precision.float32_copy(model, self.shape)), self.sample_rate,
        os.path.join(self.workdir, "export"), self.run.model_name, metadata)
