import gzip
import os
import struct

import numpy as np
import pytest

from eggsep_tf.data import image_sources
from eggsep_tf.errors import InputError


def _write_idx(path, array, compress):
  header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim,
                                                                 *array.shape)
  opener = gzip.open if compress else open
  with opener(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx(tmp_path, compress):
  ext = ".gz" if compress else ""
  images = np.random.default_rng(0).integers(0, 256, [5, 28, 28])
  _write_idx(str(tmp_path / f"train-images-idx3-ubyte{ext}"), images, compress)
  _write_idx(str(tmp_path / f"train-labels-idx1-ubyte{ext}"), np.arange(5), compress)
  got, labels = image_sources.load_source(str(tmp_path))
  assert got.shape == (5, 28, 28, 1) and got.dtype == np.float32
  np.testing.assert_allclose(got[..., 0], images / 255.0, atol=1e-6)
  np.testing.assert_array_equal(labels, np.arange(5))


def test_corrupt_idx(tmp_path):
  (tmp_path / "train-images-idx3-ubyte").write_bytes(b"garbage")
  with pytest.raises(InputError, match="train-images-idx3-ubyte"):
    image_sources.load_source(str(tmp_path))


def test_npz_and_npy(tmp_path):
  images = np.random.rand(4, 6, 6).astype(np.float32)
  np.savez(tmp_path / "a.npz", images=images, labels=[0, 1, 0, 1])
  got, labels = image_sources.load_source(str(tmp_path / "a.npz"))
  assert got.shape == (4, 6, 6, 1) and list(labels) == [0, 1, 0, 1]
  np.save(tmp_path / "b.npy", (images * 255).astype(np.uint8))
  got, labels = image_sources.load_source(str(tmp_path / "b.npy"))
  assert labels is None and got.max() <= 1.0


def test_nan_is_refused(tmp_path):
  images = np.random.rand(4, 6, 6).astype(np.float32)
  images[2, 1, 1] = np.nan
  np.savez(tmp_path / "a.npz", images=images)
  with pytest.raises(InputError, match="NaN"):
    image_sources.load_source(str(tmp_path / "a.npz"))


def _png(path, size, value=128):
  from PIL import Image
  Image.fromarray(np.full(size, value, np.uint8)).save(path)


def test_image_folder_with_classes(tmp_path):
  for cls in ("cats", "dogs"):
    os.makedirs(tmp_path / cls)
    for i in range(3):
      _png(tmp_path / cls / f"{i}.png", (8, 10))
  images, labels = image_sources.load_source(str(tmp_path))
  assert images.shape == (6, 8, 10, 1)
  assert list(labels) == [0, 0, 0, 1, 1, 1]
  inverted, _ = image_sources.load_source(str(tmp_path), invert=True)
  np.testing.assert_allclose(inverted, 1.0 - images)


def test_image_folder_mixed_sizes(tmp_path):
  _png(tmp_path / "a.png", (8, 8))
  _png(tmp_path / "b.png", (9, 8))
  with pytest.raises(InputError, match="mixed sizes"):
    image_sources.load_source(str(tmp_path))


def test_unreadable_image(tmp_path):
  (tmp_path / "a.png").write_bytes(b"not a png")
  with pytest.raises(InputError, match="a.png"):
    image_sources.load_source(str(tmp_path))


@pytest.mark.parametrize("source,match", [("", "no data source"),
                                          ("/no/such/path", "no such file"),
                                          ("EMPTY", "no images")])
def test_bad_sources(tmp_path, source, match):
  source = str(tmp_path) if source == "EMPTY" else source
  with pytest.raises(InputError, match=match):
    image_sources.load_source(source)


def test_tfds_with_mock_data():
  import tensorflow_datasets as tfds
  with tfds.testing.mock_data(num_examples=12):
    images, labels = image_sources.load_source("tfds:mnist")
  assert images.shape == (12, 28, 28, 1) and labels.shape == (12,)
  assert 0.0 <= images.min() and images.max() <= 1.0


def test_mnist5k_builtin():
  images, labels = image_sources.load_source("mnist5k")
  assert images.shape == (5000, 28, 28, 1)
  assert np.bincount(labels).tolist() == [500] * 10
  assert images[:, 0, 0, 0].max() == 0.0  # Zero background.
