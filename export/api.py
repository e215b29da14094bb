"""The Python API: separate numpy arrays and files with an exported model.

  import eggsep_tf
  sep = eggsep_tf.Separator.load("runs/speech/export/eggsep")   # or a server URL
  x, b = sep.separate(waveform, sample_rate=44100)               # numpy in, numpy out
  sep.separate_file("song.mp3", "separated/")                    # song.noise.wav, ...

`Separator.load` takes a SavedModel version folder (BASE/NAME/VERSION), a
model folder (BASE/NAME: newest version), an export base holding one model
(BASE), a training run's workdir (WORKDIR/export/...), or the URL of a
TF-Serving-compatible server (http://HOST:PORT/v1/models/NAME). Errors a user
can fix raise eggsep_tf.errors.InputError with one clear line.
Training with plain arguments is eggsep_tf.train (export/training.py).
"""

import os

from eggsep_tf.errors import InputError
from eggsep_tf.export import array_separation
from eggsep_tf.export import model_access
from eggsep_tf.export import saved_model
from eggsep_tf.export import separation


def _find_model_dir(path):
  """The SavedModel folder that `path` names (see the module docstring)."""
  try:
    return model_access.resolve_saved_model(path)
  except InputError as first_error:
    if not os.path.isdir(path):
      raise
    if os.path.isdir(os.path.join(path, "export")):  # A training run's workdir.
      return _find_model_dir(os.path.join(path, "export"))
    models = sorted(name for name in os.listdir(path)
                    if saved_model.versions(os.path.join(path, name)))
    if len(models) == 1:
      return model_access.resolve_saved_model(os.path.join(path, models[0]))
    if len(models) > 1:
      raise InputError(f"model {path}: holds several models ({', '.join(models)}); "
                       f"name one, e.g. {os.path.join(path, models[0])}") from None
    raise first_error


class Separator:
  """An exported separator (local SavedModel or served), for arrays and files.

  Attributes:
    domain: "image" or "audio".
    sample_rate: the model's rate in Hz (audio), else None.
    source_names: (x name, b name), e.g. ("noise", "speech"); ("x", "b") if unnamed.
    metadata: the model's metadata.json ({} for a served model).
  """

  def __init__(self, model, sample_rate=None):
    self.model = model
    self.domain = model_access.model_domain(model)
    self.sample_rate = (array_separation.model_sample_rate(model, sample_rate)
                        if self.domain == "audio" else None)
    self.source_names = separation.source_names(model)
    self.metadata = model.metadata

  @classmethod
  def load(cls, path_or_url, sample_rate=None, timeout=120.0):
    """Opens a model folder or a server URL (see the module docstring).

    Args:
      path_or_url: where the model is.
      sample_rate: audio models only: the rate, if the model does not tell it.
      timeout: served models: seconds to wait for each reply.
    """
    spec = os.fspath(path_or_url)
    if spec.startswith(("http://", "https://")):
      return cls(model_access.RemoteModel(spec, timeout), sample_rate)
    return cls(model_access.LocalModel(_find_model_dir(spec)), sample_rate)

  def __repr__(self):
    return (f"Separator({self.model.description!r}, domain={self.domain!r}, "
            f"sources={self.source_names})")

  def separate(self, array, sample_rate=None):
    """Separates one signal or image (or a batch of images).

    Args:
      array: audio [samples] or [samples, channels] float in [-1, 1], at
        `sample_rate` (default: the model's; resampled there and back);
        images [H, W], [H, W, C] or [N, H, W, C], uint8, uint16 or float in [0, 1].
      sample_rate: audio: the array's rate in Hz.

    Returns:
      (x, b): numpy arrays of the input's shape (audio at its rate; images
      float32 in [0, 1]). x is the unobserved source, b the observed one
      (self.source_names).
    """
    if self.domain == "audio":
      return array_separation.separate_waveform(self.model, array, sample_rate,
                                                self.sample_rate, progress_level=0)
    if sample_rate is not None:
      raise InputError("sample_rate is for audio; this model separates images")
    return array_separation.separate_image_array(self.model, array)

  def separate_file(self, path, out_dir, name_template=separation.DEFAULT_NAME_TEMPLATE,
                    file_format="wav", bit_depth="16"):
    """Separates one file into out_dir; returns {source name: written path}.

    Names follow `name_template` ({stem}.{source}.{ext} by default); audio keeps
    the file's channels and rate and is written as `file_format` ("wav" or
    "flac") with `bit_depth` "16", "24" or "32f".

    Raises:
      InputError: the file cannot be read or separated, or bad options.
    """
    options = separation.OutputOptions(name_template, file_format, bit_depth)
    options.check()
    path = os.fspath(path)
    job = separation.Job(path, os.path.splitext(os.path.basename(path))[0])
    try:
      written = separation.separate_one(self.model, job, os.fspath(out_dir), self.domain,
                                        self.sample_rate, options, self.source_names)
    except OSError as e:
      raise InputError(f"{path}: {e.strerror or e}") from None
    except InputError as e:
      if str(e).startswith(path):
        raise
      raise InputError(f"{path}: {e}") from None
    return dict(zip(self.source_names, written))

  def separate_files(self, inputs, out_dir, **options):
    """Separates files and folders (recursively); returns separation.Summary.

    Keyword options as for separate_file. A file that fails is logged and
    counted in the summary's `failed`; the others go on.
    """
    return separation.separate_files(self.model, list(inputs), os.fspath(out_dir),
                                     sample_rate=self.sample_rate,
                                     options=separation.OutputOptions(**options))

