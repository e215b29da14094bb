"""results.json and results.md: every run's scores, in the paper's table layout."""

import json
import os

# Column order of the paper's tables; a run shows the columns it has.
METHODS = [("const", "Const"), ("nmf", "NMF"), ("am", "AM"), ("lm", "LM"), ("lmm", "LMM"),
           ("nes", "NES"), ("am_nes", "AM+NES"), ("lmm_nes", "LMM+NES"),
           ("supervised", "Supervised"), ("oracle", "Oracle")]


def _atomic_write(path, text):
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def load(workdir):
  """The results dict of a workdir ({} if none yet)."""
  path = os.path.join(workdir, "results.json")
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def _cell(scores):
  if "psnr_x" in scores:
    return f"{scores['psnr_x']:.2f}/{scores['ssim_x']:.3f}"
  if "sdr_x" in scores:
    return f"{scores['sdr_x']:.2f}"
  return "?"


def _method_sort_key(name):
  order = [m for m, _ in METHODS]
  if name.startswith("nes_iter_"):
    return (order.index("nes"), int(name.rsplit("_", 1)[1]))
  return (order.index(name) if name in order else len(order), 0)


def to_markdown(results, x_name="X", b_name="B"):
  """The paper's layout (one row, a column per method) and a detail table."""
  present = [(m, title) for m, title in METHODS if m in results]
  metric = "PSNR dB / SSIM on X" if any("psnr_x" in v for v in results.values()) \
      else "median SDR dB on X"
  lines = [f"{metric}:", "",
           "| X | B | " + " | ".join(t for _, t in present) + " |",
           "|---|---|" + "---|" * len(present),
           f"| {x_name} | {b_name} | " + " | ".join(_cell(results[m]) for m, _ in present) + " |",
           "", "All rows:", ""]
  keys = sorted({k for v in results.values() for k in v
                 if isinstance(v.get(k), (int, float))})
  lines.append("| method | " + " | ".join(keys) + " |")
  lines.append("|---|" + "---|" * len(keys))
  for name in sorted(results, key=_method_sort_key):
    row = results[name]
    cells = [f"{row[k]:.3f}" if isinstance(row.get(k), (int, float)) else "" for k in keys]
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def update(workdir, method, scores, x_name="X", b_name="B"):
  """Sets results[method] = scores and rewrites results.json and results.md atomically."""
  results = load(workdir)
  results[method] = scores
  _atomic_write(os.path.join(workdir, "results.json"), json.dumps(results, indent=2) + "\n")
  _atomic_write(os.path.join(workdir, "results.md"), to_markdown(results, x_name, b_name))
  return results
