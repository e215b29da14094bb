"""`python -m export.export_model`: re-exporting a finished run's separator from its
workdir gives the trainer's own export, servable; unfinished runs are refused."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from eggsep_tf.data import tfrecords
from eggsep_tf.errors import InputError
from eggsep_tf.export import client
from eggsep_tf.export import model_access
from eggsep_tf.export import workdir_export
from eggsep_tf.export.rest_server import serve_in_thread
from tests import helpers
from tests import in_process


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  """A real trainers.nes run (in-process), as small as it gets (about 5 s)."""
  data = helpers.write_bars_npz(str(tmp_path_factory.mktemp("data") / "bars.npz"), 600)
  workdir = str(tmp_path_factory.mktemp("run"))
  proc = in_process.run_trainer(
      "trainers.nes", f"--workdir={workdir}", f"--data={data}", "--observed=0",
      "--unobserved=1", "--num_b=100", "--num_y=100", "--num_test=20", "--iterations=1",
      "--epochs=1", "--filters=8,16", "--batch_size=16", "--eval_batch_size=64", "--seed=1",
      "--model_name=bars")
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def _outputs(version_dir, signature, **inputs):
  fn = tf.saved_model.load(version_dir).signatures[signature]
  return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def _mixtures(workdir):
  return tfrecords.read_all(os.path.join(workdir, "data", "test"), ["y"])["y"][:6]


def test_reexport_equals_the_trainers_export(finished_run, tmp_path):
  path = workdir_export.export_workdir(finished_run, export_base=str(tmp_path))
  assert path == os.path.join(str(tmp_path), "bars", "1")  # The run's --model_name.
  trainer_export = os.path.join(finished_run, "export", "bars", "1")
  y = _mixtures(finished_run)
  want = _outputs(trainer_export, "serving_default", mixture=y)
  got = _outputs(path, "serving_default", mixture=y)
  for k in ("x", "b", "mask"):
    np.testing.assert_array_equal(got[k], want[k])
  assert 0.05 < want["mask"].mean() < 0.95
  with open(os.path.join(path, "metadata.json")) as f:
    meta = json.load(f)
  with open(os.path.join(trainer_export, "metadata.json")) as f:
    trainer_meta = json.load(f)
  with open(os.path.join(finished_run, "results.json")) as f:
    scores = json.load(f)
  # One metadata builder: the whole dict is the trainer's, plus where it came from.
  assert {k: v for k, v in meta.items() if k != "exported_from"} == trainer_meta
  assert meta["test_metrics"] == scores["nes"] and meta["version"] == 1
  assert meta["exported_from"]["checkpoint"].startswith(
      os.path.join(finished_run, "nes", "iter_0", "ckpt"))
  # A second export goes next to it as version 2.
  again = workdir_export.export_workdir(finished_run, export_base=str(tmp_path))
  assert again == os.path.join(str(tmp_path), "bars", "2")


def test_command_export_is_served_like_the_trainers(finished_run, tmp_path):
  proc = helpers.run_module("export.export_model", f"--workdir={finished_run}",
                            f"--export_base={tmp_path}", "--model_name=served")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "Serve it with: python -m export.serve" in proc.stderr
  y = _mixtures(finished_run)
  want = _outputs(os.path.join(finished_run, "export", "bars", "1"), "serving_default",
                  mixture=y)
  server = serve_in_thread(str(tmp_path), "served", poll_seconds=0)
  try:
    url = f"{server.url}/v1/models/served"
    for columnar in (True, False):
      out = client.predict(url, {"mixture": y}, columnar=columnar)
      for k in ("x", "b", "mask"):
        np.testing.assert_array_equal(out[k].astype(np.float32), want[k])
    assert model_access.model_domain(model_access.open_model(url)) == "image"
  finally:
    server.stop()


def _copy_run(workdir, dest, *names):
  os.makedirs(dest)
  for name in names:
    source = os.path.join(workdir, name)
    if os.path.isdir(source):
      shutil.copytree(source, os.path.join(dest, name))
    else:
      shutil.copy(source, os.path.join(dest, name))
  return str(dest)


def test_reexport_of_a_run_recorded_without_its_export_description(finished_run, tmp_path):
  """Older run records lack "export": it is derived from the settings and data, the same."""
  old = _copy_run(finished_run, tmp_path / "old", "run-nes.json", "results.json", "data", "nes")
  with open(os.path.join(old, "run-nes.json")) as f:
    run = json.load(f)
  assert run["export"]["image_shape"] == [16, 16, 1]
  del run["export"]
  with open(os.path.join(old, "run-nes.json"), "w") as f:
    json.dump(run, f)
  path = workdir_export.export_workdir(old, export_base=str(tmp_path / "models"))
  metas = []
  for version in (os.path.join(finished_run, "export", "bars", "1"), path):
    with open(os.path.join(version, "metadata.json")) as f:
      metas.append(json.load(f))
  assert {k: v for k, v in metas[1].items() if k != "exported_from"} == metas[0]


def test_unfinished_or_unsuitable_runs_are_refused(finished_run, tmp_path):
  base = str(tmp_path / "models")
  with pytest.raises(InputError, match="not a folder"):
    workdir_export.export_workdir(str(tmp_path / "none"), base)
  started = _copy_run(finished_run, tmp_path / "started", "run-nes.json")
  with pytest.raises(InputError, match="unfinished .*no 'nes' row"):
    workdir_export.export_workdir(started, base)
  no_ckpt = _copy_run(finished_run, tmp_path / "no_ckpt", "run-nes.json", "results.json",
                      "data", "nes")
  shutil.rmtree(os.path.join(no_ckpt, "nes", "iter_0", "ckpt"))
  with pytest.raises(InputError, match="no checkpoint of a finished epoch"):
    workdir_export.export_workdir(no_ckpt, base)
  with pytest.raises(InputError, match="holds no trainers.supervised run"):
    workdir_export.export_workdir(finished_run, base, trainer="supervised")
  other = _copy_run(finished_run, tmp_path / "other", "run-nes.json", "results.json", "data",
                    "nes")
  with open(os.path.join(other, "run-nes.json")) as f:
    run = json.load(f)
  run["settings"]["filters"] = ["8", "32"]
  with open(os.path.join(other, "run-nes.json"), "w") as f:
    json.dump(run, f)
  with pytest.raises(InputError, match="do not fit the mask net"):
    workdir_export.export_workdir(other, base)
  run["settings"].update(filters=["8", "16"], domain="audio")
  run["settings"].pop("n_fft", None)
  run.pop("export")  # A run recorded before run records held the export description.
  with open(os.path.join(other, "run-nes.json"), "w") as f:
    json.dump(run, f)
  with pytest.raises(InputError, match="lack a usable STFT setting"):
    workdir_export.export_workdir(other, base)
  run["settings"].update(domain="video")
  with open(os.path.join(other, "run-nes.json"), "w") as f:
    json.dump(run, f)
  with pytest.raises(InputError, match="expected image or audio"):
    workdir_export.export_workdir(other, base)
  assert not os.path.exists(base)
  proc = helpers.run_module("export.export_model", f"--workdir={started}",
                            f"--export_base={base}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "error:" in proc.stderr and "run is unfinished" in proc.stderr


def test_re_export_builds_the_form_the_run_recorded():
  # A 64x64 run of 0.6 recorded "auto" when auto built the light form; 0.7's auto is lean.
  settings = {"architecture": "strided_unet", "filters": ["4", "8"], "unet_variant": "auto",
              "domain": "image"}
  assert workdir_export.build_mask_model(settings, [64, 64, 3], "0.6.0").resolved_variant == "light"
  assert workdir_export.build_mask_model(settings, [64, 64, 3], "0.7.0").resolved_variant == "lean"
  assert workdir_export.build_mask_model({**settings, "unet_variant": None}, [64, 64, 3],
                                         "0.4.0").resolved_variant == "full"
