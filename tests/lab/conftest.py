import os
import pathlib
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # labkit


def pytest_collection_modifyitems(config, items):
    why = None
    if os.geteuid() != 0:
        why = "the lab needs root"
    elif not shutil.which("systemd-nspawn"):
        why = "systemd-nspawn is missing: run `make setup`"
    if why:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=why))
