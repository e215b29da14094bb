"""Flags shared by every trainer. A flagfile describes one experiment (data,
model, and each method's settings), so the same flagfile serves trainers.nes,
trainers.supervised and the other trainers; each reads the flags it needs.
"""

from absl import flags

# --- Where the run lives.
flags.DEFINE_string("workdir", None, "Folder for this run's data, checkpoints, logs, "
                    "results and exports. Rerunning the same command resumes it.")

flags.DEFINE_enum("domain", "image", ["image", "audio"], "What the data are.")

# --- Data (images). See data/image_sources.py for the source syntax.
flags.DEFINE_string("data", "mnist5k", "Image source: mnist5k (built in), tfds:NAME[:SPLIT], "
                    "PATH.npz, a folder of MNIST idx files, or a folder of images.")
flags.DEFINE_string("test_data", "", "Optional separate source for the test mixtures "
                    "(e.g. MNIST's t10k split); default: drawn from --data. With --b_data/"
                    "--y_data: a folder with two or three of mixture/, x/, b/ holding test "
                    "images matched by file name (required there: the test scores).")
flags.DEFINE_string("b_data", "", "Your own images: a folder of clean images of the observed "
                    "source B. With --y_data (and --test_data) it replaces --data and --task.")
flags.DEFINE_string("y_data", "", "Your own images: a folder of real mixtures (no references "
                    "needed).")
flags.DEFINE_string("image_size", "", "HEIGHT,WIDTH: resize every image to this size "
                    "(needed when a folder holds images of several sizes).")
flags.DEFINE_float("pixel_scale", None, "The value of full white in .npz/.npy data, e.g. 1000; "
                   "default: from the data type (uint8 / 255, uint16 / 65535, floats must be "
                   "in [0, 1]). Image files are read at their bit depth (16-bit PNGs too).",
                   lower_bound=0)
flags.DEFINE_enum("task", "classes", ["classes", "denoise"],
                  "classes: B and X are two class groups; denoise: B = clean images, "
                  "X = clamped Gaussian noise.")
flags.DEFINE_string("observed", "0-4", "Classes of the observed source B (class task).")
flags.DEFINE_string("unobserved", "5-9", "Classes of the unobserved source X (class task).")
flags.DEFINE_float("noise_sigma", 0.1, "Noise standard deviation for --task=denoise.")
flags.DEFINE_integer("num_b", 12000, "Clean B training samples.", lower_bound=1)
flags.DEFINE_integer("num_y", 12000, "Training mixtures.", lower_bound=1)
flags.DEFINE_integer("num_test", 5000, "Test mixtures.", lower_bound=1)
flags.DEFINE_boolean("invert", False, "v <- 1 - v: for dark objects on a white background, "
                     "so that the background is 0 and sums are meaningful.")
flags.DEFINE_integer("data_seed", 0, "Seed of the split draw.")
flags.DEFINE_string("tfds_data_dir", None, "data_dir for tfds sources.")

# --- Model.
flags.DEFINE_list("filters", ["32", "64", "128", "256"], "Mask U-Net channels per level.")
flags.DEFINE_boolean("skip_connections", True, "U-Net skips (False: plain encoder-decoder).")
flags.DEFINE_enum("precision", "measured",
                  ["measured", "float32", "auto", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy of the mask net while it trains. measured (default, "
                  "0.9): mixed_bfloat16 where the hardware computes in it AND bfloat16 "
                  "training was measured to cost no quality (the strided U-Net on images of "
                  "64 px and more in NES, refined or full form; --unet_variant=auto is then the "
                  "refined one), float32 elsewhere (the lean and light forms, which lost "
                  "0.2-0.4 dB; 28x28 digits; the supervised bound, which bfloat16 lowered by "
                  "0.5-2.1 dB; audio; the demo's net; AM). auto: "
                  "mixed_bfloat16 wherever the hardware computes in it. float32: the default "
                  "before 0.9. mixed_float16 (older GPUs) scales the loss. Variables, masks "
                  "and losses stay float32.")
flags.DEFINE_enum("inference_precision", "auto",
                  ["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                  "Dtype policy of re-estimation and evaluation (a copy of the trained net). "
                  "auto: mixed_bfloat16 where the hardware computes in it (2x faster here, "
                  "same scores), else float32. Exports are always float32.")
flags.DEFINE_enum("architecture", "auto",
                  ["auto", "strided_unet", "unet", "encoder_decoder", "spectral_tcn"],
                  "The mask net. auto (default): strided_unet for images, spectral_tcn for "
                  "audio. strided_unet: a U-Net whose levels run at 1/--stride of the "
                  "input's resolution (a strided stem, a full-resolution refinement with the "
                  "mixture): the plain U-Net on inputs under 64 px, ~4x less work at 64x64; "
                  "unet: the U-Net at full resolution (the default before 0.2); "
                  "encoder_decoder: the reference demo's net (4x4 stride-2 convolutions, no "
                  "skips; use --filters=64,128,256,512); spectral_tcn (audio): a dense "
                  "per-frame encoder of the log spectrum, dilated convolutions over time "
                  "(one block per --filters entry, dilations 1, 2, 4, ...) and a dense "
                  "linear-bin mask, ~25x faster than the U-Net on 257x64 patches.")
flags.DEFINE_string("stride", "auto", "strided_unet: resolution divisor of its finest level, "
                    "a power of two, or auto (the largest keeping >= 32 rows and columns).")
flags.DEFINE_enum("unet_variant", "auto", ["auto", "full", "light", "refined", "lean"],
                  "strided_unet's form. full: the U-Net (two 3x3 convolutions per level, "
                  "skips concatenated in the decoder, a full-resolution refinement with the "
                  "mixture; the only form before 0.5); light: one convolution at the finest "
                  "level and per decoder level, skips added, no refinement (about half the "
                  "work: 1.6x the epochs per minute at 64x64, 0.7-1.5 dB lower at equal "
                  "epochs, README \"What makes NES's iterations count\"); refined: the light "
                  "U-Net with the full form's refinement (filters[0] / 2 channels; 0.2 dB "
                  "above full on 64x64x3 colour digits, 0.7 below on GUIDE s.6; 0.89x light's "
                  "speed); lean (0.7): the light U-Net with a refinement of filters[0] / 4 "
                  "channels (light's speed; 0.4 dB above light on the colour digits, 0.3 below "
                  "full; 0.2 above light and 1.2 below full on GUIDE s.6); auto (default): lean "
                  "where the net runs strided (--stride resolved > 1, e.g. 64x64 images), full "
                  "on small inputs such as 28x28 digits; refined where NES trains in bfloat16 "
                  "under the default --precision=measured (0.9; recorded in run-nes.json, so "
                  "resumes and re-exports build it anywhere). In 0.5-0.6 auto was light where "
                  "strided: resume such runs with --unet_variant=light.")

flags.DEFINE_list("gain_range", ["1"], "Random gains of the training mixtures: b and "
                  "x_t (true x for trainers.supervised) are each scaled by a gain drawn "
                  "log-uniformly from LOW,HIGH per example, so that loudness/brightness is no "
                  "cue to the source. 1: none (the paper's and the behaviour before 0.2).")
flags.DEFINE_list("x_gain_range", [], "LOW,HIGH: random gains of x_t alone (default: "
                  "--gain_range).")
flags.DEFINE_enum("batch_norm_stats", "auto", ["auto", "real", "synthetic"],
                  "Batch-norm statistics of re-estimation, evaluation and export. real: "
                  "measured on up to --batch_norm_samples real training mixtures after each "
                  "NES iteration's training (the statistics the authors' demo uses, frozen); "
                  "synthetic: the moving averages kept while training on b + x_t (the "
                  "behaviour before 0.2; loses to Const at the first iterations on images). "
                  "auto: real for images, synthetic for audio (on 8 kHz speech real scored "
                  "2.90 dB against 3.20, one seed).")
flags.DEFINE_integer("batch_norm_samples", 2048, "Real mixtures that --batch_norm_stats=real "
                     "measures.", lower_bound=1)

# --- Optimisation (NES and supervised).
flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
flags.DEFINE_integer("eval_batch_size", 256, "Batch size of re-estimation and evaluation.",
                     lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", lower_bound=0)
flags.DEFINE_float("beta1", 0.5, "Adam beta1 (0.5 as in the reference code).")
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "cosine"],
                  "Learning rate within each training phase (an NES iteration, the supervised "
                  "run): constant (the paper's and the authors' demo's), or cosine: from "
                  "--learning_rate down to 0 at the phase's last step, again from the top at "
                  "each NES iteration (Adam is fresh there too).")
flags.DEFINE_integer("seed", 0, "Seed of weights and data order. The same seed gives the "
                     "same results on CPU at first, but not always to the end of a long run: "
                     "two runs of one seed of musdb_synth_drums_8k.flags matched to 0.01 dB for "
                     "6 NES iterations, then ended at 2.68 and 0.29 dB (bench/RESULTS.md, "
                     "0.9.1). Compare methods over several seeds.")
flags.DEFINE_float("max_runtime", 0, "Stop cleanly at the last epoch boundary before this "
                   "many seconds (0: no limit); rerun to resume. SIGTERM also stops at an "
                   "epoch boundary.")
flags.DEFINE_boolean("deterministic", True, "TensorFlow op determinism.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: one device, all local GPUs, or several hosts "
                  "(TF_CONFIG).")

# --- NES.
flags.DEFINE_integer("iterations", 10, "NES iterations (N).", lower_bound=1)
flags.DEFINE_integer("epochs", 25, "Epochs per NES iteration (P).", lower_bound=1)
flags.DEFINE_enum("init", "auto", ["auto", "const", "nmf", "lmm", "am"],
                  "Where NES's x_0 comes from. const: x_0 = c * y (the paper's NES; see "
                  "--init_fraction); nmf: the X estimates of semi-supervised NMF (made by "
                  "this run, the nmf row, unless --init_workdir names a trainers.nmf run); "
                  "lmm, am: those of a trainers.lmm / trainers.am run in --init_workdir. "
                  "auto: nmf for images (B's dictionary takes most of b out of x_0, so "
                  "the first iteration no longer learns to keep half of B: MNIST demo "
                  "iteration 1 17.8 dB against 13.6 from x_0 = y, Const 14.8), const for "
                  "audio.")
flags.DEFINE_float("const_fraction", 0.5, "c in x_0 = c * y and in the Const baseline.",
                   lower_bound=0, upper_bound=1)
flags.DEFINE_string("init_workdir", "", "Workdir of the NMF/LMM/AM run for --init=nmf|lmm|am.")
flags.DEFINE_integer("nmf_start_iterations", 200, "Multiplicative-update iterations of NES's "
                     "own NMF start (--init=nmf or auto, images). Fewer are faster but start "
                     "lower: on tinted 64x64 digits 50 updates took 179 s and NES's first "
                     "iteration then only tied Const (17.89 dB), 200 took 640 s (other jobs "
                     "running) and gave 20.52.", lower_bound=1)
flags.DEFINE_enum("x_level", "auto", ["auto", "match", "off"],
                  "NES level matching. match: before each iteration, scale the estimates "
                  "x_t so that their level is the one the data imply for X (mean square "
                  "E[y^2] - E[b^2] for audio, mean pixel E[y] - E[b] for images), so that "
                  "the synthetic mixtures b + x_t are as loud as the real ones; without it, "
                  "audio NES shrinks X a little more each iteration (16 kHz speech: "
                  "see README). off: the paper's x_t as estimated. auto: match for audio, "
                  "off for images (x_0 = y already has the mixtures' level).")
flags.DEFINE_float("init_fraction", None, "c of NES's start x_0 = c * y (--init=const). "
                   "Default: 1 for images (x_0 = y: the synthetic mixtures b + x_0 then hold "
                   "x and b at their real brightness, and NES learns the class, not "
                   "'remove what is c times fainter'; MNIST demo after 3 iterations 18.9 dB "
                   "against 14.6 from c = 0.5), --const_fraction for audio (the paper's "
                   "c; x_0 = y is not measured there).", lower_bound=0, upper_bound=1)

# --- Supervised upper bound.
flags.DEFINE_integer("supervised_epochs", 25, "Epochs of the supervised upper bound.",
                     lower_bound=1)

# --- Semi-supervised NMF baseline (trainers.nmf).
flags.DEFINE_integer("nmf_bases", 100, "NMF bases per source (l): W_b and W_x "
                     "each get this many.", lower_bound=1)
flags.DEFINE_float("nmf_sparsity", 2.0, "Weight of the L1 penalty on NMF "
                   "activations (scale-free; 0 = plain NMF).", lower_bound=0)
flags.DEFINE_integer("nmf_iterations", 200, "Multiplicative-update iterations "
                     "of each NMF stage.", lower_bound=1)
flags.DEFINE_boolean("nmf_wiener_mask", True, "x = y * HxWx / (HxWx + HbWb) "
                     "(True) or x = HxWx (False).")
flags.DEFINE_integer("nmf_batch_size", 1024, "Samples per NMF matrix product "
                     "(memory bound only; the result does not depend on it).",
                     lower_bound=1)

# --- Export.
flags.DEFINE_string("model_name", "eggsep", "Name of the exported model "
                    "(WORKDIR/export/NAME/VERSION).")

FLAGS = flags.FLAGS

# The LMM/AM initialisers' flags (glo_*, lmm_*, am_*) live in their own module;
# importing it here lets every trainer read a flagfile that sets them.
from eggsep_tf.trainers import initializer_flags  # noqa: E402,F401
# The audio domain's flags (--audio_source, STFT settings, ...) likewise.
from eggsep_tf.trainers import audio_flags  # noqa: E402,F401
# NaN/inf, beta1, seeds, --model_name, --filters, ...: refused while parsing.
from eggsep_tf.trainers import flag_checks  # noqa: E402

flag_checks.register(FLAGS)

# Flags that decide the prepared data; a workdir's data must match them.
DATA_FLAGS = ["domain", "data", "test_data", "b_data", "y_data", "image_size", "pixel_scale",
              "task", "observed", "unobserved", "noise_sigma", "num_b",
              "num_y", "num_test", "invert", "data_seed"]
DATA_FLAGS += audio_flags.AUDIO_DATA_FLAGS
MODEL_FLAGS = ["architecture", "filters", "skip_connections", "stride", "unet_variant", "precision",
               "inference_precision", "batch_norm_stats", "batch_norm_samples"]
OPTIM_FLAGS = ["batch_size", "learning_rate", "lr_schedule", "beta1", "seed", "gain_range",
               "x_gain_range"]
