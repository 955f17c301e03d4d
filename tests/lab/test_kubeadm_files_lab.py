"""Role kubeadm on real lab hosts, up to `kubeadm init`: the files it writes before kubeadm runs.

Its own lab (bridge kskf0, subnet 172.30.85.0/24, state directory in tmp): kf1 and kf2 in
kube_control_plane, kfw1 in kube_node; stacked etcd, no VIP (the endpoint is kf1's address:6443),
Kubernetes 1.31.4, the controller directory (encryption key, kubeconfig) in tmp. There is no kubeadm
here, so the role runs as playbooks/cluster.yml runs it but with `--tags kubeadm_files` (validate.yml is
tagged `always`; init, join and wait are also skipped explicitly): validate.yml and files.yml only.

Checked: the kubeadm config (0600 root) of each control-plane host is InitConfiguration,
ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration with that host's advertiseAddress and
node name and the one controlPlaneEndpoint; the EncryptionConfiguration (0600 root) holds the same key on
both control-plane hosts, equal to the controller's key file (0600); the audit policy; nothing of it on
the worker; the key never in ansible-playbook's output (run with -v --diff); a second run changes
nothing; without the controller's key file, a run takes the key back from kf1 and changes no host file.
"""

import base64
import hashlib
import re
import time

import labkit
import pytest
import yaml

BRIDGE = "kskf0"
SUBNET = "172.30.85.0/24"
CONTROL_PLANE = ("kf1", "kf2")
WORKER = "kfw1"
HOSTS = (*CONTROL_PLANE, WORKER)
TOTAL_BOUND = 300  # seconds, lab boot and teardown included
RUN_BOUND = 120  # seconds per ansible-playbook run

KUBEADM_CONFIG = "/etc/kubernetes/kubeadm/config.yaml"
ENCRYPTION_CONFIG = "/etc/kubernetes/encryption/config.yaml"
AUDIT_POLICY = "/etc/kubernetes/audit/policy.yaml"
HOST_FILES = (KUBEADM_CONFIG, ENCRYPTION_CONFIG, AUDIT_POLICY)
KINDS = ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]

PLAYBOOK = f"""\
# as playbooks/cluster.yml runs the role
- name: Kubernetes control plane and nodes (kubeadm), files only
  hosts: k8s_cluster
  gather_facts: false
  vars_files:
    - {labkit.ROOT}/vars/kubernetes.yml
  roles:
    - role: kubeadm
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with labkit.running(
        tmp_path_factory.mktemp("kubeadm-files-lab"),
        BRIDGE,
        SUBNET,
        "--no-repo",
        *(f"--host={h}:kube_control_plane" for h in CONTROL_PLANE),
        f"--host={WORKER}:kube_node",
        timeout=180,
        ssh_timeout=30,
    ) as lab:
        yield lab


def host_files(lab, host: str) -> dict:
    """path -> (mode, owner, group, sha256, mtime, text) of the role's files on ``host``."""
    out = {}
    for path in HOST_FILES:
        stat = lab.must(host, f"stat -c '%a %U %G %Y' {path}").split()
        text = lab.must(host, f"cat {path}")
        out[path] = (stat[0], stat[1], stat[2], hashlib.sha256(text.encode()).hexdigest(), stat[3], text)
    return out


def encryption_key(text: str) -> str:
    doc = yaml.safe_load(text)
    assert (doc["apiVersion"], doc["kind"]) == ("apiserver.config.k8s.io/v1", "EncryptionConfiguration"), doc
    (resource,) = doc["resources"]
    assert resource["resources"] == ["secrets"], resource
    assert [list(p) for p in resource["providers"]] == [["secretbox"], ["identity"]], resource
    (key,) = resource["providers"][0]["secretbox"]["keys"]
    assert key["name"] == "kubesmith-1", key
    assert len(base64.b64decode(key["secret"], validate=True)) == 32
    return key["secret"]


def test_kubeadm_writes_the_control_plane_files_before_init(lab, tmp_path):
    t_start = time.monotonic()
    info = lab.info
    addresses = info["addresses"]
    controller_dir = tmp_path / "controller"
    key_file = controller_dir / "encryption-key"
    endpoint = f"{addresses['kf1']}:6443"

    inventory_file = labkit.write_inventory(
        lab,
        tmp_path / "inventory.yml",
        {
            "kubesmith_kubernetes_version": "1.31.4",
            "kubesmith_etcd_mode": "stacked",
            "kubeadm_controller_dir": str(controller_dir),
            "kubesmith_kubeconfig": str(controller_dir / "admin.conf"),
            "kubeadm_pki_dir": str(tmp_path / "pki"),  # never read with stacked etcd; never ~/.kubesmith
        },
    )
    playbook = tmp_path / "kubeadm-files.yml"
    playbook.write_text(PLAYBOOK)

    for host in HOSTS:
        assert lab.ssh(host, "command -v kubeadm").returncode != 0, f"kubeadm is on {host}"
        assert lab.ssh(host, "test -e /etc/kubernetes/kubeadm").returncode != 0, host

    times = {}

    def run(name: str) -> tuple[dict, str]:
        result = labkit.playbook(
            name,
            "-i",
            str(inventory_file),
            str(playbook),
            "--tags",
            "kubeadm_files",
            "--skip-tags",
            "kubeadm_init,kubeadm_join,kubeadm_wait,kubeadm_render",
            "--diff",
            "-v",
            hosts=HOSTS,
            timeout=RUN_BOUND,
            log=tmp_path / f"{name.replace(' ', '-')}.log",  # kept by pytest, for a failure's post-mortem
        )
        times[name] = result.seconds
        stats, out = result.stats, result.out
        # no task past files.yml ran (init, join, wait), and files.yml did
        assert not re.search(r"TASK \[kubeadm : (Initialize|Join|Wait|Render)", out), out[-4000:]
        assert "Write the kubeadm configuration (0600)" in out, out[-4000:]
        print(
            f"{name}: ansible-playbook {times[name]:.1f}s, changed "
            + ", ".join(f"{h}={s['changed']}" for h, s in stats.items())
        )
        return stats, out

    # 1. first run: the key is generated on the controller, every control-plane file written
    first, out1 = run("first")
    assert first[WORKER]["changed"] == 0, first
    assert all(first[h]["changed"] > 0 for h in CONTROL_PLANE), first

    assert key_file.is_file()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600", oct(key_file.stat().st_mode)
    assert oct(controller_dir.stat().st_mode & 0o777) == "0o700", oct(controller_dir.stat().st_mode)
    key = key_file.read_text().strip()
    assert len(base64.b64decode(key, validate=True)) == 32
    assert key not in out1, "the encryption key is in ansible-playbook's output"

    files = {host: host_files(lab, host) for host in CONTROL_PLANE}
    for host in CONTROL_PLANE:
        for path in (KUBEADM_CONFIG, ENCRYPTION_CONFIG):
            assert files[host][path][:3] == ("600", "root", "root"), (host, path, files[host][path][:3])
        assert files[host][AUDIT_POLICY][:3] == ("644", "root", "root"), (host, files[host][AUDIT_POLICY][:3])
        dirs = lab.must(
            host, "stat -c '%n %a %U' /etc/kubernetes/kubeadm /etc/kubernetes/encryption /etc/kubernetes/audit"
        ).splitlines()
        assert dirs == [
            "/etc/kubernetes/kubeadm 700 root",
            "/etc/kubernetes/encryption 700 root",
            "/etc/kubernetes/audit 755 root",
        ], (host, dirs)

        # the kubeadm config: four documents, this host's address and name, the one endpoint
        docs = [d for d in yaml.safe_load_all(files[host][KUBEADM_CONFIG][5]) if d is not None]
        assert [d["kind"] for d in docs] == KINDS, (host, docs)
        init, cluster, kubelet, proxy = docs
        assert init["apiVersion"] == cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4"
        assert init["localAPIEndpoint"] == {"advertiseAddress": addresses[host], "bindPort": 6443}, init
        registration = init["nodeRegistration"]
        assert registration["name"] == host, registration
        assert {"name": "node-ip", "value": addresses[host]} in registration["kubeletExtraArgs"], registration
        assert registration["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}], (
            registration
        )  # there is a worker
        assert "bootstrapTokens" not in init, init
        assert cluster["controlPlaneEndpoint"] == endpoint, cluster
        assert cluster["kubernetesVersion"] == "v1.31.4", cluster
        assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}, cluster["etcd"]
        assert set(cluster["apiServer"]["certSANs"]) >= {addresses["kf1"], addresses["kf2"], "127.0.0.1"}, cluster
        apiserver_args = {a["name"]: a["value"] for a in cluster["apiServer"]["extraArgs"]}
        assert apiserver_args["encryption-provider-config"] == ENCRYPTION_CONFIG, apiserver_args
        assert apiserver_args["audit-policy-file"] == AUDIT_POLICY, apiserver_args
        assert (kubelet["apiVersion"], kubelet["cgroupDriver"]) == ("kubelet.config.k8s.io/v1beta1", "systemd"), kubelet
        assert (proxy["apiVersion"], proxy["mode"]) == ("kubeproxy.config.k8s.io/v1alpha1", "iptables"), proxy
        assert key not in files[host][KUBEADM_CONFIG][5]

        # the same key everywhere, the controller's
        assert encryption_key(files[host][ENCRYPTION_CONFIG][5]) == key, host

        policy = yaml.safe_load(files[host][AUDIT_POLICY][5])
        assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy"), policy
        assert policy["rules"][-1] == {"level": "Metadata"}, policy
        assert not any(r["level"] in ("Request", "RequestResponse") for r in policy["rules"]), policy

    # the cluster-wide documents are the same on both control-plane hosts
    cp_docs = [list(yaml.safe_load_all(files[h][KUBEADM_CONFIG][5]))[2:] for h in CONTROL_PLANE]
    assert cp_docs[0] == cp_docs[1]

    left = lab.ssh(
        WORKER,
        "ls -d /etc/kubernetes/kubeadm /etc/kubernetes/encryption /etc/kubernetes/audit "
        "2>/dev/null; grep -rl kubesmith-1 /etc 2>/dev/null",
    ).stdout.split()
    assert left == [], f"on the worker: {left}"

    # 2. again: nothing changes
    second, out2 = run("second")
    assert all(s["changed"] == 0 for s in second.values()), second
    assert key not in out2
    assert {h: host_files(lab, h) for h in CONTROL_PLANE} == files, "the second run changed a host file"

    # 3. a controller without the key file takes it back from kf1, never makes a new one
    key_file.unlink()
    third, out3 = run("key taken back")
    assert key not in out3, "the encryption key is in ansible-playbook's output"
    assert key_file.is_file(), "the key file was not written back"
    assert key_file.read_text().strip() == key, "a new key was generated instead of kf1's"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600", oct(key_file.stat().st_mode)
    # only the controller's key file changed (reported on the run_once host, kf1)
    assert (third["kf1"]["changed"], third["kf2"]["changed"], third[WORKER]["changed"]) == (1, 0, 0), third
    assert {h: host_files(lab, h) for h in CONTROL_PLANE} == files, "taking the key back changed a host file"

    body, total = time.monotonic() - t_start, time.monotonic() - lab.started
    print(
        "runs: "
        + ", ".join(f"{n} {t:.1f}s" for n, t in times.items())
        + f"; test body {body:.1f}s, with lab up {total:.1f}s"
    )
    assert all(t < RUN_BOUND for t in times.values()), times
    assert total < TOTAL_BOUND - 30, f"the test took {total:.1f}s with the lab's boot (bound: {TOTAL_BOUND}s)"
