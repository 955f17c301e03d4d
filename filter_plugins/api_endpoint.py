"""Filters of the api_endpoint role: pure functions over inventory values and the probe's output.

The role's early asserts take their messages from api_endpoint_problems (inventory alone, on the
controller) and api_endpoint_host_problems (with what the probe read on a host): each message names
the variable to change.
"""

from __future__ import annotations

import ipaddress


def api_endpoint_is_ipv4(value) -> bool:
    """Whether ``value`` is one IPv4 address (no prefix, no host name)."""
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return False
    return True


def api_endpoint_addresses(hosts: list, hostvars) -> dict:
    """Inventory host -> its ansible_host as a string ('' when unset)."""
    return {h: str(hostvars[h].get("ansible_host", "") or "") for h in hosts or []}


def _bad_port(value) -> bool:
    try:
        return not 0 < int(value) < 65536
    except (TypeError, ValueError):
        return True


def api_endpoint_problems(s: dict) -> list[str]:
    """What is wrong with the role's settings ``s``: mode, vip, group, port, local_port, backend_port,
    vrrp_router_id, vrrp_version, auth_pass_length, backends (control-plane hosts), balancers
    (host -> address of the hosts of the group), all_addresses (of every inventory host), colocated
    (haproxy shares hosts with API servers)."""
    problems = []
    vip_mode = s["mode"] == "vip"
    if not s["backends"]:
        problems.append("kube_control_plane has no hosts: the endpoint balances to the API servers of that group.")
    bad_ports = [n for n in ("port", "local_port", "backend_port") if _bad_port(s[n])]
    for name in bad_ports:
        problems.append(f"api_endpoint_{name} {s[name]!r} is not a TCP port (1-65535).")
    if not vip_mode:
        if "local_port" not in bad_ports and int(s["local_port"]) == int(s["backend_port"]):
            problems.append(
                f"api_endpoint_local_port {s['local_port']} is the API servers' port (api_endpoint_backend_port), "
                "taken on control-plane hosts; use another one, such as 6444."
            )
        return problems
    if not s["balancers"]:
        problems.append(
            f"api_endpoint_group {s['group']!r} has no hosts: put the hosts that should hold the VIP in it, "
            "or set api_endpoint_group."
        )
    vip = str(s["vip"] or "")
    if not vip:
        problems.append(
            "api_endpoint_vip is not set: give a free IPv4 address of the load balancers' subnet "
            "(or set api_endpoint_mode: local)."
        )
    elif not api_endpoint_is_ipv4(vip):
        problems.append(f"api_endpoint_vip {vip!r} is not an IPv4 address.")
    elif vip in s["all_addresses"]:
        problems.append(f"api_endpoint_vip {vip} is the ansible_host of an inventory host: pick a free address.")
    try:
        vrid_ok = 1 <= int(s["vrrp_router_id"]) <= 255
    except (TypeError, ValueError):
        vrid_ok = False
    if not vrid_ok:
        problems.append(f"api_endpoint_vrrp_router_id {s['vrrp_router_id']} is not between 1 and 255.")
    if int(s["vrrp_version"]) == 3 and int(s["auth_pass_length"]) > 0:
        problems.append(
            "api_endpoint_vrrp_auth_pass is set, but VRRPv3 has no authentication (RFC 5798) and keepalived "
            "ignores it: leave it empty, or set api_endpoint_vrrp_version: 2 (slower failover)."
        )
    if int(s["auth_pass_length"]) > 8:
        problems.append("api_endpoint_vrrp_auth_pass is longer than the 8 characters VRRPv2 carries.")
    no_ipv4 = sorted(h for h, a in s["balancers"].items() if not api_endpoint_is_ipv4(a))
    if no_ipv4:
        problems.append(
            f"the hosts of {s['group']} need an IPv4 address in ansible_host (keepalived's peers): "
            + ", ".join(no_ipv4) + "."
        )
    if s["colocated"] and "port" not in bad_ports and int(s["port"]) == int(s["backend_port"]):
        problems.append(
            f"api_endpoint_port {s['port']} is the API servers' port (api_endpoint_backend_port) on hosts that "
            "run both haproxy and an API server; use another one, such as 8443."
        )
    return problems


def api_endpoint_interface(interfaces: list, address: str, name: str = "") -> dict:
    """The interface that carries the VIP, from the probe's ``interfaces`` list
    ([{name, addresses: [{address, prefixlen}]}]): the one named ``name`` when given, else the one
    holding ``address`` (the host's inventory address). Returns {name, address, prefixlen, network}
    ({} when there is none); with ``name``, its address is ``address`` when it holds it, else its first."""
    for iface in interfaces:
        addrs = iface.get("addresses") or []
        if name:
            if iface.get("name") != name or not addrs:
                continue
            chosen = next((a for a in addrs if a["address"] == address), addrs[0])
        else:
            chosen = next((a for a in addrs if a["address"] == address), None)
            if chosen is None:
                continue
        net = ipaddress.IPv4Interface(f"{chosen['address']}/{chosen['prefixlen']}").network
        return {
            "name": iface["name"],
            "address": chosen["address"],
            "prefixlen": int(chosen["prefixlen"]),
            "network": str(net),
        }
    return {}


def api_endpoint_foreign_vrrp(adverts: list, vrid, peers: list) -> list[str]:
    """Sources of VRRP adverts for virtual router ``vrid`` that are not among ``peers`` (sorted)."""
    own = {str(p) for p in peers}
    return sorted({a["source"] for a in adverts if int(a["vrid"]) == int(vrid) and a["source"] not in own})


def api_endpoint_host_problems(probe: dict, address: str, interface_name: str, vip: str, vrid, peers: list) -> list:
    """What is wrong on one host that is to hold ``vip``, from the probe's output (interfaces, adverts)."""
    iface = api_endpoint_interface(probe.get("interfaces", []), address, interface_name)
    if not iface:
        if interface_name:
            return [f"api_endpoint_interface {interface_name} does not exist here or has no IPv4 address."]
        return [f"no interface holds the address {address} (ansible_host); set api_endpoint_interface."]
    problems = []
    net = ipaddress.IPv4Network(iface["network"])
    addr = ipaddress.IPv4Address(vip)
    if addr not in net:
        problems.append(
            f"api_endpoint_vip {vip} is outside {net}, the subnet of {iface['name']}: pick a free address in it"
            + ("." if interface_name else ", or set api_endpoint_interface.")
        )
    elif net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address):
        problems.append(f"api_endpoint_vip {vip} is the network or broadcast address of {net}.")
    foreign = api_endpoint_foreign_vrrp(probe.get("adverts", []), vrid, peers)
    if foreign:
        problems.append(
            f"api_endpoint_vrrp_router_id {vrid} is in use on this network by {', '.join(foreign)} "
            "(their VRRP adverts reach this host); pick another one."
        )
    return problems


def api_endpoint_priority(host: str, hosts: list) -> int:
    """VRRP priority of ``host``: 150 for the first host of the group, one less for each next one
    (never below 1), so that the order in which hosts take the VIP is predictable."""
    return max(1, 150 - list(hosts).index(host))


class FilterModule:
    def filters(self):
        return {
            "api_endpoint_addresses": api_endpoint_addresses,
            "api_endpoint_foreign_vrrp": api_endpoint_foreign_vrrp,
            "api_endpoint_host_problems": api_endpoint_host_problems,
            "api_endpoint_interface": api_endpoint_interface,
            "api_endpoint_is_ipv4": api_endpoint_is_ipv4,
            "api_endpoint_priority": api_endpoint_priority,
            "api_endpoint_problems": api_endpoint_problems,
        }
