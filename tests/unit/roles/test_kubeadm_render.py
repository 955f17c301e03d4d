"""Role kubeadm on real ansible-playbook runs on the controller, no kubeadm involved: render only
(every host's files, the api_endpoint fact, external etcd, bad settings refused before
any host is touched) and --check of the real path on a host without a cluster (connection local;
check mode writes nothing). The runs are started together, each test reads its own."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
PLAY = "- hosts: k8s_cluster\n  gather_facts: false\n  roles: [kubeadm]\n"
FRESH = not pathlib.Path("/etc/kubernetes").exists()

INVENTORY = """
all:
  vars:
    kubesmith_kubernetes_version: "1.31.4"
  children:
    kube_control_plane:
      hosts:
        cp1: {ansible_host: 192.0.2.11}
        cp2: {ansible_host: 192.0.2.12}
    kube_node:
      hosts:
        w1:
          ansible_host: 192.0.2.21
          kubesmith_node_labels: {tier: frontend, example.com/disk: ssd}
          kubesmith_node_taints: [{key: dedicated, value: db, effect: NoExecute}]
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
"""

EXTERNAL = INVENTORY + """
    etcd:
      hosts:
        e1: {ansible_host: 192.0.2.31}
        e2: {ansible_host: 192.0.2.32}
        e3: {ansible_host: 192.0.2.33}
"""

BAD = INVENTORY.replace("tier: frontend", "node-role.kubernetes.io/worker: ''")

LOCAL = f"""
all:
  vars:
    kubesmith_kubernetes_version: "1.31.4"
    ansible_connection: local
    ansible_python_interpreter: {sys.executable}
  children:
    kube_control_plane:
      hosts:
        cp1: {{ansible_host: 192.0.2.11}}
    kube_node:
      hosts:
        w1: {{ansible_host: 192.0.2.21}}
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
"""

ENDPOINT = {"mode": "vip", "host": "192.0.2.10", "port": 8443, "url": "https://192.0.2.10:8443", "vip": "192.0.2.10"}


def _run(workdir: pathlib.Path, inventory: str, *args: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True)
    (workdir / "hosts.yml").write_text(inventory)
    (workdir / "play.yml").write_text(PLAY)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "HOME": str(workdir / "home"), "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp")}
    return subprocess.run(
        [str(PLAYBOOK), "-i", str(workdir / "hosts.yml"), str(workdir / "play.yml"), *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def _render(workdir, inventory, *args):
    out = workdir / "out"
    return _run(workdir, inventory, "-e", f"kubeadm_render_dir={out}", *args), out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("kubeadm")
    jobs = {
        "stacked": lambda: _render(base / "stacked", INVENTORY),
        "external": lambda: _render(base / "external", EXTERNAL, "-e", json.dumps({
            "kubesmith_api_endpoint": ENDPOINT, "kubeadm_proxy_mode": "ipvs", "kubeadm_encryption_provider": "aescbc",
            "kubeadm_pki_dir": str(base / "nowhere")}), "--limit", "cp1"),
        "bad": lambda: _render(base / "bad", BAD),
        "check": lambda: (_run(base / "check", LOCAL, "--check", "--diff"), base / "check"),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    return results


def ok(result):
    proc, out = result
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def documents(path: pathlib.Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def changed(proc) -> dict:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M)}


def test_render_writes_each_hosts_files(runs):
    out = ok(runs["stacked"])
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["audit-policy.yaml", "cp1/kubeadm-config.yaml", "cp2/join-config.yaml",
                     "cp2/kubeadm-config.yaml", "encryption-config.yaml", "w1/join-config.yaml"]


def test_rendered_init_config_of_the_first_control_plane_host(runs):
    out = ok(runs["stacked"])
    init, cluster, kubelet, proxy = documents(out / "cp1" / "kubeadm-config.yaml")
    assert init["kind"] == "InitConfiguration"
    assert init["localAPIEndpoint"]["advertiseAddress"] == "192.0.2.11"
    assert cluster["controlPlaneEndpoint"] == "192.0.2.11:6443"
    assert cluster["kubernetesVersion"] == "v1.31.4"
    assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}
    assert cluster["apiServer"]["certSANs"] == ["127.0.0.1", "localhost", "192.0.2.11", "192.0.2.12"]
    assert kubelet["cgroupDriver"] == "systemd"
    assert proxy["mode"] == "iptables"
    assert proxy["clusterCIDR"] == "10.244.0.0/16"


def test_rendered_join_configs(runs):
    out = ok(runs["stacked"])
    worker = yaml.safe_load((out / "w1" / "join-config.yaml").read_text())
    assert worker["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "192.0.2.21"},
        {"name": "node-labels", "value": "example.com/disk=ssd,tier=frontend"}]
    assert worker["nodeRegistration"]["taints"] == [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    assert "controlPlane" not in worker
    plane = yaml.safe_load((out / "cp2" / "join-config.yaml").read_text())
    assert plane["controlPlane"]["localAPIEndpoint"] == {"advertiseAddress": "192.0.2.12", "bindPort": 6443}


def test_render_only_generates_no_key(runs):
    out = ok(runs["stacked"])
    (doc,) = documents(out / "encryption-config.yaml")
    secret = doc["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"]
    assert secret.startswith("<the key in ")
    assert secret.endswith("/.kubesmith/kubesmith/encryption-key>")
    assert not (out.parent / "home" / ".kubesmith").exists()
    (policy,) = documents(out / "audit-policy.yaml")
    assert policy["kind"] == "Policy"


def test_endpoint_fact_external_etcd_ipvs_and_aescbc(runs):
    out = ok(runs["external"])
    _, cluster, _, proxy = documents(out / "cp1" / "kubeadm-config.yaml")
    assert cluster["controlPlaneEndpoint"] == "192.0.2.10:8443"
    assert cluster["apiServer"]["certSANs"][:3] == ["127.0.0.1", "localhost", "192.0.2.10"]
    assert cluster["etcd"]["external"]["endpoints"] == [
        "https://192.0.2.31:2379", "https://192.0.2.32:2379", "https://192.0.2.33:2379"]
    assert cluster["etcd"]["external"]["certFile"] == "/etc/kubernetes/pki/apiserver-etcd-client.crt"
    assert proxy["ipvs"] == {"strictARP": True}
    (doc,) = documents(out / "encryption-config.yaml")
    assert list(doc["resources"][0]["providers"][0]) == ["aescbc"]


def test_bad_settings_are_refused_with_the_fix(runs):
    proc, out = runs["bad"]
    assert proc.returncode != 0
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "w1: node label 'node-role.kubernetes.io/worker' in kubesmith_node_labels: the kubelet refuses" in text
    assert "kubectl label node w1 node-role.kubernetes.io/worker=" in text
    assert "fatal: [cp1]" not in text
    assert not out.exists()


@pytest.mark.skipif(not FRESH, reason="this machine has /etc/kubernetes: not a host without a cluster")
def test_check_mode_on_a_fresh_host_previews_and_writes_nothing(runs):
    proc, workdir = runs["check"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    text = " ".join(proc.stdout.split())
    assert "Initialize a new cluster on cp1." in text
    assert "check mode: w1 would join as a worker through 192.0.2.11:6443, once cp1 is initialized." in text
    assert changed(proc)["cp1"] > 0
    assert not pathlib.Path("/etc/kubernetes").exists()
    assert not (workdir / "home" / ".kubesmith").exists()
    # the key never shows, not even under --diff
    assert "secretbox" not in proc.stdout
