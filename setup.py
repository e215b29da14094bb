"""eggsep-tf: Neural Egg Separation (semi-supervised source separation) in TensorFlow/Keras."""

import re
import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent
_VERSION = re.search(r'__version__ = "([^"]+)"',
                     (_HERE / "eggsep_tf" / "__init__.py").read_text()).group(1)

# Pinned to what was measured to work together (see README, "Dependencies").
# tensorflow-io and tensorflow-addons are deliberately absent: neither works with
# TF 2.21 + Keras 3. tf.signal, tf.audio, soundfile, soxr and
# keras.layers.SpectralNormalization replace them.
_CORE = [
    "tensorflow-cpu==2.21.0; platform_machine=='x86_64'",
    "tensorflow==2.21.0; platform_machine!='x86_64'",
    "keras>=3.15,<4",
    "tensorboard>=2.21,<2.22",
    "numpy>=1.26",
    "absl-py>=2.1",
    "tensorflow-datasets==4.9.10",
    "importlib_resources",  # tensorflow-datasets imports it but does not declare it.
    "h5py<3.15",
    "pillow>=10",
]

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
    install_requires=_CORE,
    extras_require={
        # GPU machines: the full tensorflow wheel with its CUDA libraries.
        "gpu": ["tensorflow[and-cuda]==2.21.0"],
        # Audio: reading/writing/resampling and BSS Eval v4 (museval needs ffmpeg on PATH).
        "audio": ["soundfile>=0.12", "soxr>=0.3", "museval==0.4.1"],
        # The TF-Serving-compatible REST and gRPC server (export/serve.py). Its protos,
        # tensorflow-serving-api, must be installed with --no-deps (it requires the full
        # tensorflow wheel): scripts/setup.sh does that.
        "serve": ["aiohttp>=3.11", "orjson>=3.10", "grpcio>=1.60"],
        "test": ["pytest>=8"],
    },
)
