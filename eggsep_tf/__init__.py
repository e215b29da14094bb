"""eggsep_tf: Neural Egg Separation for TensorFlow/Keras.

Semi-supervised separation of mixtures y = x + b when clean samples of B exist
and none of X (Halperin, Ephrat & Hoshen, ICML 2019).
"""

__version__ = "0.1.0"
