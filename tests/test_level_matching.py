"""NES's level matching: X's level implied by the mixtures and B, and its reading from records."""

import math

import numpy as np
import pytest

from eggsep_tf import nes
from eggsep_tf.data import levels
from eggsep_tf.data import tfrecords


def test_power_scale_gives_x_the_power_y_minus_b():
  # y power 5, b power 3: X must have power 2; x_t has power 0.5 -> scale 2.
  assert nes.level_scale(5.0, 3.0, 0.5, "power") == pytest.approx(2.0)
  # Means add for images: E[y] 0.3, E[b] 0.1 -> E[x] 0.2; x_t at 0.4 -> halve it.
  assert nes.level_scale(0.3, 0.1, 0.4, "mean") == pytest.approx(0.5)


def test_scale_is_floored_and_clipped_and_safe():
  # B as loud as the mixtures: X's level floored at 5% of y's, not zero or negative.
  assert nes.level_scale(1.0, 2.0, 0.05, "power") == pytest.approx(1.0)
  assert nes.level_scale(1.0, 0.0, 1e-9, "power", max_scale=10) == 10.0
  assert nes.level_scale(1.0, 0.0, 1e9, "power", max_scale=10) == pytest.approx(0.1)
  assert nes.level_scale(1.0, 0.5, 0.0, "power") == 1.0  # Silent estimates: left alone.
  assert nes.level_scale(float("nan"), 0.5, 1.0, "mean") == 1.0
  with pytest.raises(ValueError, match="statistic"):
    nes.level_scale(1.0, 0.5, 1.0, "median")


def test_levels_of_independent_sources_add_up(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.normal(0, 2.0, [400, 64]).astype(np.float32)
  b = rng.normal(0, 1.0, [400, 64]).astype(np.float32)
  tfrecords.write_split(str(tmp_path / "y"), {"y": x + b}, num_shards=2)
  tfrecords.write_split(str(tmp_path / "b"), {"b": b})
  tfrecords.write_split(str(tmp_path / "x"), {"x": 0.1 * x})  # A far too quiet estimate.
  y_level, b_level, x_level = (levels.mean_level(str(tmp_path / d), d, "power")
                               for d in ("y", "b", "x"))
  assert y_level == pytest.approx(5.0, rel=0.05) and b_level == pytest.approx(1.0, rel=0.05)
  assert nes.level_scale(y_level, b_level, x_level, "power") == pytest.approx(10.0, rel=0.05)
  mean = levels.mean_level(str(tmp_path / "b"), "b", "mean")
  assert math.isclose(mean, float(b.mean()), abs_tol=1e-6)
