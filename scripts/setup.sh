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
if ! python -c "import eggsep_tf, tensorflow, keras, pytest, soundfile, soxr, museval, tqdm, pesq, pystoi, tensorflow_datasets, orjson, grpc, tensorflow_serving.apis" 2>/dev/null; then
  python -m pip install --quiet --upgrade pip
  # This project's machines have the CPU-only TensorFlow wheel on local disk: ask for it
  # instead of the full `tensorflow` (setup.py, EGGSEP_TF_PACKAGE). A plain
  # `pip install -e .[audio]` elsewhere gets `tensorflow`; `.[gpu]` adds CUDA to it.
  EGGSEP_TF_PACKAGE=tensorflow-cpu python -m pip install --quiet -e ".[audio,serve,test,tfds]"
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
