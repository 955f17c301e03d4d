"""inventory_problems: a good inventory passes; each bad one is reported with the host or variable at
fault and the fix. The configuration is the role's own (its vars, defaults and vars/kubernetes.yml)."""

import pathlib
from collections.abc import Mapping

import inventory_check as ic
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "inventory_check"


def _config():
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    minors = yaml.safe_load((ROOT / "vars" / "kubernetes.yml").read_text())["kubesmith_kubernetes_minors"]
    return {
        "required_groups": defaults["inventory_check_required_groups"],
        "renamed_groups": defaults["inventory_check_renamed_groups"],
        "variables": role_vars["_inventory_check_variables"],
        "foreign_variables": role_vars["_inventory_check_foreign_variables"],
        "internal_variables": role_vars["_inventory_check_internal_variables"],
        "kubernetes_minors": list(minors),
    }


CONFIG = _config()
COMMON = {"kubesmith_kubernetes_version": "1.31.4"}
ADDRESSES = {"cp1": "192.0.2.11", "w1": "192.0.2.21", "w2": "192.0.2.22"}
# what Ansible puts into every host's hostvars besides the inventory's variables
MAGIC = {"ansible_check_mode": False, "ansible_facts": {}, "ansible_version": {}, "group_names": [],
         "groups": {}, "inventory_dir": "/inv", "inventory_file": "/inv/hosts.yml", "playbook_dir": "/p",
         "ansible_playbook_python": "/usr/bin/python3", "omit": "__omit_place_holder__"}


def problems(groups=None, common=None, hosts=None, addresses=None, cluster=True, base=None):
    """inventory_problems of an inventory given as groups (name -> hosts) and variables (base: what
    every host has, COMMON unless given)."""
    base = COMMON if base is None else base
    groups = {"kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"]} if groups is None else dict(groups)
    if cluster and "k8s_cluster" not in groups:
        groups["k8s_cluster"] = groups.get("kube_control_plane", []) + groups.get("kube_node", [])
    everyone = []
    for members in groups.values():
        everyone += [h for h in members if h not in everyone]
    groups["all"] = everyone
    addresses = ADDRESSES if addresses is None else addresses
    hostvars = {}
    for h in everyone:
        hv = {**MAGIC, "inventory_hostname": h, **({"ansible_host": addresses[h]} if h in addresses else {})}
        hostvars[h] = {**hv, **base, **(common or {}), **((hosts or {}).get(h, {}))}
    return ic.inventory_problems(hostvars, groups, CONFIG)


def one(found, *fragments):
    """Exactly one problem, holding every fragment."""
    assert len(found) == 1, found
    for fragment in fragments:
        assert fragment in found[0], (fragment, found[0])


def test_a_good_inventory_has_no_problems():
    assert problems() == []


@pytest.mark.parametrize("kwargs", [
    {"groups": {"kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"], "etcd": ["w1"]}},  # etcd + node
    {"groups": {"kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"], "gpu": ["w2"]}},  # a user's group
    {"groups": {"kube_control_plane": ["cp1"]}},  # one host, no workers
    {"common": {"kubesmith_api_endpoint": {"host": "x"}, "kubesmith_cgroup_driver": "systemd"}},  # facts
    {"common": {"kubesmith_lab_apt_repo": "http://192.0.2.1:8080"}},  # the lab's own
    {"common": {"kubesmith_service_cidr": "10.96.0.0/12", "kubesmith_pod_cidr": "10.128.0.0/9"}},  # limits
    {"hosts": {"w1": {"ansible_host": "192.0.2.11", "ansible_connection": "local"}}},  # local: no address
    {"common": {"kubesmith_metallb_addresses": ["192.0.2.240-192.0.2.250", "198.51.100.0/28"],
                "kubesmith_api_vip": "192.0.2.10"}},
    {"addresses": {"cp1": "cp1.example.com", "w1": "w1.example.com", "w2": "w2.example.com"}},
    {"hosts": {"w1": {"kubesmith_node_labels": {"tier": "frontend", "example.com/zone": "a"},
                      "kubesmith_node_taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]}}},
    {"common": {"kubesmith_cni": "calico", "kubesmith_cni_backend": "bgp", "kubesmith_cni_mtu": 1450}},
    {"common": {"kubesmith_kubernetes_version": "1.34.1", "kubesmith_etcd_mode": "stacked"}},
])
def test_good_variants_have_no_problems(kwargs):
    assert problems(**kwargs) == []


# ----------------------------------------------------------------------------- groups
def test_another_tools_group_name_is_renamed():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1"], "workers": ["w2"]})
    one(found, "group workers (w2)", "workers -> kube_node")


def test_no_control_plane():
    one(problems(groups={"kube_node": ["w1", "w2"]}), "group kube_control_plane has no hosts",
        "put at least one host in it")


def test_hosts_outside_k8s_cluster():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"], "k8s_cluster": ["cp1"]})
    one(found, "w1, w2 of group kube_node are not in k8s_cluster", "children of k8s_cluster")


def test_no_k8s_cluster_group_at_all():
    found = problems(cluster=False)
    assert len(found) == 2, found
    assert all("children of k8s_cluster" in p for p in found), found


def test_k8s_cluster_host_in_neither_child():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1"], "k8s_cluster": ["cp1", "w1", "w2"]})
    one(found, "w2 are in k8s_cluster but in neither kube_control_plane nor kube_node", "put each in one")


def test_misspelt_group():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1"], "kube_nodes": ["w2"]})
    one(found, "group kube_nodes (w2)", "did you mean kube_node?")


# ----------------------------------------------------------------------------- etcd
@pytest.mark.parametrize(("members", "fix"), [(2, "remove one host or add one"), (4, "remove one host or add one"),
                                              (9, "use at most 7")])
def test_etcd_member_count(members, fix):
    etcd = [f"e{i}" for i in range(members)]
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1"], "etcd": etcd})
    one(found, f"group etcd has {members} hosts", "odd number of members (1, 3, 5 or 7)", fix)


def test_external_etcd_without_hosts():
    one(problems(common={"kubesmith_etcd_mode": "external"}), "kubesmith_etcd_mode is external",
        "group etcd has no hosts", "list the etcd hosts in group etcd")


def test_stacked_etcd_with_etcd_hosts():
    found = problems(groups={"kube_control_plane": ["cp1"], "etcd": ["e1"]}, common={"kubesmith_etcd_mode": "stacked"})
    one(found, "kubesmith_etcd_mode is stacked but group etcd has hosts (e1)", "empty group etcd")


def test_stacked_etcd_on_an_even_control_plane():
    found = problems(groups={"kube_control_plane": ["cp1", "cp2"]}, common={"kubesmith_api_vip": "192.0.2.10"},
                     addresses={"cp1": "192.0.2.11", "cp2": "192.0.2.12"})
    one(found, "kube_control_plane has 2 hosts (cp1, cp2)", "odd number of control-plane hosts")


# ----------------------------------------------------------------------------- version
@pytest.mark.parametrize(("version", "fragments"), [
    (None, ["kubesmith_kubernetes_version is not set", 'e.g. kubesmith_kubernetes_version: "1.',
            "supported minors: 1.31"]),
    ("v1.31.4", ['"v1.31.4"', "drop the v", '"1.31.4"']),
    (1.31, ["is 1.31 (a float)", "quote it"]),
    ("1.31", ['"1.31"', "major.minor.patch"]),
    ("1.30.2", ["1.30.2", "minor 1.30 is not supported", "1.31, 1.32, 1.33, 1.34"]),
])
def test_kubernetes_version(version, fragments):
    base = {} if version is None else {"kubesmith_kubernetes_version": version}
    one(problems(base=base), *fragments)


# ----------------------------------------------------------------------------- variables
def test_misspelt_kubesmith_variable():
    one(problems(common={"kubesmith_pod_cdir": "10.1.0.0/16"}), "variable kubesmith_pod_cdir (on all 3 hosts)",
        "did you mean kubesmith_pod_cidr?")


def test_unknown_kubesmith_variable_on_one_host():
    one(problems(hosts={"w1": {"kubesmith_wibble_wobble": 1}}), "variable kubesmith_wibble_wobble (on w1)",
        "not a kubesmith variable", "remove it")


@pytest.mark.parametrize(("name", "ours"), [
    ("kube_version", "kubesmith_kubernetes_version"), ("kube_pods_subnet", "kubesmith_pod_cidr"),
    ("kube_service_addresses", "kubesmith_service_cidr"), ("kube_network_plugin", "kubesmith_cni"),
    ("kube_apiserver_ip", "kubesmith_api_vip"), ("loadbalancer_apiserver", "kubesmith_api_vip"),
    ("etcd_deployment_type", "kubesmith_etcd_mode"), ("cluster_name", "kubesmith_cluster_name"),
    ("dns_domain", "kubesmith_dns_domain"),
])
def test_kubespray_names(name, ours):
    one(problems(common={name: "x"}), f"variable {name} (on all 3 hosts)",
        "a name other tools use (kubespray, kubeadm)", f"kubesmith calls it {ours}")


@pytest.mark.parametrize(("name", "ours"), [("kube_packages_version", "kubesmith_kubernetes_version"),
                                            ("api_endpoint_vip", "kubesmith_api_vip")])
def test_role_internal_names(name, ours):
    one(problems(common={name: "x"}), f"variable {name}", f"set {ours} instead")


def test_cluster_wide_value_that_differs_between_hosts():
    found = problems(hosts={"w2": {"kubesmith_pod_cidr": "10.32.0.0/16"}})
    one(found, "kubesmith_pod_cidr differs between hosts", '"10.244.0.0/16" on cp1, w1', '"10.32.0.0/16" on w2',
        "set it once (group_vars/all)")


class Exploding(Mapping):
    """hostvars of a host whose variable cannot be templated, as Ansible raises on access."""

    def __init__(self, data, bad):
        self.data, self.bad = data, bad

    def __getitem__(self, key):
        if key == self.bad:
            raise RuntimeError("'nope' is undefined")
        return self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __contains__(self, key):
        return key in self.data

    def __len__(self):
        return len(self.data)


def test_a_variable_that_cannot_be_rendered_is_reported_once():
    groups = {"kube_control_plane": ["cp1"], "k8s_cluster": ["cp1"], "all": ["cp1"]}
    hv = {**COMMON, "kubesmith_pod_cidr": "{{ nope }}", "ansible_host": "192.0.2.11"}
    found = ic.inventory_problems({"cp1": Exploding(hv, "kubesmith_pod_cidr")}, groups, CONFIG)
    one(found, "kubesmith_pod_cidr on cp1 cannot be rendered", "'nope' is undefined", "fix its value")


# ----------------------------------------------------------------------------- settings
@pytest.mark.parametrize(("variables", "fragments"), [
    ({"kubesmith_cni": "weave"}, ['kubesmith_cni is "weave"', "flannel, calico"]),
    ({"kubesmith_cni": "calico", "kubesmith_cni_backend": "host-gw"},
     ['kubesmith_cni_backend is "host-gw"', "calico does not have", "vxlan, ipip, bgp"]),
    ({"kubesmith_cni_backend": "bgp"}, ['kubesmith_cni_backend is "bgp"', "flannel", "vxlan, host-gw"]),
    ({"kubesmith_api_mode": "haproxy"}, ['kubesmith_api_mode is "haproxy"', "vip, local"]),
    ({"kubesmith_etcd_mode": "embedded"}, ['kubesmith_etcd_mode is "embedded"', "auto, stacked, external"]),
    ({"kubesmith_kube_proxy_mode": "userspace"}, ['kubesmith_kube_proxy_mode is "userspace"', "iptables, ipvs"]),
    ({"kubesmith_cni_mtu": "auto"}, ['kubesmith_cni_mtu is "auto"', "give 0"]),
    ({"kubesmith_cni_mtu": 100}, ["kubesmith_cni_mtu is 100", "576 to 9216"]),
    ({"kubesmith_dns_domain": "Cluster.Local."}, ['kubesmith_dns_domain is "Cluster.Local."', "lower-case"]),
    ({"kubesmith_cluster_name": "my cluster"}, ['kubesmith_cluster_name is "my cluster"', "letters, digits"]),
    ({"kubesmith_bundle_dir": "bundle"}, ['kubesmith_bundle_dir is "bundle"', "absolute path"]),
    ({"kubesmith_api_vip": "fd00::10"}, ['kubesmith_api_vip is "fd00::10"', "one IPv4 address"]),
    ({"kubesmith_api_vip": "192.0.2.10/24"}, ['kubesmith_api_vip is "192.0.2.10/24"', "no prefix"]),
    ({"kubesmith_api_vip": "192.0.2.300"}, ['kubesmith_api_vip is "192.0.2.300"', "one IPv4 address"]),
    ({"kubesmith_api_vip": "192.0.2.10", "kubesmith_api_mode": "local"},
     ["kubesmith_api_mode is local", "remove kubesmith_api_vip"]),
])
def test_bad_settings(variables, fragments):
    one(problems(common=variables), *fragments)


def test_ha_control_plane_without_an_endpoint():
    found = problems(groups={"kube_control_plane": ["cp1", "c2", "c3"]},
                     addresses={"cp1": "192.0.2.11", "c2": "192.0.2.12", "c3": "192.0.2.13"})
    one(found, "kube_control_plane has 3 hosts", "set kubesmith_api_vip", "kubesmith_api_mode: local")


@pytest.mark.parametrize(("host_vars", "fragments"), [
    ({"kubesmith_node_labels": {"bad key!": "x"}}, ["host w1", 'label key "bad key!"']),
    ({"kubesmith_node_labels": {"tier": 3}}, ["host w1", "tier=3", "quote it"]),
    ({"kubesmith_node_labels": ["tier=x"]}, ["host w1", "give a dict"]),
    ({"kubesmith_node_taints": [{"key": "gpu", "effect": "NoRun"}]}, ["host w1", "taint gpu", '"NoRun"',
                                                                       "NoSchedule, PreferNoSchedule, NoExecute"]),
    ({"kubesmith_node_taints": [{"effect": "NoSchedule"}]}, ["host w1", "needs a valid key"]),
    ({"kubesmith_node_taints": {"key": "gpu"}}, ["host w1", "give a list"]),
])
def test_bad_host_settings(host_vars, fragments):
    one(problems(hosts={"w1": host_vars}), *fragments)


def test_host_name_that_is_no_node_name():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["worker_1"]},
                     addresses={"cp1": "192.0.2.11", "worker_1": "192.0.2.21"})
    one(found, "host worker_1", "not a valid one", "keep the address in ansible_host")


# ----------------------------------------------------------------------------- CIDRs and addresses
@pytest.mark.parametrize(("variables", "fragments"), [
    ({"kubesmith_pod_cidr": "10.244.1.0/16"}, ["kubesmith_pod_cidr is 10.244.1.0/16", "host bits",
                                               "network address, 10.244.0.0/16"]),
    ({"kubesmith_pod_cidr": "10.244.0.0"}, ['kubesmith_pod_cidr is "10.244.0.0", not a CIDR']),
    ({"kubesmith_service_cidr": "banana/12"}, ['kubesmith_service_cidr is "banana/12", not a CIDR']),
    ({"kubesmith_service_cidr": "10.96.0.0/12,fd00::/108"}, ["kubesmith_service_cidr", "single-stack"]),
    ({"kubesmith_pod_cidr": "10.96.0.0/16"}, ["kubesmith_pod_cidr 10.96.0.0/16 and kubesmith_service_cidr "
                                              "10.96.0.0/12 overlap", "separate ranges"]),
    ({"kubesmith_service_cidr": "10.0.0.0/11"}, ["kubesmith_service_cidr 10.0.0.0/11 is too large for kubeadm",
                                                 "at most 20 host bits", "/12 or longer"]),
    ({"kubesmith_service_cidr": "10.96.0.0/29"}, ["kubesmith_service_cidr 10.96.0.0/29 has 8 addresses",
                                                  "at least 10"]),
    ({"kubesmith_pod_cidr": "10.244.0.0/25"},
     ["kubesmith_pod_cidr 10.244.0.0/25 is smaller than the pod subnet of one node", "shorter prefix"]),
    ({"kubesmith_pod_cidr": "100.0.0.0/7"}, ["kubesmith_pod_cidr 100.0.0.0/7 is too large", "use /8"]),
    ({"kubesmith_pod_cidr": "10.244.0.0/24"}, ["holds 1 node subnet(s) of /24", "the cluster has 3 nodes"]),
    ({"kubesmith_service_cidr": "192.0.2.0/24"},
     ["the address of host(s) cp1 (192.0.2.11), w1 (192.0.2.21), w2 (192.0.2.22) is inside kubesmith_service_cidr "
      "192.0.2.0/24", "change kubesmith_service_cidr"]),
    ({"kubesmith_api_vip": "10.96.0.50"}, ["kubesmith_api_vip 10.96.0.50 is inside kubesmith_service_cidr"]),
    ({"kubesmith_api_vip": "192.0.2.21"}, ["kubesmith_api_vip 192.0.2.21 is the address of host w1", "free address"]),
    ({"kubesmith_metallb_addresses": ["10.244.0.0/28"]},
     ["kubesmith_metallb_addresses entry 10.244.0.0/28 overlaps kubesmith_pod_cidr 10.244.0.0/16"]),
    ({"kubesmith_metallb_addresses": ["10.100.0.1-10.100.0.9"]},
     ["entry 10.100.0.1-10.100.0.9 overlaps kubesmith_service_cidr 10.96.0.0/12"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.240-192.0.2.250", "192.0.2.248/29"]},
     ["entries 192.0.2.240-192.0.2.250 and 192.0.2.248/29 overlap", "list each address once"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.16/28"]},
     ["entry 192.0.2.16/28 contains the address of host(s) w1, w2"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.5"]}, ['"192.0.2.5" is neither a CIDR nor a range', "192.0.2.240/32"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.250-192.0.2.240"]},
     ['"192.0.2.250-192.0.2.240"', "lower to the higher"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.241/28"]}, ['"192.0.2.241/28"', "host bits", "192.0.2.240/28"]),
    ({"kubesmith_metallb_addresses": "192.0.2.240/28"}, ['kubesmith_metallb_addresses is "192.0.2.240/28"',
                                                         "give a list"]),
    ({"kubesmith_metallb_addresses": ["192.0.2.0/29"], "kubesmith_api_vip": "192.0.2.5"},
     ["entry 192.0.2.0/29 contains kubesmith_api_vip 192.0.2.5", "leave the VIP out"]),
])
def test_bad_networks(variables, fragments):
    one(problems(common=variables), *fragments)


def test_host_address_inside_the_pod_cidr():
    one(problems(addresses={**ADDRESSES, "w2": "10.244.7.7"}), "host(s) w2 (10.244.7.7) is inside "
        "kubesmith_pod_cidr 10.244.0.0/16", "change kubesmith_pod_cidr")


# ----------------------------------------------------------------------------- duplicates
def test_host_names_that_differ_only_by_case():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1", "W1"]},
                     addresses={"cp1": "192.0.2.11", "w1": "192.0.2.21", "W1": "192.0.2.22"})
    one(found, "hosts w1 and W1 differ only by case", "node w1", "rename one")


def test_the_same_address_on_two_hosts():
    one(problems(addresses={**ADDRESSES, "w2": "192.0.2.21"}), "hosts w1, w2 have the same address 192.0.2.21",
        "each host needs its own")


# ----------------------------------------------------------------------------- all at once
def test_every_problem_is_listed_at_once():
    found = problems(groups={"kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"], "etcd": ["e1", "e2"]},
                     common={"kubesmith_kubernetes_version": "v1.31.4", "kube_version": "1.31.4",
                             "kubesmith_pod_cidr": "10.96.0.0/16"},
                     addresses={**ADDRESSES, "w2": "192.0.2.21"})
    joined = "\n".join(found)
    for fragment in ("group etcd has 2 hosts", "drop the v", "variable kube_version", "overlap",
                     "the same address 192.0.2.21"):
        assert fragment in joined, (fragment, found)
    assert len(found) == 5, found


def test_registered_as_a_filter():
    assert set(ic.FilterModule().filters()) == {"inventory_problems"}


# ----------------------------------------------------------------------------- values the play sets
def with_play(play_values, **kwargs):
    """problems() with play_values: known variables as the play on the controller sees them."""
    config = {**CONFIG, "play_values": {n: play_values.get(n, ic.UNSET) for n in CONFIG["variables"]}}
    saved = dict(CONFIG)
    CONFIG.clear()
    CONFIG.update(config)
    try:
        return problems(**kwargs)
    finally:
        CONFIG.clear()
        CONFIG.update(saved)


def test_settings_the_play_gives_count_like_inventory_ones():
    # molecule's converge passes the settings as vars of import_playbook: not in any host's hostvars
    assert with_play({"kubesmith_kubernetes_version": "1.32.1"}, base={}) == []
    one(with_play({"kubesmith_kubernetes_version": "1.29.1"}), "minor 1.29 is not supported")
    one(with_play({"kubesmith_pod_cidr": "10.96.0.0/16"}), "kubesmith_pod_cidr 10.96.0.0/16 and kubesmith_service_cidr")


def test_a_play_value_overrides_what_hosts_disagree_on():
    assert with_play({"kubesmith_cni": "calico"}, hosts={"w1": {"kubesmith_cni": "flannel"}}) == []
    one(problems(hosts={"w1": {"kubesmith_cni": "calico"}}), "kubesmith_cni differs between hosts")
