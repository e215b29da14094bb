"""The domain object of a run (--domain): images or audio behind one interface,
trainers/domain.py's Domain."""


def make_domain(workdir, cfg):
  """The trainers.domain.Domain of cfg.run.domain (cfg: trainers/configs.Configs)."""
  if cfg.run.domain == "audio":
    from eggsep_tf.trainers import audio_domain  # pylint: disable=import-outside-toplevel
    return audio_domain.AudioDomain(workdir, cfg)  # Imported lazily: audio needs soundfile/soxr.
  from eggsep_tf.trainers import image_domain  # pylint: disable=import-outside-toplevel
  return image_domain.ImageDomain(workdir, cfg)
