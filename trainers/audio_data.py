"""The audio domain's data preparation: WORKDIR/data/{b_train,y_train,test} from the
audio flags (--audio_source musdb, speech_noise or folders).

The record splits are written by data/audio_prepare.py; this half maps the flags onto
its sources and keeps a killed preparation resumable split by split.
"""

import math
import os
import shutil

from absl import logging

from eggsep_tf.data import audio_prepare
from eggsep_tf.data import audio_sources
from eggsep_tf.data import tfrecords
from eggsep_tf import audio_patches
from eggsep_tf.errors import InputError
from eggsep_tf.trainers import audio_flags
from eggsep_tf.trainers import cluster
from eggsep_tf.trainers import json_files
from eggsep_tf.trainers import workdir_checks


def _folder_flag(cfg, name, required=True):
  """InputError naming the flag unless --name is an existing folder (or unset and optional)."""
  value = getattr(cfg, name)
  if not value:
    if required:
      raise InputError(f"--{name} is required with --audio_source={cfg.audio_source}")
    return
  if not os.path.isdir(value):
    raise InputError(f"--{name}={value}: folder not found")


def sources(domain):
  """data.audio_sources.AudioSources from the flags, at the domain's sample rate."""
  rate, cfg = domain.sample_rate, domain.cfg.audio
  source = cfg.audio_source
  if source == "musdb":
    _folder_flag(cfg, "musdb_root")
    return audio_sources.musdb_sources(cfg.musdb_root, cfg.musdb_target, rate,
                                       cfg.musdb_b_fraction, cfg.max_tracks,
                                       cfg.data_seed)
  if source == "speech_noise":
    _folder_flag(cfg, "speech_dir")
    _folder_flag(cfg, "noise_dir")
    clip = round(cfg.clip_seconds * rate) or \
        (domain.frames - 1) * domain.stft.hop_length  # Exactly one patch of centred frames.
    max_clips = None
    if cfg.max_train_seconds:
      max_clips = max(1, math.ceil(cfg.max_train_seconds * rate / clip))
    return audio_sources.speech_noise_sources(
        cfg.speech_dir, cfg.noise_dir, rate, clip, audio_flags.snr_range(cfg.snr_db),
        cfg.x_source, cfg.test_track_seconds, max_clips, cfg.max_tracks,
        cfg.data_seed)
  _folder_flag(cfg, "b_audio_dir")
  _folder_flag(cfg, "y_audio_dir")
  _folder_flag(cfg, "test_audio_dir", required=False)
  return audio_sources.folder_sources(cfg.b_audio_dir, cfg.y_audio_dir,
                                      cfg.test_audio_dir, rate, cfg.max_tracks)


def _write_splits(domain, settings):
  """Writes whatever splits are missing (a killed preparation resumes by split)."""
  data_dir = domain.data_dir
  partial = os.path.join(data_dir, "settings.partial.json")
  # Finished splits of an interrupted preparation are kept only if made with these flags.
  if json_files.read_json(partial, None) != settings:
    for split in audio_prepare.TRAIN_SPLITS + (audio_prepare.TEST_SPLIT,):
      shutil.rmtree(os.path.join(data_dir, split), ignore_errors=True)
  os.makedirs(data_dir, exist_ok=True)
  json_files.write_json(partial, settings)
  found = sources(domain)
  extra = {**found.description, "x_name": found.names[0], "b_name": found.names[1]}

  def split_dir(split):
    return os.path.join(data_dir, split)

  def done(split):
    return os.path.exists(os.path.join(split_dir(split), tfrecords.SPEC_FILE))

  rate, max_seconds = domain.sample_rate, domain.cfg.audio.max_train_seconds
  stft, frames, mixing = domain.stft, domain.frames, domain.mixing
  if not done("b_train"):
    logging.info("Preparing the B patches (%d tracks)", len(found.b))
    audio_prepare.write_patch_split(split_dir("b_train"), found.b, stft, frames, mixing, "b",
                                    rate, max_seconds, extra)
  if not done("y_train"):
    logging.info("Preparing the mixture patches (%d tracks)", len(found.y))
    audio_prepare.write_patch_split(split_dir("y_train"), found.y, stft, frames, mixing, "y",
                                    rate, max_seconds,
                                    {**extra, "has_references": found.has_references})
  if not done(audio_prepare.TEST_SPLIT):
    audio_prepare.write_test_split(split_dir(audio_prepare.TEST_SPLIT), found.test, rate,
                                   domain.cfg.audio.max_test_seconds, extra)


def prepare(domain):
  """Writes domain.data_dir's splits once (the chief); checks kept data against the flags.

  Raises:
    InputError: kept data made with other flags, or patches of another shape.
  """
  data_dir = domain.data_dir
  settings = domain.cfg.audio.settings
  settings_path = os.path.join(data_dir, "settings.json")
  if not cluster.is_chief():
    cluster.wait_for(lambda: os.path.exists(settings_path), f"the chief to prepare {data_dir}")
  saved = json_files.read_json(settings_path, None)
  if saved is not None and audio_prepare.splits_ready(data_dir):
    workdir_checks.check_same(saved, settings, "data set", settings_path, domain.workdir)
  else:
    _write_splits(domain, settings)
    json_files.write_json(settings_path, settings)
    os.remove(os.path.join(data_dir, "settings.partial.json"))
    logging.info("Prepared %s", data_dir)
  y_dir = os.path.join(data_dir, "y_train")
  spec = tfrecords.read_spec(y_dir)
  expected = ([audio_patches.patch_samples(domain.stft, domain.frames)]
              if domain.mixing == "waveform" else domain.shape)
  if spec["shape"] != expected:
    raise InputError(f"{y_dir}: patches of shape {spec['shape']}, expected {expected}; use a "
                     "new --workdir")
