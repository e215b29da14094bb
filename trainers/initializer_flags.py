"""Flags of the NES initialisers: Latent Mixture Masking (trainers.lmm) and
Adversarial Masking (trainers.am).

Kept apart from common_flags so that the two trainers could be added without
touching it; common_flags imports this module, so one flagfile serves every
trainer.
"""

from absl import flags

from eggsep_tf.errors import InputError

# --- LMM: GLO generators (paper section 4.1).
flags.DEFINE_integer("glo_latent_dim", 32, "Length of each GLO latent code.", lower_bound=1)
flags.DEFINE_list("glo_filters", ["64", "32"], "GLO decoder: channels of the stride-2 "
                  "upsampling stages, coarsest first (28x28 starts at 7x7 with two).")
flags.DEFINE_enum("glo_output", "sigmoid", ["sigmoid", "softplus"],
                  "GLO output: sigmoid (images in [0, 1]) or softplus (magnitudes).")
flags.DEFINE_enum("glo_loss", "l2", ["l1", "l2", "perceptual"],
                  "GLO reconstruction loss. l2 by default: with l1 the generators collapse to "
                  "all-zero output on MNIST (measured, see eggsep_tf/lmm.py). perceptual "
                  "(VGG16 features) needs --glo_vgg_weights.")
flags.DEFINE_string("glo_vgg_weights", "", "Local VGG16 include_top=False weights file for "
                    "--glo_loss=perceptual (nothing is downloaded).")
flags.DEFINE_float("glo_learning_rate", 1e-3, "Adam rate of the GLO decoders.", lower_bound=0)
flags.DEFINE_float("glo_latent_learning_rate", 1e-2, "Adam rate of the GLO latent codes.",
                   lower_bound=0)
flags.DEFINE_integer("lmm_stage1_epochs", 25, "Epochs fitting G_B to the B samples (eq. 5).",
                     lower_bound=1)
flags.DEFINE_integer("lmm_stage2_epochs", 25, "Epochs fitting G_X and the mixture codes "
                     "(eq. 6).", lower_bound=1)
flags.DEFINE_integer("lmm_fit_steps", 100, "Test time: Adam steps on each test mixture's "
                     "codes (eq. 7).", lower_bound=0)
flags.DEFINE_float("lmm_fit_learning_rate", 0.03, "Test time: Adam rate of the codes.",
                   lower_bound=0)
flags.DEFINE_integer("lmm_mel_bins", 64, "Audio LMM: mel bands of the GLO patches (the "
                     "paper's 64 x 64 mel spectrograms).", lower_bound=1)
flags.DEFINE_enum("lmm_mel_compression", "none", ["none", "log"],
                  "Audio LMM: the GLO loss compares the mel magnitudes (scaled to mean 1 over "
                  "B; none) or log1p(them / 0.01) (log). The mask is always "
                  "G_B / (G_B + G_X) of the uncompressed outputs. none scored higher in "
                  "every measurement so far (eggsep_tf/lmm_audio.py).")

# --- AM: mask net against a spectral-norm LS-GAN discriminator (paper section 4.2).
flags.DEFINE_integer("am_epochs", 25, "Adversarial Masking epochs.", lower_bound=1)
flags.DEFINE_float("am_magnitude_weight", 0.1, "lambda of the magnitude prior "
                   "lambda * L1(m, 1) (eq. 12); 0 turns it off.", lower_bound=0)
flags.DEFINE_list("am_disc_filters", ["64", "128", "256"], "Discriminator channels of the "
                  "stride-2 convolutions.")
flags.DEFINE_enum("am_disc_output", "patch", ["patch", "global"],
                  "Discriminator scores: one per patch, or their mean.")
flags.DEFINE_float("am_learning_rate", 2e-4, "Adam rate of the mask net under AM.",
                   lower_bound=0)
flags.DEFINE_float("am_disc_learning_rate", 2e-4, "Adam rate of the discriminator.",
                   lower_bound=0)

LMM_FLAGS = ["glo_latent_dim", "glo_filters", "glo_output", "glo_loss", "glo_vgg_weights",
             "glo_learning_rate", "glo_latent_learning_rate", "lmm_stage1_epochs",
             "lmm_stage2_epochs", "lmm_fit_steps", "lmm_fit_learning_rate", "lmm_mel_bins",
             "lmm_mel_compression"]
AM_FLAGS = ["am_epochs", "am_magnitude_weight", "am_disc_filters", "am_disc_output",
            "am_learning_rate", "am_disc_learning_rate"]


def parse_int_list(name, values):
  """The integers of the list flag --name's values, or InputError naming the flag."""
  try:
    out = [int(v) for v in values]
  except ValueError:
    raise InputError(f"--{name}={','.join(values)}: expected comma-separated integers") from None
  if not out or min(out) < 1:
    raise InputError(f"--{name}: expected at least one positive channel count")
  return out
