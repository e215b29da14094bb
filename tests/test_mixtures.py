import numpy as np

from eggsep_tf.data import mixtures
from eggsep_tf.data import tfrecords


def _splits(tmp_path, n=40):
  rng = np.random.default_rng(0)
  b = rng.uniform(size=[n, 4, 4, 1]).astype(np.float32)
  x = rng.uniform(size=[n, 4, 4, 1]).astype(np.float32) + 10.0  # Distinguishable from b.
  tfrecords.write_split(str(tmp_path / "b"), {"b": b}, num_shards=3)
  tfrecords.write_split(str(tmp_path / "x"), {"x": x}, num_shards=3)
  return b, x


def test_mixture_is_sum_of_records_read(tmp_path):
  b, x = _splits(tmp_path)
  ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), batch_size=8,
                                seed=3, with_sources=True)
  for batch in ds.take(10).as_numpy_iterator():
    np.testing.assert_array_equal(batch["b"], b[batch["b_index"]])
    np.testing.assert_array_equal(batch["x"], x[batch["x_index"]])
    np.testing.assert_allclose(batch["mixture"], batch["b"] + batch["x"], rtol=0, atol=1e-6)


def test_b_and_x_drawn_independently(tmp_path):
  _splits(tmp_path, n=40)
  ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), batch_size=10,
                                seed=1, with_sources=True)
  pairs = [(bi, xi) for batch in ds.take(40).as_numpy_iterator()
           for bi, xi in zip(batch["b_index"], batch["x_index"])]
  b_idx, x_idx = np.array(pairs).T
  # Every b is used about equally often, and is paired with many different x's.
  assert set(b_idx) == set(range(40)) and set(x_idx) == set(range(40))
  partners = [len(set(x_idx[b_idx == i])) for i in range(40)]
  assert min(partners) >= 5
  assert abs(np.corrcoef(b_idx, x_idx)[0, 1]) < 0.15


def test_same_seed_same_order(tmp_path):
  _splits(tmp_path)
  def first(seed):
    ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), 8, seed=seed,
                                  with_sources=True)
    return next(ds.as_numpy_iterator())["b_index"]
  np.testing.assert_array_equal(first(5), first(5))
  assert not np.array_equal(first(5), first(6))


def test_supervised_mixes_true_x(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.uniform(size=[12, 4, 4, 1]).astype(np.float32) + 10.0
  b = rng.uniform(size=[12, 4, 4, 1]).astype(np.float32)
  tfrecords.write_split(str(tmp_path / "y"), {"y": x + b, "x": x, "b": b})
  tfrecords.write_split(str(tmp_path / "b"), {"b": b})
  mixture, target = next(mixtures.supervised_dataset(str(tmp_path / "b"), str(tmp_path / "y"),
                                                     4, 0).as_numpy_iterator())
  for m_i, b_i in zip(mixture, target):
    assert any(np.allclose(m_i - b_i, x_j, atol=1e-5) for x_j in x)


def test_random_gains_scale_each_source_within_range(tmp_path):
  b, x = _splits(tmp_path)
  ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), batch_size=8,
                                seed=3, with_sources=True, gain_range=(0.5, 2.0))
  gains_b, gains_x = [], []
  for batch in ds.take(10).as_numpy_iterator():
    # The target is the scaled b and the mixture the sum of the scaled sources.
    np.testing.assert_allclose(batch["mixture"], batch["b"] + batch["x"], rtol=1e-6, atol=1e-5)
    gains_b += list((batch["b"] / b[batch["b_index"]]).reshape(8, -1).mean(axis=1))
    gains_x += list((batch["x"] / x[batch["x_index"]]).reshape(8, -1).mean(axis=1))
  for gains in (np.array(gains_b), np.array(gains_x)):
    assert gains.min() >= 0.5 - 1e-5 and gains.max() <= 2.0 + 1e-5
    assert gains.max() / gains.min() > 2.5  # Spread over the range, not one value.
  # Each source gets its own gain.
  assert abs(np.corrcoef(gains_b, gains_x)[0, 1]) < 0.5


def test_random_gains_are_reproducible(tmp_path):
  _splits(tmp_path)
  def first(seed):
    ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), 8, seed=seed,
                                  gain_range=(0.5, 2.0))
    return next(ds.as_numpy_iterator())[0]
  np.testing.assert_array_equal(first(5), first(5))
  assert not np.array_equal(first(5), first(6))


def test_x_scale_multiplies_every_estimate(tmp_path):
  b, x = _splits(tmp_path)
  ds = mixtures.mixture_dataset(str(tmp_path / "b"), str(tmp_path / "x"), batch_size=8,
                                seed=3, with_sources=True, x_scale=0.5)
  for batch in ds.take(3).as_numpy_iterator():
    np.testing.assert_allclose(batch["x"], 0.5 * x[batch["x_index"]], rtol=1e-6)
    np.testing.assert_allclose(batch["mixture"], batch["b"] + batch["x"], atol=1e-6)
