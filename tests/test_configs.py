"""The flags are mapped once onto plain frozen settings objects (trainers/configs.py)."""

import dataclasses

import pytest

from eggsep_tf.errors import InputError
from eggsep_tf.trainers import configs
from tests import in_process


def test_every_field_is_its_flag():
  with in_process.parsed_flags("trainers.nes", "--workdir=/tmp/w", "--batch_size=7",
                               "--num_b=30", "--filters=4,8", "--glo_latent_dim=5",
                               "--nmf_bases=9", "--am_epochs=3") as values:
    cfg = configs.from_flags(values)
    for part in (cfg.run, cfg.model, cfg.image_data, cfg.nes, cfg.lmm, cfg.am, cfg.nmf):
      for field in dataclasses.fields(part):
        if field.name in values:
          assert getattr(part, field.name) == values[field.name].value, field.name
  assert cfg.run.workdir == "/tmp/w" and cfg.run.batch_size == 7
  assert cfg.model.filters == ["4", "8"] and cfg.lmm.glo_latent_dim == 5
  assert cfg.image_data.sizes_given == {"num_b"}  # --num_y, --num_test may shrink to fit.
  assert cfg.image_data.settings["num_b"] == 30
  with pytest.raises(dataclasses.FrozenInstanceError):
    cfg.run.batch_size = 8


def test_audio_runs_have_no_image_settings():
  with in_process.parsed_flags("trainers.nes", "--workdir=/tmp/w", "--domain=audio") as values:
    assert configs.from_flags(values).image_data is None


def test_list_settings_are_checked_where_they_are_used():
  with in_process.parsed_flags("trainers.am", "--workdir=/tmp/w") as values:
    cfg = configs.from_flags(values)
  assert cfg.am.disc_filters() == [int(f) for f in values["am_disc_filters"].value]
  bad = dataclasses.replace(cfg.am, am_disc_filters=["8", "x"])  # As a flagfile could hold.
  with pytest.raises(InputError, match="--am_disc_filters"):
    bad.disc_filters()
