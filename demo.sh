#!/usr/bin/env bash
# The main job on built-in real data: NES separating MNIST digits 0-4 (observed)
# from 5-9 (never seen alone), the supervised upper bound, and the results table.
# Sets everything up first (.venv). Rerunning resumes / reuses a finished run.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
WORKDIR=${WORKDIR:-runs/mnist_demo}
python -m trainers.nes --flagfile=mnist_demo.flags --workdir="$WORKDIR"
python -m trainers.supervised --flagfile=mnist_demo.flags --workdir="$WORKDIR"
echo
cat "$WORKDIR/results.md"
echo "SavedModel: $WORKDIR/export/mnist_demo/  TensorBoard: tensorboard --logdir $WORKDIR/tb"
