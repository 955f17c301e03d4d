"""Every module in library/ documents exactly the options its argument_spec accepts."""

import importlib
import pathlib

import pytest
import yaml

LIBRARY = pathlib.Path(__file__).resolve().parents[2] / "library"
MODULES = sorted(p.stem for p in LIBRARY.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    mod = importlib.import_module(name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    spec = mod.argument_spec()
    assert set(doc.get("options", {})) == set(spec), "DOCUMENTATION options differ from argument_spec()"
    for opt, d in doc.get("options", {}).items():
        assert d.get("type", "str") == spec[opt].get("type", "str"), f"{opt}: type differs"
        assert d.get("default") == spec[opt].get("default"), f"{opt}: default differs"
        assert bool(d.get("required")) == bool(spec[opt].get("required")), f"{opt}: required differs"
    for key in ("EXAMPLES", "RETURN"):
        yaml.safe_load(getattr(mod, key))
    attrs = doc.get("attributes", {})
    assert "check_mode" in attrs, "DOCUMENTATION lacks the check_mode attribute"
    assert "diff_mode" in attrs, "DOCUMENTATION lacks the diff_mode attribute"
