"""A small client for TensorFlow Serving's REST API (ours or the real one).

`url_base` is a model's URL: http://HOST:PORT/v1/models/NAME, optionally with
/versions/V or /labels/L. Only the standard library is used.

  from eggsep_tf.export import client
  out = client.predict("http://127.0.0.1:8501/v1/models/mnist",
                       {"mixture": mixtures})            # {"x": array, "b": ...}
  wavs = client.predict(url, {"wav_bytes": [open("a.wav", "rb").read()]},
                        signature_name="separate_wav")    # bytes in object arrays
"""

import base64
import json
import urllib.error
import urllib.request

import numpy as np

from eggsep_tf.errors import InputError


class ServingError(InputError):
  """An {"error": ...} reply (`status` is its HTTP status) or an unreachable server
  (`status` None)."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status
    self.message = message


def _request(url, body=None, timeout=60.0):
  data = None if body is None else json.dumps(body).encode("utf-8")
  request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                   headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(request, timeout=timeout) as reply:
      return json.loads(reply.read())
  except urllib.error.HTTPError as e:
    text = e.read().decode("utf-8", "replace")
    try:
      message = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
      message = text.strip() or e.reason
    raise ServingError(e.code, f"{url}: HTTP {e.code}: {message}") from None
  except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    raise ServingError(None, f"cannot reach {url}: {reason}") from None


def encode(value):
  """Arrays, bytes, strings and nested lists -> JSON values (bytes as {"b64": ...})."""
  if isinstance(value, (bytes, bytearray, np.bytes_)):
    return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
  if isinstance(value, np.ndarray):
    if value.dtype.kind in "OSU":
      return encode(value.tolist())
    return value.tolist()
  if isinstance(value, (list, tuple)):
    return [encode(v) for v in value]
  if isinstance(value, np.generic):
    return value.item()
  return value


def _is_b64(value):
  return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def decode(value):
  """A JSON output value -> np.ndarray ({"b64"} values become bytes, strings stay str)."""
  shape, leaf = [], value
  while isinstance(leaf, list):
    shape.append(len(leaf))
    if not leaf:
      break
    leaf = leaf[0]
  if not isinstance(leaf, (str, dict)):
    return np.asarray(value)
  flat = []

  def walk(v):
    if isinstance(v, list):
      for x in v:
        walk(x)
    else:
      flat.append(base64.b64decode(v["b64"]) if _is_b64(v) else v)

  walk(value)
  array = np.empty(len(flat), dtype=object)
  array[:] = flat
  return array.reshape(shape)


def _stack(items):
  """Per-instance values -> one array with the instance axis first."""
  decoded = [decode(v) for v in items]
  return np.stack(decoded) if decoded else np.empty(0)


def predict(url_base, inputs, signature_name=None, columnar=True, timeout=60.0):
  """Calls :predict.

  Args:
    url_base: http://HOST:PORT/v1/models/NAME[/versions/V | /labels/L].
    inputs: {input name: array or list (batch first)}, or one array/list for a
      single-input signature. Bytes (or object arrays of bytes) travel as
      {"b64": ...}.
    signature_name: None for "serving_default".
    columnar: True sends {"inputs": ...}; False sends {"instances": [...]}
      (one entry per batch item; every output then needs a batch axis).
    timeout: seconds to wait for the reply.

  Returns:
    {output name: np.ndarray} (a bare np.ndarray when the signature has one
    output); bytes outputs are object arrays of bytes.

  Raises:
    ServingError: an error reply or no server.
  """
  body = {}
  if signature_name:
    body["signature_name"] = signature_name
  if columnar:
    if isinstance(inputs, dict):
      body["inputs"] = {k: encode(v) for k, v in inputs.items()}
    else:
      body["inputs"] = encode(inputs)
  elif isinstance(inputs, dict):
    sizes = {k: len(v) for k, v in inputs.items()}
    if len(set(sizes.values())) != 1:
      raise InputError(f"row format needs one batch size for all inputs, got {sizes}")
    batch = next(iter(sizes.values()))
    body["instances"] = [{k: encode(v[i]) for k, v in inputs.items()} for i in range(batch)]
  else:
    body["instances"] = [encode(v) for v in inputs]
  reply = _request(url_base.rstrip("/") + ":predict", body, timeout)
  if columnar:
    outputs = reply["outputs"]
    if isinstance(outputs, dict) and not _is_b64(outputs):
      return {k: decode(v) for k, v in outputs.items()}
    return decode(outputs)
  predictions = reply["predictions"]
  if predictions and isinstance(predictions[0], dict) and not _is_b64(predictions[0]):
    return {k: _stack([p[k] for p in predictions]) for k in predictions[0]}
  return _stack(predictions)


def status(url_base, timeout=10.0):
  """The model status reply: {"model_version_status": [...]}."""
  return _request(url_base.rstrip("/"), timeout=timeout)


def metadata(url_base, timeout=10.0):
  """The metadata reply: {"model_spec": ..., "metadata": {"signature_def": ...}}."""
  return _request(url_base.rstrip("/") + "/metadata", timeout=timeout)


def signatures(url_base, timeout=10.0):
  """{signature name: {"inputs": {...}, "outputs": {...}}} from the metadata,
  without TF's internal __saved_model_init_op."""
  defs = metadata(url_base, timeout)["metadata"]["signature_def"]["signature_def"]
  return {k: v for k, v in defs.items() if not k.startswith("__")}
