"""The audio domain of the trainers (--domain=audio): data, estimates, evaluation, export.

Same interface as trainers/image_domain.py, so trainers.nes, trainers.am and
trainers.supervised run unchanged on music, speech and noise:

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
memory) and scores them with BSS Eval v4 (eggsep_tf/bss_eval.py: 1 s windows,
NaN windows dropped, median per track, then median over tracks).
"""

import math
import os
import shutil

from absl import logging
import numpy as np
import tensorflow as tf

from eggsep_tf.data import audio_prepare
from eggsep_tf.data import audio_sources
from eggsep_tf.data import estimates
from eggsep_tf.data import mixtures
from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf import bss_eval
from eggsep_tf import nes
from eggsep_tf import oracle
from eggsep_tf import precision
from eggsep_tf import spectrogram
from eggsep_tf import speech_metrics
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.export import saved_model
from eggsep_tf.trainers import audio_flags
from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import gains
from eggsep_tf.trainers import runner

FLAGS = common_flags.FLAGS

EXAMPLE_SECONDS = 5.0  # Audio shown per summary clip.
SHUFFLE_BUFFER = 2048  # Patches held per stream (about 110-135 MB at 257 x 64).


def _median(values):
  values = np.asarray(values, np.float64)
  values = values[~np.isnan(values)]
  return float(np.median(values)) if values.size else float("nan")


def _image(values):
  """[bins, frames] in [0, 1] -> [1, bins, frames, 1], low frequencies at the bottom."""
  return np.asarray(values, np.float32)[::-1][np.newaxis, :, :, np.newaxis]


def _decibel_image(magnitude, floor_db=80.0):
  """|STFT| [bins, frames] -> [0, 1] image: dB relative to its peak, floor_db below it -> 0."""
  db = 20.0 * np.log10(np.maximum(magnitude, 1e-10) / max(float(np.max(magnitude)), 1e-10))
  return np.clip(1.0 + db / floor_db, 0.0, 1.0)


def _folder_flag(name, required=True):
  """InputError naming the flag unless --name is an existing folder (or unset and optional)."""
  value = FLAGS[name].value
  if not value:
    if required:
      raise InputError(f"--{name} is required with --audio_source={FLAGS.audio_source}")
    return
  if not os.path.isdir(value):
    raise InputError(f"--{name}={value}: folder not found")


class AudioDomain:
  """Audio: the mask net sees spectrogram patches; whole tracks are separated for tests."""

  name = "audio"

  # NES level matching (--x_level): the statistic that adds over sources, and the default.
  level_statistic = "power"
  # NES's start under --init=auto.
  default_init = "const"
  default_x_level = "match"

  def __init__(self, workdir):
    self.workdir = workdir
    self.data_dir = os.path.join(workdir, "data")
    self.sample_rate = audio_flags.sample_rate()
    win_length, hop_length = spectrogram.frame_settings(
        self.sample_rate, FLAGS.window_ms, FLAGS.hop_ms, FLAGS.n_fft)
    self.stft = spectrogram.Stft(FLAGS.n_fft, win_length, hop_length)
    self.frames = FLAGS.patch_frames
    self.mixing = FLAGS.audio_mixing
    self.shape = [spectrogram.num_bins(FLAGS.n_fft), self.frames, 1]
    self._separators = {}

  def _split(self, name):
    return os.path.join(self.data_dir, name)

  # --- Data.

  def _sources(self):
    """data.audio_sources.AudioSources from the flags."""
    source = FLAGS.audio_source
    if source == "musdb":
      _folder_flag("musdb_root")
      return audio_sources.musdb_sources(FLAGS.musdb_root, FLAGS.musdb_target, self.sample_rate,
                                         FLAGS.musdb_b_fraction, FLAGS.max_tracks,
                                         FLAGS.data_seed)
    if source == "speech_noise":
      _folder_flag("speech_dir")
      _folder_flag("noise_dir")
      clip = round(FLAGS.clip_seconds * self.sample_rate) or \
          (self.frames - 1) * self.stft.hop_length  # Exactly one patch of centred frames.
      max_clips = None
      if FLAGS.max_train_seconds:
        max_clips = max(1, math.ceil(FLAGS.max_train_seconds * self.sample_rate / clip))
      return audio_sources.speech_noise_sources(
          FLAGS.speech_dir, FLAGS.noise_dir, self.sample_rate, clip, audio_flags.snr_range(),
          FLAGS.x_source, FLAGS.test_track_seconds, max_clips, FLAGS.max_tracks,
          FLAGS.data_seed)
    _folder_flag("b_audio_dir")
    _folder_flag("y_audio_dir")
    _folder_flag("test_audio_dir", required=False)
    return audio_sources.folder_sources(FLAGS.b_audio_dir, FLAGS.y_audio_dir,
                                        FLAGS.test_audio_dir, self.sample_rate,
                                        FLAGS.max_tracks)

  def _write_splits(self, settings):
    """Writes whatever splits are missing (a killed preparation resumes by split)."""
    partial = os.path.join(self.data_dir, "settings.partial.json")
    # Finished splits of an interrupted preparation are kept only if made with these flags.
    if runner.read_json(partial, None) != settings:
      for split in audio_prepare.TRAIN_SPLITS + (audio_prepare.TEST_SPLIT,):
        shutil.rmtree(self._split(split), ignore_errors=True)
    os.makedirs(self.data_dir, exist_ok=True)
    runner.write_json(partial, settings)
    sources = self._sources()
    extra = {**sources.description, "x_name": sources.names[0], "b_name": sources.names[1]}

    def done(split):
      return os.path.exists(os.path.join(self._split(split), tfrecords.SPEC_FILE))

    rate, max_seconds = self.sample_rate, FLAGS.max_train_seconds
    if not done("b_train"):
      logging.info("Preparing the B patches (%d tracks)", len(sources.b))
      audio_prepare.write_patch_split(self._split("b_train"), sources.b, self.stft, self.frames,
                                      self.mixing, "b", rate, max_seconds, extra)
    if not done("y_train"):
      logging.info("Preparing the mixture patches (%d tracks)", len(sources.y))
      audio_prepare.write_patch_split(self._split("y_train"), sources.y, self.stft, self.frames,
                                      self.mixing, "y", rate, max_seconds,
                                      {**extra, "has_references": sources.has_references})
    if not done(audio_prepare.TEST_SPLIT):
      audio_prepare.write_test_split(self._split(audio_prepare.TEST_SPLIT), sources.test, rate,
                                     FLAGS.max_test_seconds, extra)

  def prepare(self):
    """Writes WORKDIR/data/{b_train,y_train,test} once (the chief); checks kept data.

    Returns:
      The mask net's input shape [bins, patch_frames, 1].
    """
    settings = common_flags.values(common_flags.DATA_FLAGS)
    settings_path = os.path.join(self.data_dir, "settings.json")
    if not runner.is_chief():
      runner.wait_for(lambda: os.path.exists(settings_path),
                      f"the chief to prepare {self.data_dir}")
    saved = runner.read_json(settings_path, None)
    if saved is not None and audio_prepare.splits_ready(self.data_dir):
      runner.check_same(saved, settings, "data set", settings_path)
    else:
      self._write_splits(settings)
      runner.write_json(settings_path, settings)
      os.remove(os.path.join(self.data_dir, "settings.partial.json"))
      logging.info("Prepared %s", self.data_dir)
    spec = tfrecords.read_spec(self._split("y_train"))
    expected = ([audio_patches.patch_samples(self.stft, self.frames)]
                if self.mixing == "waveform" else self.shape)
    if spec["shape"] != expected:
      raise InputError(f"{self._split('y_train')}: patches of shape {spec['shape']}, expected "
                       f"{expected}; use a new --workdir")
    return self.shape

  def names(self):
    spec = tfrecords.read_spec(self._split("y_train"))
    return spec.get("x_name", "x"), spec.get("b_name", "b")

  def steps_per_epoch(self):
    count = max(tfrecords.read_spec(self._split("y_train"))["count"],
                tfrecords.read_spec(self._split("b_train"))["count"])
    return max(1, math.ceil(count / FLAGS.batch_size))

  def num_mixtures(self):
    return tfrecords.read_spec(self._split("y_train"))["count"]

  def estimate_bytes(self):
    """Disk taken by one set of X estimates (float32 records)."""
    spec = tfrecords.read_spec(self._split("y_train"))
    return spec["count"] * int(np.prod(spec["shape"])) * 4

  # --- NES and supervised training.

  def _separate_patches_fn(self, model):
    if self.mixing == "waveform":
      return audio_patches.make_waveform_separate_fn(model, self.stft)
    return nes.make_separate_fn(model)

  def initial_estimates(self, out_dir, fraction):
    # c * y is the same in both modes: a waveform or a magnitude patch scaled.
    estimates.estimate_split(nes.const_separate_fn(fraction), self._split("y_train"), out_dir,
                             FLAGS.eval_batch_size)

  def estimate(self, model, out_dir, shard=None):
    estimates.estimate_split(self._separate_patches_fn(model), self._split("y_train"), out_dir,
                             FLAGS.eval_batch_size, shard=shard)

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
    for rec in ds:
      yield (rec["y"] if mixing == "magnitude"
             else audio_patches.record_magnitude(rec["y"], stft, mixing))

  def nes_dataset(self, x_dir, batch_size, seed, x_scale=1.0):
    return self._to_magnitudes(mixtures.mixture_dataset(
        self._split("b_train"), x_dir, batch_size, seed, shuffle_buffer=SHUFFLE_BUFFER,
        x_scale=x_scale, **gains.gain_kwargs()))

  def supervised_dataset(self, batch_size, seed):
    spec = tfrecords.read_spec(self._split("y_train"))
    if "x" not in spec["names"]:
      raise InputError(f"--y_audio_dir={FLAGS.y_audio_dir} holds mixtures without references; "
                       "trainers.supervised needs track folders <name>/ with two of "
                       "mixture.*, x.*, b.*")
    return self._to_magnitudes(mixtures.mixture_dataset(
        self._split("b_train"), self._split("y_train"), batch_size, seed, x_name="x",
        shuffle_buffer=SHUFFLE_BUFFER, **gains.gain_kwargs()))

  def unpaired_dataset(self, batch_size, seed):
    """(|Y|, |B|) spectrogram patch batches drawn independently (Adversarial Masking).

    The same [bins, patch_frames, 1] magnitudes the mask net sees in NES
    training, in either --audio_mixing mode.
    """
    return self._to_magnitudes(mixtures.unpaired_dataset(
        self._split("y_train"), self._split("b_train"), batch_size, seed,
        shuffle_buffer=SHUFFLE_BUFFER))

  def check_estimates(self, split_dir):
    """Raises InputError unless split_dir holds one estimate per training mixture."""
    runner.check_estimates_match(self._split("y_train"), split_dir)

  # --- Whole-track separation, evaluation and summaries.

  def separator(self, model, return_mask=False):
    """AudioSeparator for `model` with the run's STFT and chunk settings."""
    return AudioSeparator(model, self.stft.n_fft, self.stft.win_length, self.stft.hop_length,
                          chunk_frames=FLAGS.chunk_frames, context_frames=FLAGS.context_frames,
                          return_mask=return_mask)

  def _separate_fn(self, model, return_mask=False):
    """A compiled waveform [batch, samples] -> separator outputs, cached per model."""
    key = (id(model), return_mask)
    if key not in self._separators:
      layer = self.separator(model, return_mask)
      self._separators[key] = (model, tf.function(
          layer.call, input_signature=[tf.TensorSpec([None, None], tf.float32)]))
    return self._separators[key][1]

  def _test_tracks(self):
    test_dir = self._split(audio_prepare.TEST_SPLIT)
    spec = audio_prepare.read_test_spec(test_dir)
    for i in range(spec["count"]):
      yield spec["names"][i], audio_prepare.load_test_track(test_dir, i)

  def evaluate_waveform_fn(self, separate, with_references=False):
    """BSS Eval of separate(y [samples]) -> (x, b) over the test tracks (MUSDB medians).

    with_references: call separate(track) with the whole track dict {"y", "x", "b"}
    instead (the oracle).
    """
    per_track = []
    x_name, b_name = self.names()
    speech_source = {x_name: "x", b_name: "b"}.get("speech")
    speech = speech_metrics.available()
    for name, track in self._test_tracks():
      x, b = separate(track if with_references else track["y"])
      scores = bss_eval.evaluate_track({"x": track["x"], "b": track["b"]}, {"x": x, "b": b},
                                       self.sample_rate)
      for source, estimate in (("x", x), ("b", b)):
        scores[f"si_sdr_{source}"] = float(bss_eval.si_sdr(track[source][None],
                                                           estimate[None])[0])
        if speech_source == source:  # PESQ / STOI where the source is speech.
          for metric, value in speech_metrics.speech_scores(
              track[source], estimate, self.sample_rate, speech).items():
            scores[f"{metric}_{source}"] = value
      logging.info("test %s: %s", name, ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
      per_track.append(scores)
    if not per_track:
      logging.warning("No test tracks: no test scores")
      return {}
    results = {k: _median([t[k] for t in per_track]) for k in per_track[0]}
    unscored = max(sum(np.isnan(t[k]) for t in per_track) for k in per_track[0])
    if unscored:
      logging.warning("BSS Eval: %d of %d test tracks had a metric with no scorable window "
                      "(silent source); left out of its median", unscored, len(per_track))
    results["num_tracks"] = len(per_track)
    return results

  def evaluate(self, model):
    """(scores, examples): SDR/SIR/SAR (and SI-SDR) of X and B, and summary examples."""
    separate = self._separate_fn(model)

    def run(y):
      out = separate(tf.constant(y[np.newaxis]))
      return out["x"].numpy()[0], out["b"].numpy()[0]

    scores = self.evaluate_waveform_fn(run)
    return scores, (self._examples(model) if scores else None)

  def evaluate_oracle(self):
    """BSS Eval of the ideal ratio mask |B| / (|X| + |B|) on the run's STFT, mixture phase."""
    stft = self.stft
    return self.evaluate_waveform_fn(
        lambda t: oracle.ideal_ratio_separation(t["y"], t["x"], t["b"], stft.n_fft,
                                                stft.win_length, stft.hop_length),
        with_references=True)

  def evaluate_const(self, fraction):
    return self.evaluate_waveform_fn(lambda y: (fraction * y, (1.0 - fraction) * y)), None

  def _examples(self, model):
    """The first EXAMPLE_SECONDS of the first test track: audio, spectrogram and mask."""
    name, track = next(self._test_tracks())
    count = min(len(track["y"]), round(EXAMPLE_SECONDS * self.sample_rate))
    clip = {k: v[:count] for k, v in track.items()}
    out = self._separate_fn(model, return_mask=True)(tf.constant(clip["y"][np.newaxis]))
    magnitude = np.abs(self.stft(clip["y"][np.newaxis]).numpy()[0]).T  # [bins, frames]
    return {"track": name, "sample_rate": self.sample_rate, "mixture": clip["y"],
            "x": out["x"].numpy()[0], "b": out["b"].numpy()[0], "x_true": clip["x"],
            "b_true": clip["b"], "spectrogram": _decibel_image(magnitude),
            "mask": out["mask"].numpy()[0, :, :, 0]}

  def log(self, writer, step, prefix, scores, examples=None):
    """Scores as scalars; examples as audio clips and spectrogram/mask images."""
    with writer.as_default(step=step):
      for k, v in scores.items():
        tf.summary.scalar(f"{prefix}/{k}", v)
      if examples is not None:
        rate = examples["sample_rate"]
        for key in ("mixture", "x", "b", "x_true", "b_true"):
          audio = np.clip(examples[key], -1.0, 1.0)[np.newaxis, :, np.newaxis]
          tf.summary.audio(f"{prefix}/audio_{key}", audio, rate)
        tf.summary.image(f"{prefix}/mixture_spectrogram_db", _image(examples["spectrogram"]))
        tf.summary.image(f"{prefix}/b_mask", _image(examples["mask"]))
    writer.flush()

  # --- Export.

  def export(self, model, metadata):
    """Writes WORKDIR/export/NAME/VERSION with serving_default and separate_wav."""
    metadata = {**metadata, "window_ms": FLAGS.window_ms, "hop_ms": FLAGS.hop_ms,
                "patch_frames": self.frames, "audio_mixing": self.mixing,
                "audio_source": FLAGS.audio_source, "precision": "float32"}
    return saved_model.export_audio_separator(
        self.separator(precision.float32_copy(model, self.shape)), self.sample_rate, os.path.join(self.workdir, "export"),
        FLAGS.model_name, metadata)
