"""Role inventory_check on real (local, host-less) Ansible runs: bad inventories fail with a fix."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
ANSIBLE = pathlib.Path(sys.executable).parent / "ansible"


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
  children:
    kube_control_plane: {hosts: {cp1: {ansible_host: 192.0.2.11}}}
    kube_node: {hosts: {w1: {ansible_host: 192.0.2.21}}}
"""


def test_good_inventory_passes(tmp_path):
    proc = run_role(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("group", "fix"), [("workers", "kube_node"), ("control_plane", "kube_control_plane")])
def test_foreign_group_names_are_rejected_with_the_rename(tmp_path, group, fix):
    proc = run_role(tmp_path, GOOD + f"    {group}: {{hosts: {{x1: {{ansible_host: 192.0.2.31}}}}}}\n")
    assert proc.returncode != 0
    assert f"{group} -> {fix}" in proc.stdout


def test_missing_control_plane_is_rejected(tmp_path):
    proc = run_role(tmp_path, "all:\n  children:\n    kube_node: {hosts: {w1: {ansible_host: 192.0.2.21}}}\n")
    assert proc.returncode != 0
    assert "no hosts in kube_control_plane" in proc.stdout


def test_sample_inventory_passes(tmp_path):
    proc = run_role(tmp_path, (ROOT / "inventory" / "sample" / "hosts.yml").read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
