"""The lifecycle playbooks' refusals, for real (ansible-playbook) and on the controller alone: the
hosts of the inventory are unreachable (TEST-NET-3, port 1), so a run that tried to touch one
would show it. reset.yml without its confirmation and remove-node.yml with nothing, an unknown or
the first control-plane host stop before any host is contacted, each saying what to do."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
INVENTORY = ROOT / "tests" / "unit" / "playbooks" / "inventories" / "unreachable.yml"
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"


def run(playbook: str, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(INVENTORY), str(ROOT / "playbooks" / playbook), *extra],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, out
    assert "unreachable=1" not in out
    for host in ("cp1", "w1", "e1", "lb1"):
        assert f"{host} :" not in out, f"{host} took part: {out}"
    return out


def test_reset_wants_a_confirmation():
    out = run("reset.yml")
    assert "reset.yml deletes the Kubernetes cluster on every host of k8s_cluster (2 host(s) in the inventory)" in out
    assert "-e kubesmith_reset_confirm=yes" in out


def test_reset_says_when_etcd_data_goes_too():
    assert "and the data of external etcd" in run("reset.yml", "-e", "kubesmith_reset_etcd=true")


@pytest.mark.parametrize(("nodes", "message"), [
    (None, "Name the nodes: -e kubesmith_remove_nodes=<inventory host name>"),
    ("w9", "w9 is not a host of k8s_cluster in this inventory (hosts: cp1, w1)"),
    ("cp1", "cp1 is the first host of kube_control_plane, through which kubesmith reaches the cluster: it is the "
            "only control-plane host, remove the cluster with reset.yml instead."),
])
def test_remove_node_refuses_what_it_cannot_do(nodes, message):
    extra = ["-e", f"kubesmith_remove_nodes={nodes}"] if nodes else []
    assert message in run("remove-node.yml", *extra)
