"""TensorFlow Serving's gRPC API (port 8500) over the same ModelRegistry as REST.

Services, with the messages of the `tensorflow-serving-api` package, so that
clients written for TF-Serving work unchanged:

  tensorflow.serving.PredictionService  Predict, GetModelMetadata
  tensorflow.serving.ModelService       GetModelStatus

(Classify, Regress, MultiInference and HandleReloadConfigRequest answer
UNIMPLEMENTED.) Tensors travel as TensorProto; outputs use tensor_content
for numbers, as TF-Serving writes them. Errors carry TF-Serving's status
codes: NOT_FOUND an unknown model or version, INVALID_ARGUMENT bad inputs
or an unknown label, FAILED_PRECONDITION an unknown signature, UNAVAILABLE
when too many requests wait for the memory budget, DEADLINE_EXCEEDED past
the client's deadline or --request_timeout_s. A client error is one log line.
"""

import concurrent.futures
import time

from absl import logging
import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from eggsep_tf.export.rest_json import DEFAULT_SIGNATURE
from eggsep_tf.export.rest_json import RestError
from eggsep_tf.export.serving_limits import Busy

DEFAULT_PORT = 8500
_HTTP_TO_GRPC = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
                 409: grpc.StatusCode.ABORTED, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
                 429: grpc.StatusCode.RESOURCE_EXHAUSTED, 501: grpc.StatusCode.UNIMPLEMENTED,
                 503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.DEADLINE_EXCEEDED}
_TF_TO_GRPC = {code.value[0]: code for code in grpc.StatusCode}


class _Abort(Exception):
  def __init__(self, code, message):
    super().__init__(message)
    self.code = code
    self.message = " ".join(str(message).split())[:300]


def _invalid(message):
  return _Abort(grpc.StatusCode.INVALID_ARGUMENT, message)


def _spec_args(model_spec):
  """(name, version or None, label or None) of a ModelSpec."""
  if not model_spec.name:
    raise _invalid("Missing ModelSpec")
  version = model_spec.version.value if model_spec.HasField("version") else None
  return model_spec.name, version, model_spec.version_label or None


def _to_arrays(request, served, signature, max_elements):
  """The request's TensorProtos -> {input name: np.ndarray} for `signature`."""
  specs = served.input_specs[signature]
  sent, wanted = set(request.inputs), set(specs)
  if sent != wanted:
    raise _invalid(
        f"input size does not match signature: {len(sent)}!={len(wanted)} "
        f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
        f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. Missing but required: "
        f"{{{','.join(sorted(wanted - sent))}}}.")
  arrays = {}
  for name, proto in request.inputs.items():
    spec = specs[name]
    if proto.dtype != spec.dtype.as_datatype_enum:
      got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "an unset dtype"
      raise _invalid(f"Expects arg '{name}' to be {spec.dtype.name} but {got} is provided")
    dims = [d.size for d in proto.tensor_shape.dim]
    if any(d < 0 for d in dims) or proto.tensor_shape.unknown_rank:
      raise _invalid(f"input '{name}': a tensor needs a known shape with sizes >= 0")
    if int(np.prod(dims, dtype=np.float64)) > max_elements:
      raise _invalid(f"input '{name}': shape {dims} has more than {max_elements} elements "
                     "(the server's --max_tensor_elements)")
    try:
      arrays[name] = tf.make_ndarray(proto)
    except (TypeError, ValueError) as e:
      raise _invalid(f"input '{name}': malformed TensorProto: {e}") from None
  return arrays


class _Services(prediction_service_pb2_grpc.PredictionServiceServicer,
                model_service_pb2_grpc.ModelServiceServicer):
  """Predict, GetModelMetadata and GetModelStatus over one registry."""

  def __init__(self, registry, limits, budget):
    self.registry = registry
    self.limits = limits
    self.budget = budget

  def _call(self, method, request, context, work):
    """Runs work(deadline) and turns every error into one status and one log line."""
    remaining = context.time_remaining()
    timeout = min(self.limits.request_timeout_s, remaining if remaining else float("inf"))
    deadline = time.monotonic() + timeout
    try:
      return work(deadline)
    except RestError as e:
      code = _TF_TO_GRPC.get(e.code) or _HTTP_TO_GRPC.get(e.status, grpc.StatusCode.UNKNOWN)
      error = _Abort(code, e.message)
    except _Abort as e:
      error = e
    except Busy as e:
      error = _Abort(grpc.StatusCode.UNAVAILABLE, str(e))
    except Exception:  # pylint: disable=broad-except
      logging.exception("Internal error in gRPC %s", method)
      context.abort(grpc.StatusCode.INTERNAL, "internal server error")
    logging.info("gRPC %s for %s: %s", error.code.name, method, error.message)
    context.abort(error.code, error.message)

  def Predict(self, request, context):
    def work(deadline):
      served = self.registry.resolve(*_spec_args(request.model_spec))
      signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
      if signature not in served.signatures:
        raise _Abort(grpc.StatusCode.FAILED_PRECONDITION,
                     f'Serving signature key "{signature}" not found.')
      held = self.budget.acquire_blocking(request.ByteSize(), deadline - time.monotonic())
      if held is None:
        raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded waiting to run")
      try:
        arrays = _to_arrays(request, served, signature, self.limits.max_tensor_elements)
        outputs = served.run(signature, arrays)
        del arrays
        names = list(request.output_filter) or list(outputs)
        for name in names:
          if name not in outputs:
            raise _invalid(f"output tensor alias not found in signature: {name} Outputs "
                           f"expected to be in the set {{{','.join(sorted(outputs))}}}.")
        if time.monotonic() > deadline:
          raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded")
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = served.version
        response.model_spec.signature_name = signature
        for name in names:
          response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response
      finally:
        self.budget.release(held)

    return self._call("Predict", request, context, work)

  def GetModelMetadata(self, request, context):
    def work(deadline):
      del deadline
      fields = list(request.metadata_field)
      if not fields:
        raise _invalid("GetModelMetadataRequest must specify at least one metadata_field")
      for field in fields:
        if field != "signature_def":
          raise _invalid(f"Metadata field {field} is not supported")
      served = self.registry.resolve(*_spec_args(request.model_spec))
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      response.model_spec.name = request.model_spec.name
      response.model_spec.version.value = served.version
      signature_map = get_model_metadata_pb2.SignatureDefMap()
      for name, signature_def in served.signature_def_protos.items():
        signature_map.signature_def[name].CopyFrom(signature_def)
      response.metadata["signature_def"].Pack(signature_map)
      return response

    return self._call("GetModelMetadata", request, context, work)

  def GetModelStatus(self, request, context):
    def work(deadline):
      del deadline
      status = self.registry.status(*_spec_args(request.model_spec))
      response = get_model_status_pb2.GetModelStatusResponse()
      for entry in status["model_version_status"]:
        version = response.model_version_status.add()
        version.version = int(entry["version"])
        version.state = get_model_status_pb2.ModelVersionStatus.State.Value(entry["state"])
        version.status.error_code = grpc.StatusCode[entry["status"]["error_code"]].value[0]
        version.status.error_message = entry["status"]["error_message"]
      return response

    return self._call("GetModelStatus", request, context, work)


class GrpcServer:
  """A started grpc.Server; `port` is the port bound, stop() ends it."""

  def __init__(self, server, port):
    self._server = server
    self.port = port

  def stop(self, grace=1.0):
    self._server.stop(grace).wait(30)


def start(registry, limits, budget, host="127.0.0.1", port=DEFAULT_PORT, num_threads=None):
  """Serves PredictionService and ModelService for `registry` on host:port.

  Args:
    registry: the ModelRegistry the REST server uses too.
    limits: serving_limits.Limits (max_body_bytes caps a request message).
    budget: the MemoryBudget shared with the REST server.
    host, port: where to listen (port 0: a free port).
    num_threads: worker threads (None: 8).

  Returns:
    A started GrpcServer.

  Raises:
    InputError: the port cannot be bound.
  """
  from eggsep_tf.errors import InputError  # pylint: disable=import-outside-toplevel
  workers = num_threads or 8
  server = grpc.server(
      concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="grpc"),
      maximum_concurrent_rpcs=workers + limits.max_waiting,
      options=[("grpc.max_receive_message_length", limits.max_body_bytes),
               ("grpc.max_send_message_length", -1),
               ("grpc.so_reuseport", 0)])  # A port in use is an error, not shared.
  services = _Services(registry, limits, budget)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(services, server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(services, server)
  try:
    bound = server.add_insecure_port(f"{host}:{port}")
  except RuntimeError:
    bound = 0
  if not bound:
    raise InputError(f"--grpc_port={port}: cannot listen on {host}:{port}")
  server.start()
  logging.info("Serving gRPC on %s:%d", host, bound)
  return GrpcServer(server, bound)
