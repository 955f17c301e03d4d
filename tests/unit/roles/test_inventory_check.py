"""Role inventory_check: real (local, host-less) runs of the role on its own, outside the playbooks
(which load vars/kubernetes.yml themselves; tests/unit/playbooks/test_validate.py runs them), and
the role's one list of variables kept in step with the other roles and the README."""

import os
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "inventory_check"
ANSIBLE = pathlib.Path(sys.executable).parent / "ansible"
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


def run_role(tmp_path, inventory: str) -> subprocess.CompletedProcess:
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(ANSIBLE), "localhost", "-i", str(inv), "-m", "ansible.builtin.include_role",
         "-a", "name=inventory_check"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


GOOD = """
all:
  vars: {kubesmith_kubernetes_version: "1.33.2"}
  children:
    kube_control_plane: {hosts: {cp1: {ansible_host: 192.0.2.11}}}
    kube_node: {hosts: {w1: {ansible_host: 192.0.2.21}}}
    k8s_cluster: {children: {kube_control_plane: {}, kube_node: {}}}
"""


def test_the_role_alone_loads_the_supported_minors_itself(tmp_path):
    # no vars_files here: the role reads vars/kubernetes.yml to know that 1.33 is supported
    proc = run_role(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The inventory is valid: 2 hosts" in proc.stdout


def test_the_role_alone_fails_listing_the_problems(tmp_path):
    proc = run_role(tmp_path, GOOD.replace("1.33.2", "1.29.0") + "    workers: {hosts: {x1: {}}}\n")
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "The inventory has 2 problem(s)" in out
    assert "workers -> kube_node" in out
    assert "minor 1.29 is not supported; use one of 1.31, 1.32, 1.33, 1.34" in out


def _followers() -> dict[str, str]:
    """Role variables whose default is just a kubesmith_* user variable (with a default)."""
    users = {n for n, spec in ROLE_VARS["_inventory_check_variables"].items() if spec["scope"] in ("cluster", "host")}
    found = {}
    for path in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            match = re.match(r"^\{\{\s*(kubesmith_\w+)\s*(\||\}\})", str(value).strip())
            if match and match.group(1) in users:
                found[name] = match.group(1)
    return found


def test_every_role_variable_that_follows_a_kubesmith_variable_is_listed_as_internal():
    internal = ROLE_VARS["_inventory_check_internal_variables"]
    followers = _followers()
    assert "kube_packages_version" in followers  # the scan sees them
    missing = {k: v for k, v in followers.items() if internal.get(k) != v}
    assert not missing, f"add to _inventory_check_internal_variables in {ROLE / 'vars' / 'main.yml'}: {missing}"


def test_the_known_names_do_not_collide():
    known = ROLE_VARS["_inventory_check_variables"]
    foreign = ROLE_VARS["_inventory_check_foreign_variables"]
    internal = ROLE_VARS["_inventory_check_internal_variables"]
    assert all(name.startswith("kubesmith_") for name in known)
    assert not (set(foreign) | set(internal)) & set(known)
    assert not set(foreign) & set(internal)
    assert set(foreign.values()) | set(internal.values()) <= set(known)
    assert {spec["scope"] for spec in known.values()} <= {"cluster", "host", "run", "data", "lab"}


def test_the_readme_names_every_known_variable():
    readme = (ROLE / "README.md").read_text()
    missing = [n for n in ROLE_VARS["_inventory_check_variables"] if f"`{n}`" not in readme]
    assert not missing, f"roles/inventory_check/README.md does not mention {missing}"
