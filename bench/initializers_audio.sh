#!/usr/bin/env bash
# The paper's Table 2 rows on the correlated-sources music case that can be had here:
# rendered MIDI drums vs bass+other (musdb_synth_drums_8k.flags), all methods, one table.
#   bash bench/initializers_audio.sh [FLAGFILE] [OUT]
# Needs datasets/ (bash bench/make_audio_data.sh). About 25 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
FLAGFILE=${1:-musdb_synth_drums_8k.flags}
OUT=${2:-runs/bench_initializers_audio}
LMM=${LMM:---glo_filters=32,16 --glo_latent_dim=16 --lmm_stage1_epochs=15 --lmm_stage2_epochs=15}
AM=${AM:---am_epochs=10}
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
t() { local start=$(date +%s); "$@" > "$OUT/log-$(date +%s%N).txt" 2>&1 || { echo "failed: $*"; exit 1; }; echo "$(( $(date +%s) - start )) s: ${*:3:2}"; }
mkdir -p "$OUT"
t python -m trainers.nes --flagfile="$FLAGFILE" --workdir="$OUT/nes"
t python -m trainers.supervised --flagfile="$FLAGFILE" --workdir="$OUT/nes"
t python -m trainers.nmf --flagfile="$FLAGFILE" --workdir="$OUT/nes"
t python -m trainers.lmm --flagfile="$FLAGFILE" --workdir="$OUT/lmm" $LMM
t python -m trainers.nes --flagfile="$FLAGFILE" --workdir="$OUT/lmm" $LMM --init=lmm --init_workdir="$OUT/lmm"
t python -m trainers.am --flagfile="$FLAGFILE" --workdir="$OUT/am" $AM
t python -m trainers.nes --flagfile="$FLAGFILE" --workdir="$OUT/am" $AM --init=am --init_workdir="$OUT/am"
python -m trainers.merge_results --workdirs="$OUT/nes,$OUT/lmm,$OUT/am" --out="$OUT/table"
