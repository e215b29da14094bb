"""Exports the separator of a finished training run from its workdir.

The trainers export at the end of training (WORKDIR/export/NAME/VERSION); this
does the same again from what the run left behind, e.g. into another model
base, under another name, or for the supervised bound, which the trainer does
not export. Nothing is trained: the mask net is rebuilt from the run's settings
(WORKDIR/run-<trainer>.json: architecture, filters, skip_connections), its
weights are restored from the last checkpoint of the run's final phase
(eggsep_tf/workdir_layout.py: WORKDIR/nes/iter_<iterations - 1>/ or
WORKDIR/supervised/) and only the separator is exported (export/saved_model.py).
metadata.json is built by export/separator_metadata.py from the separator
description the trainer recorded in its run record ("export"), as the trainer's
own export was; runs recorded before that description existed fall back to
deriving it from their settings and data (_derived_description).
"""

import json
import os

from absl import logging
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf import checkpointing
from eggsep_tf import mask_model
from eggsep_tf import mask_nets
from eggsep_tf import provenance
from eggsep_tf import results
from eggsep_tf import spectrogram
from eggsep_tf import strided_mask_unet
from eggsep_tf import workdir_layout
from eggsep_tf.audio_separator import AudioSeparator
from eggsep_tf.errors import InputError
from eggsep_tf.image_separator import ImageSeparator
from eggsep_tf.export import saved_model
from eggsep_tf.export import separator_metadata

TRAINERS = ("nes", "supervised")
DEFAULT_MODEL_NAME = "eggsep"


def _read_json(path, what):
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise InputError(f"{path} is missing: {what}") from None
  except (OSError, ValueError) as e:
    raise InputError(f"{path}: unreadable ({e}); expected JSON written by the trainer") from None


def result_row(trainer, settings):
  """The results.json row a finished run of `trainer` writes."""
  return workdir_layout.result_row(trainer, settings.get("init", "const"))


def phase_dir(workdir, trainer, settings):
  """The folder of the run's last training phase (its checkpoint and state.json)."""
  return workdir_layout.final_phase(workdir, trainer, settings.get("iterations"))


def last_checkpoint(phase):
  """The checkpoint prefix the phase's state.json vouches for.

  Raises:
    InputError: the phase has no finished epoch or its checkpoint is gone.
  """
  state_path = os.path.join(phase, "state.json")
  state = _read_json(state_path, "the run's last phase never finished an epoch")
  ckpt_dir = os.path.join(phase, "ckpt")
  name = state.get("checkpoint")
  path = os.path.join(ckpt_dir, name) if name else tf.train.latest_checkpoint(ckpt_dir)
  if not state.get("epochs_done") or path is None or \
      not tf.io.gfile.exists(path + ".index"):
    raise InputError(f"{phase}: no checkpoint of a finished epoch (state.json says "
                     f"{state}); the run is unfinished or its folder damaged")
  return path


def build_mask_model(settings, shape, package_version=None, net=None):
  """The mask net the trainer built from its settings (eggsep_tf/mask_model.py).

  Args:
    settings: a run's settings (architecture, filters, skip_connections, stride,
      unet_variant, domain). Runs recorded before --unet_variant (0.5) had the full U-Net;
      those of 0.5-0.6 with "auto" the light form where strided (not 0.7's lean one).
    shape: example shape [H, W, C].
    package_version: the eggsep-tf version that recorded the run (its code record).
    net: the run record's "net" (NES, 0.9): the form the trainer resolved and built,
      which wins over the flag's ("auto" under --precision=measured depends on the hardware).
  """
  if "filters" not in settings:
    raise InputError("the run's settings hold no filters; expected the run record of a "
                     "trainer")
  return mask_model.build_mask_model(
      shape, settings.get("architecture", "unet"), settings["filters"],
      settings.get("skip_connections", True), settings.get("stride", "auto"),
      settings.get("domain", "image"), what="the run's ",
      variant=(net or {}).get("unet_variant") or strided_mask_unet.recorded_variant(
          settings.get("unet_variant"), package_version))


def restore_weights(model, checkpoint):
  """Loads the model's weights from a trainer checkpoint (the optimiser's are skipped).

  Raises:
    InputError: the checkpoint does not hold weights for this model.
  """
  checkpointing.restore(checkpointing.make_checkpoint(model=model), checkpoint,
                        "its weights do not fit the mask net of the run's settings",
                        partial=True)  # The optimiser's slots are not wanted.


def _image_shape(workdir):
  """[H, W, C] of the run's examples: from its data, else from its first export."""
  try:
    return list(tfrecords.read_spec(workdir_layout.split_dir(workdir, "test"))["shape"])
  except InputError:
    pass
  exported = workdir_layout.nes_exported(workdir)
  if os.path.exists(exported):
    meta = os.path.join(_read_json(exported, "")["path"], "metadata.json")
    if os.path.exists(meta):
      return list(_read_json(meta, "")["image_shape"])
  raise InputError(f"{workdir}: neither data/test/spec.json nor an earlier export tells the "
                   "image size; expected the workdir of a finished run")


def default_model_name(workdir, trainer, run=None):
  """The name the trainer exported under (--model_name of the run), else "eggsep"."""
  if run and run.get("model_name"):
    return run["model_name"]
  exported = workdir_layout.nes_exported(workdir)
  if trainer == "nes" and os.path.exists(exported):
    path = _read_json(exported, "").get("path", "")
    name = os.path.basename(os.path.dirname(os.path.normpath(path)))
    if name:
      return name
  flags_path = workdir_layout.flags_file(workdir, trainer)
  if os.path.exists(flags_path):
    with open(flags_path) as f:
      for line in f:
        if line.startswith("--model_name="):
          return line.strip().split("=", 1)[1]
  return DEFAULT_MODEL_NAME


def _source_names(settings):
  """(x name, b name) as the trainers name them in tables."""
  if settings.get("task") == "denoise":
    return "noise", "clean"
  return settings.get("unobserved", "X"), settings.get("observed", "B")


def export_workdir(workdir, export_base=None, model_name=None, trainer="nes", version=None,
                   overwrite=False):
  """Exports the separator of a finished run.

  Args:
    workdir: the run's --workdir.
    export_base: model base folder; default WORKDIR/export.
    model_name: default: the name the trainer exported under.
    trainer: "nes" (also --init=lmm|am runs) or "supervised".
    version: integer version; default: one above the newest in BASE/NAME.
    overwrite: replace an existing `version` (refused otherwise).

  Returns:
    The version folder written, BASE/NAME/VERSION.

  Raises:
    InputError: no such run, an unfinished run (no results row or checkpoint),
      or weights that do not fit the settings.
  """
  if trainer not in TRAINERS:
    raise InputError(f"trainer {trainer!r}: expected one of {', '.join(TRAINERS)}")
  if not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir}: not a folder; expected a training run's --workdir")
  run = _read_json(workdir_layout.run_record(workdir, trainer),
                   f"{workdir} holds no trainers.{trainer} run")
  settings = run.get("settings", {})
  domain = settings.get("domain", "image")
  if domain not in ("image", "audio"):
    raise InputError(f"{workdir}: domain {domain!r} in its settings; expected image or audio")
  row = result_row(trainer, settings)
  scores = results.load(workdir)
  if row not in scores:
    raise InputError(f"{workdir}: the {trainer} run is unfinished (results.json has no "
                     f"{row!r} row); finish it by rerunning its command")
  checkpoint = last_checkpoint(phase_dir(workdir, trainer, settings))
  export_base = export_base or workdir_layout.export_base(workdir)
  model_name = model_name or default_model_name(workdir, trainer, run)
  # Name, base and version are checked before the net is built (seconds of work).
  saved_model.check_target(export_base, model_name, version, overwrite)
  description = run.get("export") or _derived_description(workdir, settings, domain)
  metadata = separator_metadata.build(
      description, row, settings, run.get("code"), scores[row],
      exported_from={"workdir": os.path.abspath(workdir), "checkpoint": checkpoint,
                     "code": provenance.describe()})
  recorded_by = run.get("code", {}).get("package_version")
  if description["domain"] == "audio":
    shape = [spectrogram.num_bins(description["n_fft"]), int(description["patch_frames"]), 1]
    model = build_mask_model(settings, shape, recorded_by, run.get("net"))
    restore_weights(model, checkpoint)
    separator = AudioSeparator(model, description["n_fft"], description["win_length"],
                               description["hop_length"],
                               chunk_frames=int(description["chunk_frames"]),
                               context_frames=int(description["context_frames"]),
                               chunks_per_call=mask_nets.chunks_per_call(
                                   description.get("chunks_per_call"),
                                   settings.get("architecture", "unet")))
    path = saved_model.export_audio_separator(separator, description["sample_rate"],
                                              export_base, model_name, metadata,
                                              version=version, overwrite=overwrite)
  else:
    shape = list(description["image_shape"])
    model = build_mask_model(settings, shape, recorded_by, run.get("net"))
    restore_weights(model, checkpoint)
    path = saved_model.export_image_separator(
        ImageSeparator(model), shape[-1], export_base, model_name, metadata,
        invert=bool(description["invert"]), version=version, overwrite=overwrite)
  logging.info("Exported the %s %s separator of %s (%s) to %s", row, description["domain"],
               workdir, checkpoint, path)
  return path


def _derived_description(workdir, settings, domain):
  """Domain.export_description() re-derived for runs recorded without one."""
  if domain == "audio":
    return _derived_audio_description(workdir, settings)
  x_name, b_name = _source_names(settings)
  return {"domain": "image", "image_shape": _image_shape(workdir),
          "invert": bool(settings.get("invert", False)), "precision": "float32",
          "observed": b_name, "unobserved": x_name}


def _earlier_audio_export(workdir):
  """metadata.json of the trainer's own audio export, or {} (chunk settings live there)."""
  exported = workdir_layout.nes_exported(workdir)
  if os.path.exists(exported):
    meta = os.path.join(_read_json(exported, "").get("path", ""), "metadata.json")
    if os.path.exists(meta):
      return _read_json(meta, "")
  return {}


def _derived_audio_description(workdir, settings):
  """The audio description from a run's settings, data and earlier export."""
  try:
    n_fft = int(settings["n_fft"])
    sample_rate = int(settings.get("sample_rate") or 0) or (
        20480 if settings.get("audio_source") == "musdb" else 16000)
    win_length, hop_length = spectrogram.frame_settings(
        sample_rate, float(settings["window_ms"]), float(settings["hop_ms"]), n_fft)
    patch_frames = int(settings["patch_frames"])
  except (KeyError, TypeError, ValueError) as e:
    raise InputError(f"{workdir}: the run's settings lack a usable STFT setting ({e}); "
                     "expected n_fft, window_ms, hop_ms and patch_frames") from None
  earlier = _earlier_audio_export(workdir)
  try:  # The names the data were prepared under, as the trainer's export has them.
    spec = tfrecords.read_spec(workdir_layout.split_dir(workdir, "y_train"))
    x_name, b_name = spec.get("x_name", "x"), spec.get("b_name", "b")
  except InputError:
    x_name, b_name = earlier.get("unobserved", "x"), earlier.get("observed", "b")
  return {"domain": "audio", "observed": b_name, "unobserved": x_name,
          "window_ms": settings["window_ms"], "hop_ms": settings["hop_ms"],
          "patch_frames": patch_frames, "audio_mixing": settings.get("audio_mixing"),
          "audio_source": settings.get("audio_source"), "precision": "float32",
          "sample_rate": sample_rate, "n_fft": n_fft, "win_length": win_length,
          "hop_length": hop_length, "chunk_frames": int(earlier.get("chunk_frames", 512)),
          "context_frames": int(earlier.get("context_frames", 64))}
