"""library/kubeadm_upgrade.py through the harness, fed with the kubeadm/kubectl outputs in
tests/unit/fixtures/kubeadm_ops/ (see README.md there); every argv is asserted. The host's files live
under tmp_path (kubeadm_upgrade.ROOT)."""

import os
import stat
from pathlib import Path

import kubeadm_upgrade
import pytest
from module_harness import TIMEOUT, bounded, fake_bin_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeadm_ops"
KUBEADM, KUBECTL = "/usr/bin/kubeadm", "/usr/bin/kubectl"
ADMIN = "/etc/kubernetes/admin.conf"
TOKEN = "abcdef.0123456789abcdef"


def fixture(name):
    return (FIXTURES / name).read_text()


def recorded(name, rc=0):
    """(rc, stdout, stderr) of a fixture; '--- stderr' separates the two streams."""
    out, _, err = fixture(name).partition("--- stderr\n")
    return rc, out, err


def t(*argv, seconds=900):
    return bounded(seconds, *argv)


KUBEADM_VERSION = t(KUBEADM, "version", "-o", "short", seconds=60)
GET_CONFIG = t(
    KUBECTL,
    f"--kubeconfig={ADMIN}",
    "--request-timeout=50s",
    "--namespace=kube-system",
    "get",
    "configmap",
    "kubeadm-config",
    "--output=jsonpath={.data.ClusterConfiguration}",
    seconds=60,
)
CONFIG_1_31 = (0, fixture("kubeadm_config_1.31.txt"), "")
CONFIG_1_32 = (0, fixture("kubeadm_config_1.31.txt").replace("v1.31.4", "v1.32.1"), "")
KUBEADM_1_32 = (0, "v1.32.1\n", "")


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    fake_bin_paths(monkeypatch, {"kubeadm": KUBEADM, "kubectl": KUBECTL, "timeout": TIMEOUT})
    monkeypatch.setattr(kubeadm_upgrade, "ROOT", str(tmp_path))
    return tmp_path


def put(root, path, text):
    real = root / path.lstrip("/")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text(text)
    return real


def apiserver_manifest(root, version):
    return put(
        root,
        kubeadm_upgrade.APISERVER_MANIFEST,
        fixture("kube-apiserver_1.31.txt").replace("kube-apiserver:v1.31.4", f"kube-apiserver:v{version}"),
    )


def run(harness, module_args, results, failed=False, check=False, diff=False):
    return harness.run_module(kubeadm_upgrade.main, module_args, results, failed=failed, check=check, diff=diff)


# --- plan --------------------------------------------------------------------------------------


def test_plan_reads_json_and_changes_nothing(module_harness):
    result, rc = run(
        module_harness, {"action": "plan", "version": "1.32.1"}, [(0, fixture("upgrade_plan_1.32.json"), "")]
    )
    assert rc.calls == [t(KUBEADM, "upgrade", "plan", "v1.32.1", f"--kubeconfig={ADMIN}", "--output=json")]
    assert result["changed"] is False
    assert result["upgraded"] is False
    assert (result["from_version"], result["to_version"]) == ("1.31.4", "1.32.1")
    assert result["plan"]["target_version"] == "v1.32.1"
    assert len(result["plan"]["available_upgrades"][0]["components"]) == 20
    assert "diff" not in result


def test_plan_up_to_date_without_etcd_upgrade(module_harness):
    result, rc = run(
        module_harness,
        {"action": "plan", "version": "v1.32.1", "etcd_upgrade": False, "timeout": 120},
        [(0, "", "")],
    )
    assert rc.calls == [
        t(
            KUBEADM,
            "upgrade",
            "plan",
            "v1.32.1",
            f"--kubeconfig={ADMIN}",
            "--output=json",
            "--etcd-upgrade=false",
            seconds=120,
        )
    ]
    assert result["plan"]["up_to_date"] is True
    assert result["to_version"] == "1.32.1"


def test_plan_without_version_lets_kubeadm_look_it_up_and_reads_text(module_harness):
    result, rc = run(module_harness, {"action": "plan"}, [(0, fixture("upgrade_plan_1.32.txt"), "")])
    assert rc.calls == [t(KUBEADM, "upgrade", "plan", f"--kubeconfig={ADMIN}", "--output=json")]
    assert result["plan"]["format"] == "text"
    assert result["to_version"] == "1.32.1"
    assert result["stdout_lines"][0] == "[preflight] Running pre-flight checks."


def test_plan_runs_in_check_mode_too(module_harness):
    result, rc = run(
        module_harness,
        {"action": "plan", "version": "1.32.1"},
        [(0, fixture("upgrade_plan_1.32.json"), "")],
        check=True,
    )
    assert len(rc.calls) == 1
    assert result["changed"] is False


def test_plan_failure_says_the_cluster_is_unhealthy(module_harness):
    result, _ = run(
        module_harness,
        {"action": "plan", "version": "1.32.1"},
        [recorded("upgrade_apply_unhealthy.txt", rc=1)],
        failed=True,
    )
    assert "kubeadm upgrade plan: the cluster is not healthy" in result["msg"]
    assert "[ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [cp-2]" in result["msg"]
    assert result["rc"] == 1


def test_plan_output_that_is_not_a_plan_fails(module_harness):
    result, _ = run(
        module_harness,
        {"action": "plan", "version": "1.32.1"},
        [(0, '{"kind": "Status", "apiVersion": "v1"}', "")],
        failed=True,
    )
    assert result["msg"].startswith("cannot read kubeadm upgrade plan's output: expected an UpgradePlan")


# --- apply -------------------------------------------------------------------------------------

APPLY = t(KUBEADM, "upgrade", "apply", "v1.32.1", "--yes", f"--kubeconfig={ADMIN}")


def test_apply_upgrades_the_cluster(module_harness):
    result, rc = run(
        module_harness,
        {"action": "apply", "version": "1.32.1"},
        [KUBEADM_1_32, CONFIG_1_31, recorded("upgrade_apply_1.32.txt")],
        diff=True,
    )
    assert rc.calls == [KUBEADM_VERSION, GET_CONFIG, APPLY]
    assert (result["changed"], result["upgraded"]) == (True, True)
    assert (result["from_version"], result["to_version"]) == ("1.31.4", "1.32.1")
    assert result["diff"] == {"before": {"version": "1.31.4"}, "after": {"version": "1.32.1"}}
    assert result["stdout_lines"][-1] == (
        "[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order."
    )
    assert result["plan"] == {}


def test_apply_passes_etcd_and_certificate_switches(module_harness):
    _, rc = run(
        module_harness,
        {
            "action": "apply",
            "version": "1.32.1",
            "etcd_upgrade": False,
            "certificate_renewal": False,
            "admin_kubeconfig": "/root/admin.conf",
            "timeout": 1200,
        },
        [KUBEADM_1_32, CONFIG_1_31, recorded("upgrade_apply_1.32.txt")],
    )
    assert rc.calls[1][4] == "--kubeconfig=/root/admin.conf"
    assert rc.calls[2] == t(
        KUBEADM,
        "upgrade",
        "apply",
        "v1.32.1",
        "--yes",
        "--kubeconfig=/root/admin.conf",
        "--etcd-upgrade=false",
        "--certificate-renewal=false",
        seconds=1200,
    )


def test_apply_is_idempotent(module_harness):
    result, rc = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, CONFIG_1_32], diff=True)
    assert rc.calls == [KUBEADM_VERSION, GET_CONFIG]
    assert (result["changed"], result["upgraded"]) == (False, False)
    assert result["diff"] == {"before": {"version": "1.32.1"}, "after": {"version": "1.32.1"}}


def test_apply_check_mode_reports_the_upgrade_and_runs_nothing(module_harness):
    result, rc = run(
        module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, CONFIG_1_31], check=True, diff=True
    )
    assert rc.calls == [KUBEADM_VERSION, GET_CONFIG]
    assert (result["changed"], result["upgraded"]) == (True, True)
    assert result["diff"]["before"] == {"version": "1.31.4"}
    assert result["stdout_lines"] == []


def test_apply_refuses_a_downgrade(module_harness):
    result, rc = run(
        module_harness, {"action": "apply", "version": "1.31.2"}, [(0, "v1.31.2\n", ""), CONFIG_1_32], failed=True
    )
    assert len(rc.calls) == 2
    assert result["msg"] == (
        "refusing to upgrade: the cluster is at 1.32.1, above the requested 1.31.2: kubeadm does not downgrade; "
        "set kubesmith_kubernetes_version to 1.32.1 or later"
    )


def test_apply_refuses_a_skipped_minor_and_names_the_path(module_harness):
    result, rc = run(
        module_harness,
        {"action": "apply", "version": "1.34.1"},
        [(0, "v1.34.1\n", ""), CONFIG_1_31],
        failed=True,
        check=True,
    )
    assert len(rc.calls) == 2
    assert "skips minor version(s) 1.32, 1.33" in result["msg"]
    assert "like 1.31.4 -> 1.32.x -> 1.33.x -> 1.34.1" in result["msg"]


def test_apply_refuses_with_an_older_kubeadm(module_harness):
    result, rc = run(
        module_harness, {"action": "apply", "version": "1.32.1"}, [(0, "v1.31.4\n", ""), CONFIG_1_31], failed=True
    )
    assert len(rc.calls) == 2
    assert result["msg"].startswith(
        "kubeadm on this host is 1.31.4; upgrading the cluster to 1.32.1 needs kubeadm 1.32.1"
    )


@pytest.mark.parametrize(
    ("fixture_name", "rc", "expected"),
    [
        ("upgrade_apply_unhealthy.txt", 1, "the cluster is not healthy, kubeadm changed nothing"),
        ("upgrade_apply_preflight.txt", 1, "preflight checks failed: [ERROR ImagePull]"),
        ("upgrade_apply_timeout.txt", 1, "kubeadm timed out waiting for a component"),
        ("upgrade_apply_preflight.txt", 124, "did not finish within timeout=900s and was stopped"),
    ],
)
def test_apply_failures_say_what_happened(module_harness, fixture_name, rc, expected):
    result, calls = run(
        module_harness,
        {"action": "apply", "version": "1.32.1"},
        [KUBEADM_1_32, CONFIG_1_31, recorded(fixture_name, rc=rc)],
        failed=True,
    )
    assert calls.calls[-1] == APPLY
    assert result["msg"].startswith("kubeadm upgrade apply v1.32.1")
    assert expected in result["msg"]
    assert (result["rc"], result["cmd"]) == (rc, APPLY)


def test_apply_output_is_redacted(module_harness):
    out = fixture("upgrade_apply_1.32.txt") + f"[bootstrap-token] Using token: {TOKEN}\n"
    result, _ = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, CONFIG_1_31, (0, out, "")])
    assert TOKEN not in "\n".join(result["stdout_lines"])
    assert "[bootstrap-token] Using token: abcdef.<redacted>" in result["stdout_lines"]


def test_apply_reporting_another_version_fails(module_harness):
    out = fixture("upgrade_apply_1.32.txt").replace('upgraded to "v1.32.1"', 'upgraded to "v1.32.0"')
    result, _ = run(
        module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, CONFIG_1_31, (0, out, "")], failed=True
    )
    assert result["msg"] == "kubeadm upgrade apply reported an upgrade to 1.32.0, not 1.32.1"


def test_apply_without_success_line_warns(module_harness, warnings):
    result, _ = run(
        module_harness,
        {"action": "apply", "version": "1.32.1"},
        [KUBEADM_1_32, CONFIG_1_31, (0, "[upgrade] done\n", "")],
    )
    assert result["changed"] is True
    assert warnings == ["kubeadm upgrade apply exited 0 without its SUCCESS line; check its output"]


def test_apply_api_server_down(module_harness):
    err = "The connection to the server 10.0.0.10:6443 was refused - did you specify the right host or port?\n"
    result, _ = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, (1, "", err)], failed=True)
    assert "cannot read the cluster's version from ConfigMap kube-system/kubeadm-config" in result["msg"]
    assert "the API server does not answer" not in result["msg"]  # "refused" without "connection refused"
    assert result["cmd"] == GET_CONFIG


def test_apply_api_server_connection_refused_gets_a_hint(module_harness):
    err = 'Get "https://10.0.0.10:6443/api?timeout=50s": dial tcp 10.0.0.10:6443: connect: connection refused\n'
    result, _ = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, (1, "", err)], failed=True)
    assert "the API server does not answer; is the control plane up" in result["msg"]


def test_apply_configmap_missing(module_harness):
    err = 'Error from server (NotFound): configmaps "kubeadm-config" not found\n'
    result, _ = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32, (1, "", err)], failed=True)
    assert "the cluster has no kubeadm-config ConfigMap" in result["msg"]


def test_apply_configmap_without_version(module_harness):
    result, _ = run(
        module_harness,
        {"action": "apply", "version": "1.32.1"},
        [KUBEADM_1_32, (0, "kind: ClusterConfiguration\n", "")],
        failed=True,
    )
    assert result["msg"] == (
        "ConfigMap kube-system/kubeadm-config: the kubeadm-config ConfigMap has no ClusterConfiguration with a "
        "kubernetesVersion"
    )


def test_apply_unreadable_kubeadm_version(module_harness):
    result, _ = run(module_harness, {"action": "apply", "version": "1.32.1"}, [(0, "garbage\n", "")], failed=True)
    assert result["msg"] == "cannot read the version kubeadm printed: 'garbage'"


def test_apply_kubeadm_version_fails(module_harness):
    result, _ = run(
        module_harness, {"action": "apply", "version": "1.32.1"}, [(126, "", "permission denied\n")], failed=True
    )
    assert result["msg"] == "kubeadm version failed: permission denied"


# --- argument errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["apply", "node"])
def test_version_is_required(module_harness, action):
    result, _ = run(module_harness, {"action": action}, [], failed=True)
    assert "version" in result["msg"]


def test_bad_version(module_harness):
    result, _ = run(module_harness, {"action": "apply", "version": "1.32"}, [], failed=True)
    assert result["msg"] == "version: '1.32' is not a Kubernetes version like 1.32.1 (kubesmith_kubernetes_version)"


def test_bad_timeout(module_harness):
    result, _ = run(module_harness, {"action": "plan", "timeout": 0}, [], failed=True)
    assert result["msg"] == "timeout: must be more than 0 seconds, got 0"


def test_kubeadm_missing(module_harness, monkeypatch):
    fake_bin_paths(monkeypatch, {"timeout": TIMEOUT})
    result, _ = run(module_harness, {"action": "plan"}, [], failed=True)
    assert result["msg"].startswith("kubeadm was not found in the PATH on this host")


def test_kubectl_missing(module_harness, monkeypatch):
    fake_bin_paths(monkeypatch, {"kubeadm": KUBEADM, "timeout": TIMEOUT})
    result, rc = run(module_harness, {"action": "apply", "version": "1.32.1"}, [KUBEADM_1_32], failed=True)
    assert rc.calls == [KUBEADM_VERSION]
    assert result["msg"] == (
        "kubectl was not found in the PATH on this host: install it (role kube_packages) "
        "or give its path in kubectl_path"
    )


def test_kubeadm_path_that_does_not_exist(module_harness, tmp_path):
    result, _ = run(module_harness, {"action": "plan", "kubeadm_path": str(tmp_path / "nope")}, [], failed=True)
    assert result["msg"] == f"kubeadm_path: {tmp_path / 'nope'} does not exist or is not executable"


def test_kubeadm_path_is_used(module_harness, tmp_path):
    binary = tmp_path / "kubeadm"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    _, rc = run(module_harness, {"action": "plan", "kubeadm_path": str(binary)}, [(0, "", "")])
    assert rc.calls[0][3] == str(binary)


# --- node: a worker (state file) ---------------------------------------------------------------

NODE = t(KUBEADM, "upgrade", "node")


def joined(root):
    put(root, kubeadm_upgrade.KUBELET_KUBECONFIG, "apiVersion: v1\nkind: Config\n")


def state(root):
    return root / kubeadm_upgrade.STATE_FILE.lstrip("/")


def test_node_upgrades_a_worker_and_writes_the_state_file(module_harness, host):
    joined(host)
    result, rc = run(
        module_harness, {"action": "node", "version": "1.32.1"}, [recorded("upgrade_node_worker.txt")], diff=True
    )
    assert rc.calls == [NODE]
    assert (result["changed"], result["upgraded"]) == (True, True)
    assert (result["from_version"], result["to_version"]) == (None, "1.32.1")
    assert result["diff"] == {"before": {"version": None}, "after": {"version": "1.32.1"}}
    assert state(host).read_text() == "1.32.1\n"
    assert stat.S_IMODE(os.stat(state(host)).st_mode) == 0o644


def test_node_worker_is_idempotent(module_harness, host):
    joined(host)
    put(host, kubeadm_upgrade.STATE_FILE, "1.32.1\n")
    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [], diff=True)
    assert rc.calls == []
    assert (result["changed"], result["upgraded"]) == (False, False)
    assert result["diff"] == {"before": {"version": "1.32.1"}, "after": {"version": "1.32.1"}}


def test_node_worker_check_mode_writes_nothing(module_harness, host):
    joined(host)
    put(host, kubeadm_upgrade.STATE_FILE, "1.31.4\n")
    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [], check=True, diff=True)
    assert rc.calls == []
    assert result["changed"] is True
    assert result["diff"] == {"before": {"version": "1.31.4"}, "after": {"version": "1.32.1"}}
    assert state(host).read_text() == "1.31.4\n"


def test_node_worker_failure_leaves_the_state_file(module_harness, host):
    joined(host)
    put(host, kubeadm_upgrade.STATE_FILE, "1.31.4\n")
    err = 'couldn\'t create a Kubernetes client from file "/etc/kubernetes/kubelet.conf": permission denied\n'
    result, _ = run(module_harness, {"action": "node", "version": "1.32.1"}, [(1, "", err)], failed=True)
    assert result["msg"].startswith("kubeadm upgrade node failed (rc=1): couldn't create a Kubernetes client")
    assert state(host).read_text() == "1.31.4\n"


def test_node_worker_timeout(module_harness, host):
    joined(host)
    result, _ = run(
        module_harness,
        {"action": "node", "version": "1.32.1", "timeout": 300},
        [(124, fixture("upgrade_node_worker.txt"), "")],
        failed=True,
    )
    assert result["msg"].startswith("kubeadm upgrade node did not finish within timeout=300s")
    assert not state(host).exists()


def test_node_passes_switches(module_harness, host):
    joined(host)
    _, rc = run(
        module_harness,
        {"action": "node", "version": "1.32.1", "etcd_upgrade": False, "certificate_renewal": False},
        [recorded("upgrade_node_worker.txt")],
    )
    assert rc.calls == [t(KUBEADM, "upgrade", "node", "--etcd-upgrade=false", "--certificate-renewal=false")]


def test_node_that_never_joined_fails(module_harness):
    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [], failed=True)
    assert rc.calls == []
    assert result["msg"].startswith("/etc/kubernetes/kubelet.conf does not exist: this host has not joined the cluster")


def test_node_state_file_with_garbage_warns_and_upgrades(module_harness, host, warnings):
    joined(host)
    put(host, kubeadm_upgrade.STATE_FILE, "oops\n")
    _, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [recorded("upgrade_node_worker.txt")])
    assert rc.calls == [NODE]
    assert warnings == [f"{kubeadm_upgrade.STATE_FILE} holds 'oops', not a version: running kubeadm upgrade node"]
    assert state(host).read_text() == "1.32.1\n"


def test_node_worker_above_the_version_refuses(module_harness, host):
    joined(host)
    put(host, kubeadm_upgrade.STATE_FILE, "1.33.0\n")
    result, _ = run(module_harness, {"action": "node", "version": "1.32.1"}, [], failed=True)
    assert result["msg"] == (
        f"this host is at 1.33.0 ({kubeadm_upgrade.STATE_FILE}), above the requested 1.32.1: kubeadm does not downgrade"
    )


# --- node: another control-plane host (apiserver manifest) --------------------------------------


def test_node_upgrades_a_control_plane_host(module_harness, host):
    apiserver_manifest(host, "1.31.4")

    def upgrade_node(argv):
        apiserver_manifest(host, "1.32.1")  # what kubeadm upgrade node does to the manifest
        return recorded("upgrade_node_control_plane.txt")

    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [upgrade_node], diff=True)
    assert rc.calls == [NODE]
    assert result["diff"] == {"before": {"version": "1.31.4"}, "after": {"version": "1.32.1"}}
    assert not state(host).exists()  # a control plane's version is its manifest


def test_node_control_plane_idempotent(module_harness, host):
    apiserver_manifest(host, "1.32.1")
    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [])
    assert rc.calls == []
    assert result["changed"] is False


def test_node_control_plane_check_mode(module_harness, host):
    manifest = apiserver_manifest(host, "1.31.4")
    result, rc = run(module_harness, {"action": "node", "version": "1.32.1"}, [], check=True)
    assert rc.calls == []
    assert (result["changed"], result["from_version"]) == (True, "1.31.4")
    assert "kube-apiserver:v1.31.4" in manifest.read_text()


def test_node_control_plane_before_apply_fails(module_harness, host):
    apiserver_manifest(host, "1.31.4")
    result, _ = run(
        module_harness,
        {"action": "node", "version": "1.32.1"},
        [recorded("upgrade_node_control_plane.txt")],
        failed=True,
    )
    assert result["msg"] == (
        "kubeadm upgrade node finished, but /etc/kubernetes/manifests/kube-apiserver.yaml is at 1.31.4, not 1.32.1: "
        "upgrade the cluster first (action=apply v1.32.1 on the first control-plane host)"
    )


def test_node_control_plane_manifest_without_version(module_harness, host):
    put(
        host,
        kubeadm_upgrade.APISERVER_MANIFEST,
        "spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:dev\n",
    )
    result, _ = run(module_harness, {"action": "node", "version": "1.32.1"}, [], failed=True)
    assert "names no kube-apiserver image with a version tag" in result["msg"]


def test_state_file_write_failure(module_harness, host):
    joined(host)
    (host / "var" / "lib").mkdir(parents=True)
    (host / "var" / "lib" / "kubesmith").write_text("a file where the directory should be")
    result, _ = run(
        module_harness, {"action": "node", "version": "1.32.1"}, [recorded("upgrade_node_worker.txt")], failed=True
    )
    assert result["msg"].startswith(f"kubeadm upgrade node succeeded, but writing {kubeadm_upgrade.STATE_FILE} failed")
