"""eggsep-tf: Neural Egg Separation (semi-supervised source separation) in TensorFlow/Keras."""

import os
import pathlib
import re

import setuptools

_HERE = pathlib.Path(__file__).parent
_VERSION = re.search(r'__version__ = "([^"]+)"',
                     (_HERE / "eggsep_tf" / "__init__.py").read_text()).group(1)

# One TensorFlow whatever the extras: the core needs `tensorflow` (on Linux x86_64 that
# wheel runs on CPUs and, with CUDA libraries, on GPUs); [gpu] adds those libraries to the
# same distribution (tensorflow[and-cuda]) instead of a second TensorFlow. Building from
# source with EGGSEP_TF_PACKAGE=tensorflow-cpu asks for the smaller CPU-only wheel instead
# (scripts/setup.sh does, since this project's machines have it on local disk); never
# combine that with [gpu]. tensorflow-io and tensorflow-addons are deliberately absent:
# neither works with TF 2.21 + Keras 3. tf.signal, tf.audio, soundfile, soxr and
# keras.layers.SpectralNormalization replace them.
_TF_PACKAGE = os.environ.get("EGGSEP_TF_PACKAGE", "tensorflow").strip() or "tensorflow"
if _TF_PACKAGE not in ("tensorflow", "tensorflow-cpu"):
  raise SystemExit(f"EGGSEP_TF_PACKAGE={_TF_PACKAGE!r}: expected tensorflow or tensorflow-cpu")
_TF_VERSIONS = ">=2.21,<2.22"
_CORE = [
    f"{_TF_PACKAGE}{_TF_VERSIONS}",
    "keras>=3.15,<4",
    "tensorboard>=2.21,<2.22",
    "numpy>=1.26",
    "absl-py>=2.1",
    "h5py<3.15",
    "pillow>=10",
    "tqdm>=4.60",  # Progress bars.
]

_SPEECH_METRICS = ["pesq>=0.0.4", "pystoi>=0.4"]

_SUBPACKAGES = ("data", "trainers", "export")

setuptools.setup(
    name="eggsep-tf",
    version=_VERSION,
    description="Semi-supervised source separation (Neural Egg Separation) in TensorFlow/Keras",
    long_description=(_HERE / "README.md").read_text() if (_HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # One import namespace when installed: the checkout's top-level data/, trainers/ and
    # export/ folders become eggsep_tf.data, eggsep_tf.trainers and eggsep_tf.export, so a
    # user's own data/ or export/ package cannot shadow them.
    packages=["eggsep_tf", *(f"eggsep_tf.{name}" for name in _SUBPACKAGES)],
    package_dir={"eggsep_tf": "eggsep_tf", **{f"eggsep_tf.{name}": name for name in _SUBPACKAGES}},
    # The 5,000 built-in MNIST digits (source "mnist5k"), compressed.
    package_data={"eggsep_tf.data": ["mnist5k.npz"]},
    install_requires=_CORE,
    extras_require={
        # GPU machines: CUDA libraries for the same TensorFlow (not a second one).
        "gpu": [f"tensorflow[and-cuda]{_TF_VERSIONS}"],
        # Audio: reading/writing/resampling, BSS Eval v4 (museval needs ffmpeg on PATH for
        # its own import; eggsep works around it), PESQ and STOI for `eggsep evaluate`.
        "audio": ["soundfile>=0.12", "soxr>=0.3", "museval==0.4.1"] + _SPEECH_METRICS,
        # tfds:NAME image sources.
        "tfds": ["tensorflow-datasets>=4.9.10,<5",
                 "importlib_resources"],  # tensorflow-datasets imports it, undeclared.
        # The TF-Serving-compatible REST and gRPC server (export/serve.py). Its protos,
        # tensorflow-serving-api, must be installed with --no-deps (it requires the full
        # tensorflow wheel): scripts/setup.sh does that.
        "serve": ["aiohttp>=3.11", "orjson>=3.10", "grpcio>=1.60"],
        # pytest-xdist: .ci/run spreads the default suite over two processes (-n 2).
        "test": ["pytest>=8", "pytest-xdist>=3.5"],
        # The PNG plots of bench/ (bench/audio_time_to_quality.py); benchmarks only.
        "bench": ["matplotlib>=3.8"],
    },
    entry_points={"console_scripts": ["eggsep = eggsep_tf.export.cli:entry_point"]},
)
