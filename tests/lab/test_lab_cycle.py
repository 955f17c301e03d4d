"""The lab tool for real: up, ansible ping, idempotent up, resize, status, down, nothing left.

Runs on its own bridge, subnet, state directory and host names (t*), so a developer's running
lab is untouched.
"""

import json
import os
import pathlib
import subprocess
import time

import labkit
import pytest

from lab import cli

BRIDGE = "kstest0"
SUBNET = "172.30.78.0/24"
THREE = ["--host=tcp1:kube_control_plane", "--host=tw1:kube_node", "--host=tw2:kube_node"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = labkit.Lab(tmp_path_factory.mktemp("lab"), BRIDGE, SUBNET)
    yield lab
    lab("down", check=False)


def test_up_boots_hosts_that_ansible_reaches(lab):
    lab("image")  # build or restore the image outside the timed part
    t0 = time.monotonic()
    out = json.loads(lab("up", *THREE, "--json").stdout)
    took = time.monotonic() - t0
    assert sorted(out["booted"]) == ["tcp1", "tw1", "tw2"]
    assert took < 30, f"3 hosts took {took:.1f}s to come up with the image cached"
    ping = subprocess.run(
        [str(labkit.BIN / "ansible"), "all", "-i", str(lab.state / "inventory.yml"),
         "-m", "ansible.builtin.ping", "-o"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(labkit.ROOT / "ansible.cfg")},
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == 3


def test_hosts_have_their_own_names_addresses_and_mirror(lab):
    out = json.loads((lab.state / "terraform-output.json").read_text())
    hosts = out["hosts"]["value"]
    assert out["groups"]["value"]["kube_node"] == ["tw1", "tw2"]
    key = lab.state / "keys" / "id_ed25519"
    for name, h in hosts.items():
        proc = labkit.ssh(key, h["address"], "hostname; ip -4 -o addr show host0; "
                          "apt-get update -q >/dev/null && apt-cache policy containerd")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == name
        assert f"inet {h['address']}/24" in lines[1]
        assert "Candidate:" in proc.stdout
        assert "(none)" not in proc.stdout.split("Candidate:")[1].split()[0]


def test_second_up_changes_nothing(lab):
    out = json.loads(lab("up", *THREE, "--json").stdout)
    assert out["booted"] == []
    assert out["removed"] == []


def test_up_with_fewer_hosts_removes_the_rest_and_keeps_addresses(lab):
    before = json.loads((lab.state / "state.json").read_text())["addresses"]
    out = json.loads(lab("up", *THREE[:2], "--json").stdout)
    assert out["removed"] == ["tw2"]
    assert out["booted"] == []
    assert out["addresses"] == {"tcp1": before["tcp1"], "tw1": before["tw1"]}
    rows = json.loads(lab("status", "--json").stdout)
    assert [(r["name"], r["running"], r["ssh"]) for r in rows] == [("tcp1", True, True), ("tw1", True, True)]
    assert subprocess.run(["ip", "link", "show", "vb-tw2"], capture_output=True).returncode != 0


def test_changing_the_subnet_of_a_running_lab_is_refused(lab):
    proc = lab("up", *THREE[:1], "--subnet", "172.30.79.0/24", check=False)
    assert proc.returncode == 2
    assert "lab down" in proc.stderr


def _processes_mentioning(text):
    found = []
    for p in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in p.read_bytes().decode(errors="ignore"):
                found.append(p.parent.name)
        except OSError:
            pass
    return found


def test_down_leaves_nothing_and_is_idempotent(lab):
    lab("down")
    assert cli.leftovers(str(lab.state), BRIDGE, ["tcp1", "tw1", "tw2"]) == []
    assert _processes_mentioning(str(lab.state / "hosts")) == []
    assert subprocess.run(["ip", "link", "show", "vb-tcp1"], capture_output=True).returncode != 0
    lab("down")
