"""module_utils/kubeadm_ops.py on the kubeadm/iptables/ip/nft/ipvsadm outputs in
tests/unit/fixtures/kubeadm_ops/ (README.md there says which are verbatim formats and which reconstructed)."""

from pathlib import Path

import pytest
from ansible.module_utils import kubeadm_ops as ops

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeadm_ops"


def fixture(name):
    return (FIXTURES / name).read_text()


# --- generic helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [("v1.32.1", (1, 32, 1)), ("1.31.4", (1, 31, 4)), (" v1.33.0-rc.1\n", (1, 33, 0)), ("1.30.2+build", (1, 30, 2))],
)
def test_parse_release(text, version):
    assert ops.parse_release(text) == version


@pytest.mark.parametrize("text", ["1.32", "latest", "", "v1.x.1", "Kubernetes v1.32.1"])
def test_parse_release_wants_a_complete_version_and_nothing_else(text):
    with pytest.raises(ValueError, match=r"is not a Kubernetes version like 1\.32\.1"):
        ops.parse_release(text)


def test_last_lines_are_redacted():
    text = "a\n\nkubeadm join --token abcdef.0123456789abcdef\nb\n"
    assert ops.last_lines(text, 2) == "kubeadm join --token abcdef.<redacted>\nb"


# --- upgrade plan ------------------------------------------------------------------------------


def test_plan_json_lists_components_and_config_versions():
    plan = ops.parse_upgrade_plan(fixture("upgrade_plan_1.32.json"))
    assert plan["format"] == "json"
    assert (plan["up_to_date"], plan["current_version"], plan["target_version"]) == (False, "v1.31.4", "v1.32.1")
    (upgrade,) = plan["available_upgrades"]
    assert upgrade["description"] == "version in the v1.31 series"
    names = [(c["name"], c["node"]) for c in upgrade["components"]]
    assert names[:5] == [("kubelet", n) for n in ("cp-1", "cp-2", "cp-3", "w-1", "w-2")]
    assert ("kube-proxy", "") in names
    assert {"name": "etcd", "node": "cp-3", "current": "3.5.15-0", "target": "3.5.16-0"} in upgrade["components"]
    assert [c["group"] for c in plan["config_versions"]] == ["kubeproxy.config.k8s.io", "kubelet.config.k8s.io"]
    assert plan["manual_config_upgrade_required"] == []


def test_plan_text_gives_the_same_table_as_json_without_kubeadm_row():
    text = ops.parse_upgrade_plan(fixture("upgrade_plan_1.32.txt"))
    json_plan = ops.parse_upgrade_plan(fixture("upgrade_plan_1.32.json"))
    assert text["format"] == "text"
    json_rows = [c for c in json_plan["available_upgrades"][0]["components"] if c["name"] != "kubeadm"]
    assert text["available_upgrades"][0]["components"] == json_rows
    assert text["config_versions"] == json_plan["config_versions"]
    assert (text["current_version"], text["target_version"]) == ("v1.31.4", "v1.32.1")


def test_plan_text_with_two_upgrades_keeps_each_kubelet_table_with_its_upgrade():
    plan = ops.parse_upgrade_plan(fixture("upgrade_plan_two_upgrades.txt"))
    patch, minor = plan["available_upgrades"]
    assert (patch["description"], minor["description"]) == ("version in the v1.18 series", "stable version")
    assert patch["components"][0] == {"name": "kubelet", "node": "node1", "current": "v1.18.3", "target": "v1.18.5"}
    assert minor["components"][0] == {"name": "kubelet", "node": "node1", "current": "v1.18.3", "target": "v1.19.0"}
    assert plan["target_version"] == "v1.19.0"
    assert ops.plan_upgrade_for(plan, "1.18.5") is patch
    assert ops.plan_upgrade_for(plan, "1.20.0") is minor


def test_plan_empty_output_means_up_to_date():
    plan = ops.parse_upgrade_plan(fixture("upgrade_plan_up_to_date.json"))
    assert plan["up_to_date"] is True
    assert plan["available_upgrades"] == []


def test_plan_json_after_log_lines_is_found():
    text = "[upgrade/config] Reading configuration {from the cluster}\n" + fixture("upgrade_plan_1.32.json")
    assert ops.parse_upgrade_plan(text)["target_version"] == "v1.32.1"


def test_plan_json_of_another_output_api_is_refused():
    with pytest.raises(ValueError, match="v1alpha3"):
        ops.parse_upgrade_plan('{"kind": "UpgradePlan", "apiVersion": "output.kubeadm.k8s.io/v1alpha2"}')
    with pytest.raises(ValueError, match="expected an UpgradePlan"):
        ops.parse_upgrade_plan('{"kind": "BootstrapToken"}')


def test_plan_text_of_pre_1_20_kubeadm_is_refused():
    with pytest.raises(ValueError, match="too old"):
        ops.parse_upgrade_plan("COMPONENT   CURRENT       AVAILABLE\nkubelet     1 x v1.16.0   v1.16.3\n")


# --- versions ----------------------------------------------------------------------------------


def test_cluster_version_from_kubeadm_config():
    assert ops.cluster_version_from_config(fixture("kubeadm_config_1.31.txt")) == "1.31.4"
    with pytest.raises(ValueError, match="kubernetesVersion"):
        ops.cluster_version_from_config("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n")


def test_image_version_of_the_apiserver_manifest():
    assert ops.image_version(fixture("kube-apiserver_1.31.txt")) == "1.31.4"
    assert ops.image_version("    image: 10.0.0.5:5000/mirror/kube-apiserver:v1.32.1@sha256:abc\n") == "1.32.1"
    assert ops.image_version("    image: registry.k8s.io/etcd:3.5.16-0\n") is None
    assert ops.image_version("    image: registry.k8s.io/kube-apiserver:latest\n") is None


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ((1, 31, 4), (1, 31, 4), None),
        ((1, 31, 4), (1, 31, 6), None),
        ((1, 31, 4), (1, 32, 1), None),
        ((1, 32, 1), (1, 31, 9), "does not downgrade"),
        ((1, 32, 1), (1, 32, 0), "does not downgrade"),
        ((1, 31, 4), (1, 33, 1), "skips minor version(s) 1.32: "),
        ((1, 31, 4), (2, 0, 0), "another major version"),
    ],
)
def test_upgrade_refusal(current, target, message):
    refusal = ops.upgrade_refusal(current, target)
    if message is None:
        assert refusal is None
    else:
        assert message in refusal


def test_upgrade_refusal_names_every_intermediate_minor():
    refusal = ops.upgrade_refusal((1, 31, 4), (1, 34, 2))
    assert "upgrade through 1.32, 1.33 first" in refusal
    assert "1.31.4 -> 1.32.x -> 1.33.x -> 1.34.2" in refusal


def test_upgraded_to_recognizes_old_and_new_success_lines():
    assert ops.upgraded_to(fixture("upgrade_apply_1.32.txt")) == "1.32.1"
    assert ops.upgraded_to(fixture("upgrade_apply_1.30_success.txt")) == "1.30.2"
    assert ops.upgraded_to(fixture("upgrade_apply_timeout.txt")) is None


def split(name):
    text = fixture(name)
    out, _, err = text.partition("--- stderr\n")
    return out, err


@pytest.mark.parametrize(
    ("name", "rc", "expected"),
    [
        (
            "upgrade_apply_unhealthy.txt",
            1,
            "the cluster is not healthy, kubeadm changed nothing: [ERROR ControlPlaneNodesReady]",
        ),
        ("upgrade_apply_preflight.txt", 1, "preflight checks failed: [ERROR ImagePull]: failed to pull image"),
        ("upgrade_apply_timeout.txt", 1, "kubeadm timed out waiting for a component"),
        ("upgrade_apply_too_high.txt", 1, "kubeadm refused the version"),
        ("upgrade_apply_1.32.txt", 124, "did not finish within timeout=900s"),
    ],
)
def test_explain_upgrade_failure(name, rc, expected):
    out, err = split(name)
    assert expected in ops.explain_upgrade_failure("kubeadm upgrade apply v1.32.1", rc, out, err, 900)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            "[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n\t- Specified version "
            'to upgrade to "v1.32.1" is higher than the kubeadm version "v1.31.4". Upgrade kubeadm first\n',
            "the installed kubeadm is older than the target version",
        ),
        (
            "[upgrade/apply] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the "
            "earlier state. Errors faced: failed to obtain static Pod hash for component kube-apiserver\n",
            "could not upgrade the control plane and restored the earlier state",
        ),
        ("something else entirely\n", "kubeadm upgrade node failed (rc=1): something else entirely"),
    ],
)
def test_explain_upgrade_failure_other_cases(err, expected):
    assert expected in ops.explain_upgrade_failure("kubeadm upgrade node", 1, "", err, 900)


# --- reset: iptables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "removed"),
    [
        ("iptables_nft_save_flannel", {"mangle": (3, 0), "filter": (9, 18), "nat": (16, 35)}),
        ("iptables_legacy_save_calico", {"raw": (3, 6), "filter": (7, 13), "nat": (7, 8)}),
        ("ip6tables_nft_save_flannel", {"mangle": (3, 0), "filter": (2, 2)}),
    ],
)
def test_filter_iptables_save_keeps_every_other_line_exactly(name, removed):
    kept, counts = ops.filter_iptables_save(fixture(f"{name}.txt"))
    assert kept == fixture(f"{name}_kept.txt")
    assert counts == removed
    for line in kept.splitlines():
        for owned in ("KUBE-", "cali", "FLANNEL", "CNI-", "flanneld"):
            assert owned not in line


def test_filter_iptables_save_leaves_a_clean_dump_alone():
    text = fixture("iptables_save_clean.txt")
    assert ops.filter_iptables_save(text) == (text, {})


def test_flannel_rules_in_built_in_chains_of_old_flannel_are_removed():
    dump = (
        "*filter\n:FORWARD ACCEPT [0:0]\n"
        '-A FORWARD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT\n'
        '-A FORWARD -s 10.9.0.0/16 -m comment --comment "ops forward" -j ACCEPT\nCOMMIT\n'
    )
    kept, counts = ops.filter_iptables_save(dump)
    assert kept == (
        '*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -s 10.9.0.0/16 -m comment --comment "ops forward" -j ACCEPT\n'
        "COMMIT\n"
    )
    assert counts == {"filter": (0, 1)}


# --- reset: links, nft, ipvs, mounts -----------------------------------------------------------


def test_links_of_flannel_and_kube_proxy():
    links = ops.parse_links(fixture("ip_link_flannel.txt"))
    assert [link["name"] for link in links][:5] == ["lo", "eth0", "docker0", "flannel.1", "cni0"]
    assert ops.leftover_links(links) == (["flannel.1", "cni0", "kube-ipvs0"], [])


def test_links_of_calico_and_the_ipip_fallback_tunnel():
    links = ops.parse_links(fixture("ip_link_calico.txt"))
    assert ops.leftover_links(links) == (["vxlan.calico", "cali7e1f2a3b4c5", "calid41b5e6f7a8"], ["tunl0"])
    assert ops.leftover_links(ops.parse_links(fixture("ip_link_clean.txt"))) == ([], [])


def test_nft_tables_only_kube_proxy_ones_never_the_firewall():
    tables = ops.parse_nft_tables(fixture("nft_list_tables.txt"))
    assert ("inet", "kubesmith") in tables
    assert ops.leftover_nft_tables(tables) == [("ip", "kube-proxy"), ("ip6", "kube-proxy")]
    assert ops.leftover_nft_tables(ops.parse_nft_tables(fixture("nft_list_tables_clean.txt"))) == []


def test_ipvs_virtual_servers_are_counted():
    assert ops.count_ipvs_services(fixture("ipvsadm_save.txt")) == 3
    assert ops.count_ipvs_services("") == 0


def test_mount_points_under_are_deepest_first():
    points = ops.mount_points_under(fixture("mountinfo.txt"), ["/var/lib/kubelet/pods", "/etc/cni/net.d"])
    assert points == [
        "/var/lib/kubelet/pods/5c1f0b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f/volume-subpaths/data/app/0",
        "/var/lib/kubelet/pods/5c1f0b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f/volumes/kubernetes.io~projected/kube-api-access-9x2kq",
    ]
    assert ops.mount_points_under(fixture("mountinfo.txt"), ["/var/lib/cni"]) == []


def test_stacked_mounts_are_listed_once_per_mount():
    # a tmpfs over a hostPath bind at one point: one umount takes off only the tmpfs, and a removal
    # would then delete the bind mount's source through it
    point = "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~host-path/data"
    mountinfo = (
        f"240 100 254:1 /srv/keep {point} rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
        f"245 240 0:59 / {point} rw,relatime shared:131 - tmpfs tmpfs rw\n"
        "246 100 0:60 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache rw - tmpfs tmpfs rw\n"
    )
    assert ops.mount_points_under(mountinfo, ["/var/lib/kubelet/pods", "/var/lib/kubelet/pods/p1"]) == [
        "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache",
        point,
        point,
    ]


def test_is_inside():
    assert ops.is_inside("/var/lib/etcd/kubesmith/member", "/var/lib/etcd/kubesmith")
    assert ops.is_inside("/var/lib/etcd", "/")
    assert not ops.is_inside("/var/lib/etcd/kubesmith2", "/var/lib/etcd/kubesmith")
