"""Filters of the kubeadm role: check the cluster settings and build kubeadm's configuration.

- ``kubeadm_problems``: every problem of the settings (cluster-wide and of one host), each naming the
  variable (and host) to change, so one run reports them all;
- ``kubeadm_init_config``: the documents of the file ``kubeadm init --config`` reads
  (InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration);
- ``kubeadm_join_config``: the part of a JoinConfiguration the kubeadm_join module does not fill
  itself (nodeRegistration, controlPlane.localAPIEndpoint), for its ``config`` option;
- ``kubeadm_encryption_config``: the EncryptionConfiguration of the API servers (Secrets at rest);
- ``kubeadm_audit_policy``: the audit Policy of the API servers;
- ``kubeadm_random_key``: a new base64 key for the EncryptionConfiguration;
- ``kubeadm_encryption_key_of``: the key of an EncryptionConfiguration a host already has;
- ``kubeadm_kubeconfig_server``: a kubeconfig's text with its cluster server URL replaced.

Settings are one dict (built by roles/kubeadm/vars/main.yml from the role's variables and the
inventory); its keys are listed in ``SETTINGS``. The templates turn the documents into YAML.
Nothing here reads a file or the network. No secret is ever put into a message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import ipaddress
import os
import re

import yaml
from ansible.errors import AnsibleFilterError

API = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"
ENCRYPTION_API = "apiserver.config.k8s.io/v1"
AUDIT_API = "audit.k8s.io/v1"

PKI = "/etc/kubernetes/pki"
ENCRYPTION_DIR = "/etc/kubernetes/encryption"
ENCRYPTION_CONFIG = f"{ENCRYPTION_DIR}/config.yaml"
AUDIT_DIR = "/etc/kubernetes/audit"
AUDIT_POLICY = f"{AUDIT_DIR}/policy.yaml"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
PROXY_MODES = ("iptables", "ipvs", "nftables")
CGROUP_DRIVERS = ("systemd", "cgroupfs")
ENCRYPTION_PROVIDERS = ("secretbox", "aescbc")

# The settings dict: key -> meaning (every key is required; roles/kubeadm/vars/main.yml builds it).
SETTINGS = {
    "version": "Kubernetes version, 1.31.4 or v1.31.4 (kubeadm_kubernetes_version)",
    "minors": "kubesmith_kubernetes_minors of vars/kubernetes.yml",
    "cluster_name": "kubeadm_cluster_name",
    "pod_cidr": "kubeadm_pod_cidr",
    "service_cidr": "kubeadm_service_cidr",
    "dns_domain": "kubeadm_dns_domain",
    "image_repository": "kubeadm_image_repository",
    "endpoint": "controlPlaneEndpoint, host:port",
    "cert_sans": "extra names and addresses of the API server certificates",
    "etcd_mode": "stacked or external (auto already resolved)",
    "etcd_endpoints": "client URLs of the external etcd members",
    "host_addresses": "host -> address of every cluster host (checked against the CIDRs)",
    "node_names": "host -> node name of every cluster host (must be unique)",
    "cgroup_driver": "kubelet cgroupDriver",
    "cgroup_drivers": "host -> kubesmith_cgroup_driver of every cluster host that has one",
    "cri_socket": "kubeadm_cri_socket",
    "proxy_mode": "kubeadm_proxy_mode",
    "apiserver_extra_args": "kubeadm_apiserver_extra_args",
    "controller_manager_extra_args": "kubeadm_controller_manager_extra_args",
    "scheduler_extra_args": "kubeadm_scheduler_extra_args",
    "components_bind_address": "kubeadm_components_bind_address",
    "audit": "{enabled, log_dir, maxage, maxbackup, maxsize} (kubeadm_audit_*)",
    "encryption": "kubeadm_encryption_enabled",
    "kubelet_config": "kubeadm_kubelet_config (merged into KubeletConfiguration)",
    "kube_proxy_config": "kubeadm_kube_proxy_config (merged into KubeProxyConfiguration)",
    "control_plane_timeout": "kubeadm_control_plane_timeout, seconds",
    "node": "this host: {host, name, address, control_plane, labels, taints, control_plane_taint}",
}

# Labels the kubelet sets itself through --node-labels (k8s.io/kubelet/pkg/apis: kubeletLabels and the
# kubeletLabelNamespaces): any other label in a kubernetes.io or k8s.io namespace makes it refuse to start.
KUBELET_LABELS = {
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type", "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
}
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


# ---------------------------------------------------------------------------------------------------
# checks


def _dns_subdomain(value: str) -> bool:
    return 0 < len(value) <= 253 and all(_DNS_LABEL.match(p) and len(p) <= 63 for p in value.split("."))


def _label_key_problem(key) -> str:
    """Why ``key`` is not a valid label or taint key ('' when it is)."""
    if not isinstance(key, str) or not key:
        return "is empty or not a string"
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return "has more than one '/'"
    if "/" in key and not _dns_subdomain(prefix):
        return f"has the prefix {prefix!r}, which is not a lower-case DNS subdomain"
    if not (len(name) <= 63 and _NAME.match(name)):
        return ("has the name part " + repr(name) + ", which must be 1-63 characters, alphanumerics, '-', '_' or '.', "
                "starting and ending with an alphanumeric")
    return ""


def _label_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _label_value_problem(value: str) -> str:
    if value and not (len(value) <= 63 and _NAME.match(value)):
        return ("must be at most 63 characters, alphanumerics, '-', '_' or '.', starting and ending with an "
                "alphanumeric (or empty)")
    return ""


def _kubelet_refuses(key: str) -> bool:
    """Whether the kubelet refuses ``key`` in --node-labels (a kubernetes.io/k8s.io label it does not own)."""
    if key in KUBELET_LABELS or "/" not in key:
        return False
    namespace = key.split("/", 1)[0]
    if any(namespace == ns or namespace.endswith("." + ns) for ns in KUBELET_LABEL_NAMESPACES):
        return False
    return any(namespace == d or namespace.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))


def _network(value, name: str, problems: list):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" (did you mean {ipaddress.ip_network(str(value), strict=False)}?)"
        if "," in str(value):
            problems.append(f"{name} {value!r}: dual-stack (two CIDRs) is not supported by kubesmith; give one CIDR.")
        else:
            problems.append(f"{name} {value!r} is not a network in CIDR notation: {exc}{hint}.")
        return None


def _args_problems(value, name: str) -> list[str]:
    if isinstance(value, dict):
        items = [{"name": k, "value": v} for k, v in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        return [f"{name} must be a dict of flag: value (or a list of {{name, value}}), not {type(value).__name__}."]
    problems = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"name", "value"}:
            problems.append(f"{name}: {item!r} is not {{name, value}}.")
            continue
        flag = item["name"]
        if not isinstance(flag, str) or not flag or flag.startswith("-") or "=" in flag:
            problems.append(f"{name}: flag name {flag!r} must be given without leading dashes and without '='.")
        if isinstance(item["value"], (dict, list)):
            problems.append(f"{name}: the value of {flag} must be a string, number or boolean.")
    return problems


def _whole(value, minimum: int):
    """``value`` as an int when it is a whole number >= minimum (also given as a string, as -e passes it)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= minimum else None


def _minor(version) -> str:
    m = _VERSION.match(str(version or ""))
    return f"{m.group(1)}.{m.group(2)}" if m else ""


def _host_problems(s: dict) -> list[str]:
    node = s["node"]
    host = node["host"]
    problems = []
    name = str(node.get("name") or "")
    if not (_dns_subdomain(name)):
        problems.append(
            f"{host}: node name {name!r} is not a valid Kubernetes node name (lower-case DNS subdomain: a-z, 0-9, "
            "'-' and '.'); rename the inventory host or set kubeadm_node_name for it."
        )
    try:
        ipaddress.ip_address(str(node.get("address") or ""))
    except ValueError:
        problems.append(
            f"{host}: advertise address {node.get('address')!r} (its ansible_host) is not an IP address; kubeadm "
            "needs one: set kubeadm_advertise_address for that host."
        )
    labels = node.get("labels")
    if not isinstance(labels, dict):
        problems.append(f"{host}: kubesmith_node_labels must be a dict of label: value, not {type(labels).__name__}.")
        labels = {}
    for key, value in labels.items():
        why = _label_key_problem(key)
        if why:
            problems.append(f"{host}: node label key {key!r} in kubesmith_node_labels {why}.")
            continue
        if key.startswith("node-role.kubernetes.io/"):
            problems.append(
                f"{host}: node label {key!r} in kubesmith_node_labels: the kubelet refuses node-role.kubernetes.io/* "
                "labels in --node-labels (only the API may set them; the NodeRestriction admission plugin forbids "
                f"nodes to label themselves so). Remove it and set it after the join: "
                f"kubectl label node {name} {key}={_label_value(value)}."
            )
        elif _kubelet_refuses(key):
            problems.append(
                f"{host}: node label {key!r} in kubesmith_node_labels: the kubelet refuses labels of the kubernetes.io "
                "and k8s.io namespaces other than its own (node.kubernetes.io/*, kubelet.kubernetes.io/*, "
                "topology.kubernetes.io/region|zone, ...). Use your own prefix, e.g. example.com/role."
            )
        why = _label_value_problem(_label_value(value))
        if why:
            problems.append(f"{host}: the value {_label_value(value)!r} of node label {key} {why}.")
    taints = node.get("taints")
    if not isinstance(taints, list):
        problems.append(
            f"{host}: kubesmith_node_taints must be a list of {{key, value, effect}}, not {type(taints).__name__}."
        )
        taints = []
    seen = set()
    for taint in taints:
        if not isinstance(taint, dict) or not set(taint) <= {"key", "value", "effect"}:
            problems.append(f"{host}: taint {taint!r} in kubesmith_node_taints is not {{key, value, effect}}.")
            continue
        why = _label_key_problem(taint.get("key"))
        if why:
            problems.append(f"{host}: taint key {taint.get('key')!r} in kubesmith_node_taints {why}.")
        if taint.get("effect") not in TAINT_EFFECTS:
            problems.append(
                f"{host}: taint {taint.get('key')!r} in kubesmith_node_taints has effect {taint.get('effect')!r}; "
                f"use one of {', '.join(TAINT_EFFECTS)}."
            )
        why = _label_value_problem(_label_value(taint.get("value")))
        if why:
            problems.append(f"{host}: the value of taint {taint.get('key')} {why}.")
        pair = (taint.get("key"), taint.get("effect"))
        if pair in seen:
            problems.append(f"{host}: taint {pair[0]}:{pair[1]} is listed twice in kubesmith_node_taints.")
        seen.add(pair)
    return problems


def _cluster_problems(s: dict) -> list[str]:
    problems = []
    version = str(s["version"] or "")
    minors = s["minors"] or {}
    supported = ", ".join(sorted(minors, key=lambda m: tuple(int(x) for x in m.split(".")))) or "none"
    if not version:
        problems.append("kubesmith_kubernetes_version is not set: give the Kubernetes version, e.g. \"1.31.4\".")
    elif not _VERSION.match(version):
        problems.append(f"kubeadm_kubernetes_version {version!r} is not a version like 1.31.4.")
    elif _minor(version) not in minors:
        problems.append(
            f"Kubernetes {version}: minor {_minor(version)} is not supported (supported: {supported}; "
            "vars/kubernetes.yml kubesmith_kubernetes_minors)."
        )
    elif minors[_minor(version)].get("kubeadm_api") != API:
        problems.append(
            f"Kubernetes {_minor(version)} uses kubeadm API {minors[_minor(version)].get('kubeadm_api')!r}, "
            f"the kubeadm role renders {API} only (vars/kubernetes.yml)."
        )
    if not _DNS_LABEL.match(str(s["cluster_name"] or "")):
        problems.append(
            f"kubeadm_cluster_name {s['cluster_name']!r} must be a DNS label (a-z, 0-9, '-'): it names the "
            "cluster in kubeconfigs and the controller directory ~/.kubesmith/<name>."
        )
    if not _dns_subdomain(str(s["dns_domain"] or "")):
        problems.append(f"kubeadm_dns_domain {s['dns_domain']!r} is not a DNS domain like cluster.local.")

    pod = _network(s["pod_cidr"], "kubeadm_pod_cidr", problems)
    svc = _network(s["service_cidr"], "kubeadm_service_cidr", problems)
    if pod is not None and pod.prefixlen > (24 if pod.version == 4 else 64):
        problems.append(
            f"kubeadm_pod_cidr {pod} is too small: every node gets a /{24 if pod.version == 4 else 64} of it; "
            "use a larger network such as 10.244.0.0/16."
        )
    if svc is not None and svc.max_prefixlen - svc.prefixlen > 20:
        problems.append(
            f"kubeadm_service_cidr {svc} is too large: kube-apiserver accepts at most 20 host bits "
            f"(/{svc.max_prefixlen - 20} or smaller), e.g. 10.96.0.0/12."
        )
    if pod is not None and svc is not None:
        if pod.version != svc.version:
            problems.append(f"kubeadm_pod_cidr {pod} and kubeadm_service_cidr {svc} are of different IP versions.")
        elif pod.overlaps(svc):
            problems.append(f"kubeadm_pod_cidr {pod} and kubeadm_service_cidr {svc} overlap; they must be disjoint.")
    for host, address in sorted((s["host_addresses"] or {}).items()):
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            continue
        for net, name in ((pod, "kubeadm_pod_cidr"), (svc, "kubeadm_service_cidr")):
            if net is not None and ip.version == net.version and ip in net:
                problems.append(
                    f"{host}: its address {ip} lies in {name} {net}; pick a {name} outside the hosts' network."
                )

    endpoint = str(s["endpoint"] or "")
    ep_host, _, ep_port = endpoint.rpartition(":")
    if not ep_host or not ep_port.isdigit() or not 0 < int(ep_port) < 65536:
        problems.append(
            f"the API endpoint {endpoint!r} is not host:port (kubeadm_control_plane_endpoint, or the fact "
            "kubesmith_api_endpoint of role api_endpoint)."
        )

    if s["etcd_mode"] not in ("stacked", "external"):
        problems.append(f"kubeadm_etcd_mode {s['etcd_mode']!r} must be auto, stacked or external.")
    elif s["etcd_mode"] == "external" and not s["etcd_endpoints"]:
        problems.append(
            "kubeadm_etcd_mode is external but the etcd group has no hosts: list the etcd members in group etcd "
            "(and run playbooks/etcd.yml), or use kubeadm_etcd_mode: stacked."
        )

    if s["cgroup_driver"] not in CGROUP_DRIVERS:
        problems.append(f"kubesmith_cgroup_driver {s['cgroup_driver']!r} must be systemd or cgroupfs.")
    drivers = {h: d for h, d in (s["cgroup_drivers"] or {}).items() if d}
    if len(set(drivers.values())) > 1:
        problems.append(
            "the hosts' container runtimes use different cgroup drivers ("
            + ", ".join(f"{h}: {d}" for h, d in sorted(drivers.items()))
            + "), but kubeadm gives every kubelet one KubeletConfiguration; set container_runtime_cgroup_driver "
            "to one value for all hosts."
        )
    if s["proxy_mode"] not in PROXY_MODES:
        problems.append(f"kubeadm_proxy_mode {s['proxy_mode']!r} must be one of {', '.join(PROXY_MODES)}.")
    if not str(s["cri_socket"] or "").startswith("unix:///"):
        problems.append(f"kubeadm_cri_socket {s['cri_socket']!r} must be a unix:/// URL.")
    try:
        ipaddress.ip_address(str(s["components_bind_address"]))
    except ValueError:
        problems.append(
            f"kubeadm_components_bind_address {s['components_bind_address']!r} is not an IP address "
            "(127.0.0.1, or 0.0.0.0 to let Prometheus scrape the controller manager and the scheduler)."
        )
    for key in ("apiserver_extra_args", "controller_manager_extra_args", "scheduler_extra_args"):
        problems += _args_problems(s[key], f"kubeadm_{key}")
    audit = s["audit"] or {}
    for key in ("maxage", "maxbackup", "maxsize"):
        if _whole(audit.get(key), 0) is None:
            problems.append(f"kubeadm_audit_log_{key} {audit.get(key)!r} must be a whole number >= 0.")
    if not str(audit.get("log_dir", "")).startswith("/"):
        problems.append(f"kubeadm_audit_log_dir {audit.get('log_dir')!r} must be an absolute path.")
    for key in ("kubelet_config", "kube_proxy_config"):
        if not isinstance(s[key], dict):
            problems.append(f"kubeadm_{key} must be a dict of fields, not {type(s[key]).__name__}.")
        elif {"apiVersion", "kind"} & set(s[key]):
            problems.append(f"kubeadm_{key}: leave out apiVersion and kind, give only the fields to set.")
    if _whole(s["control_plane_timeout"], 1) is None:
        problems.append(f"kubeadm_control_plane_timeout {s['control_plane_timeout']!r} must be seconds > 0.")
    names = {}
    for host, name in sorted((s["node_names"] or {}).items()):
        names.setdefault(str(name), []).append(host)
    for name, hosts in sorted(names.items()):
        if len(hosts) > 1:
            problems.append(
                f"hosts {', '.join(hosts)} would all register as node {name!r}: node names must be unique "
                "(kubeadm_node_name)."
            )
    return problems


def kubeadm_problems(s: dict, scope: str = "all") -> list[str]:
    """Every problem of the settings ``s`` (see SETTINGS), each naming the variable (and host) to fix.
    ``scope``: cluster (cluster-wide settings only), host (this host's node settings only) or all."""
    missing = sorted(set(SETTINGS) - set(s))
    if missing:
        return [f"kubeadm filters: settings lack {', '.join(missing)} (roles/kubeadm/vars/main.yml builds them)."]
    problems = _cluster_problems(s) if scope in ("all", "cluster") else []
    return problems + (_host_problems(s) if scope in ("all", "host") else [])


def _check(s: dict) -> None:
    problems = kubeadm_problems(s)
    if problems:
        raise AnsibleFilterError("kubeadm: " + " ".join(problems))


# ---------------------------------------------------------------------------------------------------
# documents


def _args(value) -> list[dict]:
    """extraArgs of v1beta4: a list of {name, value} (strings) from a dict or such a list."""
    items = [{"name": k, "value": v} for k, v in value.items()] if isinstance(value, dict) else value
    return [{"name": str(i["name"]), "value": _label_value(i["value"])} for i in items]


def _merge_args(ours: list[dict], theirs) -> list[dict]:
    """Our flags, each replaced by the user's flag of the same name; the user's other flags after them."""
    theirs = _args(theirs)
    names = {a["name"] for a in theirs}
    return [a for a in ours if a["name"] not in names] + theirs


def _node_registration(s: dict) -> dict:
    node = s["node"]
    taints = [dict(CONTROL_PLANE_TAINT)] if node["control_plane"] and node["control_plane_taint"] else []
    for taint in node["taints"]:
        if (taint["key"], taint["effect"]) not in {(t["key"], t["effect"]) for t in taints}:
            taints.append({k: _label_value(taint[k]) for k in ("key", "value", "effect")
                           if taint.get(k) not in (None, "")})
    kubelet_args = [{"name": "node-ip", "value": str(node["address"])}]
    if node["labels"]:
        kubelet_args.append({
            "name": "node-labels",
            "value": ",".join(f"{k}={_label_value(v)}" for k, v in sorted(node["labels"].items())),
        })
    return {
        "name": node["name"],
        "criSocket": s["cri_socket"],
        # an empty list, not nothing: without taints kubeadm would taint every control-plane node
        "taints": taints,
        "kubeletExtraArgs": kubelet_args,
    }


def _endpoint_port(s: dict) -> int:
    return int(str(s["endpoint"]).rpartition(":")[2])


def _cert_sans(s: dict) -> list[str]:
    sans = ["127.0.0.1", "localhost"]
    for value in [str(s["endpoint"]).rpartition(":")[0].strip("[]"), *(s["cert_sans"] or [])]:
        if value and str(value) not in sans:
            sans.append(str(value))
    return sans


def _etcd(s: dict) -> dict:
    if s["etcd_mode"] == "external":
        return {"external": {
            "endpoints": list(s["etcd_endpoints"]),
            "caFile": f"{PKI}/etcd/ca.crt",
            "certFile": f"{PKI}/apiserver-etcd-client.crt",
            "keyFile": f"{PKI}/apiserver-etcd-client.key",
        }}
    return {"local": {"dataDir": "/var/lib/etcd"}}


def _apiserver(s: dict) -> dict:
    args, volumes = [], []
    if s["encryption"]:
        args.append({"name": "encryption-provider-config", "value": ENCRYPTION_CONFIG})
        volumes.append({"name": "kubesmith-encryption", "hostPath": ENCRYPTION_DIR, "mountPath": ENCRYPTION_DIR,
                        "readOnly": True, "pathType": "DirectoryOrCreate"})
    audit = s["audit"]
    if audit["enabled"]:
        log_dir = str(audit["log_dir"]).rstrip("/")
        args += [
            {"name": "audit-policy-file", "value": AUDIT_POLICY},
            {"name": "audit-log-path", "value": f"{log_dir}/audit.log"},
            {"name": "audit-log-maxage", "value": str(_whole(audit["maxage"], 0))},
            {"name": "audit-log-maxbackup", "value": str(_whole(audit["maxbackup"], 0))},
            {"name": "audit-log-maxsize", "value": str(_whole(audit["maxsize"], 0))},
        ]
        volumes += [
            {"name": "kubesmith-audit-policy", "hostPath": AUDIT_DIR, "mountPath": AUDIT_DIR,
             "readOnly": True, "pathType": "DirectoryOrCreate"},
            {"name": "kubesmith-audit-log", "hostPath": log_dir, "mountPath": log_dir,
             "readOnly": False, "pathType": "DirectoryOrCreate"},
        ]
    apiserver = {"certSANs": _cert_sans(s)}
    merged = _merge_args(args, s["apiserver_extra_args"])
    if merged:
        apiserver["extraArgs"] = merged
    if volumes:
        apiserver["extraVolumes"] = volumes
    return apiserver


def kubeadm_cluster_configuration(s: dict) -> dict:
    """The ClusterConfiguration of the settings ``s`` (kubeadm.k8s.io/v1beta4)."""
    _check(s)
    bind = [{"name": "bind-address", "value": str(s["components_bind_address"])}]
    return {
        "apiVersion": API,
        "kind": "ClusterConfiguration",
        "clusterName": s["cluster_name"],
        "kubernetesVersion": "v" + str(s["version"]).lstrip("v"),
        "controlPlaneEndpoint": str(s["endpoint"]),
        "imageRepository": s["image_repository"],
        "networking": {
            "podSubnet": str(s["pod_cidr"]),
            "serviceSubnet": str(s["service_cidr"]),
            "dnsDomain": s["dns_domain"],
        },
        "etcd": _etcd(s),
        "apiServer": _apiserver(s),
        "controllerManager": {"extraArgs": _merge_args(bind, s["controller_manager_extra_args"])},
        "scheduler": {"extraArgs": _merge_args(bind, s["scheduler_extra_args"])},
    }


def kubeadm_init_config(s: dict) -> list[dict]:
    """The documents of ``kubeadm init --config``: InitConfiguration (this host's node registration and local
    API endpoint; bootstrap tokens are left to the kubeadm_token module), ClusterConfiguration,
    KubeletConfiguration and KubeProxyConfiguration."""
    cluster = kubeadm_cluster_configuration(s)
    node = s["node"]
    init = {
        "apiVersion": API,
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": str(node["address"]), "bindPort": 6443},
        "nodeRegistration": _node_registration(s),
        "timeouts": {"controlPlaneComponentHealthCheck": f"{_whole(s['control_plane_timeout'], 1)}s"},
    }
    kubelet = {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": s["cgroup_driver"],
        "containerRuntimeEndpoint": s["cri_socket"],
        "serverTLSBootstrap": False,
        "rotateCertificates": True,
    }
    kubelet.update(copy.deepcopy(s["kubelet_config"]))
    proxy = {
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "mode": s["proxy_mode"],
        "clusterCIDR": str(s["pod_cidr"]),
    }
    if s["proxy_mode"] == "ipvs":
        # MetalLB's L2 mode needs the ipvs proxier not to answer ARP for service addresses
        proxy["ipvs"] = {"strictARP": True}
    proxy.update(copy.deepcopy(s["kube_proxy_config"]))
    return [init, cluster, kubelet, proxy]


def kubeadm_join_config(s: dict) -> dict:
    """The JoinConfiguration fields the kubeadm_join module takes in its ``config`` option: this host's
    nodeRegistration, and for a control-plane host controlPlane.localAPIEndpoint (discovery, the token and the
    certificate key are the module's own options)."""
    _check(s)
    node = s["node"]
    config = {
        "nodeRegistration": _node_registration(s),
    }
    if node["control_plane"]:
        config["controlPlane"] = {"localAPIEndpoint": {"advertiseAddress": str(node["address"]), "bindPort": 6443}}
        config["timeouts"] = {"controlPlaneComponentHealthCheck": f"{_whole(s['control_plane_timeout'], 1)}s"}
    return config


def kubeadm_encryption_config(key: str, provider: str = "secretbox", placeholder: str = "") -> dict:
    """EncryptionConfiguration: Secrets encrypted with ``key`` (base64 of 32 bytes) by ``provider`` (secretbox or
    aescbc); identity last, so Secrets written before encryption was turned on stay readable. With an empty
    ``key`` and a ``placeholder`` (render-only mode), the placeholder text stands where the key would be."""
    if provider not in ENCRYPTION_PROVIDERS:
        raise AnsibleFilterError(
            f"kubeadm_encryption_provider {provider!r} must be one of {', '.join(ENCRYPTION_PROVIDERS)}."
        )
    if not key and placeholder:
        key = raw = placeholder
    else:
        raw = _decode_key(key)
    if len(raw) != 32 and raw != placeholder:
        raise AnsibleFilterError(
            "kubeadm: the encryption key is not the base64 of 32 bytes; the key file on the controller "
            "(kubeadm_controller_dir/encryption-key) is damaged. Restore it from a backup: a new key cannot read "
            "the Secrets already encrypted."
        )
    return {
        "apiVersion": ENCRYPTION_API,
        "kind": "EncryptionConfiguration",
        "resources": [{
            "resources": ["secrets"],
            "providers": [
                {provider: {"keys": [{"name": "kubesmith-1", "secret": str(key).strip()}]}},
                {"identity": {}},
            ],
        }],
    }


def kubeadm_encryption_key_of(text) -> str:
    """The key of an EncryptionConfiguration's text (what this role writes): the secret of the first key of the
    first provider that has keys; '' when there is none or the text is not such a document."""
    try:
        doc = yaml.safe_load(str(text or ""))
    except yaml.YAMLError:
        return ""
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        return ""
    for resource in doc.get("resources") or []:
        for provider in (resource or {}).get("providers") or []:
            for settings in (provider or {}).values():
                keys = (settings or {}).get("keys") if isinstance(settings, dict) else None
                if keys and isinstance(keys[0], dict) and len(_decode_key(keys[0].get("secret"))) == 32:
                    return str(keys[0]["secret"])
    return ""


def _decode_key(key) -> bytes:
    try:
        return base64.b64decode(str(key or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


# The default audit policy: nothing for health probes and the control plane's own chatter, metadata
# (who, what, when; never a body) for Secrets, ConfigMaps, token reviews and everything else.
AUDIT_RULES = [
    {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"]},
    {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"],
     "resources": [{"group": "", "resources": ["endpoints", "services", "services/status"]},
                   {"group": "discovery.k8s.io", "resources": ["endpointslices"]}]},
    {"level": "None", "userGroups": ["system:nodes"], "verbs": ["get"],
     "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]},
    {"level": "None", "users": ["system:kube-controller-manager", "system:kube-scheduler",
                                "system:serviceaccount:kube-system:endpoint-controller"],
     "verbs": ["get", "update"], "namespaces": ["kube-system"],
     "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]},
                   {"group": "", "resources": ["endpoints"]}]},
    {"level": "None", "resources": [{"group": "", "resources": ["events"]},
                                    {"group": "events.k8s.io", "resources": ["events"]}]},
    {"level": "Metadata",
     "resources": [{"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                   {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
    {"level": "Metadata"},
]


def kubeadm_audit_policy(rules=None) -> dict:
    """The audit Policy: ``rules`` when given (a list of audit.k8s.io/v1 rules), else AUDIT_RULES. Request
    and response bodies are never logged by the default (they hold Secrets)."""
    rules = rules or AUDIT_RULES
    if not isinstance(rules, list) or not all(isinstance(r, dict) and r.get("level") for r in rules):
        raise AnsibleFilterError("kubeadm_audit_policy_rules must be a list of audit rules, each with a level.")
    return {
        "apiVersion": AUDIT_API,
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": copy.deepcopy(rules),
    }


def kubeadm_random_key(size=32) -> str:
    """A new random key: base64 of ``size`` bytes from the OS's random source."""
    return base64.b64encode(os.urandom(int(size))).decode()


def kubeadm_kubeconfig_server(text: str, url: str) -> str:
    """``text`` (a kubeconfig, as kubeadm writes it) with every cluster's server URL set to ``url``."""
    if not re.search(r"(?m)^\s*server:\s*\S+", str(text)):
        raise AnsibleFilterError("kubeadm: the admin kubeconfig has no cluster server line.")
    return re.sub(r"(?m)^([ \t]*server:[ \t]*)\S+[ \t]*$", lambda m: m.group(1) + str(url), str(text))


def kubeadm_addresses(hosts, hostvars) -> dict:
    """Inventory host -> the address it advertises: its kubeadm_advertise_address, else its ansible_host, else
    its name (what the role's default kubeadm_advertise_address gives on that host)."""
    out = {}
    for host in hosts or []:
        hv = hostvars[host]
        out[host] = str(hv.get("kubeadm_advertise_address") or hv.get("ansible_host") or host)
    return out


def kubeadm_node_names(hosts, hostvars) -> dict:
    """Inventory host -> its node name (kubeadm_node_name, else the inventory name)."""
    return {host: str(hostvars[host].get("kubeadm_node_name") or host) for host in hosts or []}


def kubeadm_hostvar(hosts, hostvars, name: str) -> dict:
    """Inventory host -> its variable ``name`` ('' when unset)."""
    return {host: hostvars[host].get(name) or "" for host in hosts or []}


class FilterModule:
    def filters(self):
        return {
            "kubeadm_addresses": kubeadm_addresses,
            "kubeadm_audit_policy": kubeadm_audit_policy,
            "kubeadm_hostvar": kubeadm_hostvar,
            "kubeadm_node_names": kubeadm_node_names,
            "kubeadm_cluster_configuration": kubeadm_cluster_configuration,
            "kubeadm_encryption_config": kubeadm_encryption_config,
            "kubeadm_encryption_key_of": kubeadm_encryption_key_of,
            "kubeadm_init_config": kubeadm_init_config,
            "kubeadm_join_config": kubeadm_join_config,
            "kubeadm_kubeconfig_server": kubeadm_kubeconfig_server,
            "kubeadm_problems": kubeadm_problems,
            "kubeadm_random_key": kubeadm_random_key,
        }
