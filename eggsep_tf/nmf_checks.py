"""Input checks of eggsep_tf/nmf.py: one clear InputError instead of NaN factors or a
TF traceback (negative, NaN/Inf or empty data, impossible ranks, bad settings)."""

import numpy as np

from eggsep_tf.errors import InputError


def check_samples(v, name):
  """Returns v as float32 [N, D] or raises InputError."""
  try:
    v = np.asarray(v, dtype=np.float32)
  except (TypeError, ValueError) as e:
    raise InputError(f"{name}: expected a numeric array of samples [N, D], "
                     f"could not convert it ({e})") from None
  if v.ndim != 2:
    raise InputError(f"{name}: expected samples as a 2-D array [N, D] (one "
                     f"flattened image or spectrogram frame per row), got "
                     f"shape {v.shape}")
  if v.shape[0] < 1 or v.shape[1] < 1:
    raise InputError(f"{name}: is empty (shape {v.shape}); expected at least "
                     "one sample of at least one value")
  finite = np.isfinite(v)
  if not finite.all():
    rows = int(np.sum(~finite.all(axis=1)))
    raise InputError(f"{name}: {rows} sample(s) contain NaN or Inf; expected "
                     "finite values")
  low = float(v.min())
  if low < 0:
    row = int(np.argmin(v.min(axis=1)))
    raise InputError(
        f"{name}: NMF needs non-negative data (pixels or spectrogram "
        f"magnitudes), but the minimum is {low:.4g} (sample {row}). Images "
        "must be non-negative with a zero background: scale pixels to "
        "[0, 1] (x / 255), and invert (1 - v) only images already in [0, 1]; "
        "use magnitudes, not signed or log spectrograms.")
  return v


def check_count(value, name, low, high, what):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise InputError(f"{name}: expected an integer, got {value!r}")
  if not low <= value <= high:
    raise InputError(f"{name}={value}: expected {low} <= {name} <= {high} "
                     f"({what})")
  return int(value)


def check_rank(num, v_shape, name, data_name):
  n, d = v_shape
  return check_count(
      num, name, 1, min(n, d),
      f"at most min(samples, values per sample) = min({n}, {d}) for "
      f"{data_name} of shape {v_shape}")


def check_settings(sparsity, iterations, batch_size):
  try:
    sparsity = float(sparsity)
  except (TypeError, ValueError):
    raise InputError(f"sparsity: expected a number >= 0, got {sparsity!r}") from None
  if not np.isfinite(sparsity) or sparsity < 0:
    raise InputError(f"sparsity={sparsity}: expected a finite number >= 0")
  iterations = check_count(iterations, "iterations", 0, 10**7,
                            "multiplicative-update iterations")
  batch_size = check_count(batch_size, "batch_size", 1, 10**9,
                            "samples processed at once")
  return sparsity, iterations, batch_size


def check_bases(w, name, d, data_name):
  """Returns bases as float32 [K, D] or raises InputError."""
  w = check_samples(w, name)
  if w.shape[1] != d:
    raise InputError(f"{name}: bases have {w.shape[1]} values each but "
                     f"{data_name} has {d} per sample; they must match")
  if not (w.sum(axis=1) > 0).all():
    raise InputError(f"{name}: {int(np.sum(w.sum(axis=1) <= 0))} basis "
                     "row(s) are all zero; every basis needs a positive value")
  return w


# ---------------------------------------------------------------------------
