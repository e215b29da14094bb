"""One loaded version of a served SavedModel: its signatures, their metadata in
TF-Serving's JSON form, and running a request with TF's errors mapped to HTTP
statuses as TF-Serving's REST server maps them (export/model_registry.py keeps
the versions of a model fresh).
"""

import os
import re

from google.protobuf import json_format
from google.protobuf import text_format
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from eggsep_tf.export.rest_json import RestError

# HTTP statuses for TF error codes, as TF-Serving's REST server maps them.
_HTTP_STATUS = {
    tf.errors.CANCELLED: 499, tf.errors.INVALID_ARGUMENT: 400,
    tf.errors.DEADLINE_EXCEEDED: 504, tf.errors.NOT_FOUND: 404,
    tf.errors.ALREADY_EXISTS: 409, tf.errors.PERMISSION_DENIED: 403,
    tf.errors.RESOURCE_EXHAUSTED: 429, tf.errors.FAILED_PRECONDITION: 400,
    tf.errors.ABORTED: 409, tf.errors.OUT_OF_RANGE: 400, tf.errors.UNIMPLEMENTED: 501,
    tf.errors.UNAVAILABLE: 503, tf.errors.UNAUTHENTICATED: 401,
}


def _read_signature_defs(path):
  """{signature name: SignatureDef proto} from a SavedModel folder."""
  saved_model = saved_model_pb2.SavedModel()
  pb = os.path.join(path, "saved_model.pb")
  if os.path.exists(pb):
    with open(pb, "rb") as f:
      saved_model.ParseFromString(f.read())
  else:
    with open(os.path.join(path, "saved_model.pbtxt")) as f:
      text_format.Parse(f.read(), saved_model)
  return dict(saved_model.meta_graphs[0].signature_def)


def _tf_error_message(error):
  """The user-facing part of a TF error (no graph-node or Python stack lines)."""
  skip = ("Graph execution error", "Detected at node", "<stack traces")
  lines = [line.strip() for line in error.message.splitlines()
           if line.strip() and not line[0].isspace() and not line.startswith(skip)]
  message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", " ".join(lines))
  message = re.sub(r"\s*\[Op:[^\]]*\](\s*name:.*)?$", "", message).strip()
  return message or error.message


class ServedVersion:
  """One loaded version: its signatures and how to run them.

  Args:
    path: the version folder (holds saved_model.pb).
    version: its integer version.
  """

  def __init__(self, path, version):
    self.path = path
    self.version = version
    self._loaded = tf.saved_model.load(path)
    self.signatures = dict(self._loaded.signatures)
    self.input_specs = {
        name: dict(fn.structured_input_signature[1]) for name, fn in self.signatures.items()}
    self.signature_def_protos = _read_signature_defs(path)
    self.signature_defs = {  # As TF-Serving's JSON.
        name: json_format.MessageToDict(sig, preserving_proto_field_name=True,
                                        always_print_fields_with_no_presence=True)
        for name, sig in self.signature_def_protos.items()}

  def specs(self, signature_name):
    """{input name: tf.TensorSpec} of a signature; RestError(400) if there is none."""
    if signature_name not in self.signatures:
      raise RestError(400, f'Serving signature name: "{signature_name}" not found in '
                      f"signature def (this model has {sorted(self.signatures)})")
    specs = self.input_specs[signature_name]
    if not specs:
      raise RestError(400, f"signature {signature_name!r} takes no inputs")
    return specs

  def run(self, signature_name, arrays):
    """Runs a signature.

    Args:
      signature_name: a key of self.signatures.
      arrays: {input name: np.ndarray} checked by rest_json.request_to_arrays.

    Returns:
      {output name: np.ndarray} in signature order.

    Raises:
      RestError: a TF error from the graph (bad audio bytes, out of memory...),
        with TF-Serving's HTTP status for its code.
    """
    specs = self.specs(signature_name)
    for name, array in arrays.items():
      if not specs[name].shape.is_compatible_with(np.shape(array)):
        raise RestError(400, f"input '{name}': shape {list(np.shape(array))} does not fit "
                        f"the signature's {specs[name].shape}",
                        code=tf.errors.INVALID_ARGUMENT)
    try:
      tensors = {n: tf.constant(a, dtype=specs[n].dtype) for n, a in arrays.items()}
      outputs = self.signatures[signature_name](**tensors)
    except (TypeError, ValueError) as e:  # Inputs the signature cannot bind.
      message = " ".join(str(e).split())[:300]
      raise RestError(400, f"the inputs do not fit signature {signature_name!r}: {message}",
                      code=tf.errors.INVALID_ARGUMENT) from None
    except tf.errors.OpError as e:
      raise RestError(_HTTP_STATUS.get(e.error_code, 500), _tf_error_message(e),
                      code=e.error_code) from None
    return {n: np.asarray(t.numpy()) for n, t in outputs.items()}
