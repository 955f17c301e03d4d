"""Make kubesmith's plugins importable the way Ansible loads them.

- module_utils/<name>.py  -> ``ansible.module_utils.<name>`` (as modules import it)
- library/, filter_plugins/, inventory_plugins/ -> plain top-level modules
- lab/ -> the ``lab`` package
"""

import pathlib
import sys

import ansible.module_utils

ROOT = pathlib.Path(__file__).resolve().parents[2]

for sub in ("library", "filter_plugins", "inventory_plugins"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

pytest_plugins = ["module_harness"]
