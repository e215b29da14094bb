r"""Scores separated files, from eggsep or any other tool, against reference files.

  eggsep evaluate --estimates=separated/ --references=test_refs/
  eggsep evaluate --estimates=demucs_out/htdemucs --references=musdb/test \
      --sources=vocals --json=scores.json
  eggsep evaluate --estimates=separated/ --references=refs/ --source_map=x=noise,b=speech

Files are matched by name: ITEM.SOURCE.EXT (eggsep separate's default output,
song.speech.wav) or ITEM/SOURCE.EXT (one folder per item, MUSDB18/Demucs/
Spleeter style), the same item and source on both sides; --source_map renames
the estimates' sources first. Audio: BSS Eval v4 SDR/SIR/SAR (museval, 1 s
windows, median per item then over items: the MUSDB convention), SI-SDR, and
PESQ/STOI when the pesq/pystoi packages are installed. Images: PSNR and SSIM
(mean over items). Prints a table and writes everything, per item too, as JSON
(default ESTIMATES/scores.json). See export/scoring.py for the details.

Exit status: 0 when every matched item was scored, 1 when some could not be,
2 for bad input (no such folder, nothing matches, a bad flag), nothing written.
"""

import json
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Before TF loads; set it to 0 for C++ logs.

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from eggsep_tf.errors import InputError  # noqa: E402
from eggsep_tf.export import scoring  # noqa: E402
from eggsep_tf.progress import EXPORT_PROGRESS  # noqa: E402
from eggsep_tf.progress import Progress  # noqa: E402

_ESTIMATES = flags.DEFINE_string("estimates", None, "Folder of separated files to score.")
_REFERENCES = flags.DEFINE_string("references", None, "Folder of the true sources.")
_JSON = flags.DEFINE_string("json", None, "Where to write the scores (default "
                            "ESTIMATES/scores.json).")
_SOURCE_MAP = flags.DEFINE_list("source_map", [], "EST=REF pairs renaming estimate sources, "
                                "e.g. x=noise,b=speech.")
_SOURCES = flags.DEFINE_list("sources", [], "Score only these (reference) sources; default all "
                             "that both sides have.")
_WINDOW = flags.DEFINE_float("window_seconds", 1.0, "BSS Eval window and hop in seconds.",
                             lower_bound=0.01)

flags.mark_flags_as_required(["estimates", "references"])


def _parse_map(pairs):
  mapping = {}
  for pair in pairs:
    if pair.count("=") != 1 or not all(pair.split("=")):
      raise InputError(f"--source_map={','.join(pairs)}: expected EST=REF pairs such as "
                       "x=noise,b=speech")
    est, ref = pair.split("=")
    mapping[est] = ref
  return mapping


def _clean(value):
  """JSON has no NaN: write null."""
  if isinstance(value, dict):
    return {k: _clean(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_clean(v) for v in value]
  if isinstance(value, float) and math.isnan(value):
    return None
  return value


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  json_path = _JSON.value or os.path.join(_ESTIMATES.value, "scores.json")
  try:
    source_map = _parse_map(_SOURCE_MAP.value)
    estimates = scoring.index_folder(_ESTIMATES.value)
    references = scoring.index_folder(_REFERENCES.value)
    if _SOURCES.value:
      references = {k: v for k, v in references.items() if k[1] in _SOURCES.value}
    pairs, _ = scoring.match(estimates, references, source_map)
    with Progress(len(pairs), "items", unit="items", **EXPORT_PROGRESS) as bar:
      result = scoring.evaluate(_ESTIMATES.value, _REFERENCES.value, source_map,
                                _WINDOW.value, progress=bar, references=references)
  except InputError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(2)
  result["estimates"] = os.path.abspath(_ESTIMATES.value)
  result["references"] = os.path.abspath(_REFERENCES.value)
  folder = os.path.dirname(os.path.abspath(json_path))
  os.makedirs(folder, exist_ok=True)
  with open(json_path + ".tmp", "w") as f:
    json.dump(_clean(result), f, indent=2)
  os.replace(json_path + ".tmp", json_path)
  print(f"{result['num_items']} {result['domain']} items, {result['aggregate']}:")
  print(scoring.table(result))
  for note in result["notes"]:
    print(f"note: {note}")
  for key, what in (("missing", "reference sources without an estimate"),
                    ("missing_items", "reference items without any estimate"),
                    ("unmatched", "estimates without a reference")):
    if result[key]:
      print(f"note: {len(result[key])} {what}: {', '.join(result[key][:5])}"
            + (" ..." if len(result[key]) > 5 else ""))
  logging.info("Wrote %s", json_path)
  if result["failed"]:
    sys.stderr.write(f"error: {len(result['failed'])} items could not be scored: "
                     + "; ".join(f"{k}: {v}" for k, v in list(result["failed"].items())[:3])
                     + "\n")
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
