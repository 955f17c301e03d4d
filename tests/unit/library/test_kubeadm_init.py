"""library/kubeadm_init.py through the harness, fed with kubeadm outputs from tests/unit/fixtures/kubeadm/;
the host's files live in a temporary /etc/kubernetes, every argv is asserted."""

import json
import os
import stat
from pathlib import Path

import kubeadm_init
import pytest
import yaml
from fixtures.kubeadm.outputs import CA_CERT, CA_HASH, CERTIFICATE_KEY, TOKEN, load
from fixtures.kubeadm.outputs import INIT_CONFIG as CONFIG
from module_harness import TIMEOUT, bounded, fake_bin_paths

KUBEADM, KUBECTL = "/usr/bin/kubeadm", "/usr/bin/kubectl"


class Host:
    """/etc/kubernetes of the host, under tmp_path."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "kubernetes"
        (self.dir / "manifests").mkdir(parents=True)
        (self.dir / "pki").mkdir()
        self.admin = self.dir / "admin.conf"
        self.manifest = self.dir / "manifests" / "kube-apiserver.yaml"
        self.kubelet = self.dir / "kubelet.conf"
        self.ca = self.dir / "pki" / "ca.crt"
        self.config = tmp_path / "kubeadm-config.yaml"
        self.config.write_text(CONFIG)
        self.tmpdir = tmp_path / "module-tmp"
        self.tmpdir.mkdir()

    def initialize(self, server="10.0.0.10:6443"):
        """What kubeadm init leaves behind."""
        self.admin.write_text(
            f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0t\n    server: https://{server}\n"
            "  name: kubesmith\nkind: Config\n"
        )
        self.manifest.write_text("apiVersion: v1\nkind: Pod\n")
        self.kubelet.write_text("apiVersion: v1\nkind: Config\n")
        self.ca.write_text(CA_CERT.read_text())

    def leftovers(self):
        return sorted(os.listdir(self.tmpdir))


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture(autouse=True)
def binaries(monkeypatch):
    return fake_bin_paths(monkeypatch, {"kubeadm": KUBEADM, "kubectl": KUBECTL, "timeout": TIMEOUT})


def args(host, **extra):
    return {
        "config": str(host.config),
        "admin_kubeconfig": str(host.admin),
        "_ansible_tmpdir": str(host.tmpdir),
        **extra,
    }


def run(harness, module_args, results, failed=False, check=False):
    return harness.run_module(kubeadm_init.main, module_args, results, failed=failed, check=check)


def without_secrets(result):
    """The result as JSON, minus the two values that are secrets by contract."""
    return json.dumps({k: v for k, v in result.items() if k not in ("token", "certificate_key")})


def kubeadm_init_writes(host, name, server="10.0.0.10:6443", seen=None):
    """kubeadm init: leaves the cluster's files and prints the fixture (with the key of the config it got)."""

    def run(argv):
        config_path = argv[argv.index("--config") + 1]
        if seen is not None:
            seen["argv"] = argv
            seen["mode"] = stat.S_IMODE(os.stat(config_path).st_mode)
            seen["config"] = Path(config_path).read_text()
        host.initialize(server)
        output = load(name)
        stdout = output.stdout
        if seen is not None and "--upload-certs" in argv:
            key = yaml.safe_load(seen["config"].split("---")[0])["certificateKey"]
            stdout = stdout.replace(CERTIFICATE_KEY, key)
        return output.rc, stdout, output.stderr

    return run


READYZ = [KUBECTL, "--kubeconfig", "{admin}", "--request-timeout=10s", "get", "--raw=/readyz"]


def readyz(host):
    return bounded(30, *[a.format(admin=host.admin) for a in READYZ])


# --- a fresh host ------------------------------------------------------------------------------


def test_fresh_host_is_initialized(module_harness, host):
    result, rc = run(module_harness, args(host), [kubeadm_init_writes(host, "init_single", "10.0.0.11:6443")])

    assert rc.calls == [bounded(600, KUBEADM, "init", "--config", str(host.config))]
    assert result["changed"] is True
    assert result["initialized"] is True
    assert result["join_endpoint"] == "10.0.0.11:6443"
    assert result["ca_cert_hash"] == CA_HASH
    assert result["token"] == TOKEN
    assert result["certificate_key"] == ""
    assert "[bootstrap-token] Using token: 7x2kq9.<redacted>" in result["stdout_lines"]
    assert "Your Kubernetes control-plane has initialized successfully!" in result["stdout_lines"]
    assert TOKEN not in without_secrets(result)


def test_rerun_after_init_changes_nothing(module_harness, host):
    run(module_harness, args(host), [kubeadm_init_writes(host, "init_single")])
    result, rc = run(module_harness, args(host), [load("readyz_ok").result()])

    assert rc.calls == [readyz(host)]
    assert result == {
        "changed": False,
        "initialized": False,
        "join_endpoint": "10.0.0.10:6443",
        "ca_cert_hash": CA_HASH,
        "token": "",
        "certificate_key": "",
        "stdout_lines": [],
    }


def test_upload_certs_with_a_given_key_goes_through_a_private_copy_of_the_config(module_harness, host):
    seen = {}
    result, rc = run(
        module_harness,
        args(host, upload_certs=True, certificate_key=CERTIFICATE_KEY),
        [kubeadm_init_writes(host, "init_upload_certs", seen=seen)],
    )

    private = seen["argv"][seen["argv"].index("--config") + 1]
    assert rc.calls == [bounded(600, KUBEADM, "init", "--config", private, "--upload-certs")]
    assert os.path.dirname(private) == str(host.tmpdir)
    assert private != str(host.config)
    assert seen["mode"] == 0o600
    docs = list(yaml.safe_load_all(seen["config"]))
    assert docs[0] == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "InitConfiguration",
        "nodeRegistration": {"name": "cp1"},
        "certificateKey": CERTIFICATE_KEY,
    }
    assert docs[1]["controlPlaneEndpoint"] == "10.0.0.10:6443"
    assert host.leftovers() == []  # the copy with the key is gone
    assert host.config.read_text() == CONFIG  # the user's config is untouched
    assert result["certificate_key"] == CERTIFICATE_KEY
    assert result["token"] == TOKEN
    assert result["join_endpoint"] == "10.0.0.10:6443"
    assert result["ca_cert_hash"] == CA_HASH
    assert "--control-plane --certificate-key <redacted>" in "\n".join(result["stdout_lines"])
    blob = without_secrets(result)
    assert TOKEN not in blob
    assert CERTIFICATE_KEY not in blob


def test_upload_certs_generates_a_key_when_none_is_given(module_harness, host, warnings):
    seen = {}
    result, _rc = run(
        module_harness, args(host, upload_certs=True), [kubeadm_init_writes(host, "init_upload_certs", seen=seen)]
    )

    key = yaml.safe_load(seen["config"].split("---")[0])["certificateKey"]
    assert len(key) == 64
    assert key != CERTIFICATE_KEY
    assert int(key, 16) >= 0
    assert result["certificate_key"] == key
    assert key not in without_secrets(result)
    assert warnings == []


def test_upload_certs_uses_the_key_in_the_config(module_harness, host):
    host.config.write_text(
        CONFIG.replace("kind: InitConfiguration\n", f"kind: InitConfiguration\ncertificateKey: {CERTIFICATE_KEY}\n")
    )
    seen = {}
    result, _rc = run(
        module_harness, args(host, upload_certs=True), [kubeadm_init_writes(host, "init_upload_certs", seen=seen)]
    )
    assert result["certificate_key"] == CERTIFICATE_KEY
    assert seen["config"].count("certificateKey") == 1


def test_certificate_key_differing_from_the_configs_fails(module_harness, host):
    host.config.write_text(
        CONFIG.replace("kind: InitConfiguration\n", f"kind: InitConfiguration\ncertificateKey: {'0' * 64}\n")
    )
    result, rc = run(module_harness, args(host, upload_certs=True, certificate_key=CERTIFICATE_KEY), [], failed=True)
    assert rc.calls == []
    assert (
        result["msg"] == f"certificate_key differs from the certificateKey in {host.config}: give one of them, not both"
    )
    assert CERTIFICATE_KEY not in json.dumps(result)


def test_skip_phases_and_ignored_preflight_errors_are_passed(module_harness, host):
    _result, rc = run(
        module_harness,
        args(
            host,
            skip_phases=["addon/kube-proxy", "show-join-command"],
            ignore_preflight_errors=["NumCPU", "Mem"],
            timeout=900,
        ),
        [kubeadm_init_writes(host, "init_single")],
    )
    assert rc.calls == [
        bounded(
            900,
            KUBEADM,
            "init",
            "--config",
            str(host.config),
            "--skip-phases=addon/kube-proxy,show-join-command",
            "--ignore-preflight-errors=NumCPU,Mem",
        )
    ]


def test_check_mode_on_a_fresh_host_runs_nothing(module_harness, host):
    result, rc = run(module_harness, args(host, upload_certs=True), [], check=True)
    assert rc.calls == []
    assert result["changed"] is True
    assert result["initialized"] is True
    assert (result["token"], result["certificate_key"], result["join_endpoint"], result["ca_cert_hash"]) == (
        "",
        "",
        "",
        "",
    )
    assert not host.admin.exists()
    assert host.leftovers() == []


def test_check_mode_warns_when_the_config_is_not_rendered_yet(module_harness, host, warnings):
    host.config.unlink()
    result, _rc = run(module_harness, args(host), [], check=True)
    assert result["changed"] is True
    assert warnings == [f"config {host.config} does not exist (yet): a real run needs it"]


# --- an existing control plane -------------------------------------------------------------------


def test_existing_control_plane_reuploads_certificates(module_harness, host):
    host.initialize()
    seen = {}

    def upload(argv):
        path = argv[argv.index("--config") + 1]
        seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
        seen["key"] = yaml.safe_load(Path(path).read_text().split("---")[0])["certificateKey"]
        return load("upload_certs").result()

    result, rc = run(
        module_harness,
        args(host, upload_certs=True, certificate_key=CERTIFICATE_KEY),
        [load("readyz_ok").result(), upload],
    )

    private = rc.calls[1][-1]
    assert rc.calls == [
        readyz(host),
        bounded(600, KUBEADM, "init", "phase", "upload-certs", "--upload-certs", "--config", private),
    ]
    assert seen == {"mode": 0o600, "key": CERTIFICATE_KEY}
    assert host.leftovers() == []
    assert result["changed"] is True
    assert result["initialized"] is False
    assert result["certificate_key"] == CERTIFICATE_KEY
    assert result["token"] == ""
    assert result["stdout_lines"][-1] == "<redacted>"
    assert CERTIFICATE_KEY not in without_secrets(result)


def test_existing_control_plane_check_mode_only_asks_readyz(module_harness, host):
    host.initialize()
    result, rc = run(module_harness, args(host, upload_certs=True), [load("readyz_ok").result()], check=True)
    assert rc.calls == [readyz(host)]
    assert result["changed"] is True
    assert result["certificate_key"] == ""
    assert result["ca_cert_hash"] == CA_HASH


def test_failed_upload_deletes_the_private_config(module_harness, host):
    host.initialize()
    result, _rc = run(
        module_harness,
        args(host, upload_certs=True, certificate_key=CERTIFICATE_KEY),
        [
            load("readyz_ok").result(),
            (1, "", f"error execution phase upload-certs: error uploading certs: key {CERTIFICATE_KEY}\n"),
        ],
        failed=True,
    )
    assert result["msg"].startswith(
        "kubeadm init phase upload-certs failed: rc 1: error execution phase upload-certs: "
    )
    assert host.leftovers() == []
    assert CERTIFICATE_KEY not in json.dumps(result)


def test_unhealthy_control_plane_is_never_reinitialized(module_harness, host):
    host.initialize()
    result, rc = run(module_harness, args(host), [load("readyz_refused").result()], failed=True)
    assert rc.calls == [readyz(host)]
    assert result["msg"] == (
        f"a control plane exists on this host ({host.admin} and {host.manifest}) but its API server does not answer "
        "/readyz (The connection to the server 10.0.0.10:6443 was refused - did you specify the right host or port?); "
        "kubesmith never initializes a host twice. Look at 'crictl ps -a | grep -e kube-apiserver -e etcd', "
        "'crictl logs <container>' and 'journalctl -u kubelet' on this host, and at etcd; run again once the API "
        "server answers"
    )


def test_readyz_timing_out_is_reported(module_harness, host):
    host.initialize()
    result, _rc = run(module_harness, args(host, timeout=20), [(124, "", "")], failed=True)
    assert "does not answer /readyz (timed out)" in result["msg"]


# --- half-initialized hosts ----------------------------------------------------------------------


def test_manifest_without_admin_conf_asks_for_a_reset(module_harness, host):
    host.manifest.write_text("kind: Pod\n")
    result, rc = run(module_harness, args(host), [], failed=True)
    assert rc.calls == []
    assert result["msg"] == (
        f"this host is half-initialized ({host.manifest} exist(s), {host.admin} missing): kubeadm init would fail on "
        "the leftovers and kubesmith does not guess; "
        "reset this host (module kubeadm_reset, playbook reset) and run again"
    )


def test_a_joined_node_is_not_initialized(module_harness, host):
    host.kubelet.write_text("kind: Config\n")
    result, rc = run(module_harness, args(host), [], failed=True)
    assert rc.calls == []
    assert result["msg"].startswith(f"this host already joined a cluster as a node ({host.kubelet} exists)")


# --- kubeadm init fails --------------------------------------------------------------------------


def test_preflight_failure_names_the_checks_and_the_reset(module_harness, host):
    result, _rc = run(
        module_harness,
        args(host, upload_certs=True, certificate_key=CERTIFICATE_KEY),
        [load("init_preflight_in_use").result()],
        failed=True,
    )
    assert result["msg"].startswith(
        "kubeadm init failed: rc 1: error execution phase preflight: [preflight] Some fatal errors occurred: "
        "[ERROR Port-6443]: Port 6443 is in use; "
    )
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]" in result["msg"]
    assert result["msg"].endswith(
        "another control plane, or what is left of one, holds the ports or files: if this host may be wiped, "
        "reset this host (module kubeadm_reset, playbook reset) and run again"
    )
    assert result["rc"] == 1
    assert result["initialized"] is False
    assert result["stdout_lines"] == [
        "[init] Using Kubernetes version: v1.31.4",
        "[preflight] Running pre-flight checks",
    ]
    assert host.leftovers() == []
    assert CERTIFICATE_KEY not in json.dumps(result)


def test_control_plane_that_never_comes_up_points_at_the_kubelet(module_harness, host):
    result, _rc = run(module_harness, args(host), [load("init_wait_control_plane").result()], failed=True)
    assert result["msg"].startswith(
        "kubeadm init failed: rc 1: "
        "error execution phase wait-control-plane: could not initialize a Kubernetes cluster. "
        "the kubelet did not bring the control plane up: see 'journalctl -xeu kubelet'"
    )
    assert "half-initialized" in result["msg"]
    assert "[kubelet-check] The kubelet is not healthy after 4m0.000782489s" in result["stdout_lines"]


def test_init_timing_out(module_harness, host):
    result, _rc = run(
        module_harness, args(host, timeout=60), [(124, load("init_single").stdout[:200], "")], failed=True
    )
    assert result["msg"].startswith("kubeadm init failed: timed out after 60 s (option timeout). kubeadm may have left")


def test_other_failure_redacts_the_token(module_harness, host):
    output = (
        1,
        f"[bootstrap-token] Using token: {TOKEN}\n",
        "error execution phase bootstrap-token: something broke\n",
    )
    result, _rc = run(module_harness, args(host), [output], failed=True)
    assert result["msg"].startswith(
        "kubeadm init failed: rc 1: error execution phase bootstrap-token: something broke. fix"
    )
    assert TOKEN not in json.dumps(result)


def test_missing_ca_after_init_fails(module_harness, host):
    def init(argv):
        host.initialize()
        host.ca.unlink()
        return load("init_single").result()

    result, _rc = run(module_harness, args(host), [init], failed=True)
    assert result["msg"].startswith(f"cannot read the cluster CA {host.ca} (No such file or directory)")
    assert TOKEN not in json.dumps(result)


# --- arguments and binaries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"certificate_key": "not-hex-" + "a" * 56}, "certificate_key: must be 64 lowercase hex digits"),
        ({"ignore_preflight_errors": ["NumCPU", "All"]}, "ignore_preflight_errors: 'all' hides real failures"),
        ({"timeout": 0}, "timeout: must be a positive number of seconds, got 0"),
    ],
)
def test_bad_arguments(module_harness, host, extra, message):
    result, rc = run(module_harness, args(host, **extra), [], failed=True)
    assert result["msg"].startswith(message)
    assert rc.calls == []
    assert "not-hex-" not in json.dumps(result)


def test_missing_config_fails(module_harness, host):
    host.config.unlink()
    result, _rc = run(module_harness, args(host), [], failed=True)
    assert (
        result["msg"]
        == f"config: cannot read {host.config} (No such file or directory); render it first (role kubeadm)"
    )


def test_missing_kubeadm_names_the_option(module_harness, host, monkeypatch):
    fake_bin_paths(monkeypatch, {"timeout": TIMEOUT})
    result, _rc = run(module_harness, args(host), [], failed=True)
    assert "kubeadm was not found in the PATH on this host" in result["msg"]
    assert "kubeadm_path" in result["msg"]


def test_kubeadm_path_option_is_used(module_harness, host, tmp_path):
    exe = tmp_path / "kubeadm-1.31.4"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    _result, rc = run(module_harness, args(host, kubeadm_path=str(exe)), [kubeadm_init_writes(host, "init_single")])
    assert rc.calls[0][3] == str(exe)
