"""The trainers' settings as plain frozen objects, mapped once from the flags.

Each trainer's run() calls `configs.from_flags()` after absl has parsed the
command line and passes the objects down (domains, data preparation); the
helpers read their fields, not FLAGS. A field has the name of its flag, so
`RunConfig.batch_size` is --batch_size.

  cfg = configs.from_flags()
  domain = domains.make_domain(workdir, cfg)
  cfg.run.eval_batch_size, cfg.image_data.num_b

cfg.record keeps every flag's value and the flagfile text for the workdir checks and
records (trainers/workdir_checks.py). Not mapped: merge_results (a command of its own)
and --max_runtime (runner.run_main reads it before the run starts); see the README.
"""

import dataclasses
from typing import Optional

from eggsep_tf.trainers import common_flags
from eggsep_tf.trainers import initializer_flags


def _fields_from_flags(cls, values, **extra):
  """cls(field=--field for each field not in extra, **extra)."""
  names = [f.name for f in dataclasses.fields(cls) if f.name not in extra]
  return cls(**{name: values[name].value for name in names}, **extra)


def _data_settings(values):
  """The data flags as WORKDIR/data/settings.json records them."""
  return {name: values[name].value for name in common_flags.DATA_FLAGS}


class _FromFlags:
  """from_flags(values): each field from the flag of its name (subclasses add the rest)."""

  @classmethod
  def from_flags(cls, values):
    return _fields_from_flags(cls, values)


@dataclasses.dataclass(frozen=True)
class RunConfig(_FromFlags):
  """What every trainer and domain reads: the run's folder, data kind, batches, seeds."""
  workdir: str
  domain: str  # "image" or "audio".
  seed: int
  data_seed: int
  batch_size: int  # Global examples per training step.
  eval_batch_size: int  # Examples per step of re-estimation and evaluation.
  const_fraction: float  # c of x_0 = c y and of the Const row.
  model_name: str  # Name of the exported separator (WORKDIR/export/NAME).
  invert: bool  # Images: v <- 1 - v (also recorded in the export).
  strategy: str  # "default", "mirrored" or "multi_worker".
  deterministic: bool  # TF's deterministic ops.
  gain_range: list  # Random source gains of training mixtures (trainers/gains.py).
  x_gain_range: list


@dataclasses.dataclass(frozen=True)
class ImageDataConfig(_FromFlags):
  """How WORKDIR/data is prepared for --domain=image (trainers/image_data.py)."""
  data: str
  task: str  # "classes" or "denoise".
  observed: str
  unobserved: str
  noise_sigma: float
  num_b: int
  num_y: int
  num_test: int
  data_seed: int
  invert: bool
  pixel_scale: Optional[float]
  image_size: str
  b_data: str
  y_data: str
  test_data: str
  tfds_data_dir: Optional[str]
  # Which of num_b, num_y, num_test the command line gave (the others may shrink to fit).
  sizes_given: frozenset = frozenset()
  # The data flags as WORKDIR/data/settings.json records them (a kept split must match).
  settings: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)

  @classmethod
  def from_flags(cls, values):
    given = frozenset(n for n in ("num_b", "num_y", "num_test") if values[n].present)
    return _fields_from_flags(cls, values, sizes_given=given,
                              settings=_data_settings(values))


@dataclasses.dataclass(frozen=True)
class AudioConfig(_FromFlags):
  """How WORKDIR/data is prepared for --domain=audio, the STFT and the exported
  separator's chunks (trainers/audio_data.py, trainers/audio_domain.py)."""
  audio_source: str  # "musdb", "speech_noise" or "folders".
  musdb_root: str
  musdb_target: str
  musdb_b_fraction: float
  speech_dir: str
  noise_dir: str
  x_source: str
  snr_db: list  # As the flag gives it: audio_flags.snr_range checks it.
  clip_seconds: float
  test_track_seconds: float
  b_audio_dir: str
  y_audio_dir: str
  test_audio_dir: str
  sample_rate: Optional[int]  # None: the source's default (audio_flags.sample_rate).
  n_fft: int
  window_ms: float
  hop_ms: float
  patch_frames: int
  audio_mixing: str
  max_train_seconds: Optional[float]
  max_tracks: Optional[int]
  max_test_seconds: Optional[float]
  data_seed: int
  chunk_frames: int
  context_frames: int
  chunks_per_call: Optional[int]
  architecture: str
  # The data flags as WORKDIR/data/settings.json records them (kept data must match).
  settings: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)

  @classmethod
  def from_flags(cls, values):
    return _fields_from_flags(cls, values,
                              settings=_data_settings(values))


@dataclasses.dataclass(frozen=True)
class ModelConfig(_FromFlags):
  """The mask net, its precision and its optimiser (trainers/nets.py)."""
  architecture: str
  filters: list  # Channel counts per level, as the flag gives them.
  skip_connections: bool
  stride: str
  unet_variant: str  # strided_unet's form: "auto", "full", "light", "refined" or "lean".
  domain: str  # Resolves architecture "auto".
  precision: str
  inference_precision: str
  learning_rate: float
  lr_schedule: str  # "constant" or "cosine" (per training phase; trainers/nets.py).
  beta1: float
  batch_norm_stats: str  # "auto", "real" or "synthetic" (trainers/batch_norm_stats.py).
  batch_norm_samples: int


@dataclasses.dataclass(frozen=True)
class NesConfig(_FromFlags):
  """NES's iterations and its start x_0 (trainers/nes.py)."""
  iterations: int
  epochs: int  # Per iteration.
  init: str  # "auto", "const", "nmf", "lmm" or "am".
  init_workdir: str
  init_fraction: Optional[float]
  x_level: str


@dataclasses.dataclass(frozen=True)
class LmmConfig(_FromFlags):
  """LMM's generators, their two stages and the test-time fit (trainers/lmm*.py)."""
  glo_loss: str
  glo_vgg_weights: str
  glo_filters: list  # As the flag gives them: initializer_flags.parse_int_list checks them.
  glo_latent_dim: int
  glo_output: str
  glo_learning_rate: float
  glo_latent_learning_rate: float
  lmm_stage1_epochs: int
  lmm_stage2_epochs: int
  lmm_fit_steps: int
  lmm_fit_learning_rate: float
  lmm_mel_bins: int
  lmm_mel_compression: str
  glo_output_given: bool = False  # --glo_output on the command line (audio refuses sigmoid).

  @classmethod
  def from_flags(cls, values):
    return _fields_from_flags(cls, values, glo_output_given=values["glo_output"].present)

  def generator_filters(self):
    return initializer_flags.parse_int_list("glo_filters", self.glo_filters)


@dataclasses.dataclass(frozen=True)
class AmConfig(_FromFlags):
  """Adversarial Masking's discriminator and its training (trainers/am.py)."""
  am_epochs: int
  am_magnitude_weight: float
  am_disc_filters: list  # As the flag gives them.
  am_disc_output: str
  am_learning_rate: float
  am_disc_learning_rate: float

  def disc_filters(self):
    return initializer_flags.parse_int_list("am_disc_filters", self.am_disc_filters)


@dataclasses.dataclass(frozen=True)
class NmfConfig(_FromFlags):
  """Semi-supervised NMF (trainers/nmf.py), and NES's NMF start."""
  nmf_bases: int
  nmf_sparsity: float
  nmf_iterations: int
  nmf_batch_size: int
  nmf_wiener_mask: bool
  nmf_start_iterations: int  # nmf_iterations of NES's own NMF start.


@dataclasses.dataclass(frozen=True)
class SupervisedConfig(_FromFlags):
  """The fully supervised bound (trainers/supervised.py)."""
  supervised_epochs: int


@dataclasses.dataclass(frozen=True)
class RecordConfig:
  """The flags as a run records them (run-<trainer>.json, flags-<trainer>.txt)."""
  values: dict  # Every flag's value by name.
  flags_text: str  # The command's flags, one per line (absl's flagfile format).

  @classmethod
  def from_flags(cls, values):
    return cls(values={name: values[name].value for name in values},
               flags_text=values.flags_into_string())

  def select(self, names):
    """{name: value} of the given flags."""
    return {n: self.values[n] for n in names}

  def with_value(self, name, value):
    """The record with --name set to value (a run recorded with other settings)."""
    lines = [f"--{name}={value}" if line.startswith(f"--{name}=") else line
             for line in self.flags_text.splitlines()]
    return RecordConfig(values={**self.values, name: value},
                        flags_text="\n".join(lines) + "\n")


@dataclasses.dataclass(frozen=True)
class Configs:
  """Every mapped subject of one trainer's run."""
  run: RunConfig
  model: ModelConfig
  image_data: Optional[ImageDataConfig]  # None for --domain=audio.
  audio: Optional[AudioConfig]  # None for --domain=image.
  nes: NesConfig
  lmm: LmmConfig
  am: AmConfig
  nmf: NmfConfig
  supervised: SupervisedConfig
  record: RecordConfig


def from_flags(values=None):
  """The settings of this run, from the parsed flags (absl's FLAGS by default)."""
  values = values or common_flags.FLAGS
  run = RunConfig.from_flags(values)
  image_data = ImageDataConfig.from_flags(values) if run.domain == "image" else None
  audio = AudioConfig.from_flags(values) if run.domain == "audio" else None
  return Configs(run=run, model=ModelConfig.from_flags(values), image_data=image_data,
                 audio=audio,
                 nes=NesConfig.from_flags(values), lmm=LmmConfig.from_flags(values),
                 am=AmConfig.from_flags(values), nmf=NmfConfig.from_flags(values),
                 supervised=SupervisedConfig.from_flags(values),
                 record=RecordConfig.from_flags(values))
