"""Helpers of the role tests that run ansible-playbook or render Kubernetes objects (tests/unit/roles/)."""

from __future__ import annotations

import pathlib
import re
import subprocess

import yaml


def oneline(proc: subprocess.CompletedProcess) -> str:
    """The output with YAML's line folding undone, so a long message can be searched for."""
    return re.sub(r"\s+", " ", proc.stdout + proc.stderr)


def unreachable_kubeconfig(directory: pathlib.Path) -> pathlib.Path:
    """``directory``/kubeconfig, whose server refuses connections: a role's apply path up to its first
    API call, with no API server started or faked."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
        "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "admin"}}],
        "users": [{"name": "admin", "user": {"token": "not-a-real-token"}}],
    }))
    return path


def kinds(objects) -> list[tuple[str, str]]:
    """(kind, name) of each object, in order."""
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def one(objects, kind, name=None) -> dict:
    """The one object of ``kind`` (and ``name``); fails unless there is exactly one."""
    (found,) = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found
