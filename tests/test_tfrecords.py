import os

import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf.errors import InputError


def test_round_trip(tmp_path):
  arrays = {"y": np.random.rand(10, 4, 5, 1).astype(np.float32),
            "x": np.random.rand(10, 4, 5, 1).astype(np.float32)}
  out = str(tmp_path / "split")
  assert tfrecords.write_split(out, arrays, num_shards=3) == 10
  spec = tfrecords.read_spec(out)
  assert spec["count"] == 10 and spec["shape"] == [4, 5, 1] and spec["names"] == ["x", "y"]
  back = tfrecords.read_all(out)
  np.testing.assert_array_equal(back["index"], np.arange(10))
  np.testing.assert_array_equal(back["y"], arrays["y"])
  np.testing.assert_array_equal(back["x"], arrays["x"])
  assert not os.path.exists(out + ".tmp")


def test_explicit_indices_and_streamed_batches(tmp_path):
  out = str(tmp_path / "est")
  batches = [{"x": np.full([2, 3, 3, 1], i, np.float32), "index": np.array([7 - 2 * i, 6 - 2 * i])}
             for i in range(3)]
  assert tfrecords.write_split(out, None, num_shards=2, batches=batches) == 6
  back = tfrecords.read_all(out)
  np.testing.assert_array_equal(back["index"], [2, 3, 4, 5, 6, 7])
  np.testing.assert_array_equal(back["x"][:, 0, 0, 0], [2, 2, 1, 1, 0, 0])


def test_rewrite_replaces_split(tmp_path):
  out = str(tmp_path / "s")
  tfrecords.write_split(out, {"x": np.zeros([4, 2, 2, 1])})
  tfrecords.write_split(out, {"x": np.ones([3, 2, 2, 1])})
  assert tfrecords.read_spec(out)["count"] == 3
  assert tfrecords.read_all(out)["x"].sum() == 12


def test_unfinished_split_is_refused(tmp_path):
  with pytest.raises(InputError, match="not a finished record split"):
    tfrecords.read_spec(str(tmp_path))


def test_missing_tensor_name(tmp_path):
  out = str(tmp_path / "s")
  tfrecords.write_split(out, {"x": np.zeros([2, 2, 2, 1])})
  with pytest.raises(InputError, match="not"):
    tfrecords.dataset(out, ["b"])


def test_parse_inside_tf_data_graph(tmp_path):
  out = str(tmp_path / "s")
  tfrecords.write_split(out, {"b": np.ones([5, 3, 3, 1])})
  ds = tfrecords.dataset(out).map(lambda r: r["b"] * 2.0).batch(5)
  assert float(next(iter(ds)).numpy().sum()) == 5 * 9 * 2
  assert isinstance(ds.element_spec, tf.TensorSpec)
