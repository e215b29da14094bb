"""The domain object of a run (--domain): images or audio behind one interface,
trainers/domain.py's Domain."""

from eggsep_tf.trainers import common_flags


def make_domain(workdir):
  """The trainers.domain.Domain for --domain."""
  if common_flags.FLAGS.domain == "audio":
    from eggsep_tf.trainers import audio_domain  # pylint: disable=import-outside-toplevel
    return audio_domain.AudioDomain(workdir)  # Imported lazily: audio needs soundfile/soxr.
  from eggsep_tf.trainers import image_domain  # pylint: disable=import-outside-toplevel
  return image_domain.ImageDomain(workdir)
