"""Opening an exported separator, from a folder or from a server, behind one interface.

`open_model(spec)` takes either
  - a SavedModel folder written by export/saved_model.py: BASE/NAME/VERSION, or
    BASE/NAME (its newest integer version is used), loaded in this process
    (LocalModel, with the metadata.json beside it); or
  - the URL of a model served with TF-Serving's REST API (ours, export/serve.py,
    or the real one): http://HOST:PORT/v1/models/NAME[/versions/V | /labels/L]
    (RemoteModel; metadata.json is not served, so its `metadata` is empty).
Both have `signatures` ({name: Signature}), `metadata` (dict), `description`
(for messages) and `call(signature_name, {input: array}) -> {output: array}`,
with bytes as object arrays of bytes. `model_domain(model)` tells images from
audio.
"""

import dataclasses
import json
import os
import re

import tensorflow as tf

from eggsep_tf.errors import InputError
from eggsep_tf.export import client
from eggsep_tf.export import saved_model

DOMAINS = ("image", "audio")
DEFAULT_SIGNATURE = "serving_default"
PNG_SIGNATURE = "separate_png"
WAV_SIGNATURE = "separate_wav"
METADATA_FILE = "metadata.json"

_URL = re.compile(r"^https?://[^/\s]+/v1/models/[^/:\s]+(/versions/\d+|/labels/[^/:\s]+)?/?$")


class ModelUnavailable(InputError):
  """The model cannot be used any more (server gone, model removed): ends a run."""


@dataclasses.dataclass
class Signature:
  """What a signature takes and gives.

  Attributes:
    inputs: {input name: (dtype name such as "float32" or "string", rank or None)}.
    outputs: output names.
  """
  inputs: dict
  outputs: list

  def only_input(self, signature_name):
    if len(self.inputs) != 1:
      raise InputError(f"signature {signature_name!r} takes {sorted(self.inputs)}; "
                       "expected a single input")
    return next(iter(self.inputs))


def tf_error_message(error):
  """The first meaningful line of a TF error, without node names or [Op:...] tags."""
  for line in error.message.splitlines():
    line = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", line).strip()
    line = re.sub(r"\s*\[Op:[^\]]*\].*$", "", line)
    if line and not line.startswith(("Graph execution error", "Detected at node")):
      return line
  return error.message.strip()


class LocalModel:
  """A SavedModel loaded in this process.

  Args:
    path: BASE/NAME/VERSION (holds saved_model.pb) or BASE/NAME (newest version).

  Raises:
    InputError: no such folder, no SavedModel in it, or it does not load.
  """

  def __init__(self, path):
    self.path = resolve_saved_model(path)
    try:
      self._loaded = tf.saved_model.load(self.path)
    except Exception as e:  # pylint: disable=broad-except
      raise InputError(f"model {self.path}: cannot load the SavedModel "
                       f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                       ) from None
    self._functions = dict(self._loaded.signatures)
    self.signatures = {}
    for name, fn in self._functions.items():
      specs = fn.structured_input_signature[1]
      self.signatures[name] = Signature(
          {k: (s.dtype.name, s.shape.rank) for k, s in specs.items()},
          sorted(fn.structured_outputs))
    self.metadata = {}
    meta_path = os.path.join(self.path, METADATA_FILE)
    if os.path.exists(meta_path):
      try:
        with open(meta_path) as f:
          self.metadata = json.load(f)
      except (OSError, ValueError) as e:
        raise InputError(f"{meta_path}: unreadable ({e}); expected the JSON written by "
                         "export/saved_model.py") from None
    self.description = self.path

  def call(self, signature_name, inputs):
    """Runs a signature.

    Args:
      signature_name: one of self.signatures.
      inputs: {input name: np.ndarray} (object arrays of bytes for strings).

    Returns:
      {output name: np.ndarray} (object arrays of bytes for strings).

    Raises:
      InputError: the graph refused the input (e.g. undecodable bytes).
    """
    if signature_name not in self._functions:
      raise InputError(f"model {self.path} has no signature {signature_name!r} "
                       f"(it has {sorted(self._functions)})")
    fn = self._functions[signature_name]
    specs = fn.structured_input_signature[1]
    tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
    try:
      outputs = fn(**tensors)
    except tf.errors.OpError as e:
      raise InputError(tf_error_message(e)) from None
    return {k: v.numpy() for k, v in outputs.items()}


def _rank(tensor_info):
  shape = tensor_info.get("tensor_shape", {})
  if shape.get("unknown_rank"):
    return None
  return len(shape.get("dim", []))


def _dtype(tensor_info):
  return tensor_info.get("dtype", "DT_INVALID").replace("DT_", "").lower()


class RemoteModel:
  """A model served with TF-Serving's REST API.

  Args:
    url: http://HOST:PORT/v1/models/NAME[/versions/V | /labels/L].
    timeout: seconds to wait for each reply.

  Raises:
    InputError: a malformed URL; ModelUnavailable: no server or no such model.
  """

  def __init__(self, url, timeout=120.0):
    if not _URL.match(url):
      raise InputError(f"model {url!r}: expected http://HOST:PORT/v1/models/NAME "
                       "(optionally /versions/V or /labels/L)")
    self.url = url.rstrip("/")
    self.timeout = timeout
    try:
      reply = client.metadata(self.url, timeout=min(timeout, 30.0))
      defs = reply["metadata"]["signature_def"]["signature_def"]
    except client.ServingError as e:
      raise ModelUnavailable(e.message) from None
    except (KeyError, TypeError):
      raise ModelUnavailable(f"{self.url}/metadata: not a TF-Serving metadata reply") from None
    self.signatures = {
        name: Signature({k: (_dtype(v), _rank(v)) for k, v in d.get("inputs", {}).items()},
                        sorted(d.get("outputs", {})))
        for name, d in defs.items() if not name.startswith("__")}
    self.metadata = {}  # metadata.json is not served; the domain comes from the signatures.
    self.version = reply.get("model_spec", {}).get("version")
    self.description = f"{self.url} (version {self.version})"

  def call(self, signature_name, inputs):
    """Like LocalModel.call, through :predict in the columnar format.

    Raises:
      InputError: the server refused this input (4xx/5xx reply);
      ModelUnavailable: the server cannot be reached or the model is gone (404).
    """
    try:
      outputs = client.predict(self.url, inputs, signature_name=signature_name,
                               columnar=True, timeout=self.timeout)
    except client.ServingError as e:
      if e.status is None or e.status == 404:
        raise ModelUnavailable(e.message) from None
      raise InputError(e.message) from None
    if not isinstance(outputs, dict):  # A single-output signature.
      outputs = {self.signatures[signature_name].outputs[0]: outputs}
    return outputs


def resolve_saved_model(path):
  """The version folder for BASE/NAME/VERSION or BASE/NAME (newest integer version).

  Raises:
    InputError: the path is missing or holds no SavedModel.
  """
  path = os.path.abspath(os.fspath(path))
  expected = ("expected a SavedModel folder (BASE/NAME/VERSION with saved_model.pb), "
              "BASE/NAME holding integer version folders, or "
              "http://HOST:PORT/v1/models/NAME")
  if not os.path.isdir(path):
    raise InputError(f"model {path}: no such folder; {expected}")
  if os.path.isfile(os.path.join(path, "saved_model.pb")):
    return path
  found = saved_model.versions(path)
  if not found:
    raise InputError(f"model {path}: no saved_model.pb and no version folders in it; {expected}")
  return os.path.join(path, str(found[-1]))


def open_model(spec, timeout=120.0):
  """A LocalModel for a folder, a RemoteModel for an http(s):// URL."""
  spec = os.fspath(spec)
  if spec.startswith(("http://", "https://")):
    return RemoteModel(spec, timeout)
  return LocalModel(spec)


def model_domain(model):
  """ "image" or "audio": from metadata.json, else from the signatures."""
  domain = model.metadata.get("domain")
  if domain in DOMAINS:
    return domain
  if PNG_SIGNATURE in model.signatures:
    return "image"
  if WAV_SIGNATURE in model.signatures:
    return "audio"
  default = model.signatures.get(DEFAULT_SIGNATURE)
  if default is not None and len(default.inputs) == 1:
    rank = next(iter(default.inputs.values()))[1]
    if rank in (2, 4):
      return "audio" if rank == 2 else "image"
  raise InputError(f"model {model.description}: cannot tell whether it separates images or "
                   "audio (no metadata.json domain, no separate_png/separate_wav signature, "
                   "and serving_default does not take [batch, samples] or [batch, H, W, C])")
