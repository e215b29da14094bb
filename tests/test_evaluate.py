"""`eggsep evaluate` (export/evaluate.py, export/scoring.py): any tool's estimates scored
against references, matched by ITEM.SOURCE.EXT or ITEM/SOURCE.EXT names."""

import json
import os

import numpy as np
from PIL import Image
import pytest
import soundfile

from eggsep_tf.errors import InputError
from eggsep_tf.export import scoring
from tests import helpers

RATE = 16000


def _signal(rng, seconds=2.0, rate=RATE):
  t = np.arange(int(seconds * rate)) / rate
  tone = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 400) * t) * (1 + np.sin(2 * np.pi * 3 * t))
  return (tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32) / 2


@pytest.fixture()
def audio_folders(tmp_path):
  """MUSDB-style references (song/speech.wav) and eggsep-style estimates (song.speech.wav,
  at 8 kHz): each estimate is its reference plus a little of the other source."""
  rng = np.random.default_rng(0)
  for item in ("a", "b"):
    speech, noise = _signal(rng), _signal(rng)
    os.makedirs(tmp_path / "refs" / item)
    soundfile.write(str(tmp_path / "refs" / item / "speech.wav"), speech, RATE)
    soundfile.write(str(tmp_path / "refs" / item / "noise.flac"), noise, RATE)
    os.makedirs(tmp_path / "est", exist_ok=True)
    for name, main, other in (("speech", speech, noise), ("noise", noise, speech)):
      estimate = main + 0.1 * other
      soundfile.write(str(tmp_path / "est" / f"{item}.{name}.wav"), estimate[::2], RATE // 2)
  return tmp_path


def test_matching_by_either_name_form_and_source_map(tmp_path):
  for rel in ("song/vocals.wav", "song.drums.wav", "sub/two.x.wav", "loose.wav"):
    os.makedirs(os.path.dirname(tmp_path / "e" / rel), exist_ok=True)
    soundfile.write(str(tmp_path / "e" / rel), np.zeros(10), RATE)
  index = scoring.index_folder(str(tmp_path / "e"))
  assert set(index) == {("song", "vocals"), ("song", "drums"), ("sub/two", "x")}
  refs = {("song", "vocals"): "r1", ("song", "bass"): "r2", ("sub/two", "noise"): "r3"}
  pairs, report = scoring.match(index, refs, {"x": "noise"})
  assert pairs == {"song": {"vocals": (index[("song", "vocals")], "r1")},
                   "sub/two": {"noise": (index[("sub/two", "x")], "r3")}}
  assert report["missing"] == ["song.bass"] and report["unmatched"] == ["song.drums"]
  with pytest.raises(InputError, match="no estimate matches a reference"):
    scoring.match(index, {("other", "vocals"): "r"})


def test_audio_scores_table_and_json(audio_folders):
  out = audio_folders / "scores.json"
  proc = helpers.run_module("export.evaluate", f"--estimates={audio_folders / 'est'}",
                            f"--references={audio_folders / 'refs'}", f"--json={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.load(open(out))
  assert result["domain"] == "audio" and result["num_items"] == 2 and not result["failed"]
  for source in ("speech", "noise"):
    scores = result["summary"][source]
    assert 12 < scores["sdr"] < 30 and 12 < scores["si_sdr"] < 30  # 20 dB less of the other.
    assert scores["sir"] > scores["sdr"] - 1
    assert "stoi" in scores and "pesq" in scores  # pesq and pystoi are in the [audio] extra.
  assert set(result["items"]) == {"a", "b"}
  assert "| source | sdr | sir | sar | si_sdr |" in proc.stdout
  assert "MUSDB" in proc.stdout


def test_image_scores_with_a_source_map(tmp_path):
  rng = np.random.default_rng(1)
  for i in range(3):
    ref = rng.integers(0, 65536, (8, 8), dtype=np.uint16)
    os.makedirs(tmp_path / "refs" / f"img{i}", exist_ok=True)
    Image.fromarray(ref).save(tmp_path / "refs" / f"img{i}" / "digit.png")
    os.makedirs(tmp_path / "est", exist_ok=True)
    Image.fromarray(ref).save(tmp_path / "est" / f"img{i}.x.png")  # Perfect.
  result = scoring.evaluate(str(tmp_path / "est"), str(tmp_path / "refs"), {"x": "digit"})
  assert result["domain"] == "image" and result["num_items"] == 3
  assert result["summary"]["digit"]["psnr"] == pytest.approx(100.0)
  assert result["summary"]["digit"]["ssim"] == pytest.approx(1.0, abs=1e-4)
  assert "mean over items" in result["aggregate"]


def test_bad_input_is_one_line_and_writes_nothing(audio_folders, tmp_path):
  out = tmp_path / "none.json"
  proc = helpers.run_module("export.evaluate", f"--estimates={audio_folders / 'est'}",
                            f"--references={audio_folders / 'refs'}", f"--json={out}",
                            "--source_map=speech")
  assert proc.returncode == 2 and "--source_map=speech: expected EST=REF" in proc.stderr
  proc = helpers.run_module("export.evaluate", f"--estimates={audio_folders / 'nothing'}",
                            f"--references={audio_folders / 'refs'}", f"--json={out}")
  assert proc.returncode == 2 and "nothing: no such folder" in proc.stderr
  assert "Traceback" not in proc.stderr and not os.path.exists(out)


def test_missing_speech_metric_packages_are_a_note_not_an_error(audio_folders, monkeypatch):
  monkeypatch.setattr(scoring, "speech_metrics_available", lambda: {"pesq": False,
                                                                     "stoi": False})
  result = scoring.evaluate(str(audio_folders / "est"), str(audio_folders / "refs"))
  assert set(result["summary"]["speech"]) == {"sdr", "sir", "sar", "si_sdr"}
  assert any("PESQ not computed: install the pesq package" in n for n in result["notes"])
  assert any("STOI not computed: install the pystoi package" in n for n in result["notes"])
