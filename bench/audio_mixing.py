r"""Waveform vs magnitude mixing for audio NES, on the same data and seeds.

  python bench/audio_mixing.py --preset=tones --seeds=3
  python bench/audio_mixing.py --preset=speech_noise --seeds=2   # needs bench/make_audio_data.sh
  python bench/audio_mixing.py --preset=music --seeds=1          # datasets/musdb_synth

Runs trainers.nes once per (--audio_mixing, seed) in OUT/<preset>/<mixing>-seed<k>
(resumable: finished runs are reused) and writes OUT/<preset>/summary.md: X and B
scores (BSS Eval v4 medians, dB) of Const and of every NES iteration, mean over
seeds, and the wall time per run. The data are prepared per run from the same
files with the same --data_seed, so both modes see the same recordings.

Presets (small budgets, for 2 shared CPU cores):
- tones: generated harmonic tones (X) + coloured noise (B) at 8 kHz, 256-point
  STFT, 16-frame patches, U-Net 8,16: about 20 s per run.
- speech_noise: datasets/speech (klettres) as X, datasets/noise (qabcs) as B,
  resampled to 8 kHz with a 256-point STFT (32 ms, 16 ms hop, 32-frame patches:
  4x cheaper than the paper's 16 kHz 257 x 64, so that the models learn
  something within the budget), U-Net 16,32,64, up to 15 minutes of B and of
  mixtures, 5 iterations x 4 epochs: about 5 min per run.
- music: datasets/musdb_synth (MIDI-rendered stems in the MUSDB18-HQ layout),
  vocals task (a lead-melody stand-in), the same 8 kHz front end, net and
  budget as speech_noise, x_0 = 0.1 y, test tracks cropped to their middle 30 s.
"""

import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np
import soundfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from eggsep_tf.data import synthetic_audio  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "tones", ["tones", "speech_noise", "music"], "Data and budget.")
flags.DEFINE_integer("seeds", 2, "Seeds (weights and pair draws) per mode.", lower_bound=1)
flags.DEFINE_string("out", os.path.join(ROOT, "runs", "audio_mixing"), "Output folder.")
flags.DEFINE_string("datasets", os.path.join(ROOT, "datasets"),
                    "Folder made by bench/make_audio_data.sh.")
flags.DEFINE_list("extra", [], "More trainer flags, e.g. --extra=--iterations=5,--epochs=3.")

TONES_RATE = 8000
COMMON = ["--domain=audio", "--learning_rate=0.003", "--data_seed=0"]
PRESETS = {
    "tones": ["--audio_source=speech_noise", f"--sample_rate={TONES_RATE}", "--n_fft=256",
              "--window_ms=32", "--hop_ms=16", "--patch_frames=16", "--snr_db=-10,0",
              "--test_track_seconds=2", "--max_tracks=3", "--filters=8,16", "--batch_size=16",
              "--eval_batch_size=64", "--chunk_frames=64", "--context_frames=16",
              "--iterations=3", "--epochs=3"],
    "speech_noise": ["--audio_source=speech_noise", "--snr_db=-5,5", "--sample_rate=8000",
                     "--n_fft=256", "--window_ms=32", "--hop_ms=16", "--patch_frames=32",
                     "--filters=16,32,64", "--batch_size=32", "--eval_batch_size=64",
                     "--max_train_seconds=900", "--max_tracks=10", "--chunk_frames=256",
                     "--context_frames=32", "--iterations=5", "--epochs=4"],
    "music": ["--audio_source=musdb", "--musdb_target=vocals", "--const_fraction=0.1",
              "--sample_rate=8000", "--n_fft=256", "--window_ms=32", "--hop_ms=16",
              "--patch_frames=32", "--filters=16,32,64", "--batch_size=32",
              "--eval_batch_size=64", "--max_train_seconds=900", "--max_test_seconds=30",
              "--chunk_frames=256", "--context_frames=32", "--iterations=5", "--epochs=4"],
}
ROW_KEYS = ("sdr_x", "sir_x", "sar_x", "si_sdr_x", "sdr_b", "si_sdr_b")


def _tones(seconds, rng):
  return synthetic_audio.tones(seconds, rng, TONES_RATE)


def _noise(seconds, rng):
  return synthetic_audio.noise(seconds, rng, TONES_RATE)


def _tone_data(folder):
  """Writes folder/speech (4 tone files) and folder/noise (6 noise files), 12 s each."""
  rng = np.random.default_rng(0)
  for name, make, count in (("speech", _tones, 4), ("noise", _noise, 6)):
    os.makedirs(os.path.join(folder, name), exist_ok=True)
    for i in range(count):
      soundfile.write(os.path.join(folder, name, f"{i}.wav"), make(12.0, rng), TONES_RATE)
  return os.path.join(folder, "speech"), os.path.join(folder, "noise")


def _data_flags(preset, out):
  if preset == "tones":
    speech, noise = _tone_data(os.path.join(out, "data"))
    return [f"--speech_dir={speech}", f"--noise_dir={noise}"]
  if preset == "speech_noise":
    return [f"--speech_dir={os.path.join(FLAGS.datasets, 'speech')}",
            f"--noise_dir={os.path.join(FLAGS.datasets, 'noise')}"]
  return [f"--musdb_root={os.path.join(FLAGS.datasets, 'musdb_synth')}"]


def _run(workdir, flags_list):
  """Runs trainers.nes (or reuses a finished run); returns (results, wall seconds)."""
  done = os.path.join(workdir, "bench_seconds.json")
  if os.path.exists(done) and os.path.exists(os.path.join(workdir, "results.json")):
    with open(done) as f:
      seconds = json.load(f)["seconds"]
  else:
    start = time.time()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-m", "trainers.nes", f"--workdir={workdir}",
                           *flags_list], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
      sys.exit(f"{workdir}: trainers.nes failed:\n{proc.stderr[-3000:]}")
    seconds = time.time() - start
    with open(done, "w") as f:
      json.dump({"seconds": seconds}, f)
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f), seconds


def _table(rows):
  lines = ["| mixing | row | " + " | ".join(ROW_KEYS) + " | s/run |",
           "|---|---|" + "---|" * (len(ROW_KEYS) + 1)]
  for (mixing, row), (values, seconds) in rows.items():
    cells = [f"{np.mean([v[k] for v in values]):.2f}" for k in ROW_KEYS]
    lines.append(f"| {mixing} | {row} | " + " | ".join(cells) + f" | {seconds:.0f} |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  out = os.path.join(FLAGS.out, FLAGS.preset)
  os.makedirs(out, exist_ok=True)
  base = COMMON + PRESETS[FLAGS.preset] + _data_flags(FLAGS.preset, out) + FLAGS.extra
  rows = {}
  for mixing in ("waveform", "magnitude"):
    for seed in range(FLAGS.seeds):
      workdir = os.path.join(out, f"{mixing}-seed{seed}")
      results, seconds = _run(workdir, base + [f"--audio_mixing={mixing}", f"--seed={seed}"])
      print(f"{mixing} seed {seed}: NES sdr_x {results['nes']['sdr_x']:.2f}, Const "
            f"{results['const']['sdr_x']:.2f} ({seconds:.0f} s)", flush=True)
      names = ["const"] + sorted((k for k in results if k.startswith("nes_iter_")),
                                 key=lambda k: int(k.rsplit("_", 1)[1]))
      for name in names:
        values, total = rows.get((mixing, name), ([], 0.0))
        rows[(mixing, name)] = (values + [results[name]], total + seconds / FLAGS.seeds)
  text = (f"# Audio NES: waveform vs magnitude mixing, preset {FLAGS.preset}, "
          f"{FLAGS.seeds} seed(s) (means)\n\nFlags: `{' '.join(base)}`\n\n" + _table(rows))
  with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(text)
  print(text)


if __name__ == "__main__":
  app.run(main)
