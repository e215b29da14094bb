r"""NES against LMM+NES over several seeds: is the LMM start worth it?

  bash bench/make_audio_data.sh                      # the rendered drums -> datasets/
  python bench/lmm_nes_seeds.py                      # musdb_synth_drums_8k.flags, seeds 0-2
  python bench/lmm_nes_seeds.py --seeds=0,1 --schedules=constant,cosine

For each seed it runs, from the flagfile (each in its own workdir under --out, so that a
rerun skips what is finished and resumes what is not):
  trainers.lmm (GLO generators, --lmm_flags) -> LMM's estimates,
  trainers.nes per --schedules entry (--lr_schedule) from x_0 = c * y (the flagfile's start),
  trainers.nes per --schedules entry from the LMM's estimates (--init=lmm).
and prints, per seed and on average over the seeds, the X score of the last NES iteration
and the mean of the last three iterations (a steadier figure than one iteration: single
NES iterations move by 0.5-1 dB on six test tracks), with Const. One seed of the
defaults takes about 10 minutes on 2 cores (LMM 1 min, each NES run 3 min).
"""

import argparse
import os
import statistics
import subprocess
import sys

from audio_time_to_quality import LMM_FLAGS
from audio_time_to_quality import ROOT
from audio_time_to_quality import nes_curve
from audio_time_to_quality import results


def run(module, args, workdir, final_row):
  """Runs `python -m module args` unless workdir's results already hold final_row."""
  if final_row in results(workdir):
    return
  os.makedirs(os.path.join(ROOT, workdir), exist_ok=True)
  with open(os.path.join(ROOT, workdir + ".log"), "a") as log:
    proc = subprocess.run([sys.executable, "-m", module, *args, f"--workdir={workdir}"],
                          cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  if proc.returncode:
    sys.exit(f"{module} failed (exit {proc.returncode}); its log: {workdir}.log")


def curve(rows, metric):
  """[score] of the NES iterations in order (rows nes_iter_1.., or lmm_nes_iter_1..)."""
  prefix = next((k[:-1] for k in rows if k.endswith("nes_iter_1")), "nes_iter_")
  return [score for _, score in nes_curve(rows, prefix, metric=metric)]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--flagfile", default="musdb_synth_drums_8k.flags")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--schedules", default="constant",
                      help="--lr_schedule values of the NES runs (comma-separated)")
  parser.add_argument("--lmm_flags", default=LMM_FLAGS)
  parser.add_argument("--metric", default="sdr_x", help="results.json column to compare")
  parser.add_argument("--out", default="runs/lmm_nes_seeds")
  args = parser.parse_args()
  if not os.path.exists(os.path.join(ROOT, args.flagfile)):
    parser.error(f"--flagfile={args.flagfile}: no such file")
  try:
    seeds = [int(s) for s in args.seeds.split(",")]
  except ValueError:
    parser.error(f"--seeds={args.seeds}: expected integers separated by commas, e.g. 0,1,2")
  schedules = args.schedules.split(",")
  if not set(schedules) <= {"constant", "cosine"}:
    parser.error(f"--schedules={args.schedules}: expected constant and/or cosine")
  base = [f"--flagfile={args.flagfile}"]
  lmm = args.lmm_flags.split()
  table = {}  # (schedule, start) -> [(seed, last, mean of last 3)]
  const = None
  for seed in seeds:
    lmm_dir = f"{args.out}/s{seed}_lmm"
    run("trainers.lmm", base + lmm + [f"--seed={seed}"], lmm_dir, "lmm")
    for schedule in schedules:
      for start, extra in (("const", []),
                           ("lmm", lmm + ["--init=lmm", f"--init_workdir={lmm_dir}"])):
        workdir = f"{args.out}/s{seed}_{schedule}_{start}_nes"
        final = "nes" if start == "const" else "lmm_nes"
        run("trainers.nes", base + extra + [f"--seed={seed}", f"--lr_schedule={schedule}"],
            workdir, final)
        rows = results(workdir)
        const = rows.get("const", {}).get(args.metric, const)
        points = curve(rows, args.metric)
        table.setdefault((schedule, start), []).append(
            (seed, points[-1], statistics.mean(points[-3:]), points))
  print(f"{args.flagfile}, {args.metric}, Const " + ("?" if const is None else f"{const:.2f}"))
  print("| lr schedule | start | per seed: last iteration (mean of last 3) | mean last | "
        "mean of last 3 |")
  print("|---|---|---|---|---|")
  for (schedule, start), entries in table.items():
    per_seed = ", ".join(f"s{s} {last:.2f} ({last3:.2f})" for s, last, last3, _ in entries)
    print(f"| {schedule} | {'LMM' if start == 'lmm' else 'x_0 = c y'} | {per_seed} | "
          f"{statistics.mean(e[1] for e in entries):.2f} | "
          f"{statistics.mean(e[2] for e in entries):.2f} |")
  for (schedule, start), entries in table.items():
    for seed, _, _, points in entries:
      print(f"{schedule} {start} s{seed}: " + " ".join(f"{p:.2f}" for p in points))


if __name__ == "__main__":
  main()
