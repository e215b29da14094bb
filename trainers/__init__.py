"""The trainers: entry modules (python -m trainers.nes ...) and their machinery.

Importing the package quiets TensorFlow's C++ logs before any trainer imports
TensorFlow (trainers/cli.py says how to get them back).
"""

from eggsep_tf.trainers import cli as _cli

_cli.quiet_tensorflow_logs()
