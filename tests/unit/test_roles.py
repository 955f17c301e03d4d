"""Every role: defaults and argument spec agree, public variables carry the role prefix,
internals in vars/ start with an underscore, and the README names every public variable."""

import pathlib

import pytest
import yaml

ROLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks" / "main.yml").exists())


def _load(path):
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _spec(role):
    """Options of every entry point of the role (main, and tasks_from entry points), merged."""
    specs = _load(ROLES_DIR / role / "meta" / "argument_specs.yml").get("argument_specs", {})
    merged = {}
    for entry in specs.values():
        for name, opt in (entry.get("options") or {}).items():
            assert merged.get(name, opt) == opt, f"{name} is specified differently in two entry points"
            merged[name] = opt
    return merged


def test_there_are_roles():
    assert ROLES, f"no roles found under {ROLES_DIR}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec(role):
    assert (ROLES_DIR / role / "meta" / "argument_specs.yml").exists()


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_spec_agree(role):
    defaults = _load(ROLES_DIR / role / "defaults" / "main.yml")
    spec = _spec(role)
    assert set(defaults) == {k for k, v in spec.items() if not v.get("required")}, "variables differ"
    for name, value in defaults.items():
        assert spec[name].get("default") == value, f"{name}: default {value!r} != spec {spec[name].get('default')!r}"
        assert spec[name].get("description"), f"{name}: no description in the spec"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    bad = [name for name in _spec(role) if not name.startswith(f"{role}_")]
    assert not bad, f"rename to {role}_*: {bad}"


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_start_with_underscore(role):
    # <role>_images is the one public datum in vars/: the images the role deploys, which the offline
    # bundle (roles/bundle) reads from there, and which must not be overridden from an inventory.
    bad = [name for name in _load(ROLES_DIR / role / "vars" / "main.yml")
           if not name.startswith(f"_{role}_") and name != f"{role}_images"]
    assert not bad, f"vars/ holds internals (and {role}_images) only; name them _{role}_*: {bad}"


@pytest.mark.parametrize("role", ROLES)
def test_readme_names_every_public_variable(role):
    readme = ROLES_DIR / role / "README.md"
    assert readme.exists(), "role has no README.md"
    missing = [name for name in _spec(role) if name not in readme.read_text()]
    assert not missing, f"README.md does not mention {missing}"
