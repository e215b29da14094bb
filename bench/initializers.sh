#!/usr/bin/env bash
# MNIST rows of the paper's Table 1 at the demo's budget: AM, LM, LMM, AM+NES, LMM+NES
# beside Const, NMF, NES and Supervised, merged into one table.
#   bash bench/initializers.sh [FLAGFILE] [OUT]
# Needs a finished demo run (NES + supervised) in runs/mnist_demo (bash demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
FLAGFILE=${1:-mnist_demo.flags}
OUT=${2:-runs/bench_initializers}
EXTRA=${EXTRA:---lmm_stage1_epochs=15 --lmm_stage2_epochs=15 --am_epochs=15}
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
t() { local start=$(date +%s); "$@" > "$OUT/log-$(date +%s%N).txt" 2>&1 || { echo "failed: $*"; exit 1; }; echo "$(( $(date +%s) - start )) s: ${*:3:2}"; }
mkdir -p "$OUT"
t python -m trainers.nmf --flagfile="$FLAGFILE" --workdir="$OUT/nmf"
t python -m trainers.lmm --flagfile="$FLAGFILE" --workdir="$OUT/lmm" $EXTRA
t python -m trainers.nes --flagfile="$FLAGFILE" --workdir="$OUT/lmm" $EXTRA --init=lmm --init_workdir="$OUT/lmm"
t python -m trainers.am --flagfile="$FLAGFILE" --workdir="$OUT/am" $EXTRA
t python -m trainers.nes --flagfile="$FLAGFILE" --workdir="$OUT/am" $EXTRA --init=am --init_workdir="$OUT/am"
python -m trainers.merge_results --workdirs="runs/mnist_demo,$OUT/nmf,$OUT/lmm,$OUT/am" --out="$OUT/table"
