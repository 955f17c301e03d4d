"""`kubesmith` against real lab hosts, with the inventory read from Terraform-shaped output.

Two hosts on their own bridge, subnet, state directory and names (k*), so a developer's lab and
the lab cycle test are untouched. The inventory is the lab's terraform-output.json plus a
`cluster` output, read through the terraform_output plugin as a user's Terraform would be.
"""

import json
import os
import select
import subprocess
import sys
import time

import labkit
import pytest

BRIDGE = "kscli0"
SUBNET = "172.30.81.0/24"
HOSTS = ["--host=kcp1:kube_control_plane", "--host=kw1:kube_node"]
SSH_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
K8S_VERSION = "1.31.4"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = labkit.Lab(tmp_path_factory.mktemp("cli-lab"), BRIDGE, SUBNET)
    lab("up", *HOSTS)
    outputs = json.loads((lab.state / "terraform-output.json").read_text())
    outputs.setdefault("cluster", {"sensitive": False, "value": {"ansible_ssh_common_args": SSH_ARGS}})
    # the inventory check (first play of every playbook) requires the Kubernetes release
    outputs["cluster"]["value"].setdefault("kubesmith_kubernetes_version", K8S_VERSION)
    contract = lab.state / "contract.json"
    contract.write_text(json.dumps(outputs))
    yield {"lab": lab, "contract": contract, "outputs": outputs}
    lab("down", check=False)


def kubesmith_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "KUBESMITH_"))}


def kubesmith(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "kubesmith_cli", *args], cwd=labkit.ROOT, env=kubesmith_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def ssh(lab, host: str, command: str) -> str:
    return lab["lab"].ssh(host, command).stdout


def kubesmith_on_a_terminal(*args, timeout=300) -> tuple[int, str]:
    """Run kubesmith with a pseudo-terminal as its stdout, as a person at a terminal would."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "kubesmith_cli", *args], cwd=labkit.ROOT, env=kubesmith_env(),
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace")


def test_preflight_checks_fresh_hosts_with_a_live_display(lab, tmp_path):
    t0 = time.monotonic()
    code, screen = kubesmith_on_a_terminal("preflight", "-i", str(lab["contract"]),
                                           "--summary-file", str(tmp_path / "s.json"))
    took = time.monotonic() - t0
    assert code == 0, screen
    assert "\r\x1b[2K" in screen  # the status line was redrawn in place
    assert "play 2/3: Check the cluster hosts" in screen
    assert "HOST" in screen
    assert "kubesmith preflight: OK in" in screen
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["check_mode"] is True
    assert set(summary["hosts"]) == {"localhost", "kcp1", "kw1"}
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in summary["hosts"].values())
    assert summary["plays"] == 3
    assert took < 120, f"preflight on 2 hosts took {took:.1f}s"


def test_up_without_kubernetes_artifacts_prepares_the_hosts_and_stops_at_the_download(lab, tmp_path):
    # No registry here has kubeadm/kubelet: `kubesmith up` (cluster.yml) checks the inventory, prepares
    # the hosts (containerd running), then stops where it needs the Kubernetes binaries, saying what it
    # tried and what to set; a second run goes as far again with nothing left to change before that.
    for run in (1, 2):
        t0 = time.monotonic()
        up = kubesmith("up", "-i", str(lab["contract"]), "--plain", "--summary-file", str(tmp_path / f"s{run}.json"))
        took = time.monotonic() - t0
        out = up.stdout + up.stderr
        assert up.returncode == 4, out
        assert "kube_packages: could not fetch" in out, out
        assert "kubesmith_bundle_dir" in out, out
        summary = json.loads((tmp_path / f"s{run}.json").read_text())
        assert summary["status"] == "failed"
        assert {h: s["unreachable"] for h, s in summary["hosts"].items()} == {"localhost": 0, "kcp1": 0, "kw1": 0}
        assert took < 240, f"up on 2 hosts took {took:.1f}s"
    assert {h: s["changed"] for h, s in summary["hosts"].items() if h != "localhost"} == {"kcp1": 0, "kw1": 0}
    for host in ("kcp1", "kw1"):
        assert ssh(lab, host, "systemctl is-active containerd").strip() == "active"


def test_a_host_that_does_not_answer_exits_5(lab, tmp_path):
    outputs = json.loads(json.dumps(lab["outputs"]))
    key = outputs["hosts"]["value"]["kw1"]["vars"]
    outputs["hosts"]["value"]["kgone"] = {"address": "172.30.81.99", "user": "root", "groups": ["kube_node"],
                                          "vars": {**key, "ansible_timeout": "5"}}
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps(outputs))
    r = kubesmith("preflight", "-i", str(contract), "-l", "kgone,localhost", "--summary-file", str(tmp_path / "s.json"),
                  timeout=120)
    assert r.returncode == 5, r.stdout + r.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [u["host"] for u in summary["unreachable"]] == ["kgone"]
    assert "UNREACHABLE kgone" in r.stdout
