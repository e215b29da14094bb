"""Images from users' own folders and files: bit depths, pixel scales, resizing, reference
folders, split sizes that fit the source, and a NES run on --b_data/--y_data/--test_data."""

import json
import os

import numpy as np
from PIL import Image
import pytest

from eggsep_tf.data import image_sources
from eggsep_tf.data import prepare
from eggsep_tf.errors import InputError
from tests import in_process


def _save(path, pixels, mode=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(pixels, mode=mode).save(path)


def test_16_bit_png_keeps_its_range(tmp_path):
  pixels = np.array([[0, 1000], [30000, 65535]], np.uint16)
  _save(str(tmp_path / "deep.png"), pixels)
  image = image_sources.read_image(str(tmp_path / "deep.png"))
  assert image.shape == (2, 2, 1)
  np.testing.assert_allclose(image[..., 0], pixels / 65535.0, atol=1e-6)
  _save(str(tmp_path / "eight.png"), np.array([[0, 51], [128, 255]], np.uint8))
  np.testing.assert_allclose(image_sources.read_image(str(tmp_path / "eight.png"))[..., 0],
                             np.array([[0, 51], [128, 255]]) / 255.0, atol=1e-6)


def test_array_pixel_scale_from_dtype_or_flag(tmp_path):
  deep = np.full((3, 4, 4), 1000, np.uint16)
  np.save(tmp_path / "u16.npy", deep)
  images, _ = image_sources.load_source(str(tmp_path / "u16.npy"))
  np.testing.assert_allclose(images, 1000 / 65535.0, rtol=1e-6)
  np.save(tmp_path / "f.npy", deep.astype(np.float32))
  with pytest.raises(InputError, match="float pixels up to 1000, beyond \\[0, 1\\]; give "
                                       "--pixel_scale"):
    image_sources.load_source(str(tmp_path / "f.npy"))
  images, _ = image_sources.load_source(str(tmp_path / "f.npy"), pixel_scale=1000)
  np.testing.assert_allclose(images, 1.0)
  with pytest.raises(InputError, match="exceed --pixel_scale=500"):
    image_sources.load_source(str(tmp_path / "f.npy"), pixel_scale=500)


def test_mixed_sizes_are_resized_with_image_size(tmp_path):
  _save(str(tmp_path / "a.png"), np.full((10, 12), 200, np.uint8))
  _save(str(tmp_path / "b.png"), np.full((20, 8), 100, np.uint8))
  with pytest.raises(InputError, match="mixed sizes.*--image_size=H,W"):
    image_sources.load_source(str(tmp_path))
  images, labels = image_sources.load_source(str(tmp_path), image_size=(16, 16))
  assert images.shape == (2, 16, 16, 1) and labels is None
  np.testing.assert_allclose(images[0], 200 / 255.0, atol=1e-5)
  assert image_sources.parse_image_size("64x48") == (64, 48)
  with pytest.raises(InputError, match="--image_size=64: expected HEIGHT,WIDTH"):
    image_sources.parse_image_size("64")


def test_reference_folder_matches_by_name(tmp_path):
  for name, v in (("one", 60), ("two", 90)):
    _save(str(tmp_path / "mixture" / f"{name}.png"), np.full((4, 4), v + 40, np.uint8))
    _save(str(tmp_path / "b" / f"{name}.png"), np.full((4, 4), 40, np.uint8))
  test = image_sources.load_reference_folder(str(tmp_path))
  np.testing.assert_allclose(test["x"][1], 90 / 255.0, atol=1e-5)  # x = mixture - b.
  _save(str(tmp_path / "b" / "three.png"), np.full((4, 4), 40, np.uint8))
  with pytest.raises(InputError, match="hold different names \\(e.g. three\\)"):
    image_sources.load_reference_folder(str(tmp_path))
  with pytest.raises(InputError, match="expected two or three of the sub-folders"):
    image_sources.load_reference_folder(str(tmp_path / "b"))


def test_default_split_sizes_shrink_to_fit_and_explicit_ones_stay():
  limits = [(("num_b", "num_y", "num_test"), 2500), (("num_y", "num_test"), 2500)]
  requested = {"num_b": 12000, "num_y": 12000, "num_test": 5000}
  sizes, note = prepare.fit_split_sizes(requested, set(), limits)
  assert sum(sizes.values()) <= 2500 and sizes["num_b"] == sizes["num_y"] > 1000
  assert "--num_b=1034 (default 12000)" in note
  sizes, note = prepare.fit_split_sizes(requested, {"num_test"}, limits)
  assert sizes["num_test"] == 5000  # The user's choice is kept; the draw then says why not.
  assert prepare.fit_split_sizes({"num_b": 5, "num_y": 5, "num_test": 5}, set(), limits)[1] \
      is None


def _user_folders(root, size=16, n=80):
  """B: horizontal bars; mixtures: horizontal + vertical bars; test with references."""
  rng = np.random.default_rng(0)

  def bars(vertical):
    image = np.zeros((size, size), np.uint8)
    pos = rng.integers(0, size - 2)
    if vertical:
      image[:, pos:pos + 2] = 120
    else:
      image[pos:pos + 2, :] = 120
    return image

  for i in range(n):
    _save(str(root / "clean" / f"{i:03d}.png"), bars(False))
    _save(str(root / "mix" / f"{i:03d}.png"), bars(False) + bars(True))
  for i in range(12):
    x, b = bars(True), bars(False)
    _save(str(root / "test" / "x" / f"t{i}.png"), x)
    _save(str(root / "test" / "b" / f"t{i}.png"), b)
  return [f"--b_data={root / 'clean'}", f"--y_data={root / 'mix'}",
          f"--test_data={root / 'test'}"]


def test_nes_on_the_users_folders(tmp_path):
  data = _user_folders(tmp_path)
  workdir = tmp_path / "run"
  flags = data + [f"--workdir={workdir}", "--iterations=1", "--epochs=1", "--filters=4,8",
                  "--batch_size=16", "--eval_batch_size=32", "--image_size=16,16"]
  proc = in_process.run_trainer("trainers.nes", *flags)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "the data source is smaller than the default split sizes" in proc.stderr
  spec = json.load(open(workdir / "data" / "test" / "spec.json"))
  assert spec["count"] == 12 and spec["shape"] == [16, 16, 1]
  assert json.load(open(workdir / "data" / "y_train" / "spec.json"))["count"] == 80
  meta_files = [os.path.join(r, "metadata.json") for r, _, f in os.walk(workdir / "export")
                if "metadata.json" in f]
  assert json.load(open(meta_files[0]))["observed"] == "clean"
  proc = in_process.run_trainer("trainers.nes", *(data[:2] + [f"--workdir={tmp_path / 'r2'}"]))
  assert proc.returncode == 2 and "need --test_data=DIR too" in proc.stderr
