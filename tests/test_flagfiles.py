"""Every flagfile shipped at the top level parses with the trainers' flags and says what it costs."""

import glob
import os

from absl import flags
from absl.testing import flagsaver
import pytest

from eggsep_tf.trainers import am  # noqa: F401  (each import defines its trainer's flags)
from eggsep_tf.trainers import lmm  # noqa: F401
from eggsep_tf.trainers import nes  # noqa: F401
from eggsep_tf.trainers import nmf  # noqa: F401
from eggsep_tf.trainers import supervised  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "*.flags")))


def test_there_are_flagfiles_for_every_domain():
  names = {os.path.basename(p) for p in FLAGFILES}
  assert {"mnist_demo.flags", "mnist.flags", "musdb.flags", "musdb_drums.flags",
          "speech_noise.flags"} <= names


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses_and_starts_with_its_command(path):
  with open(path) as f:
    lines = f.read().splitlines()
  assert lines[0].startswith("# python -m trainers."), lines[0]
  header = " ".join(line for line in lines if line.startswith("#")).lower()
  assert "here" in header and ("time" in header or " min" in header), "no time measured here"
  assert "sdr" in header or "psnr" in header or " db" in header, "no expected score"
  with flagsaver.flagsaver():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["trainer", f"--flagfile={path}"])
    assert flags.FLAGS.workdir
