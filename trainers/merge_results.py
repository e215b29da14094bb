r"""Merges the results.json of several runs on the same data into one table.

  python -m trainers.merge_results --workdirs=runs/a,runs/b,runs/c --out=runs/table

Rows come from every run (a method appearing twice takes the later workdir's
value, with a warning); the output is results.json and results.md in --out, in
the paper's layout: Const, NMF, AM, LMM, NES, AM+NES, LMM+NES, Supervised.
Runs whose data settings (WORKDIR/data/settings.json) differ are refused. Rows
already in --out (its own results.json, e.g. --out among --workdirs) are never
replaced by other values without --overwrite: the refusal names them.
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
from eggsep_tf.trainers import cli

FLAGS = flags.FLAGS
flags.DEFINE_list("workdirs", [], "Workdirs whose results.json to merge.")
flags.DEFINE_string("out", None, "Folder for the merged results.json and results.md.")
flags.DEFINE_boolean("overwrite", False, "Replace rows --out already holds with other "
                     "values (refused otherwise).")


def _read_settings(path):
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError as e:
    raise InputError(f"{path}: unreadable ({e}); expected the JSON a run writes") from None


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
      theirs = _read_settings(path)
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


def check_replaced(out, merged, overwrite):
  """Raises InputError naming the rows of out's results.json that `merged` would change."""
  if os.path.exists(out) and not os.path.isdir(out):
    raise InputError(f"--out={out} is a file; expected a folder for results.json/.md")
  own = results.load(out) if os.path.isdir(out) else {}
  changed = sorted(m for m in merged if m in own and own[m] != merged[m])
  if changed and not overwrite:
    raise InputError(f"--out={out} already holds the rows {', '.join(changed)} with other "
                     "values; merging would replace them: use another --out, or --overwrite")


def run():
  if not FLAGS.out:
    raise InputError("--out is required: the folder for the merged table")
  merged, (x_name, b_name) = merge(FLAGS.workdirs)
  check_replaced(FLAGS.out, merged, FLAGS.overwrite)
  os.makedirs(FLAGS.out, exist_ok=True)
  for method, scores in merged.items():
    results.update(FLAGS.out, method, scores, x_name, b_name)
  with open(os.path.join(FLAGS.out, "results.md")) as f:
    sys.stdout.write(f.read())  # The table is this command's output.


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}: name the runs with --workdirs=A,B")
  try:
    run()
  except InputError as e:
    cli.fail(e)
  except OSError as e:
    cli.fail(cli.environment_message(e))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
