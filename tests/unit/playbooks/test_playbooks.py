"""Every playbook passes ansible-playbook --syntax-check (one process for all of them), and every
role entry point a playbook names (include_role/import_role with tasks_from) exists: syntax-check
cannot see into dynamic includes."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"


def test_every_playbook_passes_syntax_check():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(ROOT / "inventory" / "sample" / "hosts.yml"),
                           "--syntax-check", *map(str, PLAYBOOKS)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(PLAYBOOKS) >= 15


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _entry_points(path: pathlib.Path):
    for node in _walk(yaml.safe_load(path.read_text())):
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
            spec = node.get(key)
            if isinstance(spec, dict):
                yield spec["name"], spec.get("tasks_from", "main")
        if "role" in node and isinstance(node["role"], str):
            yield node["role"], "main"


@pytest.mark.parametrize("playbook", [*PLAYBOOKS, *sorted((ROOT / "playbooks" / "tasks").glob("*.yml"))],
                         ids=lambda p: p.name)
def test_every_role_entry_point_named_exists(playbook):
    missing = [f"{role}:{entry}" for role, entry in _entry_points(playbook)
               if not (ROOT / "roles" / role / "tasks" / f"{entry.removesuffix('.yml')}.yml").is_file()]
    assert not missing, f"{playbook.name} names role entry points that do not exist: {missing}"
