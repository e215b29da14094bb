"""What a run was made with: package version, git commit, command and settings."""

import datetime
import json
import os
import subprocess
import sys

import eggsep_tf


def git_commit():
  """(commit hash or None, whether the work tree had uncommitted changes)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(eggsep_tf.__file__)))
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                            text=True, timeout=10, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip())
    return commit, dirty
  except (OSError, subprocess.SubprocessError):
    return None, False


def describe():
  """A dict naming the code that runs: version, commit, Python and TF versions."""
  import tensorflow as tf  # Imported here: provenance is cheap to import.
  commit, dirty = git_commit()
  return {"package_version": eggsep_tf.__version__, "git_commit": commit,
          "git_dirty": dirty, "python": sys.version.split()[0],
          "tensorflow": tf.__version__}


def record_run(workdir, settings, filename="run.json", extra=None):
  """Writes workdir/run.json: settings, code version, command line and time (and `extra`,
  e.g. the export's model name). Atomic: no partial file is left if the write fails."""
  info = {"settings": settings, "code": describe(), "command": sys.argv,
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(), **(extra or {})}
  write_json(os.path.join(workdir, filename), info)
  return info


def write_json(path, value):
  """Writes JSON atomically; on failure (a full disk) no partial *.tmp is left."""
  try:
    with open(path + ".tmp", "w") as f:
      json.dump(value, f, indent=2, default=str)
    os.replace(path + ".tmp", path)
  except OSError:
    if os.path.exists(path + ".tmp"):
      os.remove(path + ".tmp")
    raise
