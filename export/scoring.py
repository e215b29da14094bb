"""Scores a folder of separated estimates, from eggsep or any other tool, against references.

How files are matched. Both folders are searched recursively, and every audio
file (wav, flac, ogg, mp3, aiff) or image (png, jpg, bmp, gif) is read as one
source of one item, named in either of two ways:
  ITEM.SOURCE.EXT   a dot before the extension: eggsep separate's default
                    output (song.speech.wav -> item "song", source "speech");
  ITEM/SOURCE.EXT   no dot: one folder per item, as MUSDB18, Demucs and
                    Spleeter lay stems out (song/vocals.wav).
Sub-folders above either form are part of the item's name. An estimate is
scored against the reference of the same item and source; `source_map`
renames estimate sources first (e.g. {"x": "noise", "b": "speech"}). Items or
sources that only one side has are listed, not scored; a reference source
without an estimate counts as missing (except "mixture", the input).

Audio (estimates are resampled to the reference's rate, cut or padded to its
length, and given its channel count): BSS Eval v4 SDR/SIR/SAR over 1-second
windows with all of an item's scored sources together (eggsep_tf/bss_eval.py:
NaN windows dropped, median per item, then median over items: the MUSDB
convention), SI-SDR of the whole item (mean over channels), and for speech
PESQ (wide band, at 16 kHz) and STOI if the `pesq` / `pystoi` packages are
installed. Images: PSNR and SSIM on the [0, 1] scale (8- and 16-bit files read
at their depth); the summary is the mean over items.
"""

import collections
import os

from absl import logging
import numpy as np

from eggsep_tf import speech_metrics
from eggsep_tf.errors import InputError

AUDIO = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def index_folder(folder):
  """{(item, source): path} of the audio and image files under `folder`."""
  if not os.path.isdir(folder):
    raise InputError(f"{folder}: no such folder")
  found, skipped = {}, []
  for root, dirs, names in os.walk(folder):
    dirs.sort()
    for name in sorted(names):
      if not name.lower().endswith(AUDIO + IMAGES):
        continue
      path = os.path.join(root, name)
      rel = os.path.relpath(path, folder)
      stem = os.path.splitext(rel)[0]
      head, base = os.path.split(stem)
      if "." in base:
        item, source = stem.rsplit(".", 1)
      elif head:
        item, source = head, base
      else:
        skipped.append(rel)
        continue
      if (item, source) in found:
        raise InputError(f"{folder}: {found[(item, source)]} and {path} are both item "
                         f"{item!r} source {source!r}; keep one")
      found[(item, source)] = path
  if skipped:
    logging.warning("%s: %d files named neither ITEM.SOURCE.EXT nor ITEM/SOURCE.EXT were "
                    "skipped (e.g. %s)", folder, len(skipped), skipped[0])
  return found


def match(estimates, references, source_map=None):
  """Pairs estimate and reference files.

  Returns:
    ({item: {source: (estimate path, reference path)}}, report) where report
    lists "missing" (reference sources without an estimate) and "unmatched"
    (estimates without a reference).

  Raises:
    InputError: nothing matches.
  """
  source_map = source_map or {}
  renamed = {(item, source_map.get(source, source)): path
             for (item, source), path in estimates.items()}
  pairs = collections.defaultdict(dict)
  for key in sorted(set(renamed) & set(references)):
    pairs[key[0]][key[1]] = (renamed[key], references[key])
  est_items = {item for item, _ in renamed}
  # A reference mixture (MUSDB's mixture.wav) is input, not a source anyone estimates.
  missing = sorted(f"{i}.{s}" for i, s in set(references) - set(renamed)
                   if i in est_items and s != "mixture")
  missing_items = sorted({i for i, _ in references} - est_items)
  unmatched = sorted(f"{i}.{s}" for i, s in set(renamed) - set(references))
  if not pairs:
    raise InputError(
        f"no estimate matches a reference (estimates: {_sample(renamed)}; references: "
        f"{_sample(references)}); name both ITEM.SOURCE.EXT or ITEM/SOURCE.EXT with the "
        "same items and sources, or map the source names")
  return dict(pairs), {"missing": missing, "missing_items": missing_items,
                       "unmatched": unmatched}


def _sample(keys):
  shown = [f"{i}.{s}" for i, s in sorted(keys)[:3]]
  return ", ".join(shown) + (" ..." if len(keys) > 3 else "") if shown else "none"


# --- Audio ---------------------------------------------------------------------------


def _read_audio(path):
  from eggsep_tf.data import audio_io  # pylint: disable=import-outside-toplevel
  return audio_io.read_audio_file(path)


def _fit(estimate, rate, reference, ref_rate):
  """The estimate at the reference's rate, length and channel count."""
  from eggsep_tf.data import audio_io  # pylint: disable=import-outside-toplevel
  estimate = audio_io.resample(estimate, rate, ref_rate)
  if estimate.shape[1] != reference.shape[1]:
    estimate = np.repeat(estimate.mean(axis=1, keepdims=True), reference.shape[1], axis=1)
  estimate = estimate[:len(reference)]
  return np.pad(estimate, [(0, len(reference) - len(estimate)), (0, 0)])


def speech_metrics_available():
  """{"pesq": bool, "stoi": bool}: which optional speech metrics can be computed."""
  return speech_metrics.available()


def _speech_scores(reference, estimate, rate, available):
  return speech_metrics.speech_scores(reference.mean(axis=1), estimate.mean(axis=1), rate,
                                      available)


def score_audio_item(sources, window_seconds=1.0, speech=None):
  """{source: {metric: value}} for one item's {source: (estimate path, reference path)}."""
  from eggsep_tf import bss_eval  # pylint: disable=import-outside-toplevel
  speech = speech_metrics_available() if speech is None else speech
  refs, ests, rate = {}, {}, None
  for source, (est_path, ref_path) in sources.items():
    ref, ref_rate = _read_audio(ref_path)
    if rate is not None and (ref_rate != rate or len(ref) != len(next(iter(refs.values())))):
      raise InputError(f"{ref_path}: {len(ref)} samples at {ref_rate} Hz, but the item's "
                       f"other references differ; expected one length and rate per item")
    rate = ref_rate
    est, est_rate = _read_audio(est_path)
    refs[source], ests[source] = ref, _fit(est, est_rate, ref, ref_rate)
  scores = bss_eval.evaluate_sources(refs, ests, rate, window_seconds)
  for source in refs:
    ref, est = refs[source].T, ests[source].T
    scores[source]["si_sdr"] = float(np.mean(bss_eval.si_sdr(ref, est).numpy()))
    scores[source].update(_speech_scores(refs[source], ests[source], rate, speech))
  return scores


# --- Images --------------------------------------------------------------------------


def _read_image(path):
  from eggsep_tf.data import image_sources  # pylint: disable=import-outside-toplevel
  return image_sources.read_image(path)


def score_image_item(sources):
  """{source: {"psnr", "ssim"}} for one item's {source: (estimate path, reference path)}."""
  from eggsep_tf import metrics  # pylint: disable=import-outside-toplevel
  scores = {}
  for source, (est_path, ref_path) in sources.items():
    ref, est = _read_image(ref_path), _read_image(est_path)
    if est.shape[:2] != ref.shape[:2]:
      raise InputError(f"{est_path}: {est.shape[:2]} pixels, its reference {ref_path} is "
                       f"{ref.shape[:2]}; expected the same size")
    if est.shape[2] != ref.shape[2]:
      est = np.repeat(est.mean(axis=2, keepdims=True), ref.shape[2], axis=2)
    scores[source] = {"psnr": float(metrics.psnr(est[None], ref[None]).numpy()[0]),
                      "ssim": float(metrics.ssim(est[None], ref[None]).numpy()[0])}
  return scores


# --- Everything ----------------------------------------------------------------------


def evaluate(estimates_dir, references_dir, source_map=None, window_seconds=1.0,
             progress=None, estimates=None, references=None):
  """Scores every matched item; returns the JSON-ready result.

  Args:
    estimates_dir, references_dir: the two folders.
    source_map: {estimate source: reference source} renames.
    window_seconds: BSS Eval window and hop.
    progress: optional eggsep_tf/progress.Progress, advanced once per item.
    estimates, references: index_folder() results to use instead of reading
      the folders again (e.g. filtered to some sources).

  Returns:
    {"domain", "summary": {source: {metric: value}}, "aggregate" (how the
    summary was made), "items": {item: {source: {metric: value}}}, "failed":
    {item: message}, "missing", "missing_items", "unmatched", "notes"}.
  """
  estimates = index_folder(estimates_dir) if estimates is None else estimates
  references = index_folder(references_dir) if references is None else references
  pairs, report = match(estimates, references, source_map)
  first = next(iter(next(iter(pairs.values())).values()))[1]
  domain = "audio" if first.lower().endswith(AUDIO) else "image"
  notes = []
  speech = speech_metrics_available() if domain == "audio" else {}
  for name, ok in speech.items():
    if not ok:
      notes.append(f"{name.upper()} not computed: install the "
                   f"{'pesq' if name == 'pesq' else 'pystoi'} package (pip install "
                   "eggsep-tf[audio])")
  items, failed = {}, {}
  for item, sources in sorted(pairs.items()):
    try:
      if domain == "audio":
        items[item] = score_audio_item(sources, window_seconds, speech)
      else:
        items[item] = score_image_item(sources)
    except InputError as e:
      logging.error("%s: %s", item, e)
      failed[item] = str(e)
    if progress is not None:
      progress.update()
  if not items:
    raise InputError(f"no item could be scored ({'; '.join(failed.values())})")
  reduce = np.nanmedian if domain == "audio" else np.nanmean
  summary = collections.defaultdict(dict)
  for scores in items.values():
    for source, values in scores.items():
      for metric in values:
        summary[source].setdefault(metric, [])
  for source, metrics_ in summary.items():
    for metric in metrics_:
      values = [items[i][source][metric] for i in items if source in items[i]]
      with np.errstate(all="ignore"):
        summary[source][metric] = float(reduce(values)) if not np.all(np.isnan(values)) \
            else float("nan")
  return {"domain": domain, "summary": dict(summary),
          "aggregate": ("median over windows per item, then median over items (MUSDB)"
                        if domain == "audio" else "mean over items"),
          "num_items": len(items), "items": items, "failed": failed, **report, "notes": notes}


def table(result):
  """The summary as a Markdown table: a row per source, a column per metric."""
  metric_names = []
  for values in result["summary"].values():
    metric_names += [m for m in values if m not in metric_names]
  lines = ["| source | " + " | ".join(metric_names) + " |",
           "|---|" + "---|" * len(metric_names)]
  for source, values in result["summary"].items():
    cells = [f"{values[m]:.3f}" if m in values else "" for m in metric_names]
    lines.append(f"| {source} | " + " | ".join(cells) + " |")
  return "\n".join(lines)
