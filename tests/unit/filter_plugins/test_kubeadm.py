"""filter_plugins/kubeadm.py: the kubeadm documents for stacked and external etcd, VIP and local
endpoints, labels and taints, the audit and encryption wiring, and every check's message."""

from __future__ import annotations

import base64
import copy

import kubeadm
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from fixtures.kubeadm.settings import GOOD, kubeadm_settings

KEY = base64.b64encode(bytes(range(32))).decode()


def settings(node=None, **changes):
    return kubeadm_settings(changes, node)


def worker(**node):
    return settings(node={"host": "w1", "name": "w1", "address": "192.0.2.21", "control_plane": False, **node})


def docs(s=None):
    init, cluster, kubelet, proxy = kubeadm.kubeadm_init_config(s or settings())
    return init, cluster, kubelet, proxy


def args(component: dict) -> dict:
    return {a["name"]: a["value"] for a in component.get("extraArgs", [])}


# --------------------------------------------------------------------------------------------------
# documents


def test_init_config_has_the_four_documents_of_the_v1beta4_api():
    kinds = [(d["apiVersion"], d["kind"]) for d in docs()]
    assert kinds == [
        ("kubeadm.k8s.io/v1beta4", "InitConfiguration"),
        ("kubeadm.k8s.io/v1beta4", "ClusterConfiguration"),
        ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
        ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
    ]


def test_init_configuration_registers_this_host_and_leaves_tokens_to_kubeadm_token():
    init = docs()[0]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.0.2.11", "bindPort": 6443}
    reg = init["nodeRegistration"]
    assert reg["name"] == "cp1"
    assert reg["criSocket"] == "unix:///run/containerd/containerd.sock"
    assert reg["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert reg["kubeletExtraArgs"] == [{"name": "node-ip", "value": "192.0.2.11"}]
    assert "bootstrapTokens" not in init
    assert init["timeouts"] == {"controlPlaneComponentHealthCheck": "240s"}


def test_cluster_configuration_with_a_vip_endpoint_and_stacked_etcd():
    cluster = docs()[1]
    assert cluster["kubernetesVersion"] == "v1.31.4"
    assert cluster["clusterName"] == "kubesmith"
    assert cluster["controlPlaneEndpoint"] == "192.0.2.10:8443"
    assert cluster["imageRepository"] == "registry.k8s.io"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12",
                                     "dnsDomain": "cluster.local"}
    assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}
    assert cluster["apiServer"]["certSANs"] == ["127.0.0.1", "localhost", "192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert args(cluster["controllerManager"]) == {"bind-address": "127.0.0.1"}
    assert args(cluster["scheduler"]) == {"bind-address": "127.0.0.1"}


def test_version_with_a_v_is_rendered_once_with_it():
    assert docs(settings(version="v1.32.1"))[1]["kubernetesVersion"] == "v1.32.1"


def test_local_endpoint_mode_puts_the_loopback_endpoint_in_the_config():
    cluster = docs(settings(endpoint="127.0.0.1:6444", cert_sans=["192.0.2.11"]))[1]
    assert cluster["controlPlaneEndpoint"] == "127.0.0.1:6444"
    assert cluster["apiServer"]["certSANs"] == ["127.0.0.1", "localhost", "192.0.2.11"]


def test_external_etcd_points_at_the_members_with_the_client_certificate():
    s = settings(etcd_mode="external", etcd_endpoints=["https://192.0.2.31:2379", "https://192.0.2.32:2379"])
    assert docs(s)[1]["etcd"] == {"external": {
        "endpoints": ["https://192.0.2.31:2379", "https://192.0.2.32:2379"],
        "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
        "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
    }}


def test_extra_args_are_lists_of_name_value_strings():
    cluster = docs()[1]
    for component in ("apiServer", "controllerManager", "scheduler"):
        for arg in cluster[component]["extraArgs"]:
            assert set(arg) == {"name", "value"}
            assert isinstance(arg["value"], str)


def test_audit_and_encryption_are_wired_with_flags_and_volumes():
    api = docs()[1]["apiServer"]
    assert args(api) == {
        "encryption-provider-config": "/etc/kubernetes/encryption/config.yaml",
        "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
        "audit-log-path": "/var/log/kubernetes/audit/audit.log",
        "audit-log-maxage": "30",
        "audit-log-maxbackup": "10",
        "audit-log-maxsize": "100",
    }
    volumes = {v["hostPath"]: v for v in api["extraVolumes"]}
    assert volumes["/etc/kubernetes/encryption"]["readOnly"] is True
    assert volumes["/etc/kubernetes/audit"]["readOnly"] is True
    assert volumes["/var/log/kubernetes/audit"]["readOnly"] is False
    for volume in api["extraVolumes"]:
        assert volume["hostPath"] == volume["mountPath"]
        assert set(volume) == {"name", "hostPath", "mountPath", "readOnly", "pathType"}
    # every file a flag names lies in a mounted directory
    for path in args(api).values():
        if path.startswith("/"):
            assert any(path.startswith(v + "/") for v in volumes), path


def test_without_audit_and_encryption_the_api_server_has_no_extra_flags_or_volumes():
    api = docs(settings(encryption=False, audit={**GOOD["audit"], "enabled": False}))[1]["apiServer"]
    assert "extraArgs" not in api
    assert "extraVolumes" not in api


def test_user_flags_replace_kubesmiths_of_the_same_name_and_come_after():
    s = settings(apiserver_extra_args={"audit-log-maxage": 7, "profiling": False},
                 scheduler_extra_args=[{"name": "bind-address", "value": "0.0.0.0"}, {"name": "v", "value": 2}])
    cluster = docs(s)[1]
    flags = cluster["apiServer"]["extraArgs"]
    assert {"name": "audit-log-maxage", "value": "7"} in flags
    assert [f for f in flags if f["name"] == "audit-log-maxage"] == [{"name": "audit-log-maxage", "value": "7"}]
    assert flags[-1] == {"name": "profiling", "value": "false"}
    assert cluster["scheduler"]["extraArgs"] == [{"name": "bind-address", "value": "0.0.0.0"},
                                                 {"name": "v", "value": "2"}]


def test_kubelet_configuration_follows_the_runtime_and_merges_extra_fields():
    kubelet = docs(settings(cgroup_driver="cgroupfs", kubelet_config={"maxPods": 200}))[2]
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"
    assert kubelet["serverTLSBootstrap"] is False
    assert kubelet["rotateCertificates"] is True
    assert kubelet["maxPods"] == 200


@pytest.mark.parametrize("mode", ["iptables", "ipvs", "nftables"])
def test_kube_proxy_configuration(mode):
    proxy = docs(settings(proxy_mode=mode))[3]
    assert proxy["mode"] == mode
    assert proxy["clusterCIDR"] == "10.244.0.0/16"
    assert ("ipvs" in proxy) == (mode == "ipvs")
    if mode == "ipvs":
        assert proxy["ipvs"] == {"strictARP": True}


def test_labels_become_sorted_node_labels_and_taints_are_kept():
    s = worker(labels={"tier": "frontend", "example.com/disk": "ssd", "node.kubernetes.io/pool": "a", "gpu": True},
               taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"},
                       {"key": "example.com/spot", "effect": "PreferNoSchedule"}])
    reg = kubeadm.kubeadm_join_config(s)["nodeRegistration"]
    assert reg["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "192.0.2.21"},
        {"name": "node-labels", "value": "example.com/disk=ssd,gpu=true,node.kubernetes.io/pool=a,tier=frontend"},
    ]
    assert reg["taints"] == [{"key": "dedicated", "value": "db", "effect": "NoExecute"},
                             {"key": "example.com/spot", "effect": "PreferNoSchedule"}]


def test_worker_join_config_has_no_control_plane_part_and_an_explicit_empty_taint_list():
    config = kubeadm.kubeadm_join_config(worker())
    assert set(config) == {"nodeRegistration"}
    assert config["nodeRegistration"]["taints"] == []
    assert config["nodeRegistration"]["name"] == "w1"


def test_control_plane_join_config_advertises_the_hosts_own_api_server():
    s = settings(node={"host": "cp2", "name": "cp2", "address": "192.0.2.12"})
    config = kubeadm.kubeadm_join_config(s)
    assert config["controlPlane"] == {"localAPIEndpoint": {"advertiseAddress": "192.0.2.12", "bindPort": 6443}}
    assert config["nodeRegistration"]["taints"] == [kubeadm.CONTROL_PLANE_TAINT]
    assert "certificateKey" not in config["controlPlane"]
    assert "discovery" not in config


def test_untainted_control_plane_and_no_duplicate_control_plane_taint():
    assert docs(settings(node={"control_plane_taint": False}))[0]["nodeRegistration"]["taints"] == []
    again = settings(node={"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]})
    assert docs(again)[0]["nodeRegistration"]["taints"] == [kubeadm.CONTROL_PLANE_TAINT]


def test_filters_do_not_change_their_input():
    s = settings(apiserver_extra_args={"v": 2}, kubelet_config={"maxPods": 10})
    before = copy.deepcopy(s)
    docs(s)
    kubeadm.kubeadm_join_config(s)
    assert s == before


def test_rendered_documents_dump_as_plain_yaml():
    text = "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs())
    assert [d["kind"] for d in yaml.safe_load_all(text)] == [
        "InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]


# --------------------------------------------------------------------------------------------------
# checks


def test_good_settings_have_no_problem():
    assert kubeadm.kubeadm_problems(settings()) == []
    assert kubeadm.kubeadm_problems(worker()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"version": ""}, "kubesmith_kubernetes_version is not set"),
        ({"version": "1.31"}, "kubeadm_kubernetes_version '1.31' is not a version like 1.31.4"),
        ({"version": "1.30.2"}, "minor 1.30 is not supported (supported: 1.31, 1.32, 1.33, 1.34"),
        ({"minors": {"1.31": {"kubeadm_api": "kubeadm.k8s.io/v1beta3"}}}, "renders kubeadm.k8s.io/v1beta4 only"),
        ({"cluster_name": "My Cluster"}, "kubeadm_cluster_name 'My Cluster' must be a DNS label"),
        ({"dns_domain": "cluster_local"}, "kubeadm_dns_domain 'cluster_local' is not a DNS domain"),
        ({"pod_cidr": "10.244.0.1/16"}, "kubeadm_pod_cidr '10.244.0.1/16' is not a network in CIDR notation"),
        ({"pod_cidr": "10.244.0.1/16"}, "did you mean 10.244.0.0/16?"),
        ({"pod_cidr": "10.244.0.0/33"}, "kubeadm_pod_cidr '10.244.0.0/33' is not a network"),
        ({"pod_cidr": "banana"}, "kubeadm_pod_cidr 'banana' is not a network"),
        ({"pod_cidr": "10.244.0.0/16,fd00::/48"}, "dual-stack (two CIDRs) is not supported"),
        ({"pod_cidr": "10.244.0.0/25"}, "kubeadm_pod_cidr 10.244.0.0/25 is too small"),
        ({"service_cidr": "10.0.0.0/8"}, "kubeadm_service_cidr 10.0.0.0/8 is too large"),
        ({"service_cidr": "10.244.128.0/20"},
         "kubeadm_pod_cidr 10.244.0.0/16 and kubeadm_service_cidr 10.244.128.0/20 overlap"),
        ({"service_cidr": "fd00::/112"}, "are of different IP versions"),
        ({"pod_cidr": "192.0.2.0/24"}, "cp1: its address 192.0.2.11 lies in kubeadm_pod_cidr 192.0.2.0/24"),
        ({"endpoint": "192.0.2.10"}, "the API endpoint '192.0.2.10' is not host:port"),
        ({"endpoint": "192.0.2.10:70000"}, "is not host:port"),
        ({"etcd_mode": "auto"}, "kubeadm_etcd_mode 'auto' must be auto, stacked or external"),
        ({"etcd_mode": "external"}, "kubeadm_etcd_mode is external but the etcd group has no hosts"),
        ({"cgroup_driver": "cgroup"}, "kubesmith_cgroup_driver 'cgroup' must be systemd or cgroupfs"),
        ({"cgroup_drivers": {"cp1": "systemd", "w1": "cgroupfs"}},
         "different cgroup drivers (cp1: systemd, w1: cgroupfs)"),
        ({"proxy_mode": "userspace"}, "kubeadm_proxy_mode 'userspace' must be one of iptables, ipvs, nftables"),
        ({"cri_socket": "/run/containerd/containerd.sock"},
         "kubeadm_cri_socket '/run/containerd/containerd.sock' must be"),
        ({"components_bind_address": "all"}, "kubeadm_components_bind_address 'all' is not an IP address"),
        ({"apiserver_extra_args": {"--v": 2}}, "kubeadm_apiserver_extra_args: flag name '--v' must be given without"),
        ({"scheduler_extra_args": "v=2"}, "kubeadm_scheduler_extra_args must be a dict of flag: value"),
        ({"controller_manager_extra_args": [{"name": "v"}]},
         "kubeadm_controller_manager_extra_args: {'name': 'v'} is not"),
        ({"apiserver_extra_args": {"feature-gates": {"A": True}}}, "the value of feature-gates must be a string"),
        ({"audit": {**GOOD["audit"], "maxage": -1}}, "kubeadm_audit_log_maxage -1 must be a whole number >= 0"),
        ({"audit": {**GOOD["audit"], "maxsize": "big"}}, "kubeadm_audit_log_maxsize 'big' must be a whole number"),
        ({"audit": {**GOOD["audit"], "log_dir": "audit"}}, "kubeadm_audit_log_dir 'audit' must be an absolute path"),
        ({"kubelet_config": {"kind": "KubeletConfiguration"}}, "kubeadm_kubelet_config: leave out apiVersion and kind"),
        ({"kube_proxy_config": []}, "kubeadm_kube_proxy_config must be a dict"),
        ({"control_plane_timeout": 0}, "kubeadm_control_plane_timeout 0 must be seconds > 0"),
        ({"node_names": {"cp1": "n1", "w1": "n1"}}, "hosts cp1, w1 would all register as node 'n1'"),
    ],
)
def test_cluster_problems_name_the_variable(changes, expected):
    problems = kubeadm.kubeadm_problems(settings(**changes), "cluster")
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"name": "Worker_1"}, "w1: node name 'Worker_1' is not a valid Kubernetes node name"),
        ({"address": "w1.example"}, "w1: advertise address 'w1.example' (its ansible_host) is not an IP address"),
        ({"labels": {"node-role.kubernetes.io/worker": ""}},
         "the kubelet refuses node-role.kubernetes.io/* labels in --node-labels"),
        ({"labels": {"node-role.kubernetes.io/worker": ""}}, "kubectl label node w1 node-role.kubernetes.io/worker="),
        ({"labels": {"kubernetes.io/role": "db"}}, "refuses labels of the kubernetes.io and k8s.io namespaces"),
        ({"labels": {"foo.k8s.io/x": "y"}}, "refuses labels of the kubernetes.io and k8s.io namespaces"),
        ({"labels": {"a/b/c": "d"}}, "node label key 'a/b/c' in kubesmith_node_labels has more than one '/'"),
        ({"labels": {"Example.com/x": "y"}}, "has the prefix 'Example.com', which is not a lower-case DNS subdomain"),
        ({"labels": {"-bad": "y"}}, "node label key '-bad' in kubesmith_node_labels has the name part '-bad'"),
        ({"labels": {"tier": "front end"}}, "the value 'front end' of node label tier must be at most 63"),
        ({"labels": ["tier=web"]}, "kubesmith_node_labels must be a dict of label: value, not list"),
        ({"taints": [{"key": "dedicated", "effect": "NoScheduled"}]},
         "taint 'dedicated' in kubesmith_node_taints has effect 'NoScheduled'; use one of NoSchedule, "
         "PreferNoSchedule, NoExecute"),
        ({"taints": [{"key": "dedicated"}]}, "has effect None"),
        ({"taints": [{"key": "a b", "effect": "NoSchedule"}]}, "taint key 'a b' in kubesmith_node_taints"),
        ({"taints": [{"key": "x", "effect": "NoSchedule", "operator": "Exists"}]}, "is not {key, value, effect}"),
        ({"taints": [{"key": "x", "effect": "NoSchedule"}, {"key": "x", "value": "1", "effect": "NoSchedule"}]},
         "taint x:NoSchedule is listed twice"),
        ({"taints": {"key": "x"}}, "kubesmith_node_taints must be a list of {key, value, effect}, not dict"),
    ],
)
def test_host_problems_name_the_host_and_the_variable(node, expected):
    problems = kubeadm.kubeadm_problems(worker(**node), "host")
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("label", ["node.kubernetes.io/pool", "kubelet.kubernetes.io/x", "topology.kubernetes.io/zone",
                                   "kubernetes.io/arch", "example.com/kubernetes.io", "app"])
def test_labels_the_kubelet_accepts(label):
    assert kubeadm.kubeadm_problems(worker(labels={label: "a"}), "host") == []


def test_scopes_split_cluster_and_host_problems():
    s = worker(labels={"node-role.kubernetes.io/x": ""})
    s["proxy_mode"] = "bad"
    assert all("kubeadm_proxy_mode" in p for p in kubeadm.kubeadm_problems(s, "cluster"))
    assert all("node-role" in p for p in kubeadm.kubeadm_problems(s, "host"))
    assert len(kubeadm.kubeadm_problems(s)) == 2


def test_missing_settings_are_reported_by_name():
    s = settings()
    del s["pod_cidr"]
    assert kubeadm.kubeadm_problems(s) == [
        "kubeadm filters: settings lack pod_cidr (roles/kubeadm/vars/main.yml builds them)."]


def test_rendering_bad_settings_raises_with_every_problem():
    s = worker(taints=[{"key": "x", "effect": "Never"}])
    s["pod_cidr"] = "10.244.0.1/16"
    with pytest.raises(AnsibleFilterError) as err:
        kubeadm.kubeadm_join_config(s)
    assert "kubeadm_pod_cidr '10.244.0.1/16'" in str(err.value)
    assert "has effect 'Never'" in str(err.value)


def test_strings_from_the_command_line_are_accepted_as_numbers():
    s = settings(control_plane_timeout="300", audit={**GOOD["audit"], "maxage": "7"})
    assert kubeadm.kubeadm_problems(s) == []
    init, cluster, _, _ = docs(s)
    assert init["timeouts"]["controlPlaneComponentHealthCheck"] == "300s"
    assert args(cluster["apiServer"])["audit-log-maxage"] == "7"


# --------------------------------------------------------------------------------------------------
# encryption, audit, kubeconfig, helpers


@pytest.mark.parametrize("provider", ["secretbox", "aescbc"])
def test_encryption_config_encrypts_secrets_with_the_key_and_keeps_identity_last(provider):
    doc = kubeadm.kubeadm_encryption_config(KEY + "\n", provider)
    assert doc["apiVersion"] == "apiserver.config.k8s.io/v1"
    assert doc["kind"] == "EncryptionConfiguration"
    (resource,) = doc["resources"]
    assert resource["resources"] == ["secrets"]
    assert resource["providers"] == [{provider: {"keys": [{"name": "kubesmith-1", "secret": KEY}]}}, {"identity": {}}]


@pytest.mark.parametrize("key", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_key_is_refused_without_showing_it(key):
    with pytest.raises(AnsibleFilterError, match="not the base64 of 32 bytes") as err:
        kubeadm.kubeadm_encryption_config(key)
    assert not key or key not in str(err.value)


def test_unknown_provider_is_refused():
    with pytest.raises(AnsibleFilterError, match="provider 'aesgcm' must be one of secretbox, aescbc"):
        kubeadm.kubeadm_encryption_config(KEY, "aesgcm")


def test_placeholder_stands_for_the_key_in_render_only_mode():
    doc = kubeadm.kubeadm_encryption_config("", "secretbox", "<the key in /x/encryption-key>")
    assert doc["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"] == "<the key in /x/encryption-key>"


def test_the_key_is_read_back_from_a_hosts_encryption_config():
    text = yaml.safe_dump(kubeadm.kubeadm_encryption_config(KEY, "aescbc"))
    assert kubeadm.kubeadm_encryption_key_of(text) == KEY


@pytest.mark.parametrize("text", ["", "not: [yaml", "kind: Policy\n", yaml.safe_dump(
    kubeadm.kubeadm_encryption_config("", "secretbox", "<placeholder>"))])
def test_no_key_is_read_from_anything_else(text):
    assert kubeadm.kubeadm_encryption_key_of(text) == ""


def test_random_keys_are_32_bytes_and_differ():
    keys = {kubeadm.kubeadm_random_key() for _ in range(5)}
    assert len(keys) == 5
    assert all(len(base64.b64decode(k)) == 32 for k in keys)
    kubeadm.kubeadm_encryption_config(keys.pop())


def test_default_audit_policy_logs_metadata_only_and_skips_health_checks():
    policy = kubeadm.kubeadm_audit_policy([])
    assert policy["apiVersion"] == "audit.k8s.io/v1"
    assert policy["kind"] == "Policy"
    levels = {r["level"] for r in policy["rules"]}
    assert levels == {"None", "Metadata"}
    assert "/readyz*" in policy["rules"][0]["nonResourceURLs"]
    assert policy["rules"][0]["level"] == "None"
    secrets = next(r for r in policy["rules"]
                   if any("secrets" in g.get("resources", []) for g in r.get("resources", [])))
    assert secrets["level"] == "Metadata"
    assert policy["rules"][-1] == {"level": "Metadata"}


def test_custom_audit_rules_replace_the_default_and_are_checked():
    assert kubeadm.kubeadm_audit_policy([{"level": "Request"}])["rules"] == [{"level": "Request"}]
    with pytest.raises(AnsibleFilterError, match="each with a level"):
        kubeadm.kubeadm_audit_policy([{"verbs": ["get"]}])


ADMIN_CONF = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://127.0.0.1:6444
  name: kubesmith
contexts:
- context:
    cluster: kubesmith
    user: kubernetes-admin
  name: kubernetes-admin@kubesmith
"""


def test_kubeconfig_server_is_replaced_and_nothing_else():
    out = kubeadm.kubeadm_kubeconfig_server(ADMIN_CONF, "https://192.0.2.11:6443")
    assert out == ADMIN_CONF.replace("https://127.0.0.1:6444", "https://192.0.2.11:6443")
    assert yaml.safe_load(out)["clusters"][0]["cluster"]["server"] == "https://192.0.2.11:6443"


def test_kubeconfig_without_a_server_is_refused():
    with pytest.raises(AnsibleFilterError, match="no cluster server line"):
        kubeadm.kubeadm_kubeconfig_server("apiVersion: v1\n", "https://x:6443")


def test_host_helpers_read_overrides_and_fall_back():
    hostvars = {"cp1": {"ansible_host": "192.0.2.11"},
                "cp2": {"ansible_host": "cp2.example", "kubeadm_advertise_address": "192.0.2.12",
                        "kubeadm_node_name": "control-2", "kubesmith_cgroup_driver": "systemd"},
                "w1": {}}
    hosts = ["cp1", "cp2", "w1"]
    assert kubeadm.kubeadm_addresses(hosts, hostvars) == {"cp1": "192.0.2.11", "cp2": "192.0.2.12", "w1": "w1"}
    assert kubeadm.kubeadm_node_names(hosts, hostvars) == {"cp1": "cp1", "cp2": "control-2", "w1": "w1"}
    drivers = kubeadm.kubeadm_hostvar(hosts, hostvars, "kubesmith_cgroup_driver")
    assert drivers == {"cp1": "", "cp2": "systemd", "w1": ""}


def test_every_filter_is_registered():
    names = set(kubeadm.FilterModule().filters())
    public = {n for n in dir(kubeadm) if n.startswith("kubeadm_") and callable(getattr(kubeadm, n))}
    assert names == public
