"""Flags of the audio domain (--domain=audio): where the recordings are, the STFT
front end, the training patches and whole-file separation.

Kept apart from common_flags; common_flags imports this module (so one flagfile
serves every trainer) and adds AUDIO_DATA_FLAGS to its DATA_FLAGS, so a workdir's
prepared data must match them.
"""

from absl import flags

from eggsep_tf.errors import InputError

# --- Where the recordings come from.
flags.DEFINE_enum("audio_source", "speech_noise", ["musdb", "speech_noise", "folders"],
                  "musdb: MUSDB18 or MUSDB18-HQ (--musdb_root, --musdb_target); "
                  "speech_noise: a folder of speech and one of noise (--speech_dir, "
                  "--noise_dir, --x_source); folders: your own recordings (--b_audio_dir, "
                  "--y_audio_dir, --test_audio_dir).")
flags.DEFINE_string("musdb_root", "", "MUSDB18 root: train/ and test/ holding "
                    "<track>/{mixture,drums,bass,other,vocals}.wav (HQ) or <track>.stem.mp4 "
                    "(needs ffmpeg).")
flags.DEFINE_enum("musdb_target", "vocals", ["vocals", "drums"],
                  "X of the music task: vocals (B = drums + bass + other) or drums "
                  "(B = bass + other).")
flags.DEFINE_float("musdb_b_fraction", 0.5, "Share of the MUSDB train tracks whose B stems "
                   "form the B set; the others give the mixtures (disjoint songs).",
                   lower_bound=0, upper_bound=1)
flags.DEFINE_string("speech_dir", "", "speech_noise: folder of speech recordings.")
flags.DEFINE_string("noise_dir", "", "speech_noise: folder of noise recordings.")
flags.DEFINE_enum("x_source", "speech", ["speech", "noise"],
                  "speech_noise: the unobserved source X (the other one is B).")
flags.DEFINE_list("snr_db", ["-5", "5"], "speech_noise: speech-to-noise ratio range low,high "
                  "in dB, drawn uniformly per mixture.")
flags.DEFINE_float("clip_seconds", 0, "speech_noise: length of the clips cut from the "
                   "recordings (0: one training patch).", lower_bound=0)
flags.DEFINE_float("test_track_seconds", 10, "speech_noise: consecutive test clips are "
                   "joined into tracks of about this length for BSS Eval's 1 s windows.",
                   lower_bound=0)
flags.DEFINE_string("b_audio_dir", "", "folders: clean recordings of the observed source B.")
flags.DEFINE_string("y_audio_dir", "", "folders: mixtures: audio files, or track folders "
                    "<name>/ holding two of mixture.*, x.*, b.* (with references, which "
                    "trainers.supervised needs).")
flags.DEFINE_string("test_audio_dir", "", "folders: optional test track folders <name>/ "
                    "holding two of mixture.*, x.*, b.*; without it no test scores.")

# --- Front end and patches.
flags.DEFINE_integer("sample_rate", 0, "Hz; 0: 20480 for musdb (as in the paper), 16000 "
                     "otherwise.", lower_bound=0)
flags.DEFINE_integer("n_fft", 512, "STFT size in samples (n_fft // 2 + 1 bins).", lower_bound=2)
flags.DEFINE_float("window_ms", 25.0, "STFT window in ms (capped at n_fft).", lower_bound=0)
flags.DEFINE_float("hop_ms", 10.0, "STFT hop in ms.", lower_bound=0)
flags.DEFINE_integer("patch_frames", 64, "STFT frames per training example.", lower_bound=1)
flags.DEFINE_enum("audio_mixing", "waveform", ["waveform", "magnitude"],
                  "How NES forms b + x_t: waveform: sum waveform patches, then |STFT| "
                  "(phases interfere, as in real mixtures; measured better, see "
                  "trainers/audio_domain.py); magnitude: |B| + |X_t| (the reference demo).")
flags.DEFINE_float("max_train_seconds", 0, "Cap on the audio in each of the B and mixture "
                   "sets, spread over tracks (0: all).", lower_bound=0)
flags.DEFINE_integer("max_tracks", 0, "Use at most this many tracks of each MUSDB subset, "
                     "files of each folder, or speech_noise test tracks (0: all).",
                     lower_bound=0)
flags.DEFINE_float("max_test_seconds", 0, "Crop each test track to its middle N seconds "
                   "(0: whole tracks).", lower_bound=0)

# --- Whole-file separation (evaluation and export).
flags.DEFINE_integer("chunk_frames", 512, "STFT frames per chunk of whole-file separation "
                     "(memory is bounded by the chunk, not the file).", lower_bound=1)
flags.DEFINE_integer("context_frames", 64, "Frames seen on each side of a chunk and "
                     "discarded (>= the mask net's receptive field: chunks then join "
                     "exactly).", lower_bound=0)
flags.DEFINE_integer("chunks_per_call", 0, "Chunks the mask net separates per call, as one "
                     "batch (faster for light nets; the result is the same). 0: by "
                     "--architecture (8 for spectral_tcn, 1 for the U-Nets, whose "
                     "activations are large).", lower_bound=0)

# Flags that decide the prepared audio data (common_flags adds them to DATA_FLAGS).
AUDIO_DATA_FLAGS = ["audio_source", "musdb_root", "musdb_target", "musdb_b_fraction",
                    "speech_dir", "noise_dir", "x_source", "snr_db", "clip_seconds",
                    "test_track_seconds", "b_audio_dir", "y_audio_dir", "test_audio_dir",
                    "sample_rate", "n_fft", "window_ms", "hop_ms", "patch_frames",
                    "audio_mixing", "max_train_seconds", "max_tracks", "max_test_seconds"]


def snr_range(values):
  """(low, high) dB from --snr_db's values, or InputError naming the flag."""
  try:
    low, high = (float(v) for v in values)
  except ValueError:
    raise InputError(f"--snr_db={','.join(values)}: expected two numbers low,high in dB, "
                     "e.g. -5,5") from None
  if low > high:
    raise InputError(f"--snr_db={low:g},{high:g}: expected low <= high")
  return low, high


def sample_rate(cfg):
  """The run's sample rate in Hz: --sample_rate, or the source's default (cfg:
  configs.AudioConfig)."""
  if cfg.sample_rate:
    return cfg.sample_rate
  return 20480 if cfg.audio_source == "musdb" else 16000
