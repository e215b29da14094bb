import json
import os

from tests import in_process


def _workdir(path, rows, settings):
  os.makedirs(os.path.join(path, "data"))
  with open(os.path.join(path, "results.json"), "w") as f:
    json.dump(rows, f)
  with open(os.path.join(path, "data", "settings.json"), "w") as f:
    json.dump(settings, f)
  return str(path)


def test_merge_in_paper_order(tmp_path):
  settings = {"task": "classes", "observed": "0-4", "unobserved": "5-9", "num_b": 10}
  def row(v):
    return {"psnr_x": v, "ssim_x": 0.5, "psnr_b": v, "ssim_b": 0.5}
  a = _workdir(tmp_path / "a", {"const": row(10.0), "nes": row(20.0)}, settings)
  b = _workdir(tmp_path / "b", {"const": row(10.0), "lmm": row(15.0), "lmm_nes": row(21.0)},
               settings)
  proc = in_process.run_trainer("trainers.merge_results", f"--workdirs={a},{b}",
                                f"--out={tmp_path / 'out'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  header = next(line for line in proc.stdout.splitlines() if line.startswith("| X |"))
  assert header == "| X | B | Const | LMM | NES | LMM+NES |"
  assert "| 5-9 | 0-4 | 10.00/0.500 | 15.00/0.500 | 20.00/0.500 | 21.00/0.500 |" in proc.stdout
  with open(tmp_path / "out" / "results.json") as f:
    assert set(json.load(f)) == {"const", "nes", "lmm", "lmm_nes"}


def test_different_data_refused(tmp_path):
  a = _workdir(tmp_path / "a", {"const": {"psnr_x": 1}}, {"num_b": 10})
  b = _workdir(tmp_path / "b", {"const": {"psnr_x": 1}}, {"num_b": 20})
  proc = in_process.run_trainer("trainers.merge_results", f"--workdirs={a},{b}",
                                f"--out={tmp_path / 'out'}")
  assert proc.returncode == 2 and "num_b" in proc.stderr and "Traceback" not in proc.stderr


def test_audio_runs_are_named_by_their_sources(tmp_path):
  from eggsep_tf.data import tfrecords
  import numpy as np
  settings = {"domain": "audio", "task": "classes", "observed": "0-4", "unobserved": "5-9"}
  def row(v):
    return {"sdr_x": v, "sir_x": v, "sar_x": v, "sdr_b": v}
  a = _workdir(tmp_path / "a", {"const": row(0.5), "nes": row(1.5)}, settings)
  b = _workdir(tmp_path / "b", {"am": row(1.0)}, settings)
  tfrecords.write_split(os.path.join(a, "data", "y_train"),
                        {"y": np.zeros([2, 3, 4, 1], np.float32)},
                        extra_spec={"x_name": "drums", "b_name": "bass+other"})
  proc = in_process.run_trainer("trainers.merge_results", f"--workdirs={a},{b}",
                                f"--out={tmp_path / 'out'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "| drums | bass+other | 0.50 | 1.00 | 1.50 |" in proc.stdout
