"""The training step under tf.distribute strategies (issue: scale out)."""

import os
import subprocess
import sys
import textwrap

from tests import helpers

_SCRIPT = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from eggsep_tf import nes
    from eggsep_tf.mask_unet import MaskUNet

    rng = np.random.default_rng(0)
    batches = [(rng.uniform(0, 2, [8, 16, 16, 1]).astype("float32"),
                rng.uniform(0, 1, [8, 16, 16, 1]).astype("float32")) for _ in range(3)]

    def run(strategy):
      keras.utils.set_random_seed(3)
      with strategy.scope():
        model = MaskUNet([4, 8])
        model(tf.zeros([1, 16, 16, 1]))
        opt = keras.optimizers.Adam(1e-3)
        opt.build(model.trainable_variables)
      step = nes.make_train_step(model, opt, strategy, 8)
      ds = strategy.experimental_distribute_dataset(
          tf.data.Dataset.from_tensor_slices(
              (np.concatenate([b[0] for b in batches]),
               np.concatenate([b[1] for b in batches]))).batch(8))
      losses = [float(step(m, t)["l1"]) for m, t in ds]
      return losses, strategy.num_replicas_in_sync

    default, n1 = run(tf.distribute.get_strategy())
    mirrored, n2 = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print("REPLICAS", n1, n2)
    print("LOSSES", default, mirrored)
    """)


def test_mirrored_two_cpus_matches_default_loss():
  proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=helpers.ROOT, capture_output=True,
                        text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line[:1].isupper()}
  assert lines["REPLICAS"].split()[1:] == ["1", "2"]
  default, mirrored = eval(lines["LOSSES"].split(" ", 1)[1].replace("] [", "], ["))
  # Same weights and data; batch norm sees half batches per replica, so the
  # losses agree closely but not bit for bit.
  for a, b in zip(default, mirrored):
    assert abs(a - b) <= 0.05 * abs(a), (default, mirrored)
