"""Test configuration: tests marked `slow` run only with --runslow (or EGGSEP_SLOW=1)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: slow or needs real data; skipped by default")


def pytest_collection_modifyitems(config, items):
  if config.getoption("--runslow") or os.environ.get("EGGSEP_SLOW") == "1":
    return
  skip = pytest.mark.skip(reason="slow: run with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)
