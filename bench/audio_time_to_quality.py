r"""SDR on X against training wall time: NES, LMM+NES and Supervised per architecture, real audio.

  bash bench/make_audio_data.sh                 # speech, noise, rendered music stems -> datasets/
  python bench/audio_time_to_quality.py                       # every task, 5/10/20/30 min each
  python bench/audio_time_to_quality.py --tasks=speech --minutes=5,10 --architectures=spectral_tcn

For each task and architecture it runs `trainers.nes` (many short iterations, so that every
iteration is a point on the curve: each NES row records its wall seconds) with --max_runtime
at the largest budget, and `trainers.supervised` once per budget (as many epochs as fit, from
the speed its first run measured), then prints, per budget, the X score of the last NES
iteration finished within it and of the supervised run, beside Const and the Oracle (the
ideal ratio mask on the same STFT), and writes a PNG plot of SDR against minutes
(matplotlib, if installed). On the music task (--lmm_tasks) it also runs LMM (GLO
generators, trainers.lmm, --lmm_flags) and NES started from its estimates, the LMM's
minutes counted in that curve's budget. Tasks: speech = X speech vs B noise at 16 kHz (the paper's
front end: n_fft 512, 25 ms / 10 ms, 64-frame patches); noise = X noise vs B speech;
drums = X drums vs B bass+other of the rendered MIDI stems. Workdirs: runs/ttq_<task>_<arch>_*
(--tag adds a suffix, so that runs with other --extra_flags keep their own).
Takes the sum of the budgets per task and architecture (2 h for the defaults, x 3 tasks x 2
architectures): run it overnight, or pick tasks and budgets.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TASKS = {
    "speech": ["--audio_source=speech_noise", "--speech_dir=datasets/speech",
               "--noise_dir=datasets/noise", "--x_source=speech", "--snr_db=-5,5",
               "--sample_rate=16000", "--n_fft=512", "--window_ms=25", "--hop_ms=10",
               "--patch_frames=64", "--max_train_seconds=900", "--max_tracks=10"],
    "noise": ["--audio_source=speech_noise", "--speech_dir=datasets/speech",
              "--noise_dir=datasets/noise", "--x_source=noise", "--snr_db=-5,5",
              "--sample_rate=16000", "--n_fft=512", "--window_ms=25", "--hop_ms=10",
              "--patch_frames=64", "--max_train_seconds=900", "--max_tracks=10"],
    "drums": ["--audio_source=musdb", "--musdb_root=datasets/musdb_synth",
              "--musdb_target=drums", "--sample_rate=8000", "--n_fft=256", "--window_ms=32",
              "--hop_ms=16", "--patch_frames=32"],
}
# bench/initializers_audio.sh's GLO settings of the LMM start.
LMM_FLAGS = ("--glo_filters=32,16 --glo_latent_dim=16 --lmm_stage1_epochs=15 "
             "--lmm_stage2_epochs=15")
COMMON = ["--domain=audio", "--audio_mixing=waveform", "--const_fraction=0.5",
          "--batch_size=32", "--eval_batch_size=32", "--learning_rate=0.001",
          "--chunk_frames=256", "--context_frames=32", "--epochs=2"]


def run(module, args, log):
  with open(log, "a") as f:
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, stdout=f,
                          stderr=subprocess.STDOUT,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  return proc.returncode


def results(workdir):
  path = os.path.join(ROOT, workdir, "results.json")
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def nes_curve(rows, prefix="nes_iter_", start_minutes=0.0, metric="sdr_x"):
  """[(minutes, metric)] of the NES iterations, by cumulative wall time (after
  start_minutes spent on the start, e.g. LMM)."""
  points, total, t = [], start_minutes * 60.0, 1
  while f"{prefix}{t}" in rows:
    total += rows[f"{prefix}{t}"].get("seconds", 0.0)
    points.append((total / 60.0, rows[f"{prefix}{t}"][metric]))
    t += 1
  return points


def lmm_nes_curve(flags, base, budget_minutes, lmm_flags, log):
  """LMM, then NES from its estimates within what is left of the budget: the curve of
  LMM+NES against minutes, the LMM's own wall time included."""
  lmm_dir = f"{base}_lmm"
  start = time.time()
  run("trainers.lmm", flags + lmm_flags + [f"--workdir={lmm_dir}"], log)
  lmm_minutes = results(lmm_dir).get("lmm", {}).get("seconds", time.time() - start) / 60.0
  left = max(budget_minutes - lmm_minutes, 1.0)
  run("trainers.nes", flags + lmm_flags + [f"--workdir={lmm_dir}", "--init=lmm",
                                           f"--init_workdir={lmm_dir}", "--iterations=100",
                                           f"--max_runtime={left * 60:.0f}"], log)
  rows = results(lmm_dir)
  prefix = next((k[:-1] for k in rows if k.endswith("nes_iter_1")), "lmm_nes_iter_")
  lmm_sdr = rows.get("lmm", {}).get("sdr_x")
  # The curve starts at the LMM's own estimate, when it is done.
  start = [(lmm_minutes, lmm_sdr)] if lmm_sdr is not None else []
  return start + nes_curve(rows, prefix, lmm_minutes), lmm_sdr


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--tasks", default="speech,noise,drums")
  parser.add_argument("--architectures", default="spectral_tcn,unet")
  parser.add_argument("--minutes", default="5,10,20,30")
  parser.add_argument("--filters", default="spectral_tcn=256,256,256,256;unet=32,64,128,256",
                      help="ARCH=FILTERS;... (or one FILTERS list for every architecture)")
  parser.add_argument("--plot", default="runs/audio_time_to_quality.png")
  parser.add_argument("--lmm_tasks", default="drums",
                      help="tasks that also get the LMM+NES curve (comma-separated, or none)")
  parser.add_argument("--tag", default="", help="suffix of the workdirs' names")
  parser.add_argument("--extra_flags", default="",
                      help="trainer flags added after the benchmark's own (which they override), "
                      "e.g. \"--learning_rate=0.003 --epochs=5\" for musdb_synth_drums_8k.flags' "
                      "recipe")
  parser.add_argument("--lmm_flags", default=LMM_FLAGS,
                      help="trainers.lmm flags of the LMM start (bench/initializers_audio.sh's)")
  args = parser.parse_args()
  budgets = [float(m) for m in args.minutes.split(",")]
  per_arch = dict(item.split("=", 1) for item in args.filters.split(";") if "=" in item)
  table, curves = [], {}
  for task in args.tasks.split(","):
    for arch in args.architectures.split(","):
      base = f"runs/ttq_{task}_{arch}{args.tag}"
      filters = per_arch.get(arch, args.filters if "=" not in args.filters else "32,64,128,256")
      flags = (TASKS[task] + COMMON + [f"--architecture={arch}", f"--filters={filters}"]
               + args.extra_flags.split())
      log = os.path.join(ROOT, f"{base}.log")
      os.makedirs(os.path.dirname(log), exist_ok=True)
      nes_dir = f"{base}_nes"
      run("trainers.nes", flags + [f"--workdir={nes_dir}", "--iterations=100",
                                   f"--max_runtime={max(budgets) * 60:.0f}"], log)
      rows = results(nes_dir)
      curve = nes_curve(rows)
      curves[(task, arch)] = curve
      lmm_curve = []
      if task in args.lmm_tasks.split(","):
        lmm_curve, _ = lmm_nes_curve(flags, base, max(budgets), args.lmm_flags.split(), log)
        curves[(task, f"{arch} LMM+")] = lmm_curve
      sup_points = []
      for minutes in budgets:
        sup_dir = f"{base}_sup_{minutes:g}min"
        start = time.time()
        # One epoch first tells the speed; then the epochs that fit the budget.
        probe = f"{base}_sup_probe"
        if not results(probe):
          run("trainers.supervised", flags + [f"--workdir={probe}", "--supervised_epochs=1"], log)
        probe_rows = results(probe)
        epoch_minutes = probe_rows.get("supervised", {}).get("seconds", 60.0) / 60.0
        epochs = max(1, int(minutes / max(epoch_minutes, 1e-3)))
        run("trainers.supervised", flags + [f"--workdir={sup_dir}",
                                            f"--supervised_epochs={epochs}"], log)
        sup = results(sup_dir).get("supervised", {})
        sup_points.append((minutes, sup.get("sdr_x"), epochs, (time.time() - start) / 60))
      for minutes, sup_sdr, epochs, _ in sup_points:
        within = [s for m, s in curve if m <= minutes]
        lmm_within = [s for m, s in lmm_curve if m <= minutes]
        table.append((task, arch, minutes, rows.get("const", {}).get("sdr_x"),
                      within[-1] if within else None,
                      lmm_within[-1] if lmm_within else None, sup_sdr, epochs,
                      rows.get("oracle", {}).get("sdr_x")))
  print("| task | net | minutes | Const | NES | LMM+NES | Supervised (epochs) | Oracle |")
  print("|---|---|---|---|---|---|---|---|")
  fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
  for task, arch, minutes, const, nes, lmm_nes, sup, epochs, orc in table:
    print(f"| {task} | {arch} | {minutes:g} | {fmt(const)} | {fmt(nes)} | {fmt(lmm_nes)} "
          f"| {fmt(sup)} ({epochs}) | {fmt(orc)} |")
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    print('matplotlib is not installed: no plot (pip install -e ".[bench]")')
    return
  tasks = sorted({t for t, _ in curves})
  fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
  for ax, task in zip(axes[0], tasks):
    for (t, arch), curve in curves.items():
      if t == task and curve:
        ax.plot(*zip(*curve), marker="o", label=f"NES {arch}")
    for row in table:
      if row[0] == task:
        ax.axhline(row[3], color="grey", ls="--", lw=1)
        ax.axhline(row[8], color="black", ls=":", lw=1)
    sups = [(r[2], r[6]) for r in table if r[0] == task and r[6] is not None]
    if sups:
      ax.plot(*zip(*sups), marker="s", ls="", label="Supervised")
    ax.set_title(f"X = {task} (dashed Const, dotted Oracle)")
    ax.set_xlabel("training minutes (2 cores)")
    ax.set_ylabel("median SDR on X, dB")
    ax.legend()
  fig.tight_layout()
  fig.savefig(os.path.join(ROOT, args.plot))
  print(f"plot: {args.plot}")


if __name__ == "__main__":
  main()
