"""A regular (not editable) install works from inside a user's project that has its own
`data/` package and `export.py`, gives the `eggsep` command and the built-in digits."""

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests import helpers


def _run(args, cwd, timeout=300):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("PYTHONPATH", None)
  env.pop("EGGSEP_TF_PACKAGE", None)
  return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_wheel_install_is_not_shadowed_by_a_users_data_and_export(tmp_path):
  wheels = tmp_path / "wheels"
  source = tmp_path / "source"  # A copy: building writes build/ into the source folder.
  shutil.copytree(helpers.ROOT, source, ignore=shutil.ignore_patterns(
      ".venv", ".git", "build", "dist", "runs", "datasets", "*.egg-info", "__pycache__"))
  proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--quiet", "-w", str(wheels), str(source)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  wheel = glob.glob(str(wheels / "eggsep_tf-*.whl"))[0]
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
  assert "eggsep_tf/data/mnist5k.npz" in names
  assert {n.split("/")[0] for n in names if not n.startswith("eggsep_tf-")} == {"eggsep_tf"}
  requires = [line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
              if line.startswith("Requires-Dist:")]
  tensorflows = [r for r in requires if r.startswith("tensorflow") and "datasets" not in r]
  # One TensorFlow distribution, with or without [gpu] (which only adds CUDA libraries).
  assert tensorflows == ["tensorflow<2.22,>=2.21",
                         "tensorflow[and-cuda]<2.22,>=2.21; extra == \"gpu\""], tensorflows
  assert b"eggsep = eggsep_tf.export.cli:entry_point" in entry_points
  # A fresh venv that sees this one's dependencies (TensorFlow, ...) through a .pth file but
  # not its editable eggsep_tf (an editable finder is only activated by its own .pth).
  venv = tmp_path / "venv"
  assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path).returncode == 0
  python = str(venv / "bin" / "python")
  site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
              tmp_path).stdout.strip()
  with open(os.path.join(site, "test_deps.pth"), "w") as f:
    f.write(sysconfig.get_paths()["purelib"] + "\n")
  proc = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
               "--quiet", wheel], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  # The user's project: its own data/ package and export.py, as ML projects often have.
  project = tmp_path / "userproject"
  os.makedirs(project / "data")
  (project / "data" / "__init__.py").write_text("USER = True\n")
  (project / "export.py").write_text("USER = True\n")
  (project / "trainers.py").write_text("USER = True\n")
  code = (
      "import data, export\n"
      "assert data.USER and export.USER\n"  # The user's own modules still import.
      "import eggsep_tf\n"
      "assert 'site-packages' in eggsep_tf.__file__, eggsep_tf.__file__\n"
      "from eggsep_tf.data import mixtures, image_sources\n"
      "from eggsep_tf.export import separation, api\n"
      "from eggsep_tf.trainers import common_flags\n"
      "images, labels = image_sources.load_source('mnist5k')\n"
      "print(images.shape, len(set(labels.tolist())), eggsep_tf.Separator.__name__)\n")
  proc = _run([python, "-c", code], cwd=project)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == ["(5000,", "28,", "28,", "1)", "10", "Separator"]
  proc = _run([str(venv / "bin" / "eggsep"), "--help"], cwd=project)
  assert proc.returncode == 0 and "evaluate" in proc.stdout and "separate" in proc.stdout
  proc = _run([python, "-m", "eggsep_tf", "separate", "--help"], cwd=project)
  assert proc.returncode == 0 and "--name_template" in proc.stdout, proc.stderr[-2000:]
  proc = _run([str(venv / "bin" / "eggsep"), "nes", "--workdir=" + str(tmp_path / "w"),
               "--num_b=zero"], cwd=project)
  # A bad flag is bad input: exit 2 (README "Reliability"), as tests/test_cli.py checks.
  assert proc.returncode == 2 and "flag --num_b=zero" in proc.stderr, proc.stderr[-2000:]
