"""Filter of the inventory_check role: every problem of an inventory, found on the controller alone.

``inventory_problems(hostvars, groups, config)`` returns a list of messages (empty = good), each
naming the group, host or variable at fault and what to change, so that one run reports them all.
It reads only what the inventory (and -e) gave: ``hostvars`` as Ansible has it before any host is
contacted, and ``groups``. ``config`` is built by roles/inventory_check/vars/main.yml:

- ``required_groups``: groups that must hold a host;
- ``renamed_groups``: another tool's group name -> the kubesmith group;
- ``variables``: every ``kubesmith_*`` variable kubesmith knows, name -> {scope, default}; scope is
  ``cluster`` (one value for the whole cluster), ``host`` (per host), ``run`` (an option of one playbook
  run, given with -e), ``data`` (facts and data files, not user input) or ``lab`` (the test lab's own);
- ``foreign_variables``: other tools' variable names -> the kubesmith variable;
- ``internal_variables``: role variables (and derived values) that follow a kubesmith variable -> it;
- ``kubernetes_minors``: the supported minors (keys of kubesmith_kubernetes_minors);
- ``play_values``: each known variable as the play on the controller sees it (``UNSET`` when
  undefined). A value that differs from localhost's inventory value was set by the play (vars of an
  import_playbook, -e): it overrides the inventory on every host, so it is the one checked.

Limits used below are kubeadm's (cmd/kubeadm/app/constants/constants.go and
cmd/kubeadm/app/apis/kubeadm/validation/validation.go): the service subnet may have at most 20 host
bits (IPv4 /12, IPv6 /108) and at least 10 addresses; the pod subnet at least 14 addresses, and with
the default node mask (IPv4 /24, IPv6 /64) it must be no smaller than a node subnet and at most 16
bits bigger than one.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping

KUBESMITH_GROUPS = ("kube_control_plane", "kube_node", "etcd", "loadbalancers", "k8s_cluster")
CLUSTER_CHILDREN = ("kube_control_plane", "kube_node")
ETCD_SIZES = (1, 3, 5, 7)
CHOICES = {
    "kubesmith_api_mode": ("vip", "local"),
    "kubesmith_cni": ("flannel", "calico"),
    "kubesmith_etcd_mode": ("auto", "stacked", "external"),
    "kubesmith_kube_proxy_mode": ("iptables", "ipvs", "nftables"),
}
CNI_BACKENDS = {"flannel": ("vxlan", "host-gw"), "calico": ("vxlan", "ipip", "bgp")}
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# kubeadm's limits (see the module docstring)
SERVICE_MAX_HOST_BITS = 20
SERVICE_MIN_ADDRESSES = 10
POD_MIN_ADDRESSES = 14
NODE_MASK = {4: 24, 6: 64}
POD_NODE_MASK_MAX_DIFF = 16
CNI_MTU_RANGE = (576, 9216)

VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN_RE = re.compile(rf"^{DNS_LABEL}(\.{DNS_LABEL})*$")
CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
SHOWN_HOSTS = 5
UNSET = "__inventory_check_unset__"
NAME_CHARS = 'letters, digits, ".", "_" and "-"'
NODE_CHARS = 'lower-case letters, digits, "-" and "."'
LABEL_CHARS = 'letters, digits, "-", "_" and "."'
_UNSET = object()


class _Unreadable(Exception):
    """A variable whose template cannot be rendered (its value refers to something undefined)."""


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _q(value) -> str:
    """A value quoted for a message: double quotes, which stay readable in Ansible's YAML output."""
    return json.dumps(value, default=str)


def _hosts_text(hosts, every: int | None = None) -> str:
    hosts = list(hosts)
    if every and len(hosts) == every and every > 1:
        return f"all {every} hosts"
    shown = ", ".join(hosts[:SHOWN_HOSTS])
    return shown + (f" and {len(hosts) - SHOWN_HOSTS} more" if len(hosts) > SHOWN_HOSTS else "")


def _ip(text):
    """An IP address from a string, or None."""
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None


def _interval(net) -> tuple[int, int, int]:
    return net.version, int(net[0]), int(net[-1])


def _overlaps(a, b) -> bool:
    return a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2]


def _contains(interval, ip) -> bool:
    return interval[0] == ip.version and interval[1] <= int(ip) <= interval[2]


def _parse_network(name: str, value, problems: list) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A CIDR, strictly: host bits set is an error that names the network address."""
    text = str(value).strip()
    if "," in text:
        problems.append(f"{name} is {_q(text)}: kubesmith builds single-stack clusters; give one CIDR")
        return None
    if "/" not in text:
        problems.append(f"{name} is {_q(text)}, not a CIDR: give network/prefix, e.g. 10.244.0.0/16")
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        problems.append(f"{name} is {_q(text)}, not a CIDR: give network/prefix, e.g. 10.244.0.0/16")
        return None
    problems.append(f"{name} is {text}, which has host bits set: write its network address, {loose}")
    return None


class _Inventory:
    """The inventory as the checks see it: groups, and each host's variables read on demand."""

    def __init__(self, hostvars: Mapping, groups: Mapping, config: Mapping):
        self.hostvars = hostvars
        self.groups = {k: list(v or []) for k, v in groups.items()}
        self.config = config
        self.all = self.groups.get("all", [])
        self.cp = self.groups.get("kube_control_plane", [])
        self.nodes = self.groups.get("kube_node", [])
        self.etcd = self.groups.get("etcd", [])
        self.variables = dict(config.get("variables") or {})
        # cluster-wide values are read from the first control-plane host (where kubeadm init runs)
        self.reference = self.cp[0] if self.cp else (self.all[0] if self.all else "localhost")
        self.unreadable: dict[str, str] = {}
        self._vars: dict[str, Mapping] = {}
        self.play = {}
        for name, value in (config.get("play_values") or {}).items():
            if isinstance(value, str) and value == UNSET:
                continue
            try:
                local = self.raw("localhost", name)
            except _Unreadable:
                local = _UNSET
            if local is _UNSET or _json(local) != _json(value):
                self.play[name] = value

    def vars_of(self, host) -> Mapping:
        """The host's variables (looked up once: Ansible computes them on every hostvars[host])."""
        if host not in self._vars:
            try:
                found = self.hostvars[host]
            except KeyError:
                found = {}
            # Ansible answers an unknown host with an undefined marker, not a KeyError
            self._vars[host] = found if isinstance(found, Mapping) else {}
        return self._vars[host]

    def raw(self, host, name):
        """The host's value of ``name`` (templated by Ansible), _UNSET when the inventory has none."""
        hv = self.vars_of(host)
        try:
            if name not in hv:
                return _UNSET
            return hv[name]
        except Exception as exc:  # any templating error: report it, go on
            self.unreadable.setdefault(name, f"{name} on {host} cannot be rendered ({exc}): fix its value")
            raise _Unreadable(name) from None

    def value(self, name, host=None):
        """The value of ``name`` for ``host`` (default: the reference host), else its default; a value
        the play sets wins everywhere."""
        if name in self.play:
            return self.play[name]
        try:
            value = self.raw(self.reference if host is None else host, name)
        except _Unreadable:
            return None
        if value is _UNSET:
            return (self.variables.get(name) or {}).get("default")
        return value

    def is_set(self, name) -> bool:
        if name in self.play:
            return True
        try:
            return self.raw(self.reference, name) is not _UNSET
        except _Unreadable:
            return False

    def address(self, host):
        """The host's address as an IP, or None (a DNS name, or a local connection)."""
        try:
            conn = self.raw(host, "ansible_connection")
            addr = self.raw(host, "ansible_host")
        except _Unreadable:
            return None
        if conn == "local":
            return None
        return _ip(host if addr is _UNSET else addr)


# ----------------------------------------------------------------------------- groups
def check_groups(inv: _Inventory) -> list[str]:
    problems = []
    nonempty = {g for g, hosts in inv.groups.items() if hosts}
    for old, new in (inv.config.get("renamed_groups") or {}).items():
        if old in nonempty:
            problems.append(f"group {old} ({_hosts_text(inv.groups[old])}) is a name other tools use; kubesmith reads "
                            f"{new}: rename it ({old} -> {new}), or its hosts are skipped silently")
    for group in inv.config.get("required_groups") or []:
        if group not in nonempty:
            problems.append(f"group {group} has no hosts: put at least one host in it (the first host of "
                            "kube_control_plane runs kubeadm init; see inventory/sample/hosts.yml)")
    in_cluster = set(inv.groups.get("k8s_cluster", []))
    for group in CLUSTER_CHILDREN:
        outside = [h for h in inv.groups.get(group, []) if h not in in_cluster]
        if outside:
            problems.append(f"host(s) {_hosts_text(outside)} of group {group} are not in k8s_cluster: make "
                            "kube_control_plane and kube_node the children of k8s_cluster "
                            "(see inventory/sample/hosts.yml)")
    members = set(inv.cp) | set(inv.nodes)
    strays = [h for h in inv.groups.get("k8s_cluster", []) if h not in members]
    if strays:
        problems.append(f"host(s) {_hosts_text(strays)} are in k8s_cluster but in neither kube_control_plane "
                        "nor kube_node: put each in one of them (k8s_cluster = those two groups)")
    known = set(KUBESMITH_GROUPS) | set(inv.config.get("renamed_groups") or {}) | {"all", "ungrouped"}
    for group in sorted(nonempty - known):
        near = difflib.get_close_matches(group, KUBESMITH_GROUPS, n=1, cutoff=0.8)
        if near:
            problems.append(f"group {group} ({_hosts_text(inv.groups[group])}) is not a group kubesmith reads: "
                            f"did you mean {near[0]}?")
    return problems


# ----------------------------------------------------------------------------- etcd
def check_etcd(inv: _Inventory) -> list[str]:
    problems = []
    mode = inv.value("kubesmith_etcd_mode")
    n = len(inv.etcd)
    if n and n not in ETCD_SIZES:
        fix = "remove one host or add one" if n % 2 == 0 and n < max(ETCD_SIZES) else f"use at most {max(ETCD_SIZES)}"
        problems.append(f"group etcd has {n} hosts ({_hosts_text(inv.etcd)}): etcd needs an odd number of members "
                        f"(1, 3, 5 or 7) to keep a quorum through failures; {fix}")
    if mode == "external" and not n:
        problems.append("kubesmith_etcd_mode is external but group etcd has no hosts: list the etcd hosts in group "
                        "etcd, or set kubesmith_etcd_mode: stacked (etcd on the control-plane hosts)")
    if mode == "stacked" and n:
        problems.append(f"kubesmith_etcd_mode is stacked but group etcd has hosts ({_hosts_text(inv.etcd)}): stacked "
                        "etcd runs on the control-plane hosts; empty group etcd, or set kubesmith_etcd_mode: "
                        "external (or auto)")
    stacked = mode == "stacked" or (mode == "auto" and not n)
    m = len(inv.cp)
    if stacked and m > 1 and m not in ETCD_SIZES:
        problems.append(f"stacked etcd runs one member on each control-plane host, and kube_control_plane has {m} "
                        f"hosts ({_hosts_text(inv.cp)}): use an odd number of control-plane hosts (1, 3, 5 or 7), "
                        "or external etcd (hosts in group etcd)")
    return problems


# ----------------------------------------------------------------------------- Kubernetes version
def _minor_key(minor: str):
    return tuple(int(p) if p.isdigit() else p for p in str(minor).split("."))


def check_version(inv: _Inventory) -> list[str]:
    name = "kubesmith_kubernetes_version"
    minors = sorted((str(m) for m in inv.config.get("kubernetes_minors") or []), key=_minor_key)
    example = f'"{minors[-1]}.0"' if minors else '"1.31.4"'
    supported = ", ".join(minors) or "none (vars/kubernetes.yml lists none)"
    if not inv.is_set(name):
        if name in inv.unreadable:
            return []
        return [f"{name} is not set: set the Kubernetes release to install, e.g. {name}: {example} in "
                f"group_vars/all (supported minors: {supported})"]
    value = inv.value(name)
    if not isinstance(value, str):
        return [f"{name} is {_q(value)} (a {type(value).__name__}): quote it and give the patch release too, "
                f"e.g. {name}: {example}"]
    text = value.strip()
    if text[:1] in ("v", "V") and VERSION_RE.match(text[1:]):
        return [f"{name} is {_q(text)}: drop the v ({name}: \"{text[1:]}\")"]
    match = VERSION_RE.match(text)
    if not match:
        return [f"{name} is {_q(text)}: give major.minor.patch, e.g. {example}"]
    minor = f"{match.group(1)}.{match.group(2)}"
    if minor not in minors:
        return [f"{name} is {text}: minor {minor} is not supported; use one of {supported} "
                "(vars/kubernetes.yml kubesmith_kubernetes_minors)"]
    return []


# ----------------------------------------------------------------------------- variables
def check_variables(inv: _Inventory) -> list[str]:
    """Misspelt, removed, other tools' and role-internal variable names; cluster-wide values that differ."""
    foreign = dict(inv.config.get("foreign_variables") or {})
    internal = dict(inv.config.get("internal_variables") or {})
    known = set(inv.variables)
    users = sorted(n for n, spec in inv.variables.items() if (spec or {}).get("scope") in ("cluster", "host"))
    where: dict[str, list[str]] = {}
    for host in inv.all:
        for key in list(inv.vars_of(host).keys()):
            if key in foreign or key in internal or (key.startswith("kubesmith_") and key not in known):
                where.setdefault(key, []).append(host)
    problems = []
    every = len(inv.all)
    for key in sorted(where):
        on = f"(on {_hosts_text(where[key], every)})"
        if key in foreign:
            problems.append(f"variable {key} {on} is a name other tools use (kubespray, kubeadm): "
                            f"kubesmith calls it {foreign[key]}; rename it")
        elif key in internal:
            problems.append(f"variable {key} {on} is internal (derived from {internal[key]}): "
                            f"set {internal[key]} instead")
        else:
            # every name shares the prefix: compare what follows it
            suffix = key.removeprefix("kubesmith_")
            near = [u for u in users if u.endswith(f"_{suffix}")]  # kubesmith_version: kubernetes_version
            near = near[:1] if len(near) == 1 else difflib.get_close_matches(
                suffix, [u.removeprefix("kubesmith_") for u in users], n=1, cutoff=0.7)
            near = [n.removeprefix("kubesmith_") for n in near]
            fix = (f"did you mean kubesmith_{near[0]}?" if near
                   else "remove it (roles/inventory_check/README.md lists them)")
            problems.append(f"variable {key} {on} is not a kubesmith variable: {fix}")
    cluster_wide = [n for n, spec in inv.variables.items()
                    if (spec or {}).get("scope") == "cluster" and n not in inv.play]
    for name in sorted(cluster_wide):
        seen: dict[str, list[str]] = {}
        for host in inv.all:
            try:
                value = inv.raw(host, name)
            except _Unreadable:
                continue
            if value is _UNSET:
                value = (inv.variables.get(name) or {}).get("default")
            seen.setdefault(_json(value), []).append(host)
        if len(seen) > 1:
            detail = "; ".join(f"{v} on {_hosts_text(h)}" for v, h in seen.items())
            problems.append(f"{name} differs between hosts ({detail}): it is cluster-wide; set it once "
                            "(group_vars/all)")
    return problems


# ----------------------------------------------------------------------------- settings
def check_settings(inv: _Inventory) -> list[str]:
    problems = []
    for name, choices in CHOICES.items():
        value = inv.value(name)
        if value is not None and value not in choices:
            problems.append(f"{name} is {_q(value)}: use one of {', '.join(choices)}")
    cni = inv.value("kubesmith_cni")
    backend = inv.value("kubesmith_cni_backend")
    if cni in CNI_BACKENDS and backend is not None and backend not in CNI_BACKENDS[cni]:
        problems.append(f"kubesmith_cni_backend is {_q(backend)}, which {cni} does not have: use one of "
                        f"{', '.join(CNI_BACKENDS[cni])} (or another kubesmith_cni)")
    mtu = inv.value("kubesmith_cni_mtu")
    if mtu is not None:
        try:
            mtu_n = int(str(mtu).strip())
        except ValueError:
            mtu_n = None
        if mtu_n is None or isinstance(mtu, bool) or (mtu_n != 0 and not CNI_MTU_RANGE[0] <= mtu_n <= CNI_MTU_RANGE[1]):
            problems.append(f"kubesmith_cni_mtu is {_q(mtu)}: give 0 (the CNI detects it) or an MTU from "
                            f"{CNI_MTU_RANGE[0]} to {CNI_MTU_RANGE[1]}")
    name = inv.value("kubesmith_cluster_name")
    if name is not None and not (isinstance(name, str) and CLUSTER_NAME_RE.match(name)):
        problems.append(f"kubesmith_cluster_name is {_q(name)}: use {NAME_CHARS} (it names the cluster "
                        "and its directory under ~/.kubesmith)")
    domain = inv.value("kubesmith_dns_domain")
    if domain is not None and not (isinstance(domain, str) and len(domain) <= 253 and DNS_SUBDOMAIN_RE.match(domain)):
        problems.append(f"kubesmith_dns_domain is {_q(domain)}: give a lower-case DNS name without a trailing dot, "
                        "e.g. cluster.local")
    bundle = inv.value("kubesmith_bundle_dir")
    if bundle and not (isinstance(bundle, str) and bundle.startswith(("/", "~"))):
        problems.append(f"kubesmith_bundle_dir is {_q(bundle)}: give an absolute path on the controller "
                        "(or leave it empty: no offline bundle)")
    kubeconfig = inv.value("kubesmith_kubeconfig")
    if kubeconfig is not None and not (isinstance(kubeconfig, str) and kubeconfig.strip()):
        problems.append(f"kubesmith_kubeconfig is {_q(kubeconfig)}: give a path on the controller, or leave it unset")
    vip = inv.value("kubesmith_api_vip")
    mode = inv.value("kubesmith_api_mode")
    if vip:
        ip = _ip(vip)
        if ip is None or ip.version != 4 or "/" in str(vip):
            problems.append(f"kubesmith_api_vip is {_q(vip)}: give one IPv4 address (no prefix), a free address "
                            "in the subnet of the control-plane hosts")
        elif mode == "local":
            problems.append(f"kubesmith_api_vip is {vip} but kubesmith_api_mode is local (a proxy on every node, no "
                            "VIP): remove kubesmith_api_vip, or set kubesmith_api_mode: vip")
    elif mode == "vip" and len(inv.cp) > 1:
        problems.append(f"kube_control_plane has {len(inv.cp)} hosts but the API has no highly available endpoint: "
                        "set kubesmith_api_vip (a free IPv4 address in the subnet of the control-plane hosts), or "
                        "kubesmith_api_mode: local")
    return problems


def check_host_settings(inv: _Inventory) -> list[str]:
    """Per host: Kubernetes node names, labels, taints."""
    problems = []
    cluster = [h for h in inv.all if h in set(inv.cp) | set(inv.nodes)]
    for host in cluster:
        node = host.lower()
        if len(node) > 253 or not DNS_SUBDOMAIN_RE.match(node):
            problems.append(f"host {host}: its name is the Kubernetes node name, and {_q(node)} is not a valid one: "
                            f"rename the host using {NODE_CHARS} only (keep the address in ansible_host)")
        labels = inv.value("kubesmith_node_labels", host)
        if labels is not None:
            if not isinstance(labels, Mapping):
                problems.append(f"host {host}: kubesmith_node_labels is {_q(labels)}: give a dict of label: value")
            else:
                for key, val in labels.items():
                    if not _label_key_ok(key):
                        problems.append(f"host {host}: node label key {_q(key)} is not valid: use [prefix/]name, "
                                        f"the name up to 63 of {LABEL_CHARS}")
                    if not (isinstance(val, str) and len(val) <= 63 and LABEL_VALUE_RE.match(val)):
                        problems.append(f"host {host}: node label {key}={_q(val)}: the value must be a string (quote "
                                        f"it) of up to 63 {LABEL_CHARS}")
        taints = inv.value("kubesmith_node_taints", host)
        if taints is not None:
            if not isinstance(taints, list):
                problems.append(f"host {host}: kubesmith_node_taints is {_q(taints)}: give a list of "
                                "{key, value, effect}")
            else:
                for taint in taints:
                    if not isinstance(taint, Mapping) or not _label_key_ok(taint.get("key")):
                        problems.append(f"host {host}: taint {_q(taint)} needs a valid key (like a label key)")
                    elif taint.get("effect") not in TAINT_EFFECTS:
                        problems.append(f"host {host}: taint {taint['key']} has effect {_q(taint.get('effect'))}: "
                                        f"use one of {', '.join(TAINT_EFFECTS)}")
                    elif not LABEL_VALUE_RE.match(str(taint.get("value") or "")):
                        problems.append(f"host {host}: taint {taint['key']} has value {_q(taint.get('value'))}: "
                                        f"give up to 63 {LABEL_CHARS}")
    return problems


def _label_key_ok(key) -> bool:
    if not isinstance(key, str) or not key:
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN_RE.match(prefix)):
        return False
    return bool(LABEL_NAME_RE.match(name))


# ----------------------------------------------------------------------------- networks
def _metallb_entry(entry, problems: list):
    """An entry of kubesmith_metallb_addresses as an interval (version, first, last), or None."""
    text = str(entry).strip()
    name = f"kubesmith_metallb_addresses entry {_q(text)}"
    if "/" in text:
        net = _parse_network(name, text, problems)
        return _interval(net) if net else None
    first, sep, last = text.partition("-")
    a, b = _ip(first), _ip(last)
    if not sep or a is None or b is None:
        problems.append(f"{name} is neither a CIDR nor a range: write 192.0.2.240/28 or 192.0.2.240-192.0.2.250 "
                        "(one address: 192.0.2.240/32)")
        return None
    if a.version != b.version or int(a) > int(b):
        problems.append(f"{name}: the range must go from the lower to the higher address of one IP family")
        return None
    return a.version, int(a), int(b)


def check_networks(inv: _Inventory) -> list[str]:
    problems = []
    nets = {}
    for name in ("kubesmith_pod_cidr", "kubesmith_service_cidr"):
        value = inv.value(name)
        if value is not None:
            net = _parse_network(name, value, problems)
            if net is not None:
                nets[name] = net
    svc = nets.get("kubesmith_service_cidr")
    if svc is not None:
        host_bits = svc.max_prefixlen - svc.prefixlen
        if host_bits > SERVICE_MAX_HOST_BITS:
            problems.append(f"kubesmith_service_cidr {svc} is too large for kubeadm: a service subnet may have at most "
                            f"{SERVICE_MAX_HOST_BITS} host bits, so the prefix must be /"
                            f"{svc.max_prefixlen - SERVICE_MAX_HOST_BITS} or longer (e.g. 10.96.0.0/12)")
        elif svc.num_addresses < SERVICE_MIN_ADDRESSES:
            problems.append(f"kubesmith_service_cidr {svc} has {svc.num_addresses} addresses; kubeadm needs at least "
                            f"{SERVICE_MIN_ADDRESSES} (the DNS service is the tenth): use a shorter prefix")
    pod = nets.get("kubesmith_pod_cidr")
    if pod is not None:
        node_mask = NODE_MASK[pod.version]
        if pod.num_addresses < POD_MIN_ADDRESSES or pod.prefixlen > node_mask:
            problems.append(f"kubesmith_pod_cidr {pod} is smaller than the pod subnet of one node (/{node_mask}): "
                            "use a shorter prefix, e.g. 10.244.0.0/16")
        elif node_mask - pod.prefixlen > POD_NODE_MASK_MAX_DIFF:
            problems.append(f"kubesmith_pod_cidr {pod} is too large for kubeadm (at most {POD_NODE_MASK_MAX_DIFF} "
                            f"bits above the node subnet /{node_mask}): use /{node_mask - POD_NODE_MASK_MAX_DIFF} "
                            "or a longer prefix")
        else:
            nodes = len(set(inv.cp) | set(inv.nodes))
            capacity = 2 ** (node_mask - pod.prefixlen)
            if nodes > capacity:
                problems.append(f"kubesmith_pod_cidr {pod} holds {capacity} node subnet(s) of /{node_mask}, and the "
                                f"cluster has {nodes} nodes: use a shorter prefix")
    if pod is not None and svc is not None and pod.overlaps(svc):
        problems.append(f"kubesmith_pod_cidr {pod} and kubesmith_service_cidr {svc} overlap: give them separate "
                        "ranges (defaults 10.244.0.0/16 and 10.96.0.0/12)")
    ranges = {name: _interval(net) for name, net in nets.items()}

    addresses = {}
    for host in inv.all:
        ip = inv.address(host)
        if ip is not None:
            addresses[host] = ip
    for name, rng in ranges.items():
        inside = [f"{h} ({ip})" for h, ip in addresses.items() if _contains(rng, ip)]
        if inside:
            problems.append(f"the address of host(s) {_hosts_text(inside)} is inside {name} {nets[name]}: pod and "
                            f"service ranges must not contain the network of the hosts; change {name}")

    vip = _ip(inv.value("kubesmith_api_vip") or "")
    if vip is not None:
        for name, rng in ranges.items():
            if _contains(rng, vip):
                problems.append(f"kubesmith_api_vip {vip} is inside {name} {nets[name]}: the VIP must be an address "
                                "of the network of the hosts")
        taken = [h for h, ip in addresses.items() if ip == vip]
        if taken:
            problems.append(f"kubesmith_api_vip {vip} is the address of host {_hosts_text(taken)}: the VIP must be a "
                            "free address")

    pools = inv.value("kubesmith_metallb_addresses")
    if pools is not None and not isinstance(pools, list):
        problems.append(f"kubesmith_metallb_addresses is {_q(pools)}: give a list of CIDRs or first-last ranges")
        pools = []
    parsed = []
    for entry in pools or []:
        rng = _metallb_entry(entry, problems)
        if rng is None:
            continue
        for name, other in ranges.items():
            if _overlaps(rng, other):
                problems.append(f"kubesmith_metallb_addresses entry {entry} overlaps {name} {nets[name]}: give "
                                "MetalLB addresses of the network of the hosts that nothing else uses")
        for prev_entry, prev in parsed:
            if _overlaps(rng, prev):
                problems.append(f"kubesmith_metallb_addresses entries {prev_entry} and {entry} overlap: "
                                "list each address once")
        inside = [h for h, ip in addresses.items() if _contains(rng, ip)]
        if inside:
            problems.append(f"kubesmith_metallb_addresses entry {entry} contains the address of host(s) "
                            f"{_hosts_text(inside)}: leave the addresses of the hosts out of the pool")
        if vip is not None and _contains(rng, vip):
            problems.append(f"kubesmith_metallb_addresses entry {entry} contains kubesmith_api_vip {vip}: leave the "
                            "VIP out of the pool")
        parsed.append((entry, rng))
    return problems


# ----------------------------------------------------------------------------- duplicates
def check_duplicates(inv: _Inventory) -> list[str]:
    problems = []
    by_lower: dict[str, list[str]] = {}
    for host in inv.all:
        by_lower.setdefault(host.lower(), []).append(host)
    for name, hosts in sorted(by_lower.items()):
        if len(hosts) > 1:
            problems.append(f"hosts {' and '.join(hosts)} differ only by case, and Kubernetes lower-cases node names "
                            f"(both would be node {name}): rename one")
    by_addr: dict[str, list[str]] = {}
    for host in inv.all:
        ip = inv.address(host)
        if ip is not None:
            by_addr.setdefault(str(ip), []).append(host)
    for addr, hosts in sorted(by_addr.items()):
        if len(hosts) > 1:
            problems.append(f"hosts {', '.join(hosts)} have the same address {addr} (ansible_host): each host needs "
                            "its own; fix the copied entry")
    return problems


CHECKS = (check_groups, check_etcd, check_version, check_variables, check_settings, check_networks,
          check_host_settings, check_duplicates)


def inventory_problems(hostvars: Mapping, groups: Mapping, config: Mapping) -> list[str]:
    """Every problem of the inventory, each naming what is wrong and the fix; [] when it is good."""
    inv = _Inventory(hostvars, groups, config)
    problems: list[str] = []
    for check in CHECKS:
        problems += check(inv)
    return list(inv.unreadable.values()) + problems


class FilterModule:
    def filters(self):
        return {"inventory_problems": inventory_problems}
