"""tests/integration: real programs on this machine (loopback only), each file bounded in time.

Not part of `make unit` (pytest.ini's testpaths is tests/unit); run a file explicitly:
    .venv/bin/pytest -q tests/integration/test_etcd_modules_local.py
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
