"""The lab's pure planning logic: host specs, subnet checks, addresses, inventory, Terraform output."""

import ipaddress

import pytest

from lab import hosts, plan


def test_counts_give_named_hosts_in_their_groups():
    specs = plan.hosts_from_counts({"control_plane": 1, "workers": 2, "etcd": 3})
    assert [s.name for s in specs] == ["cp1", "worker1", "worker2", "etcd1", "etcd2", "etcd3"]
    assert specs[0].groups == ("kube_control_plane",)
    assert specs[-1].groups == ("etcd",)


def test_negative_count_is_rejected():
    with pytest.raises(plan.PlanError, match="--workers"):
        plan.hosts_from_counts({"workers": -1})


@pytest.mark.parametrize(
    ("arg", "name", "groups"),
    [("cp1", "cp1", ()), ("cp1:kube_control_plane", "cp1", ("kube_control_plane",)), ("n-2:a,b", "n-2", ("a", "b"))],
)
def test_host_arg(arg, name, groups):
    assert plan.parse_host_arg(arg) == plan.HostSpec(name, groups)


@pytest.mark.parametrize("arg", ["", "1node", "Node", "averyverylongname", "a_b", "cp1:Bad-Group"])
def test_bad_host_arg_is_rejected_with_a_reason(arg):
    with pytest.raises(plan.PlanError, match="bad"):
        plan.parse_host_arg(arg)


def test_repeated_hosts_merge_their_groups():
    specs = plan.merge_specs([plan.HostSpec("cp1", ("kube_control_plane",)), plan.HostSpec("cp1", ("etcd",))])
    assert specs == [plan.HostSpec("cp1", ("kube_control_plane", "etcd"))]


def test_empty_lab_is_rejected():
    with pytest.raises(plan.PlanError, match="no hosts"):
        plan.merge_specs([])


@pytest.mark.parametrize(
    ("cidr", "why"),
    [("10.244.250.0/24", "Flannel"), ("10.96.5.0/24", "service"), ("192.168.50.0/24", "Calico"),
     ("10.1.0.0/24", "Cilium")],
)
def test_subnet_overlapping_a_default_pod_or_service_cidr_is_rejected(cidr, why):
    with pytest.raises(plan.PlanError, match=why):
        plan.check_subnet(cidr)


@pytest.mark.parametrize("cidr", ["172.30.77.5/24", "not-a-net", "172.30.77.0/28"])
def test_malformed_or_tiny_subnet_is_rejected(cidr):
    with pytest.raises(plan.PlanError):
        plan.check_subnet(cidr)


def test_default_subnet_is_accepted():
    assert str(plan.check_subnet("172.30.77.0/24")) == "172.30.77.0/24"


def test_addresses_are_stable_and_fill_gaps():
    net = ipaddress.IPv4Network("172.30.77.0/24")
    specs = [plan.HostSpec(n) for n in ("cp1", "worker1", "worker2")]
    first = plan.assign_addresses(specs, net, {})
    assert first == {"cp1": "172.30.77.11", "worker1": "172.30.77.12", "worker2": "172.30.77.13"}
    # worker1 removed, worker3 added: the others keep their addresses, the gap is reused
    later = plan.assign_addresses([specs[0], specs[2], plan.HostSpec("worker3")], net,
                                  {"cp1": first["cp1"], "worker2": first["worker2"]})
    assert later == {"cp1": "172.30.77.11", "worker2": "172.30.77.13", "worker3": "172.30.77.12"}


def test_full_subnet_is_reported():
    net = ipaddress.IPv4Network("172.30.77.0/26")  # .11 - .62: 52 addresses
    specs = [plan.HostSpec(f"h{i}") for i in range(53)]
    with pytest.raises(plan.PlanError, match="no free address"):
        plan.assign_addresses(specs, net, {})


SPECS = [plan.HostSpec("cp1", ("kube_control_plane",)), plan.HostSpec("worker1", ("kube_node",)),
         plan.HostSpec("etcd1", ("etcd",))]
ADDRS = {"cp1": "172.30.77.11", "worker1": "172.30.77.12", "etcd1": "172.30.77.13"}


def test_inventory_groups_and_connection_vars():
    inv = plan.inventory(SPECS, ADDRS, "/k/id", "http://172.30.77.1:8080", "/c/images")["all"]
    assert inv["vars"]["kubesmith_lab_images_dir"] == "/c/images"
    assert inv["vars"]["ansible_ssh_private_key_file"] == "/k/id"
    assert inv["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    ch = inv["children"]
    assert ch["lab"]["hosts"]["worker1"] == {"ansible_host": "172.30.77.12"}
    assert list(ch["kube_control_plane"]["hosts"]) == ["cp1"]
    assert list(ch["etcd"]["hosts"]) == ["etcd1"]
    assert ch["k8s_cluster"] == {"children": {"kube_control_plane": None, "kube_node": None}}


def test_terraform_output_has_the_shape_terraform_prints():
    out = plan.terraform_output(SPECS, ADDRS, "/k/id", "http://172.30.77.1:8080")
    assert set(out) == {"hosts", "groups", "cluster"}
    for o in out.values():
        assert set(o) == {"sensitive", "type", "value"}
        assert o["sensitive"] is False
    assert out["hosts"]["value"]["etcd1"] == {
        "address": "172.30.77.13", "user": "root", "groups": ["etcd"],
        "vars": {"ansible_ssh_private_key_file": "/k/id"},
    }
    assert out["groups"]["value"] == {"kube_control_plane": ["cp1"], "kube_node": ["worker1"], "etcd": ["etcd1"],
                                      "k8s_cluster": ["cp1", "worker1"], "lab": ["cp1", "worker1", "etcd1"]}
    assert out["cluster"]["value"] == {"ansible_ssh_common_args": plan.SSH_COMMON_ARGS,
                                       "kubesmith_lab_apt_repo": "http://172.30.77.1:8080"}


def test_fresh_host_knows_only_itself():
    text = plan.etc_hosts("cp1")
    assert "127.0.1.1\tcp1" in text
    assert "worker" not in text


def test_builtin_modules_follow_the_kernel_config():
    kconfig = "CONFIG_BRIDGE_NETFILTER=y\nCONFIG_OVERLAY_FS=y\nCONFIG_IP_VS=m\n"
    assert hosts.builtin_modules(kconfig) == ["kernel/net/bridge/br_netfilter.ko", "kernel/fs/overlayfs/overlay.ko"]
    assert len(hosts.builtin_modules(None)) == len(hosts.BUILTIN_MODULES)


def test_oci_layout_is_consistent_and_deterministic():
    import hashlib
    import json

    from lab import oci

    layer = oci.layer_from_busybox(b"\x7fELF fake busybox bytes", ["sh", "ls", "busybox"])
    files = oci.image_layout(layer, "amd64")
    assert files == oci.image_layout(layer, "amd64")  # same input, same digests
    index = json.loads(files["index.json"])
    (desc,) = index["manifests"]
    assert desc["annotations"]["io.containerd.image.name"] == oci.REF
    manifest = files["blobs/sha256/" + desc["digest"][7:]]
    assert hashlib.sha256(manifest).hexdigest() == desc["digest"][7:]
    m = json.loads(manifest)
    for blob in [m["config"], *m["layers"]]:
        data = files["blobs/sha256/" + blob["digest"][7:]]
        assert len(data) == blob["size"]
        assert hashlib.sha256(data).hexdigest() == blob["digest"][7:]
    config = json.loads(files["blobs/sha256/" + m["config"]["digest"][7:]])
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
