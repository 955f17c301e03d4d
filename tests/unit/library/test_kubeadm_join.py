"""library/kubeadm_join.py through the harness: the host's files in a temporary /etc/kubernetes, kubeadm
outputs from tests/unit/fixtures/kubeadm/, reachability against real loopback sockets."""

import json
import os
import socket
import stat
from pathlib import Path

import kubeadm_join
import pytest
from fixtures.kubeadm.outputs import CA_HASH, CERTIFICATE_KEY, TOKEN, load
from module_harness import TIMEOUT, bounded, fake_bin_paths, free_port

KUBEADM = "/usr/bin/kubeadm"
HERE = socket.gethostname()


class Host:
    def __init__(self, tmp_path):
        self.dir = tmp_path / "kubernetes"
        (self.dir / "manifests").mkdir(parents=True)
        self.kubelet = self.dir / "kubelet.conf"
        self.manifest = self.dir / "manifests" / "kube-apiserver.yaml"
        self.tmpdir = tmp_path / "module-tmp"
        self.tmpdir.mkdir()

    def leftovers(self):
        return sorted(os.listdir(self.tmpdir))


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture(autouse=True)
def binaries(monkeypatch):
    return fake_bin_paths(monkeypatch, {"kubeadm": KUBEADM, "timeout": TIMEOUT})


@pytest.fixture
def closed_port():
    return free_port()


def args(host, endpoint, **extra):
    return {
        "api_endpoint": endpoint,
        "token": TOKEN,
        "ca_cert_hashes": [CA_HASH],
        "kubelet_kubeconfig": str(host.kubelet),
        "_ansible_tmpdir": str(host.tmpdir),
        **extra,
    }


def run(harness, module_args, results, failed=False, check=False):
    return harness.run_module(kubeadm_join.main, module_args, results, failed=failed, check=check)


def kubeadm_join_reads(host, name, seen, writes_kubelet_conf=True):
    """kubeadm join: records the config file it got, writes kubelet.conf when it succeeds."""

    def run(argv):
        path = argv[argv.index("--config") + 1]
        seen["argv"] = argv
        seen["path"] = path
        seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
        seen["config"] = json.loads(Path(path).read_text())
        output = load(name)
        if output.rc == 0 and writes_kubelet_conf:
            host.kubelet.write_text("kind: Config\n")
        return output.result()

    return run


def secret_free(result):
    blob = json.dumps(result)
    return TOKEN not in blob and CERTIFICATE_KEY not in blob


# --- joining -------------------------------------------------------------------------------------


def test_worker_joins_with_a_private_join_configuration(module_harness, host, listener):
    seen = {}
    config = {"nodeRegistration": {"name": "w1", "criSocket": "unix:///run/containerd/containerd.sock"}}
    result, rc = run(
        module_harness, args(host, listener, config=config), [kubeadm_join_reads(host, "join_worker", seen)]
    )

    assert rc.calls == [bounded(300, KUBEADM, "join", "--config", seen["path"])]
    assert os.path.dirname(seen["path"]) == str(host.tmpdir)
    assert seen["mode"] == 0o600
    assert seen["config"] == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"apiServerEndpoint": listener, "caCertHashes": [CA_HASH], "token": TOKEN}},
        "nodeRegistration": {"criSocket": "unix:///run/containerd/containerd.sock", "name": "w1"},
    }
    assert host.leftovers() == []
    assert result["changed"] is True
    assert result["joined"] is True
    assert "This node has joined the cluster:" in result["stdout_lines"]
    assert secret_free(result)


def test_control_plane_host_joins_with_its_certificate_key(module_harness, host, listener):
    seen = {}
    config = {"controlPlane": {"localAPIEndpoint": {"advertiseAddress": "10.0.0.12", "bindPort": 6443}}}
    result, rc = run(
        module_harness,
        args(
            host,
            listener,
            control_plane=True,
            certificate_key=CERTIFICATE_KEY,
            config=config,
            api_version="kubeadm.k8s.io/v1beta3",
            ignore_preflight_errors=["NumCPU"],
            timeout=600,
        ),
        [kubeadm_join_reads(host, "join_control_plane", seen)],
    )

    assert rc.calls == [bounded(600, KUBEADM, "join", "--config", seen["path"], "--ignore-preflight-errors=NumCPU")]
    assert seen["config"]["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert seen["config"]["controlPlane"] == {
        "localAPIEndpoint": {"advertiseAddress": "10.0.0.12", "bindPort": 6443},
        "certificateKey": CERTIFICATE_KEY,
    }
    assert host.leftovers() == []
    assert result["joined"] is True
    assert "This node has joined the cluster and a new control plane instance was created:" in result["stdout_lines"]
    assert secret_free(result)


def test_rerun_after_the_join_changes_nothing_and_needs_no_token(module_harness, host, listener):
    run(module_harness, args(host, listener), [kubeadm_join_reads(host, "join_worker", {})])
    result, rc = run(module_harness, {"api_endpoint": listener, "kubelet_kubeconfig": str(host.kubelet)}, [])
    assert rc.calls == []
    assert result == {"changed": False, "joined": False, "stdout_lines": []}


def test_joined_control_plane_host_is_left_alone_even_when_unreachable(module_harness, host, closed_port):
    host.kubelet.write_text("kind: Config\n")
    host.manifest.write_text("kind: Pod\n")
    result, rc = run(module_harness, args(host, f"127.0.0.1:{closed_port}", control_plane=True), [])
    assert rc.calls == []
    assert result["changed"] is False


def test_check_mode_checks_reachability_and_joins_nothing(module_harness, host, listener):
    result, rc = run(module_harness, args(host, listener), [], check=True)
    assert rc.calls == []
    assert result == {"changed": True, "joined": True, "stdout_lines": []}
    assert host.leftovers() == []
    assert not host.kubelet.exists()


def test_check_mode_still_reports_an_unreachable_endpoint(module_harness, host, closed_port):
    result, _rc = run(module_harness, args(host, f"127.0.0.1:{closed_port}"), [], check=True, failed=True)
    assert "connection refused" in result["msg"]


# --- the API endpoint cannot be reached --------------------------------------------------------


def test_refused_endpoint(module_harness, host, closed_port):
    endpoint = f"127.0.0.1:{closed_port}"
    result, rc = run(module_harness, args(host, endpoint), [], failed=True)
    assert rc.calls == []
    assert result["msg"] == (
        f"cannot reach the API endpoint {endpoint} (host 127.0.0.1, port {closed_port}) from {HERE}: "
        "connection refused: "
        "nothing listens there (the control plane or its load balancer is down, or the port is wrong) or a firewall "
        "rejects the connection. Check the firewall, that api_endpoint is the cluster's address, and that the control "
        "plane is up"
    )
    assert secret_free(result)


def test_endpoint_that_drops_packets_times_out(module_harness, host, dropping_port):
    endpoint = f"127.0.0.1:{dropping_port}"
    result, rc = run(module_harness, args(host, endpoint, reach_timeout=1), [], failed=True)
    assert rc.calls == []
    assert result["msg"] == (
        f"cannot reach the API endpoint {endpoint} (host 127.0.0.1, port {dropping_port}) from {HERE}: timed out after "
        "1 s: a firewall drops the packets, the address is wrong or not routable from here, or the host is down. Check "
        "the firewall, that api_endpoint is the cluster's address, and that the control plane is up"
    )


def test_unresolvable_endpoint(module_harness, host):
    result, _rc = run(module_harness, args(host, "api.name.invalid:6443"), [], failed=True)
    assert result["msg"].startswith(
        f"cannot reach the API endpoint api.name.invalid:6443 (host api.name.invalid, port 6443) from {HERE}: "
    )
    assert "check the address and this host's name resolution and routes" in result["msg"]


# --- kubeadm join fails ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra", "reason", "hint"),
    [
        (
            "join_token_invalid",
            {},
            'could not find a JWS signature in the cluster-info ConfigMap for token ID "7x2kq9"',
            "the bootstrap token is unknown to the cluster or expired: create a fresh one with kubeadm_token",
        ),
        (
            "join_ca_hash_mismatch",
            {},
            "none of the public keys",
            "the cluster's CA does not match ca_cert_hashes",
        ),
        (
            "join_connection_refused",
            {},
            "connect: connection refused",
            "stopped answering during discovery",
        ),
        (
            "join_preflight_leftovers",
            {},
            "error execution phase preflight: [preflight] Some fatal errors occurred: "
            "[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]: /etc/kubernetes/pki/ca.crt already exists; "
            "[ERROR Port-10250]: Port 10250 is in use",
            "leftovers of an earlier join: reset it first (module kubeadm_reset, playbook reset)",
        ),
        (
            "join_certs_expired",
            {"control_plane": True, "certificate_key": CERTIFICATE_KEY},
            'Secret "kubeadm-certs" was not found',
            "upload them again with kubeadm_init (upload_certs: true)",
        ),
    ],
)
def test_kubeadm_join_failures(module_harness, host, listener, name, extra, reason, hint):
    seen = {}
    result, _rc = run(
        module_harness, args(host, listener, **extra), [kubeadm_join_reads(host, name, seen)], failed=True
    )
    assert result["msg"].startswith("kubeadm join failed: rc 1: ")
    assert reason in result["msg"]
    assert hint in result["msg"]
    assert result["rc"] == 1
    assert result["joined"] is False
    assert result["stdout_lines"][0] == "[preflight] Running pre-flight checks"
    assert not os.path.exists(seen["path"])
    assert host.leftovers() == []
    assert secret_free(result)


def test_kubeadm_join_timing_out(module_harness, host, listener):
    result, _rc = run(
        module_harness,
        args(host, listener, timeout=30),
        [(124, "[preflight] Running pre-flight checks\n", "")],
        failed=True,
    )
    assert result["msg"].startswith(
        "kubeadm join failed: timed out after 30 s (option timeout). kubeadm join did not finish in time"
    )
    assert host.leftovers() == []


def test_kubeadm_error_echoing_the_token_is_redacted(module_harness, host, listener):
    output = (1, "", f'error execution phase preflight: invalid bootstrap token "{TOKEN}" for {CERTIFICATE_KEY}\n')
    result, _rc = run(module_harness, args(host, listener), [output], failed=True)
    assert 'invalid bootstrap token "7x2kq9.<redacted>" for <redacted>' in result["msg"]
    assert secret_free(result)


# --- states that need a reset ------------------------------------------------------------------


def test_worker_cannot_become_a_control_plane_host(module_harness, host, listener):
    host.kubelet.write_text("kind: Config\n")
    result, rc = run(
        module_harness, args(host, listener, control_plane=True, certificate_key=CERTIFICATE_KEY), [], failed=True
    )
    assert rc.calls == []
    assert result["msg"] == (
        f"this host joined the cluster as a worker ({host.kubelet} exists, {host.manifest} does not) "
        "and cannot become a control-plane host in place: drain and delete the node, "
        "reset it first (module kubeadm_reset, playbook reset), "
        "then join it with control_plane: true"
    )


def test_manifest_without_kubelet_conf_asks_for_a_reset(module_harness, host, listener):
    host.manifest.write_text("kind: Pod\n")
    result, _rc = run(module_harness, args(host, listener), [], failed=True)
    assert result["msg"] == (
        f"{host.manifest} exists but {host.kubelet} does not: leftovers of an earlier control plane or a failed join; "
        "reset it first (module kubeadm_reset, playbook reset)"
    )


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"token": None}, "token: a bootstrap token is needed to join"),
        ({"token": "7x2kq9-m4vd8r1wz6hy0tne"}, "token: not a bootstrap token"),
        ({"ca_cert_hashes": []}, "ca_cert_hashes: give the CA hash kubeadm_init returns"),
        ({"ca_cert_hashes": [CA_HASH, "sha1:abc"]}, "ca_cert_hashes: sha1:abc not like sha256:<64 hex digits>"),
        ({"control_plane": True}, "certificate_key: required with control_plane: true"),
        ({"certificate_key": "x" * 64}, "certificate_key: must be 64 lowercase hex digits"),
        ({"api_endpoint": "https://10.0.0.10:6443"}, "api_endpoint: 'https://10.0.0.10:6443' is not an API endpoint"),
        ({"config": {"controlPlane": {}}}, "config: config.controlPlane is set, but control_plane is false"),
        ({"ignore_preflight_errors": ["all"]}, "ignore_preflight_errors: 'all' hides real failures"),
        ({"reach_timeout": 0}, "reach_timeout: must be a positive number of seconds, got 0"),
    ],
)
def test_bad_arguments(module_harness, host, listener, extra, message):
    result, rc = run(module_harness, args(host, listener, **extra), [], failed=True)
    assert result["msg"].startswith(message)
    assert rc.calls == []
    assert secret_free(result)


def test_missing_kubeadm_names_the_option(module_harness, host, listener, monkeypatch):
    fake_bin_paths(monkeypatch, {"timeout": TIMEOUT})
    result, _rc = run(module_harness, args(host, listener), [], failed=True)
    assert "kubeadm was not found in the PATH" in result["msg"]
    assert "kubeadm_path" in result["msg"]
    assert host.leftovers() == []
