r"""Merges the results.json of several runs on the same data into one table.

  python -m trainers.merge_results --workdirs=runs/a,runs/b,runs/c --out=runs/table

Rows come from every run (a method appearing twice takes the later workdir's
value, with a warning); the output is results.json and results.md in --out, in
the paper's layout: Const, NMF, AM, LMM, NES, AM+NES, LMM+NES, Supervised.
Runs whose data settings (WORKDIR/data/settings.json) differ are refused.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from eggsep_tf.data import tfrecords
from eggsep_tf import results
from eggsep_tf.errors import InputError

FLAGS = flags.FLAGS
flags.DEFINE_list("workdirs", [], "Workdirs whose results.json to merge.")
flags.DEFINE_string("out", None, "Folder for the merged results.json and results.md.")


def merge(workdirs):
  """Returns (merged results dict, (x name, b name)) of runs on the same data."""
  if not workdirs:
    raise InputError("--workdirs: name at least one workdir")
  merged, settings, names = {}, None, ("X", "B")
  for workdir in workdirs:
    rows = results.load(workdir)
    if not rows:
      raise InputError(f"{workdir}: no results.json (is it a finished run's workdir?)")
    path = os.path.join(workdir, "data", "settings.json")
    if os.path.exists(path):
      with open(path) as f:
        theirs = json.load(f)
      if settings is None:
        settings, first = theirs, workdir
        y_train = os.path.join(workdir, "data", "y_train")
        if theirs.get("domain") == "audio" and os.path.exists(
            os.path.join(y_train, tfrecords.SPEC_FILE)):
          spec = tfrecords.read_spec(y_train)  # Audio sources name themselves.
          names = (spec.get("x_name", "X"), spec.get("b_name", "B"))
        elif theirs.get("task") == "classes":
          names = (theirs.get("unobserved", "X"), theirs.get("observed", "B"))
      elif theirs != settings:
        diffs = sorted(k for k in set(theirs) | set(settings) if theirs.get(k) != settings.get(k))
        raise InputError(f"{workdir}: its data settings differ from {first}'s ({', '.join(diffs)});"
                         " only runs on the same data can share a table")
    for method, scores in rows.items():
      if method in merged and merged[method] != scores:
        logging.warning("%s: %s also in an earlier workdir; keeping this one", workdir, method)
      merged[method] = scores
  return merged, names


def run():
  if not FLAGS.out:
    raise InputError("--out is required: the folder for the merged table")
  merged, (x_name, b_name) = merge(FLAGS.workdirs)
  os.makedirs(FLAGS.out, exist_ok=True)
  for method, scores in merged.items():
    results.update(FLAGS.out, method, scores, x_name, b_name)
  with open(os.path.join(FLAGS.out, "results.md")) as f:
    print(f.read())


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    run()
  except InputError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(2)


if __name__ == "__main__":
  app.run(main)
