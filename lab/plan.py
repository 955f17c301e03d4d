"""Pure planning logic of the lab: host specs, addresses, inventory and Terraform-style output.

Nothing here touches the machine, so all of it is unit-tested (tests/unit/lab/).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field

# Flag -> (host name prefix, inventory group).
ROLE_FLAGS = {
    "control_plane": ("cp", "kube_control_plane"),
    "workers": ("worker", "kube_node"),
    "etcd": ("etcd", "etcd"),
    "loadbalancers": ("lb", "loadbalancers"),
}
# Parent groups written into every inventory: group -> children.
PARENT_GROUPS = {"k8s_cluster": ["kube_control_plane", "kube_node"]}
FIRST_HOST_OFFSET = 11  # .1 is the bridge (gateway + apt mirror), .2-.10 stay free for VIPs
HOSTNAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,10}$")  # "vb-" + name must fit IFNAMSIZ (15)
GROUP_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

# Default pod/service ranges of kubeadm and the usual CNIs: the lab subnet must not overlap them,
# or pod traffic would be routed into the host network.
RESERVED_CIDRS = {
    "10.244.0.0/16": "Flannel's default pod CIDR",
    "10.96.0.0/12": "kubeadm's default service CIDR",
    "192.168.0.0/16": "Calico's default pod CIDR",
    "10.0.0.0/8": "Cilium's default cluster-pool CIDR",
    "10.42.0.0/16": "k3s/rke2 default pod CIDR",
    "10.43.0.0/16": "k3s/rke2 default service CIDR",
}


class PlanError(ValueError):
    """A user error in the lab's arguments; the message says what to change."""


@dataclass(frozen=True)
class HostSpec:
    name: str
    groups: tuple[str, ...] = field(default_factory=tuple)


def parse_host_arg(arg: str) -> HostSpec:
    """Parse ``NAME[:GROUP[,GROUP...]]`` (the --host flag)."""
    name, _, groups = arg.partition(":")
    name = name.strip()
    if not HOSTNAME_RE.match(name):
        raise PlanError(
            f"bad host name {name!r}: use 1-11 characters, lower-case letters, digits and '-', "
            "starting with a letter (the name also names the host's veth, which has a 15 character limit)"
        )
    group_list = tuple(g.strip() for g in groups.split(",") if g.strip()) if groups else ()
    for g in group_list:
        if not GROUP_RE.match(g):
            raise PlanError(f"bad group name {g!r} for host {name}: use lower-case letters, digits and '_'")
    return HostSpec(name, group_list)


def hosts_from_counts(counts: dict[str, int]) -> list[HostSpec]:
    """Host specs from role counts, e.g. {"control_plane": 1, "workers": 2} -> cp1, worker1, worker2."""
    specs = []
    for flag, (prefix, group) in ROLE_FLAGS.items():
        n = counts.get(flag, 0) or 0
        if n < 0:
            raise PlanError(f"--{flag.replace('_', '-')} must be 0 or more, got {n}")
        specs.extend(HostSpec(f"{prefix}{i}", (group,)) for i in range(1, n + 1))
    unknown = set(counts) - set(ROLE_FLAGS)
    if unknown:
        raise PlanError(f"unknown host roles: {', '.join(sorted(unknown))}")
    return specs


def merge_specs(specs: list[HostSpec]) -> list[HostSpec]:
    """Join repeated names (their groups are merged, first position kept); reject an empty lab."""
    merged: dict[str, list[str]] = {}
    for s in specs:
        groups = merged.setdefault(s.name, [])
        groups.extend(g for g in s.groups if g not in groups)
    if not merged:
        raise PlanError("no hosts asked for: give --control-plane/--workers/--etcd/--loadbalancers counts or --host")
    return [HostSpec(n, tuple(g)) for n, g in merged.items()]


def check_subnet(cidr: str) -> ipaddress.IPv4Network:
    """The lab subnet: an IPv4 network with room for hosts, overlapping no default pod/service CIDR."""
    try:
        net = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError as exc:
        raise PlanError(f"bad lab subnet {cidr!r}: {exc} (example: 172.30.77.0/24)") from None
    if net.prefixlen > 26:
        raise PlanError(f"lab subnet {cidr} is too small: use a /26 or larger")
    for reserved, what in RESERVED_CIDRS.items():
        if net.overlaps(ipaddress.IPv4Network(reserved)):
            raise PlanError(
                f"lab subnet {cidr} overlaps {reserved} ({what}); a cluster on these hosts would route "
                "pod or service traffic into the host network. Pick another range, e.g. 172.30.77.0/24"
            )
    return net


def gateway(net: ipaddress.IPv4Network) -> str:
    return str(net.network_address + 1)


def assign_addresses(specs: list[HostSpec], net: ipaddress.IPv4Network, existing: dict[str, str]) -> dict[str, str]:
    """Give each host an address: hosts that already have one keep it, new ones get the lowest free one."""
    wanted = [s.name for s in specs]
    result = {n: existing[n] for n in wanted if n in existing}
    used = set(result.values())
    candidates = (str(net.network_address + i) for i in range(FIRST_HOST_OFFSET, net.num_addresses - 1))
    for name in wanted:
        if name in result:
            continue
        for ip in candidates:
            if ip not in used:
                result[name] = ip
                used.add(ip)
                break
        else:
            raise PlanError(f"lab subnet {net} has no free address left for {name}: use a larger subnet")
    return {n: result[n] for n in wanted}


def groups_of(specs: list[HostSpec]) -> dict[str, list[str]]:
    """Group -> hosts, in host order; every host is also in 'lab'; parent groups are expanded."""
    groups: dict[str, list[str]] = {}
    for s in specs:
        for g in s.groups:
            groups.setdefault(g, []).append(s.name)
    for parent, children in PARENT_GROUPS.items():
        members = [s.name for s in specs if any(c in s.groups for c in children)]
        if members and parent not in groups:
            groups[parent] = members
    return groups


def inventory(specs, addresses, key_file, apt_repo_url, images_dir=None) -> dict:
    """An Ansible YAML inventory for the lab hosts (images_dir: controller path of test image tarballs)."""
    children: dict[str, dict] = {}
    for s in specs:
        for g in s.groups:
            children.setdefault(g, {"hosts": {}})["hosts"][s.name] = None
    for parent, kids in PARENT_GROUPS.items():
        present = [k for k in kids if k in children]
        if present and parent not in children:
            children[parent] = {"children": {k: None for k in present}}
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": key_file,
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                "ansible_python_interpreter": "/usr/bin/python3",
                "kubesmith_lab_apt_repo": apt_repo_url,
                **({"kubesmith_lab_images_dir": images_dir} if images_dir else {}),
            },
            "children": {
                "lab": {"hosts": {s.name: {"ansible_host": addresses[s.name]} for s in specs}},
                **children,
            },
        }
    }


# What every lab host needs besides its address (the plugin reads it from the `cluster` output).
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"


def terraform_output(specs, addresses, key_file, apt_repo_url=None) -> dict:
    """The lab hosts in kubesmith's Terraform output contract (terraform/README.md), in the shape
    `terraform output -json` prints: `hosts`, `groups` (with `lab`) and `cluster` outputs."""
    hosts = {
        s.name: {
            "address": addresses[s.name],
            "user": "root",
            "groups": list(s.groups),
            "vars": {"ansible_ssh_private_key_file": key_file},
        }
        for s in specs
    }
    host_type = [
        "object",
        {"address": "string", "user": "string", "groups": ["list", "string"], "vars": ["map", "string"]},
    ]
    cluster = {"ansible_ssh_common_args": SSH_COMMON_ARGS}
    if apt_repo_url:
        cluster["kubesmith_lab_apt_repo"] = apt_repo_url
    return {
        "hosts": {"sensitive": False, "type": ["map", host_type], "value": hosts},
        "groups": {"sensitive": False, "type": ["map", ["list", "string"]],
                   "value": {**groups_of(specs), "lab": [s.name for s in specs]}},
        "cluster": {"sensitive": False, "type": ["map", "string"], "value": cluster},
    }


def etc_hosts(name: str) -> str:
    """/etc/hosts of a fresh lab host: like a fresh VM, it only knows itself."""
    return f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def networkd_unit(address: str, prefixlen: int, gw: str) -> str:
    return (
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={address}/{prefixlen}\nGateway={gw}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )


def dumps_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
