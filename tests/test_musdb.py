"""MUSDB18 readers on tiny generated trees: HQ wavs always, .stem.mp4 where ffmpeg exists."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile

from eggsep_tf.data import musdb
from eggsep_tf.errors import InputError

RATE = 8000
FREQS = {"mixture": 0, "drums": 300, "bass": 110, "other": 700, "vocals": 500}
HAVE_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _stem_audio(name, seconds=0.5):
  """Stereo [samples, 2]: a tone per stem; the mixture is the sum of the four sources."""
  t = np.arange(int(RATE * seconds)) / RATE
  if name == "mixture":
    mono = sum(0.2 * np.sin(2 * np.pi * f * t) for s, f in FREQS.items() if s != "mixture")
  else:
    mono = 0.2 * np.sin(2 * np.pi * FREQS[name] * t)
  return np.stack([mono, 0.5 * mono], axis=1).astype(np.float32)


def _hq_tree(root, tracks=("A", "B", "C"), subset="train"):
  for track in tracks:
    folder = os.path.join(root, subset, track)
    os.makedirs(folder, exist_ok=True)
    for stem in musdb.STEMS:
      soundfile.write(os.path.join(folder, f"{stem}.wav"), _stem_audio(stem), RATE,
                      subtype="FLOAT")
  return root


def _stem_mp4(path, stems=musdb.STEMS):
  folder = os.path.dirname(path)
  inputs, maps = [], []
  for i, stem in enumerate(stems):
    wav = os.path.join(folder, f"_{stem}.wav")
    soundfile.write(wav, _stem_audio(stem), RATE, subtype="FLOAT")
    inputs += ["-i", wav]
    maps += ["-map", f"{i}:a"]
  subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, *maps, "-c:a", "aac",
                  "-b:a", "96k", path], check=True)
  for stem in stems:
    os.remove(os.path.join(folder, f"_{stem}.wav"))


def test_hq_layout_lists_and_loads(tmp_path):
  root = _hq_tree(str(tmp_path))
  tracks = musdb.list_tracks(root, "train")
  assert [t.name for t in tracks] == ["A", "B", "C"]
  assert {t.layout for t in tracks} == {musdb.HQ}
  stems = musdb.load_track(tracks[0], 4000)
  assert set(stems) == set(musdb.STEMS)
  assert all(v.dtype == np.float32 and v.shape == (2000,) for v in stems.values())
  # Mono = mean of the channels (0.75 of the left one here), resampled to 4 kHz.
  t = np.arange(2000) / 4000
  np.testing.assert_allclose(stems["vocals"][200:-200],
                             (0.75 * 0.2 * np.sin(2 * np.pi * 500 * t))[200:-200], atol=2e-3)


def test_sources_for_tasks(tmp_path):
  track = musdb.list_tracks(_hq_tree(str(tmp_path)))[0]
  stems = musdb.load_track(track, RATE)
  x, b = musdb.sources_for_task(stems, "vocals")
  np.testing.assert_allclose(x, stems["vocals"])
  np.testing.assert_allclose(b, stems["drums"] + stems["bass"] + stems["other"], atol=1e-6)
  np.testing.assert_allclose(x + b, stems["mixture"], atol=1e-5)
  x, b = musdb.sources_for_task(stems, "drums")
  np.testing.assert_allclose(x, stems["drums"])
  np.testing.assert_allclose(b, stems["bass"] + stems["other"], atol=1e-6)
  with pytest.raises(InputError, match="'guitar'"):
    musdb.sources_for_task(stems, "guitar")


def test_split_disjoint(tmp_path):
  tracks = musdb.list_tracks(_hq_tree(str(tmp_path), tracks=tuple("ABCDEFG")))
  b_tracks, y_tracks = musdb.split_disjoint(tracks, 0.5, seed=3)
  assert not {t.name for t in b_tracks} & {t.name for t in y_tracks}
  assert len(b_tracks) + len(y_tracks) == 7 and len(b_tracks) == 4
  assert musdb.split_disjoint(tracks, 0.5, seed=3) == (b_tracks, y_tracks)
  with pytest.raises(InputError, match="at least 2"):
    musdb.split_disjoint(tracks[:1])


def test_missing_root_and_subset(tmp_path):
  with pytest.raises(InputError, match="nowhere: MUSDB18 root folder not found"):
    musdb.list_tracks(str(tmp_path / "nowhere"))
  with pytest.raises(InputError, match="no 'test' folder"):
    musdb.list_tracks(_hq_tree(str(tmp_path)), "test")


def test_tree_in_neither_layout(tmp_path):
  os.makedirs(tmp_path / "train" / "songs")
  (tmp_path / "train" / "songs" / "song.mp3").write_bytes(b"")
  (tmp_path / "train" / "readme.txt").write_bytes(b"")
  with pytest.raises(InputError, match=r"no MUSDB18 tracks found; expected .*stem\.mp4"):
    musdb.list_tracks(str(tmp_path))


def test_hq_track_missing_a_stem(tmp_path):
  root = _hq_tree(str(tmp_path))
  os.remove(os.path.join(root, "train", "B", "bass.wav"))
  with pytest.raises(InputError, match=r"train/B: MUSDB18-HQ track missing stem\(s\) bass\.wav"):
    musdb.list_tracks(root)


def test_corrupt_hq_stem_names_the_file(tmp_path):
  root = _hq_tree(str(tmp_path))
  with open(os.path.join(root, "train", "A", "drums.wav"), "wb") as f:
    f.write(b"not audio")
  with pytest.raises(InputError, match=r"A/drums\.wav: cannot decode"):
    musdb.load_track(musdb.list_tracks(root)[0], RATE)


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg/ffprobe not on PATH: cannot write or read "
                    ".stem.mp4 (apt-get install ffmpeg)")
def test_stem_mp4_layout(tmp_path):
  os.makedirs(tmp_path / "test")
  _stem_mp4(str(tmp_path / "test" / "Song One.stem.mp4"))
  tracks = musdb.list_tracks(str(tmp_path), "test")
  assert tracks == [musdb.Track("Song One", "test", str(tmp_path / "test" / "Song One.stem.mp4"),
                                musdb.STEM_MP4)]
  stems = musdb.load_track(tracks[0], RATE)
  assert set(stems) == set(musdb.STEMS)
  lengths = {len(v) for v in stems.values()}
  assert len(lengths) == 1 and abs(lengths.pop() - RATE // 2) < 0.1 * RATE  # AAC pads a little.
  # Streams are mapped by MUSDB's order: each stem's energy sits at its own frequency.
  for stem in ("drums", "bass", "other", "vocals"):
    audio = stems[stem][:RATE // 2]
    peak_hz = np.fft.rfftfreq(len(audio), 1 / RATE)[np.argmax(np.abs(np.fft.rfft(audio)))]
    assert abs(peak_hz - FREQS[stem]) < 20, stem


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg/ffprobe not on PATH")
def test_stem_mp4_missing_a_stem(tmp_path):
  os.makedirs(tmp_path / "train")
  path = str(tmp_path / "train" / "short.stem.mp4")
  _stem_mp4(path, stems=musdb.STEMS[:3])
  with pytest.raises(InputError, match=r"short\.stem\.mp4: 3 audio stream\(s\)"):
    musdb.load_track(musdb.list_tracks(str(tmp_path))[0], RATE)


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg/ffprobe not on PATH")
def test_corrupt_stem_mp4(tmp_path):
  os.makedirs(tmp_path / "train")
  (tmp_path / "train" / "bad.stem.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 500)
  with pytest.raises(InputError, match=r"bad\.stem\.mp4: cannot read the stem file"):
    musdb.load_track(musdb.list_tracks(str(tmp_path))[0], RATE)
