import numpy as np
import pytest

from eggsep_tf.data import prepare
from eggsep_tf.errors import InputError
from tests import helpers


def test_parse_classes():
  assert prepare.parse_classes("0-4") == [0, 1, 2, 3, 4]
  assert prepare.parse_classes("1,3, 5") == [1, 3, 5]
  with pytest.raises(InputError, match="--observed"):
    prepare.parse_classes("a-b", "observed")


def test_class_splits_are_disjoint_and_correct():
  images, labels = helpers.bars(100)
  images = images + np.arange(100, dtype=np.float32)[:, None, None, None] * 1e-3  # Unique.
  splits = prepare.class_task_arrays(images, labels, [0], [1], 20, 20, 10, seed=0)
  assert len(splits["b_train"]["b"]) == 20 and len(splits["y_train"]["y"]) == 20
  np.testing.assert_allclose(splits["y_train"]["y"],
                             splits["y_train"]["x"] + splits["y_train"]["b"])
  def key(a):
    return {round(float(v), 4) for v in a.reshape(len(a), -1).max(axis=1)}
  used_b = [key(splits["b_train"]["b"]), key(splits["y_train"]["b"]), key(splits["test"]["b"])]
  assert not (used_b[0] & used_b[1]) and not (used_b[0] & used_b[2])
  # X images are vertical bars (class 1): constant along columns.
  x = splits["y_train"]["x"]
  assert np.allclose(x[:, 0, :, 0], x[:, -1, :, 0])


def test_class_errors():
  images, labels = helpers.bars(40)
  with pytest.raises(InputError, match="not in the data"):
    prepare.class_task_arrays(images, labels, [0], [7], 5, 5, 5)
  with pytest.raises(InputError, match="--num_b"):
    prepare.class_task_arrays(images, labels, [0], [1], 50, 5, 5)
  with pytest.raises(InputError, match="overlap"):
    prepare.class_task_arrays(images, labels, [0, 1], [1], 5, 5, 5)
  with pytest.raises(InputError, match="no labels"):
    prepare.class_task_arrays(images, None, [0], [1], 5, 5, 5)


def test_denoise_splits():
  images, _ = helpers.bars(60)
  splits = prepare.denoise_task_arrays(images, 20, 20, 10, noise_sigma=0.1)
  x = splits["y_train"]["x"]
  assert x.min() >= 0 and 0.02 < x.std() < 0.1
  with pytest.raises(InputError, match="noise_sigma"):
    prepare.denoise_task_arrays(images, 20, 20, 10, noise_sigma=0)
