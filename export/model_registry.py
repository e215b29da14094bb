"""Loads the versions of one SavedModel the way TF-Serving does, and keeps them fresh.

Layout: MODEL_BASE_PATH/NAME/<integer version>/saved_model.pb (+ variables/).
The highest version is served; versions named by a label are served too.
A background thread polls the folder: a new version is loaded (while the old
one keeps serving) and then replaces it, a removed version is unloaded.
Folders whose name is not an integer, or that hold no saved_model.pb yet, are
ignored (export/saved_model.py writes `.tmp-N` and renames it into place).
A version that fails to load is reported in the status with its error and
tried again only when its saved_model.pb changes; the previous version keeps
serving meanwhile. One loaded version is export/served_version.py's ServedVersion.
"""

import os
import re
import threading

from absl import logging

from eggsep_tf.errors import InputError
from eggsep_tf.export.rest_json import RestError
from eggsep_tf.export.served_version import ServedVersion

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_model_name(name):
  """Raises InputError unless `name` is a plain model name (no path tricks)."""
  if not isinstance(name, str) or not _NAME.match(name) or set(name) == {"."}:
    raise InputError(f"model name {name!r}: use only letters, digits, '_', '.' and '-' "
                     "(and not only dots)")
  return name


class ModelRegistry:
  """The served versions of MODEL_BASE_PATH/NAME, polled for changes.

  Args:
    model_base_path: the folder holding NAME/ (TF-Serving's container mounts
      it at /models). If BASE/NAME does not exist but BASE itself holds integer
      version folders, BASE is used (tensorflow_model_server's meaning of
      --model_base_path).
    model_name: the model's name in URLs; letters, digits, '_', '.', '-'.
    version_labels: optional {label: version}, e.g. {"stable": 1, "canary": 2};
      labelled versions are served alongside the newest one.
    poll_seconds: how often to look for new versions (TF-Serving's
      --file_system_poll_wait_seconds, default 1); 0 disables polling.

  Raises:
    InputError: a bad model name or label, or no such folder.
  """

  def __init__(self, model_base_path, model_name, version_labels=None, poll_seconds=1.0):
    self.model_name = check_model_name(model_name)
    base = os.path.abspath(os.fspath(model_base_path))
    model_dir = os.path.join(base, model_name)
    if not os.path.isdir(model_dir) and self._scan_dir(base):
      logging.info("%s holds version folders itself; serving it as model %r", base,
                   model_name)
      model_dir = base
    if not os.path.isdir(model_dir):
      raise InputError(f"--model_base_path={model_base_path}: no folder {model_dir}; "
                       f"expected {model_dir}/<integer version>/saved_model.pb")
    self.model_dir = model_dir
    self.version_labels = {}
    for label, version in (version_labels or {}).items():
      if not _NAME.match(str(label)) or str(label).isdigit():
        raise InputError(f"version label {label!r}: use letters, digits, '_', '.', '-' "
                         "and not only digits")
      self.version_labels[str(label)] = int(version)
    self.poll_seconds = poll_seconds
    self._served = {}  # version -> ServedVersion; replaced whole, never mutated.
    self._states = {}  # version -> (state, error_code, error_message)
    self._failed = {}  # version -> file times of the export that failed to load
    self._poll_lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = None

  # --- discovery and loading -----------------------------------------------------

  @staticmethod
  def _scan_dir(model_dir):
    found = {}
    try:
      entries = os.listdir(model_dir)
    except OSError:
      return found
    for entry in entries:
      if not entry.isdigit():
        continue
      path = os.path.join(model_dir, entry)
      for pb in ("saved_model.pb", "saved_model.pbtxt"):
        if os.path.isfile(os.path.join(path, pb)):
          # File times a retry after a failed load watches for changes.
          stamp = [os.path.join(path, pb), os.path.join(path, "variables", "variables.index")]
          try:
            found[int(entry)] = (path, tuple(os.path.getmtime(f) for f in stamp
                                             if os.path.exists(f)))
          except OSError:  # Removed while we looked.
            pass
          break
    return found

  def poll(self):
    """Scans the model folder once and loads/unloads versions to match it."""
    with self._poll_lock:
      found = self._scan_dir(self.model_dir)
      served = dict(self._served)
      # The newest version that loads (a broken newest export leaves the
      # previous one serving), plus the labelled ones.
      keep = set()
      for version in sorted(found, reverse=True):
        if version in served or self._load(version, found[version], served):
          keep.add(version)
          break
      for version in set(self.version_labels.values()) & set(found):
        if version in served or self._load(version, found[version], served):
          keep.add(version)
      unloaded = set(served) - keep
      for version in unloaded:
        del served[version]
      self._served = served
      # States change only once requests see the change.
      for version in served:
        self._states[version] = ("AVAILABLE", "OK", "")
      for version in unloaded:
        self._states[version] = ("END", "OK", "")
        logging.info("Unloaded version %d of model %s", version, self.model_name)

  def _load(self, version, path_and_times, served):
    """Loads a version into `served`; False if it fails (now, or before with the same files)."""
    path, mtime = path_and_times
    if self._failed.get(version) == mtime:
      return False
    self._states[version] = ("LOADING", "OK", "")
    try:
      served[version] = ServedVersion(path, version)
    except Exception as e:  # pylint: disable=broad-except
      # A broken or half-copied export must not take the server down.
      logging.error("Could not load version %d of model %s from %s: %s", version,
                    self.model_name, path, e)
      self._failed[version] = mtime
      self._states[version] = ("END", "UNKNOWN", f"could not load {path}: {e}")
      return False
    self._failed.pop(version, None)
    logging.info("Serving version %d of model %s from %s", version, self.model_name, path)
    return True

  def start(self):
    """Loads the current versions, then polls in a daemon thread."""
    self.poll()
    if not self._served:
      logging.warning("No loadable version of model %s under %s yet; waiting for one",
                      self.model_name, self.model_dir)
    if self.poll_seconds and self._thread is None:
      self._stop.clear()
      self._thread = threading.Thread(target=self._poll_loop, daemon=True,
                                      name=f"poll-{self.model_name}")
      self._thread.start()

  def stop(self):
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=30)
      self._thread = None

  def _poll_loop(self):
    while not self._stop.wait(self.poll_seconds):
      try:
        self.poll()
      except Exception:  # pylint: disable=broad-except
        logging.exception("Polling %s failed", self.model_dir)

  # --- lookups (all raise RestError) --------------------------------------------

  def _check_name(self, name):
    if name != self.model_name:
      raise RestError(404, f"Servable not found for request: Latest({name[:100]})")

  def resolve(self, name, version=None, label=None):
    """The ServedVersion a request asks for: the newest, a version or a label."""
    self._check_name(name)
    served = self._served
    if label is not None:
      if label not in self.version_labels:
        raise RestError(400, f"Unrecognized servable version label: {label[:100]}")
      version = self.version_labels[label]
    if version is None:
      if not served:
        raise RestError(404, f"Servable not found for request: Latest({name})")
      return served[max(served)]
    if version not in served:
      raise RestError(404, f"Servable not found for request: Specific({name}, {version})")
    return served[version]

  def status(self, name, version=None, label=None):
    """TF-Serving's GetModelStatusResponse as a dict."""
    self._check_name(name)
    if label is not None:
      if label not in self.version_labels:
        raise RestError(400, f"Unrecognized servable version label: {label[:100]}")
      version = self.version_labels[label]
    states = dict(self._states)
    if version is not None:
      if version not in states:
        raise RestError(404, f"Could not find version {version} of model {name}")
      versions = [version]
    else:
      if not states:
        raise RestError(404, f"Could not find any versions of model {name}")
      versions = sorted(states, reverse=True)
    return {"model_version_status": [
        {"version": str(v), "state": states[v][0],
         "status": {"error_code": states[v][1], "error_message": states[v][2]}}
        for v in versions]}

  def metadata(self, name, version=None, label=None):
    """TF-Serving's GetModelMetadataResponse (signature_def field) as a dict."""
    served = self.resolve(name, version, label)
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(served.version)},
        "metadata": {"signature_def": {"signature_def": served.signature_defs}},
    }

  @property
  def served_versions(self):
    return sorted(self._served)
