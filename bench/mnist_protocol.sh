#!/usr/bin/env bash
# The MNIST protocol at a budget that fits this machine (2 CPU cores), all rows:
# Const, NMF, NES per iteration, Supervised, then the speed of training and of the
# input pipeline measured on their own.
#   bash bench/mnist_protocol.sh [FLAGFILE] [WORKDIR]
# Budget of mnist_demo.flags: the 5,000 built-in digits, B 1,000 / mixtures 1,000 /
# test 500, 10 NES iterations x 6 epochs, supervised 60 epochs (paper: 12k/12k/5k, 10 x 25).
set -euo pipefail
cd "$(dirname "$0")/.."
FLAGFILE=${1:-mnist_demo.flags}
WORKDIR=${2:-runs/bench_mnist}
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
for trainer in nes supervised nmf; do
  start=$(date +%s)
  python -m trainers.$trainer --flagfile="$FLAGFILE" --workdir="$WORKDIR" 2>&1 | grep -E "error|Supervised:|NES iteration .*psnr" || true
  echo "trainers.$trainer: $(( $(date +%s) - start )) s"
done
cat "$WORKDIR/results.md"
python bench/nes_speed.py --flagfile="$FLAGFILE" --workdir="$WORKDIR" 2>/dev/null
