"""Tests of the semi-supervised NMF solver on data made from known bases."""

import numpy as np
import pytest

from eggsep_tf import nmf
from eggsep_tf import nmf_solver
from eggsep_tf.errors import InputError

D = 48
K = 4


def _bases(rng, low, high):
  """K bases with 6 non-zero values each, inside [low, high), rows summing to one."""
  w = np.zeros((K, D))
  for row in w:
    support = rng.choice(np.arange(low, high), 6, replace=False)
    row[support] = rng.uniform(0.5, 1.0, 6)
  return w / w.sum(axis=1, keepdims=True)


def _activations(rng, n):
  """Sparse non-negative activations (about 40% zero)."""
  return rng.gamma(0.5, 20.0, (n, K)) * (rng.uniform(size=(n, K)) < 0.6)


@pytest.fixture(scope="module")
def problem():
  """B and X bases that overlap on 8 of 48 values; B samples and mixtures."""
  rng = np.random.default_rng(3)
  w_b, w_x = _bases(rng, 0, 28), _bases(rng, 20, D)
  v_b = _activations(rng, 150) @ w_b
  b = _activations(rng, 120) @ w_b
  x = _activations(rng, 120) @ w_x
  return {"w_b": w_b, "w_x": w_x, "v_b": v_b, "b": b, "x": x, "y": x + b}


def _relative_error(estimate, reference):
  return np.linalg.norm(estimate - reference) / np.linalg.norm(reference)


@pytest.mark.parametrize("wiener_mask", [False, True])
def test_recovers_the_split(problem, wiener_mask):
  w_b, fit_history = nmf.fit_bases(problem["v_b"], K, sparsity=0.001,
                                   iterations=150, seed=0)
  sep = nmf.separate(problem["y"], w_b, K, sparsity=0.001, iterations=150,
                     seed=1, wiener_mask=wiener_mask)
  # Const (x = y / 2) is the bar: its error here is about 0.6.
  assert _relative_error(problem["y"] / 2, problem["x"]) > 0.4
  assert _relative_error(sep.x, problem["x"]) < 0.02
  assert _relative_error(sep.b, problem["b"]) < 0.02
  assert sep.x.shape == sep.b.shape == problem["y"].shape
  assert sep.x.dtype == np.float32
  assert sep.x.min() >= 0 and sep.b.min() >= 0
  if wiener_mask:
    np.testing.assert_allclose(sep.x + sep.b, problem["y"], rtol=1e-4, atol=1e-5)
  # Bases: non-negative rows of unit norm; each true B basis is found.
  assert w_b.shape == (K, D) and w_b.min() >= 0
  np.testing.assert_allclose(np.linalg.norm(w_b, axis=1), 1.0, rtol=1e-4)
  match = (w_b @ problem["w_b"].T) / np.outer(np.linalg.norm(w_b, axis=1),
                                               np.linalg.norm(problem["w_b"], axis=1))
  assert match.max(axis=0).min() > 0.99
  assert fit_history[-1] < 1e-3 * fit_history[0]


def test_fixed_bases_stay_exactly_fixed(problem):
  rng = np.random.default_rng(0)
  # Not normalised, so any renormalisation or update would show.
  w_b = (problem["w_b"] * rng.uniform(0.5, 2.0, (K, 1))).astype(np.float32)
  given = w_b.copy()
  sep = nmf.separate(problem["y"], w_b, K, sparsity=0.1, iterations=20, seed=0)
  assert np.array_equal(sep.w_b, given)
  assert np.array_equal(w_b, given)  # The caller's array is untouched too.
  assert not np.allclose(sep.w_x, nmf.separate(problem["y"], w_b, K,
                                               iterations=0, seed=0).w_x)


@pytest.mark.parametrize("sparsity", [0.0, 0.3])
def test_objective_never_increases(problem, sparsity):
  _, fit_history = nmf.fit_bases(problem["v_b"], K, sparsity=sparsity,
                                 iterations=60, seed=2)
  w_b = problem["w_b"]
  sep = nmf.separate(problem["y"], w_b, 6, sparsity=sparsity, iterations=60,
                     seed=2)
  for history in (fit_history, sep.history):
    assert len(history) == 61
    assert np.all(np.isfinite(history))
    # float32 sums: allow rounding-sized rises only.
    assert np.max(np.diff(history)) <= 1e-6 * history[0]
    assert history[-1] < 0.2 * history[0]


def test_batches_do_not_change_the_result(problem):
  whole = nmf.separate(problem["y"], problem["w_b"], K, iterations=30, seed=0,
                       batch_size=1024)
  small = nmf.separate(problem["y"], problem["w_b"], K, iterations=30, seed=0,
                       batch_size=7)
  np.testing.assert_allclose(small.x, whole.x, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(small.history, whole.history, rtol=1e-5)


def test_known_bases_separate_new_mixtures(problem):
  """Test-time use: both bases fixed, only the activations are fitted."""
  sep = nmf.separate(problem["y"][:5], problem["w_b"], w_x=problem["w_x"],
                     learn_x_bases=False, sparsity=0.0, iterations=200)
  assert np.array_equal(sep.w_x, problem["w_x"].astype(np.float32))
  assert _relative_error(sep.x, problem["x"][:5]) < 0.01


def test_history_without_iterations(problem):
  w_b, history = nmf.fit_bases(problem["v_b"], K, iterations=0)
  assert history.shape == (1,)
  np.testing.assert_allclose(np.linalg.norm(w_b, axis=1), 1.0, rtol=1e-5)


def test_sparsity_makes_activations_sparse(problem):
  """The L1 penalty must zero activations, not merely rescale them all."""
  v = problem["y"].astype(np.float32)
  rng = np.random.default_rng(0)
  w0 = nmf_solver.random_bases(3 * K, D, rng)  # Redundant: 12 bases for rank 8.
  h0 = nmf_solver.initial_activations(v, w0, rng)
  learn = np.ones(3 * K, bool)

  def small_fraction(sparsity):
    h, w, _ = nmf_solver.solve(v, h0, w0, learn, sparsity, 150, 1024, "test")
    np.testing.assert_array_less(np.linalg.norm(w, axis=1), 1.0 + 1e-5)
    return np.mean(h < 1e-3 * h.max())

  assert small_fraction(3.0) > small_fraction(0.0) + 0.15


@pytest.mark.parametrize("bad, words", [
    (lambda v: 1.0 - 2 * v, "non-negative"),
    (lambda v: np.where(np.arange(v.size).reshape(v.shape) == 5, np.nan, v),
     "NaN or Inf"),
    (lambda v: np.where(np.arange(v.size).reshape(v.shape) == 5, np.inf, v),
     "NaN or Inf"),
    (lambda v: v[:0], "empty"),
    (lambda v: v[:, :0], "empty"),
    (lambda v: v[0], "2-D"),
])
def test_bad_data_raises_input_error(problem, bad, words):
  with pytest.raises(InputError, match=words):
    nmf.fit_bases(bad(problem["v_b"]), K)
  with pytest.raises(InputError, match=words):
    nmf.separate(bad(problem["y"]), problem["w_b"], K)


def test_negative_message_names_the_input_and_the_fix(problem):
  with pytest.raises(InputError) as error:
    nmf.fit_bases(-problem["v_b"], K)
  message = str(error.value)
  assert message.startswith("v_b:")
  assert "Images must be non-negative" in message and "1 - v" in message


@pytest.mark.parametrize("num_bases", [0, -1, D + 1, 151, 2.5, True])
def test_bad_number_of_bases(problem, num_bases):
  with pytest.raises(InputError, match="num_bases"):
    nmf.fit_bases(problem["v_b"], num_bases)


def test_too_many_bases_for_few_samples(problem):
  with pytest.raises(InputError, match=r"min\(3, 48\)"):
    nmf.fit_bases(problem["v_b"][:3], 4)
  with pytest.raises(InputError, match="num_x_bases"):
    nmf.separate(problem["y"], problem["w_b"], D + 1)


@pytest.mark.parametrize("kwargs, words", [
    ({"sparsity": -0.1}, "sparsity"),
    ({"sparsity": float("nan")}, "sparsity"),
    ({"iterations": -1}, "iterations"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_settings(problem, kwargs, words):
  with pytest.raises(InputError, match=words):
    nmf.fit_bases(problem["v_b"], K, **kwargs)


def test_bad_bases(problem):
  with pytest.raises(InputError, match="w_b.*47 values"):
    nmf.separate(problem["y"], problem["w_b"][:, :47], K)
  with pytest.raises(InputError, match="w_b.*non-negative"):
    nmf.separate(problem["y"], -problem["w_b"], K)
  zero_row = problem["w_b"].copy()
  zero_row[1] = 0
  with pytest.raises(InputError, match="all zero"):
    nmf.separate(problem["y"], zero_row, K)
  with pytest.raises(InputError, match="w_x"):
    nmf.separate(problem["y"], problem["w_b"], K, learn_x_bases=False)
  with pytest.raises(InputError, match="must agree"):
    nmf.separate(problem["y"], problem["w_b"], 3, w_x=problem["w_x"])
