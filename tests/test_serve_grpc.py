"""TF-Serving's gRPC API (export/grpc_server.py), called with TF-Serving's own stubs."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from eggsep_tf.export.rest_server import BUDGET
from eggsep_tf.export.rest_server import serve_in_thread
from eggsep_tf.export.serving_limits import Limits
from tests.test_serve import _call
from tests.test_serve import _export


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  base = str(tmp_path_factory.mktemp("models"))
  _export(base, 1, 0.25)
  running = serve_in_thread(base, "toy", poll_seconds=0, version_labels={"stable": 1},
                            grpc_port=0, limits=Limits(max_body_bytes=1 << 20,
                                                       max_tensor_elements=10_000))
  yield running
  running.stop()


@pytest.fixture(scope="module")
def channel(server):
  with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
    yield channel


def _request(inputs, signature="", name="toy", version=None, label=None):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = name
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  if label is not None:
    request.model_spec.version_label = label
  for key, value in inputs.items():
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
  return request


def test_predict(channel):
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  y = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
  for spec in ({}, {"version": 1}, {"label": "stable"}):
    response = stub.Predict(_request({"y": y}, **spec), timeout=30)
    assert response.model_spec.name == "toy" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["x"]), 0.25 * y)
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["b"]), 0.75 * y)
  response = stub.Predict(_request({"data": np.array([b"\xff\x00", b"ok"], object)},
                                   "echo_bytes"), timeout=30)
  assert tf.make_ndarray(response.outputs["echo_bytes"]).tolist() == [b"\xff\x00", b"ok"]
  assert tf.make_ndarray(response.outputs["length"]).tolist() == [2, 2]
  request = _request({"y": y})
  request.output_filter.append("b")
  assert list(stub.Predict(request, timeout=30).outputs) == ["b"]


@pytest.mark.parametrize("case,code", [
    ("unknown model", grpc.StatusCode.NOT_FOUND),
    ("unknown version", grpc.StatusCode.NOT_FOUND),
    ("unknown label", grpc.StatusCode.INVALID_ARGUMENT),
    ("unknown signature", grpc.StatusCode.FAILED_PRECONDITION),
    ("missing input", grpc.StatusCode.INVALID_ARGUMENT),
    ("extra input", grpc.StatusCode.INVALID_ARGUMENT),
    ("wrong dtype", grpc.StatusCode.INVALID_ARGUMENT),
    ("wrong rank", grpc.StatusCode.INVALID_ARGUMENT),
    ("too many elements", grpc.StatusCode.INVALID_ARGUMENT),
    ("huge claimed shape", grpc.StatusCode.INVALID_ARGUMENT),
    ("bad output filter", grpc.StatusCode.INVALID_ARGUMENT),
    ("graph error", grpc.StatusCode.INVALID_ARGUMENT),
    ("no model name", grpc.StatusCode.INVALID_ARGUMENT),
    ("message over the limit", grpc.StatusCode.RESOURCE_EXHAUSTED),
])
def test_predict_errors(channel, server, case, code):
  y = np.ones([1, 2], np.float32)
  request = {
      "unknown model": lambda: _request({"y": y}, name="other"),
      "unknown version": lambda: _request({"y": y}, version=7),
      "unknown label": lambda: _request({"y": y}, label="beta"),
      "unknown signature": lambda: _request({"y": y}, "nope"),
      "missing input": lambda: _request({"a": np.ones([1], np.float32)}, "scaled"),
      "extra input": lambda: _request({"y": y, "z": y}),
      "wrong dtype": lambda: _request({"y": np.ones([1, 2], np.int32)}),
      "wrong rank": lambda: _request({"y": np.ones([2], np.float32)}),
      "too many elements": lambda: _request({"y": np.ones([1, 10_001], np.float32)}),
      "huge claimed shape": lambda: _huge_shape(),
      "bad output filter": lambda: _filtered(_request({"y": y}), "nope"),
      "graph error": lambda: _request({"png_bytes": np.array([b"not a png"], object)},
                                      "png_shape"),
      "no model name": lambda: _request({"y": y}, name=""),
      "message over the limit": lambda: _request({"y": np.ones([1, 300_000], np.float32)}),
  }[case]()
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(request, timeout=30)
  assert error.value.code() == code, error.value.details()
  assert "\n" not in error.value.details()
  assert _call(server.url + "/v1/models/toy:predict", {"inputs": [[4.0]]})[0] == 200


def _huge_shape():
  request = _request({"y": np.ones([1, 1], np.float32)})
  request.inputs["y"].tensor_shape.dim[1].size = 2**40  # One value, claimed 2**40 of them.
  return request


def _filtered(request, name):
  request.output_filter.append(name)
  return request


def test_metadata_and_status(channel):
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
  request.model_spec.name = "toy"
  response = stub.GetModelMetadata(request, timeout=30)
  assert response.model_spec.version.value == 1
  signatures = get_model_metadata_pb2.SignatureDefMap()
  response.metadata["signature_def"].Unpack(signatures)
  default = signatures.signature_def["serving_default"]
  assert default.method_name == "tensorflow/serving/predict"
  assert default.inputs["y"].dtype == tf.float32.as_datatype_enum
  request.metadata_field[:] = ["nope"]
  with pytest.raises(grpc.RpcError) as error:
    stub.GetModelMetadata(request, timeout=30)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT

  models = model_service_pb2_grpc.ModelServiceStub(channel)
  request = get_model_status_pb2.GetModelStatusRequest()
  request.model_spec.name = "toy"
  (status,) = models.GetModelStatus(request, timeout=30).model_version_status
  assert status.version == 1 and status.status.error_code == 0
  assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
  request.model_spec.version.value = 9
  with pytest.raises(grpc.RpcError) as error:
    models.GetModelStatus(request, timeout=30)
  assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_busy_budget_is_unavailable(tmp_path):
  _export(str(tmp_path), 1, 0.25)
  running = serve_in_thread(str(tmp_path), "toy", poll_seconds=0, grpc_port=0,
                            limits=Limits(max_waiting=0))
  try:
    budget = running.app[BUDGET]
    held = budget.acquire_blocking(budget.capacity, 1)  # Someone holds all of it.
    with grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel:
      stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
      request = _request({"y": np.ones([1, 2], np.float32)})
      with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=30)
      assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value.details()
      budget.release(held)
      assert tf.make_ndarray(stub.Predict(request, timeout=30).outputs["x"]).shape == (1, 2)
  finally:
    running.stop()
