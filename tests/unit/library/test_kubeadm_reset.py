"""library/kubeadm_reset.py through the harness, fed with the kubeadm/iptables-save/ip/nft/ipvsadm outputs in
tests/unit/fixtures/kubeadm_ops/ (see README.md there); every argv is asserted, and what iptables-restore
is given is compared with the user's rules, line for line. The host's files live under tmp_path
(kubeadm_reset.ROOT)."""

from pathlib import Path

import kubeadm_reset
import pytest
from module_harness import TIMEOUT, bounded, fake_bin_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeadm_ops"
KUBEADM, IP, NFT, IPVSADM, UMOUNT = (
    "/usr/bin/kubeadm",
    "/usr/sbin/ip",
    "/usr/sbin/nft",
    "/usr/sbin/ipvsadm",
    "/usr/bin/umount",
)
SOCKET = "unix:///run/containerd/containerd.sock"
POD = "/var/lib/kubelet/pods/5c1f0b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f"


def fixture(name):
    return (FIXTURES / name).read_text()


def t(*argv, seconds=60):
    return bounded(seconds, *argv)


def tool(name):
    return f"/usr/sbin/{name}"


BASE_BINS = {"kubeadm": KUBEADM, "timeout": TIMEOUT, "ip": IP, "nft": NFT, "ipvsadm": IPVSADM, "umount": UMOUNT}
NFT_VARIANT = {
    name: tool(name)
    for name in (
        "iptables-nft-save",
        "iptables-nft-restore",
        "ip6tables-nft-save",
        "ip6tables-nft-restore",
    )
}
LEGACY_VARIANT = {
    name: tool(name)
    for name in (
        "iptables-legacy-save",
        "iptables-legacy-restore",
        "ip6tables-legacy-save",
        "ip6tables-legacy-restore",
    )
}


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    fake_bin_paths(monkeypatch, {**BASE_BINS, **NFT_VARIANT})
    monkeypatch.setattr(kubeadm_reset, "ROOT", str(tmp_path))
    return tmp_path


def put(root, path, text="x\n"):
    real = root / path.lstrip("/")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text(text)
    return real


def exists(root, path):
    return (root / path.lstrip("/")).exists()


CONTROL_PLANE_FILES = (
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/pki/etcd/ca.crt",
    "/var/lib/kubelet/config.yaml",
    f"{POD}/volumes/kubernetes.io~projected/kube-api-access-9x2kq/token",
    "/var/lib/etcd/member/snap/db",
    "/etc/cni/net.d/10-flannel.conflist",
    "/var/lib/cni/networks/cbr0/last_reserved_ip.0",
    "/run/flannel/subnet.env",
    "/root/.kube/config",
)

# what a flannel control plane has left, in the order the module reports it
CONTROL_PLANE_LEFTOVERS = [
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/pki/etcd",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/pods",
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/etcd/member",
    "/etc/cni/net.d/10-flannel.conflist",
    "/var/lib/cni/networks",
    "/run/flannel/subnet.env",
    "/root/.kube/config",
    "link flannel.1",
    "link cni0",
    "link kube-ipvs0",
    "iptables-nft table filter: 9 chains, 18 rules",
    "iptables-nft table mangle: 3 chains, 0 rules",
    "iptables-nft table nat: 16 chains, 35 rules",
    "ip6tables-nft table filter: 2 chains, 2 rules",
    "ip6tables-nft table mangle: 3 chains, 0 rules",
    "nft table ip kube-proxy",
    "nft table ip6 kube-proxy",
    "ipvs: 3 virtual servers",
]

DIFF = {
    "before_header": "Kubernetes leftovers",
    "after_header": "Kubernetes leftovers",
    "before": "\n".join(CONTROL_PLANE_LEFTOVERS) + "\n",
    "after": "",
}

SCAN = [
    t(IP, "-o", "link", "show"),
    t(tool("iptables-nft-save")),
    t(tool("ip6tables-nft-save")),
    t(NFT, "list", "tables"),
    t(IPVSADM, "--save", "-n"),
]


def flannel_reads():
    return [
        (0, fixture("ip_link_flannel.txt"), ""),
        (0, fixture("iptables_nft_save_flannel.txt"), ""),
        (0, fixture("ip6tables_nft_save_flannel.txt"), ""),
        (0, fixture("nft_list_tables.txt"), ""),
        (0, fixture("ipvsadm_save.txt"), ""),
    ]


def clean_reads():
    return [
        (0, fixture("ip_link_clean.txt"), ""),
        (0, fixture("iptables_save_clean.txt"), ""),
        (0, "", ""),
        (0, fixture("nft_list_tables_clean.txt"), ""),
        (0, "", ""),
    ]


FLANNEL_REMOVAL = [
    t(IP, "link", "delete", "flannel.1"),
    t(IP, "link", "delete", "cni0"),
    t(IP, "link", "delete", "kube-ipvs0"),
    t(tool("iptables-nft-restore")),
    t(tool("ip6tables-nft-restore")),
    t(NFT, "delete", "table", "ip", "kube-proxy"),
    t(NFT, "delete", "table", "ip6", "kube-proxy"),
    t(IPVSADM, "--clear"),
]
OK = (0, "", "")


def run(harness, module_args, results, failed=False, check=False, diff=False):
    return harness.run_module(kubeadm_reset.main, module_args, results, failed=failed, check=check, diff=diff)


def control_plane(root):
    for path in CONTROL_PLANE_FILES:
        put(root, path)


# --- a whole control plane ---------------------------------------------------------------------


def test_reset_removes_everything_and_restores_the_users_rules(module_harness, host):
    control_plane(host)
    put(host, "/etc/ssh/sshd_config")  # not ours
    reset_output = (0, fixture("reset_force_1.31.txt"), "")
    results = [*flannel_reads(), reset_output, *flannel_reads(), *[OK] * len(FLANNEL_REMOVAL)]

    result, rc = run(module_harness, {}, results, diff=True)

    assert rc.calls == [
        *SCAN,
        t(KUBEADM, "reset", "--force", f"--cri-socket={SOCKET}", seconds=300),
        *SCAN,
        *FLANNEL_REMOVAL,
    ]
    restore_v4, restore_v6 = rc.kwargs[14]["data"], rc.kwargs[15]["data"]
    assert restore_v4 == fixture("iptables_nft_save_flannel_kept.txt")
    assert restore_v6 == fixture("ip6tables_nft_save_flannel_kept.txt")
    assert result["changed"] is True
    assert result["removed"] == CONTROL_PLANE_LEFTOVERS
    assert result["diff"] == DIFF
    assert result["stdout_lines"][5].startswith("[reset] Deleting contents of directories:")
    for path in CONTROL_PLANE_FILES:
        assert not exists(host, path), path
    for directory in ("/etc/kubernetes/manifests", "/var/lib/kubelet", "/etc/cni/net.d", "/var/lib/etcd"):
        assert exists(host, directory), f"{directory} itself stays"
    assert exists(host, "/etc/ssh/sshd_config")


def test_reset_check_mode_finds_everything_and_removes_nothing(module_harness, host):
    control_plane(host)
    result, rc = run(module_harness, {}, flannel_reads(), check=True, diff=True)
    assert rc.calls == SCAN
    assert result["changed"] is True
    assert result["removed"] == CONTROL_PLANE_LEFTOVERS
    assert result["diff"] == DIFF
    assert result["stdout_lines"] == []
    for path in CONTROL_PLANE_FILES:
        assert exists(host, path), path


def test_reset_of_a_clean_host_changes_nothing(module_harness, host):
    put(host, "/etc/kubernetes/.keep")  # the directories may stay, empty
    (host / "etc" / "kubernetes" / ".keep").unlink()
    result, rc = run(module_harness, {}, clean_reads(), diff=True)
    assert rc.calls == SCAN
    assert result["changed"] is False
    assert result["removed"] == []
    assert result["diff"] == {**DIFF, "before": ""}


# --- without kubeadm: the module unmounts and removes on its own -------------------------------


def test_without_kubeadm_mounts_are_unmounted_before_removal(module_harness, host, monkeypatch):
    fake_bin_paths(monkeypatch, {**BASE_BINS, "kubeadm": None, **NFT_VARIANT})
    put(host, "/etc/kubernetes/kubelet.conf")
    put(host, f"{POD}/volumes/kubernetes.io~projected/kube-api-access-9x2kq/token")
    put(host, kubeadm_reset.MOUNTINFO, fixture("mountinfo.txt"))
    result, rc = run(
        module_harness,
        {"clean_iptables": False, "clean_ipvs": False},
        [(0, fixture("ip_link_clean.txt"), ""), OK, OK],
    )
    assert rc.calls == [
        t(IP, "-o", "link", "show"),
        t(UMOUNT, f"{POD}/volume-subpaths/data/app/0"),
        t(UMOUNT, f"{POD}/volumes/kubernetes.io~projected/kube-api-access-9x2kq"),
    ]
    assert result["removed"] == ["/var/lib/kubelet/pods", "/etc/kubernetes/kubelet.conf"]
    assert not exists(host, "/var/lib/kubelet/pods")
    assert result["stdout_lines"] == []


def test_stacked_mounts_are_unmounted_once_each(module_harness, host, monkeypatch):
    # a tmpfs over a hostPath bind mount at one point: umount runs twice, or the removal of the pod
    # directory would delete the bind mount's source through the mount left below the tmpfs
    fake_bin_paths(monkeypatch, {**BASE_BINS, "kubeadm": None})
    point = f"{POD}/volumes/kubernetes.io~host-path/data"
    put(host, f"{point}/x")
    put(
        host,
        kubeadm_reset.MOUNTINFO,
        f"240 22 254:1 /srv/keep {point} rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
        f"245 240 0:59 / {point} rw,relatime shared:131 - tmpfs tmpfs rw\n",
    )
    result, rc = run(
        module_harness,
        {"clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [OK, OK],
    )
    assert rc.calls == [t(UMOUNT, point), t(UMOUNT, point)]
    assert result["removed"] == ["/var/lib/kubelet/pods"]
    assert not exists(host, "/var/lib/kubelet/pods")


def test_a_failing_umount_stops_before_removing(module_harness, host, monkeypatch):
    fake_bin_paths(monkeypatch, {**BASE_BINS, "kubeadm": None})
    put(host, f"{POD}/volumes/kubernetes.io~projected/kube-api-access-9x2kq/token")
    put(host, kubeadm_reset.MOUNTINFO, fixture("mountinfo.txt"))
    result, _ = run(
        module_harness,
        {"clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [(32, "", "umount: target is busy.\n")],
        failed=True,
    )
    assert result["msg"] == f"umount {POD}/volume-subpaths/data/app/0 failed (rc=32): umount: target is busy."
    assert exists(host, f"{POD}/volumes/kubernetes.io~projected/kube-api-access-9x2kq/token")


# --- the external etcd's data is never touched -------------------------------------------------


def test_external_etcd_data_is_kept_and_kubeadm_skips_remove_etcd_member(module_harness, host, warnings):
    put(host, "/etc/kubernetes/manifests/etcd.yaml")
    put(host, "/var/lib/etcd/member/snap/db")
    put(host, "/var/lib/etcd/kubesmith/member/snap/db")
    result, rc = run(
        module_harness,
        {"clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [(0, fixture("reset_force_1.31.txt"), "")],
    )
    assert rc.calls == [
        t(KUBEADM, "reset", "--force", f"--cri-socket={SOCKET}", "--skip-phases=remove-etcd-member", seconds=300)
    ]
    assert result["removed"] == ["/etc/kubernetes/manifests/etcd.yaml", "/var/lib/etcd/member"]
    assert exists(host, "/var/lib/etcd/kubesmith/member/snap/db")
    assert not exists(host, "/var/lib/etcd/member")
    assert "remove-etcd-member" in warnings[0]


@pytest.mark.parametrize("path", ["/", "/var/lib/etcd", "/var/lib/etcd/kubesmith", "/var/lib/etcd/kubesmith/member"])
def test_extra_paths_that_hold_the_external_etcd_are_refused(module_harness, path):
    result, rc = run(module_harness, {"extra_paths": [path]}, [], failed=True)
    assert rc.calls == []
    assert result["msg"].startswith(f"extra_paths: refusing to remove {path}")


def test_relative_paths_are_refused(module_harness):
    result, _ = run(module_harness, {"kubeconfig_paths": ["kube/config"]}, [], failed=True)
    assert result["msg"] == "kubeconfig_paths: 'kube/config' is not an absolute path"


def test_extra_and_kubeconfig_paths_are_removed_whole(module_harness, host):
    put(host, "/opt/kubesmith/manifests/app.yaml")
    put(host, "/home/ops/.kube/config")
    result, rc = run(
        module_harness,
        {
            "clean_cni": False,
            "clean_iptables": False,
            "clean_ipvs": False,
            "extra_paths": ["/opt/kubesmith/manifests/", "/opt/missing"],
            "kubeconfig_paths": ["/home/ops/.kube/config", "/root/.kube/config"],
        },
        [],
    )
    assert rc.calls == []  # no kubeadm file: no kubeadm reset
    assert result["removed"] == ["/home/ops/.kube/config", "/opt/kubesmith/manifests"]
    assert not exists(host, "/opt/kubesmith/manifests")
    assert exists(host, "/opt/kubesmith")


# --- calico, legacy and nft iptables side by side ----------------------------------------------


def test_calico_host_with_both_iptables_variants(module_harness, host, monkeypatch):
    fake_bin_paths(monkeypatch, {**BASE_BINS, **NFT_VARIANT, **LEGACY_VARIANT})
    put(host, "/etc/cni/net.d/10-calico.conflist")
    put(host, "/etc/cni/net.d/calico-kubeconfig")
    put(host, "/var/lib/calico/nodename")
    result, rc = run(
        module_harness,
        {"clean_ipvs": False},
        [
            (0, fixture("ip_link_calico.txt"), ""),
            (0, fixture("iptables_legacy_save_calico.txt"), ""),
            (0, fixture("iptables_save_clean.txt"), ""),
            (0, "", ""),
            (0, "", ""),
            (0, fixture("nft_list_tables_clean.txt"), ""),
            OK,
            OK,
            OK,
            OK,
            OK,
        ],
    )
    assert rc.calls == [
        t(IP, "-o", "link", "show"),
        t(tool("iptables-legacy-save")),
        t(tool("iptables-nft-save")),
        t(tool("ip6tables-legacy-save")),
        t(tool("ip6tables-nft-save")),
        t(NFT, "list", "tables"),
        t(IP, "link", "delete", "vxlan.calico"),
        t(IP, "link", "delete", "cali7e1f2a3b4c5"),
        t(IP, "link", "delete", "calid41b5e6f7a8"),
        t(IP, "link", "set", "tunl0", "down"),
        t(tool("iptables-legacy-restore")),
    ]
    assert rc.kwargs[-1]["data"] == fixture("iptables_legacy_save_calico_kept.txt")
    assert result["removed"] == [
        "/etc/cni/net.d/10-calico.conflist",
        "/etc/cni/net.d/calico-kubeconfig",
        "/var/lib/calico/nodename",
        "link vxlan.calico",
        "link cali7e1f2a3b4c5",
        "link calid41b5e6f7a8",
        "link tunl0 (down)",
        "iptables-legacy table filter: 7 chains, 13 rules",
        "iptables-legacy table nat: 7 chains, 8 rules",
        "iptables-legacy table raw: 3 chains, 6 rules",
    ]


def test_plain_iptables_save_when_no_variant_is_installed(module_harness, monkeypatch):
    fake_bin_paths(
        monkeypatch,
        {
            **BASE_BINS,
            "iptables-save": "/usr/sbin/iptables-save",
            "iptables-restore": "/usr/sbin/iptables-restore",
        },
    )
    result, rc = run(
        module_harness,
        {"clean_cni": False, "clean_ipvs": False},
        [(0, fixture("iptables_nft_save_flannel.txt"), ""), (0, "", ""), OK],
    )
    assert rc.calls == [t("/usr/sbin/iptables-save"), t(NFT, "list", "tables"), t("/usr/sbin/iptables-restore")]
    assert rc.kwargs[2]["data"] == fixture("iptables_nft_save_flannel_kept.txt")
    assert result["removed"][0] == "iptables table filter: 9 chains, 18 rules"


# --- switches ----------------------------------------------------------------------------------


def test_only_kubeadm_when_everything_else_is_off(module_harness, host):
    put(host, "/etc/kubernetes/kubelet.conf")
    put(host, "/etc/cni/net.d/10-flannel.conflist")
    result, rc = run(
        module_harness,
        {
            "clean_cni": False,
            "clean_iptables": False,
            "clean_ipvs": False,
            "kubeconfig_paths": [],
            "cri_socket": "unix:///run/crio/crio.sock",
            "timeout": 120,
        },
        [(0, fixture("reset_force_1.27.txt"), "")],
    )
    assert rc.calls == [t(KUBEADM, "reset", "--force", "--cri-socket=unix:///run/crio/crio.sock", seconds=120)]
    assert result["removed"] == ["/etc/kubernetes/kubelet.conf"]
    assert exists(host, "/etc/cni/net.d/10-flannel.conflist")
    assert (
        "The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d"
        in (result["stdout_lines"])
    )


# --- failures ----------------------------------------------------------------------------------


def test_kubeadm_reset_failure(module_harness, host):
    put(host, "/etc/kubernetes/kubelet.conf")
    err = (
        "failed to create new CRI runtime service: validate service connection: validate CRI v1 runtime API for "
        'endpoint "unix:///run/containerd/containerd.sock": rpc error: code = Unavailable\n'
    )
    result, _ = run(
        module_harness,
        {"clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [(1, "[preflight] Running pre-flight checks\n", err)],
        failed=True,
    )
    assert result["msg"].startswith("kubeadm reset failed (rc=1): failed to create new CRI runtime service")
    assert exists(host, "/etc/kubernetes/kubelet.conf")


def test_kubeadm_reset_timeout(module_harness, host):
    put(host, "/etc/kubernetes/kubelet.conf")
    result, _ = run(
        module_harness,
        {"clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [(124, "[preflight] Running pre-flight checks\n", "")],
        failed=True,
    )
    assert result["msg"].startswith("kubeadm reset did not finish within timeout=300s")


def test_restore_failure_names_the_tool(module_harness):
    result, _ = run(
        module_harness,
        {"clean_cni": False, "clean_ipvs": False},
        [
            (0, fixture("iptables_nft_save_flannel.txt"), ""),
            (0, "", ""),
            (0, "", ""),
            (1, "", "iptables-nft-restore: line 12 failed\n"),
        ],
        failed=True,
    )
    assert result["msg"] == (
        "iptables-nft-restore of the rules without kube-proxy's and the CNI's failed (rc=1): "
        "iptables-nft-restore: line 12 failed"
    )


def test_missing_tools_and_failing_reads_are_warned_about(module_harness, monkeypatch, warnings):
    fake_bin_paths(monkeypatch, {"timeout": TIMEOUT, "ipvsadm": IPVSADM, "nft": NFT, **NFT_VARIANT})
    result, rc = run(
        module_harness,
        {},
        [
            (1, "", "iptables-nft-save: unable to initialize table 'filter'\n"),
            (0, "", ""),
            (1, "", "Error: Could not process rule: Operation not supported\n"),
            (2, "", "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built...\n"),
        ],
    )
    assert [c[3] for c in rc.calls] == [tool("iptables-nft-save"), tool("ip6tables-nft-save"), NFT, IPVSADM]
    assert result["changed"] is False
    assert warnings == [
        "ip is not installed on this host: CNI network links not checked",
        "iptables-nft-save failed (rc=1), its rules were not checked: "
        "iptables-nft-save: unable to initialize table 'filter'",
        "nft list tables failed (rc=1), nftables not checked: Error: Could not process rule: Operation not supported",
    ]


def test_other_ipvsadm_errors_are_warned_about(module_harness, monkeypatch, warnings):
    fake_bin_paths(monkeypatch, {"timeout": TIMEOUT, "ipvsadm": IPVSADM})
    result, _ = run(module_harness, {}, [(1, "", "Memory allocation problem\n")])
    assert result["removed"] == []
    assert warnings[-1] == "ipvsadm --save failed (rc=1), IPVS not checked: Memory allocation problem"


def test_bad_timeout(module_harness):
    result, _ = run(module_harness, {"timeout": -1}, [], failed=True)
    assert result["msg"] == "timeout: must be more than 0 seconds, got -1"


def test_kubeadm_path_that_does_not_exist(module_harness, tmp_path):
    result, _ = run(module_harness, {"kubeadm_path": str(tmp_path / "nope")}, [], failed=True)
    assert result["msg"] == f"kubeadm_path: {tmp_path / 'nope'} does not exist or is not executable on this host"


def test_kubeadm_path_is_used(module_harness, host):
    binary = host / "opt" / "kubeadm"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    put(host, "/etc/kubernetes/kubelet.conf")
    _, rc = run(
        module_harness,
        {"kubeadm_path": str(binary), "clean_cni": False, "clean_iptables": False, "clean_ipvs": False},
        [OK],
    )
    assert rc.calls[0][3] == str(binary)
