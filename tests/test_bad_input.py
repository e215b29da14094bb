"""Bad input, round two (issue 17): each case is one row of a table, run in-process
where it can be (a subprocess only where an exit status must be seen).

Every user-caused or environment fault gives one `error:` line naming the flag or
file and exit 2; a refused command leaves nothing behind; nothing made by another
run is replaced without --overwrite; degenerate data are warned about.
"""

import errno
import json
import logging
import os
import signal

from absl.testing import flagsaver
import keras
import numpy as np
import pytest

from eggsep_tf import results
from eggsep_tf.data import audio_io
from eggsep_tf.data import image_sources
from eggsep_tf.data import tfrecords
from eggsep_tf.errors import InputError
from eggsep_tf.export import saved_model
from eggsep_tf.export import separation
from eggsep_tf.export import workdir_export
from eggsep_tf.trainers import cli
from eggsep_tf.trainers import merge_results
from eggsep_tf.trainers import nes as nes_trainer
from eggsep_tf.trainers import runner
from eggsep_tf.trainers import stopping
from eggsep_tf.trainers import supervised
from eggsep_tf.trainers import workdir_checks
from tests import helpers

FLAGS = runner.FLAGS


def setup_module():
  if not FLAGS.is_parsed():
    FLAGS.mark_as_parsed()


@pytest.fixture(autouse=True, scope="module")
def _keep_log_level():
  """Parsing flags in-process resets absl's logger level (--verbosity); put it back so
  that later tests still see INFO records."""
  logger = logging.getLogger("absl")
  level = logger.level
  yield
  logger.setLevel(level)


def _one_error_line(capsys, exit_info, *words):
  """Asserts exit 2 and a single `error:` line on stderr holding every word."""
  assert exit_info.value.code == 2
  lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), lines
  for word in words:
    assert word in lines[0], lines[0]


# --- Flags refused while the command line is parsed (before anything is written).

@pytest.mark.parametrize("arg,words", [
    ("--beta1=1.0", ["--beta1", "[0, 1)"]),
    ("--learning_rate=nan", ["--learning_rate", "finite"]),
    ("--learning_rate=inf", ["--learning_rate", "finite"]),
    ("--lr_schedule=linear", ["--lr_schedule", "cosine"]),
    ("--const_fraction=nan", ["--const_fraction", "finite"]),
    ("--noise_sigma=nan", ["--noise_sigma", "finite"]),
    ("--max_runtime=-5", ["--max_runtime", ">= 0"]),
    ("--seed=-1", ["--seed", ">= 0"]),
    ("--model_name=a/b", ["--model_name", "letters"]),
    ("--filters=a,b", ["--filters", "integers"]),
    ("--snr_db=5,-5", ["--snr_db", "low <= high"]),
    ("--observed=x-y", ["--observed", "class labels"]),
    ("--num_b=-3", ["--num_b"]),
    ("--stride=3", ["--stride", "power of two"]),
    ("--gain_range=2,1", ["--gain_range", "LOW <= HIGH"]),
    ("--init_fraction=nan", ["--init_fraction", "finite"]),
])
def test_bad_flag_is_one_line_and_exit_2(capsys, arg, words):
  with flagsaver.flagsaver():
    with pytest.raises(SystemExit) as exit_info:
      cli.parse_flags(["trainers.nes", "--workdir=/nonexistent/w", arg])
  _one_error_line(capsys, exit_info, *words)


def test_parse_errors_exit_2_from_the_command_line(tmp_path):
  workdir = tmp_path / "w"
  proc = helpers.run_module("trainers.nes", f"--workdir={workdir}", "--beta1=1.0")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
  assert [line for line in proc.stderr.splitlines() if line.strip()][-1].startswith(
      "error: flag --beta1=1.0")
  assert not workdir.exists()


# --- A refused command changes nothing; a corrected one in the same workdir works.

def _run_flags(workdir, data, **changes):
  settings = dict(workdir=str(workdir), data=data, observed="0", unobserved="1", num_b=50,
                  num_y=50, num_test=20, iterations=1, epochs=1, filters=["4", "8"],
                  batch_size=16, eval_batch_size=64, model_name="bars", supervised_epochs=1)
  settings.update(changes)
  return flagsaver.flagsaver(**settings)


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
  return helpers.write_bars_npz(str(tmp_path_factory.mktemp("d") / "bars.npz"), 300)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, npz):
  """A workdir where a typo in --data was refused first, then the right run finished."""
  workdir = tmp_path_factory.mktemp("run") / "w"
  with _run_flags(workdir, str(workdir) + "-nope.npz"):
    with pytest.raises(InputError):
      nes_trainer.run()
  left = sorted(os.listdir(workdir)) if workdir.exists() else []
  with _run_flags(workdir, npz):
    nes_trainer.run()
  return {"workdir": str(workdir), "left_by_refusal": left}


def _snapshot(folder):
  out = {}
  for root, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(root, name)
      out[path] = os.stat(path).st_mtime_ns
  return out


def test_refused_data_typo_leaves_nothing_and_the_corrected_command_runs(finished):
  assert finished["left_by_refusal"] == []
  assert "nes" in results.load(finished["workdir"])


def test_rerun_of_a_finished_run_writes_nothing(finished, npz):
  # What a read-only workdir needs: a no-op rerun must not rewrite its record.
  before = _snapshot(finished["workdir"])
  with _run_flags(finished["workdir"], npz):
    nes_trainer.run()
  assert _snapshot(finished["workdir"]) == before


def test_other_model_name_on_a_finished_run_is_refused(finished, npz):
  record = os.path.join(finished["workdir"], "run-nes.json")
  before = open(record).read()
  with _run_flags(finished["workdir"], npz, model_name="other"):
    with pytest.raises(InputError, match="export.export_model"):
      nes_trainer.run()
  assert open(record).read() == before


def test_refused_supervised_leaves_no_record(finished, npz):
  with _run_flags(finished["workdir"], npz, num_b=40):  # Other data than the NES run's.
    with pytest.raises(InputError, match="--num_b"):
      supervised.run()
  assert not os.path.exists(os.path.join(finished["workdir"], "run-supervised.json"))


def test_init_without_workdir_is_refused_before_the_record(tmp_path, npz):
  workdir = tmp_path / "w"
  with _run_flags(workdir, npz, init="lmm"):
    with pytest.raises(InputError, match="--init_workdir"):
      nes_trainer.run()
  assert not os.path.exists(workdir / "run-nes.json")


# --- Nothing made by another run is replaced without --overwrite.

def test_export_version_is_not_replaced_without_overwrite(finished):
  workdir = finished["workdir"]
  with pytest.raises(InputError, match="--overwrite"):
    workdir_export.export_workdir(workdir, version=1)
  path = workdir_export.export_workdir(workdir, version=1, overwrite=True)
  assert path.endswith(os.path.join("bars", "1"))


def test_merge_into_one_of_its_inputs_is_refused(tmp_path):
  a, b = str(tmp_path / "a"), str(tmp_path / "b")
  os.makedirs(a)
  os.makedirs(b)
  results.update(a, "nes", {"psnr_x": 20.0, "ssim_x": 0.9})
  results.update(b, "nes", {"psnr_x": 21.0, "ssim_x": 0.9})
  merged, _ = merge_results.merge([a, b])
  with pytest.raises(InputError, match="nes"):
    merge_results.check_replaced(a, merged, overwrite=False)
  merge_results.check_replaced(a, merged, overwrite=True)
  merge_results.check_replaced(str(tmp_path / "new"), merged, overwrite=False)


# --- One line instead of a traceback.

@pytest.mark.parametrize("make_error,words", [
    (lambda p: PermissionError(errno.EACCES, "Permission denied", p), ["permission denied"]),
    (lambda p: OSError(errno.EROFS, "Read-only file system", p), ["read-only"]),
    (lambda p: OSError(errno.ENOSPC, "No space left on device", p), ["no space left"]),
])
def test_environment_faults_name_the_path_and_exit_2(capsys, tmp_path, make_error, words):
  path = str(tmp_path / "w" / "run-nes.json")

  def run():
    raise make_error(path)

  with pytest.raises(SystemExit) as exit_info:
    runner.run_main(run)
  _one_error_line(capsys, exit_info, path, *words)
  stopping._ACTIVE = None
  signal.signal(signal.SIGINT, signal.default_int_handler)
  signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("arrays,words", [
    ({"images": np.array([["a"] * 4] * 3)}, ["dtype", "expected numbers"]),
    ({"images": np.ones([4, 8, 8], np.complex64)}, ["complex"]),
    ({"images": np.ones([4, 8, 8], np.float32), "labels": np.array([0, 0.5, 1, 1])},
     ["whole numbers"]),
])
def test_unusable_arrays_are_refused_by_name(tmp_path, arrays, words):
  path = str(tmp_path / "bad.npz")
  np.savez(path, **arrays)
  with pytest.raises(InputError) as error:
    image_sources.load_source(path)
  for word in ["bad.npz", *words]:
    assert word in str(error.value)


def test_corrupt_results_json_names_the_file(tmp_path):
  (tmp_path / "results.json").write_text("{not json")
  with pytest.raises(InputError, match="results.json"):
    results.load(str(tmp_path))


def test_export_base_that_is_a_file_is_refused(tmp_path):
  (tmp_path / "base").write_text("x")
  with pytest.raises(InputError, match="is a file"):
    saved_model.check_target(str(tmp_path / "base"), "bars")


def test_separate_out_that_is_a_file_exits_2_naming_out(tmp_path):
  (tmp_path / "out").write_text("x")
  proc = helpers.run_module("export.separate", str(tmp_path), "--model=/nonexistent",
                            f"--out={tmp_path / 'out'}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "--out=" in proc.stderr.strip().splitlines()[-1]


# --- Degenerate data: warned about, named.

def test_constant_images_are_warned_about(tmp_path, caplog):
  path = str(tmp_path / "black.npz")
  np.savez(path, images=np.zeros([6, 8, 8], np.float32), labels=np.arange(6) % 2)
  with caplog.at_level(logging.WARNING, logger="absl"):
    image_sources.load_source(path)
  assert "every image is constant" in caplog.text


def test_class_folders_say_which_label_they_get(tmp_path, caplog):
  from PIL import Image
  for name in ("5", "7"):
    os.makedirs(tmp_path / name)
    Image.fromarray(np.full([8, 8], 200, np.uint8)).save(tmp_path / name / "a.png")
  with caplog.at_level(logging.INFO, logger="absl"):
    _, labels = image_sources.load_source(str(tmp_path))
  assert sorted(labels) == [0, 1]
  assert "5/ -> 0" in caplog.text and "7/ -> 1" in caplog.text


def test_stems_of_other_lengths_are_cut_with_a_warning(caplog):
  parts = {"x": np.ones(16000, np.float32), "b": np.ones(12000, np.float32)}
  with caplog.at_level(logging.WARNING, logger="absl"):
    cut = audio_io.check_lengths(parts, "track_1", 16000)
  assert {k: len(v) for k, v in cut.items()} == {"x": 12000, "b": 12000}
  assert "track_1" in caplog.text and "differ in length" in caplog.text


def test_silent_stem_is_warned_about(caplog):
  parts = {"x": np.zeros(800, np.float32), "b": np.ones(800, np.float32)}
  with caplog.at_level(logging.WARNING, logger="absl"):
    audio_io.check_lengths(parts, "track_2", 8000)
  assert "track_2" in caplog.text and "silent" in caplog.text


def test_sample_rate_far_from_the_files_is_warned_about(caplog):
  audio = np.random.default_rng(0).uniform(-0.5, 0.5, [8000, 1]).astype(np.float32)
  with caplog.at_level(logging.WARNING, logger="absl"):
    audio_io.to_mono(audio, 8000, 100, "speech.wav")
  assert "speech.wav is at 8000 Hz" in caplog.text


def test_truncated_shard_is_named_when_the_split_opens(tmp_path):
  split = str(tmp_path / "split")
  tfrecords.write_split(split, {"x": np.ones([8, 4, 4, 1], np.float32)})
  shard = tfrecords.shard_files(split)[1]
  with open(shard, "r+b") as f:
    f.truncate(os.path.getsize(shard) // 2)
  with pytest.raises(InputError) as error:
    tfrecords.dataset(split)
  assert os.path.basename(shard) in str(error.value) and "truncated" in str(error.value)


# --- Minor: full disks, the disk check, a second Ctrl-C.

def test_full_disk_leaves_no_tmp_file(tmp_path, monkeypatch):
  def no_space(src, dst):
    raise OSError(errno.ENOSPC, "No space left on device", dst)

  monkeypatch.setattr(separation.os, "replace", no_space)
  with pytest.raises(OSError):
    separation._write(str(tmp_path / "out" / "a_x.png"), b"data")
  assert os.listdir(tmp_path / "out") == []


def test_full_disk_stops_separation_instead_of_failing_each_file(tmp_path, monkeypatch):
  for name in ("a.png", "b.png"):
    (tmp_path / name).write_bytes(b"png")
  calls = []

  def no_space(model, job, out_dir, *args):
    calls.append(job.path)
    raise OSError(errno.ENOSPC, "No space left on device", os.path.join(out_dir, "a.x.png"))

  monkeypatch.setattr(separation.model_access, "model_domain", lambda model: "image")
  monkeypatch.setattr(separation, "separate_one", no_space)
  model = type("Model", (), {"description": "fake", "metadata": {}})()
  with pytest.raises(OSError):
    separation.separate_files(model, [str(tmp_path / "a.png"), str(tmp_path / "b.png")],
                              str(tmp_path / "out"))
  assert len(calls) == 1


def test_disk_check_counts_checkpoints_and_export(tmp_path, monkeypatch):
  import keras
  model = keras.Sequential([keras.Input([10]), keras.layers.Dense(100)])  # 1,100 weights.
  weights = 4 * model.count_params()
  free = 1000 + 3 * weights  # Room for the estimates, not for 2 phases of checkpoints.
  usage = type("Usage", (), {"free": free})
  monkeypatch.setattr(workdir_checks.shutil, "disk_usage", lambda path: usage)
  assert workdir_checks.check_disk(str(tmp_path), 1000, "estimates only")
  assert not workdir_checks.check_run_disk(str(tmp_path), model, 2, 1000, "NES")


def test_second_signal_stops_at_once():
  previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    stopper = stopping.Stopper().install()
    assert signal.getsignal(signal.SIGINT) == stopper.on_signal
    stopper.on_signal(signal.SIGINT, None)
    with pytest.raises(stopping.StopRequested, match="SIGINT"):
      stopper.check(0.0)
    # The system's handlers again: a second signal ends the process without waiting.
    assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
  finally:
    stopping._ACTIVE = None
    for sig, handler in previous.items():
      signal.signal(sig, handler)


def test_runs_recorded_before_a_flag_compare_as_its_old_value(tmp_path):
  # A record from before --unet_variant had the full U-Net: resuming it with another
  # variant is refused, with the flag that would resume it; --unet_variant=full resumes.
  old = {"filters": ["8", "16"]}
  with pytest.raises(InputError, match="--unet_variant was 'full', now 'auto'"):
    workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": "auto"}, "nes run",
                              "run-nes.json", str(tmp_path))
  workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": "full"}, "nes run",
                            "run-nes.json", str(tmp_path))
  # Flags without a recorded old value are not compared.
  workdir_checks.check_same(old, {"filters": ["8", "16"], "new_flag": 1}, "nes run",
                            "run-nes.json", str(tmp_path))


def test_auto_runs_of_0_6_resume_with_their_form_named(tmp_path):
  # "auto" of 0.5-0.6 built the light form where strided; 0.7's auto builds the lean one:
  # resuming such a run with the new auto is refused with the flags that resume it.
  old = {"filters": ["8", "16"], "unet_variant": "auto"}
  with pytest.raises(InputError, match="--unet_variant=light .*--unet_variant=full"):
    workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": "auto"}, "nes run",
                              "run-nes.json", str(tmp_path), "0.6.0")
  for form in ("light", "full"):
    workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": form}, "nes run",
                              "run-nes.json", str(tmp_path), "0.6.0")
  with pytest.raises(InputError, match="--unet_variant was 'auto"):
    workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": "lean"}, "nes run",
                              "run-nes.json", str(tmp_path), "0.6.0")
  # Records of 0.7 and later mean what auto means now.
  workdir_checks.check_same(old, {"filters": ["8", "16"], "unet_variant": "auto"}, "nes run",
                            "run-nes.json", str(tmp_path), "0.7.0")


def test_a_checkpoint_of_another_net_is_refused_with_its_path(tmp_path):
  from eggsep_tf import checkpointing
  from eggsep_tf.trainers import epoch_loop
  phase = tmp_path / "iter_0"
  saved = keras.Sequential([keras.layers.Dense(3)])
  saved(np.zeros((1, 2), np.float32))
  path = checkpointing.make_checkpoint(model=saved).save(str(phase / "ckpt" / "ckpt"))
  (phase / "state.json").write_text(json.dumps(
      {"epochs_done": 1, "checkpoint": os.path.basename(path)}))
  other = keras.Sequential([keras.layers.Dense(4)])
  other(np.zeros((1, 2), np.float32))
  with pytest.raises(InputError, match="does not fit the net"):
    epoch_loop.restore_model(other, str(phase))
