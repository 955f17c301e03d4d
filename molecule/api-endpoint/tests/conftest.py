"""Fixtures of the api-endpoint scenario; its helpers live in endpoint_lab.py."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import endpoint_lab


@pytest.fixture(scope="session")
def hosts():
    """Every lab host of the scenario by name, as testinfra hosts (for tests across hosts)."""
    return endpoint_lab.all_hosts()
