"""Filters of the firewall role: turn inventory addresses and CIDRs into nftables set elements."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def _element(net) -> str:
    """One host as a plain address, a wider network as a CIDR."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def firewall_sources(values: list, what: str = "source") -> dict:
    """Addresses and CIDRs -> {'ip': [...], 'ip6': [...]}: the elements of an IPv4 and an IPv6
    nftables interval set. Duplicates and overlaps are merged (nft rejects overlapping elements),
    empty entries skipped, host bits of a CIDR dropped; anything else is an error naming ``what``."""
    nets = {4: [], 6: []}
    for value in values or []:
        if value is None or str(value).strip() == "":
            continue
        try:
            net = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise AnsibleFilterError(f"{what}: {value!r} is not an IP address or a CIDR") from None
        nets[net.version].append(net)
    return {
        "ip": [_element(n) for n in ipaddress.collapse_addresses(nets[4])],
        "ip6": [_element(n) for n in ipaddress.collapse_addresses(nets[6])],
    }


def firewall_host_addresses(hosts: list, hostvars) -> list[str]:
    """The inventory addresses (ansible_host) of ``hosts``; an error names each host without an IP address."""
    addresses, bad = [], []
    for host in hosts or []:
        value = str(hostvars[host].get("ansible_host", ""))
        try:
            ipaddress.ip_address(value)
        except ValueError:
            bad.append(f"{host} ({value or 'no ansible_host'})")
            continue
        addresses.append(value)
    if bad:
        raise AnsibleFilterError(
            "firewall: the rules need every cluster host's IP address in ansible_host; these have none: "
            + ", ".join(bad)
        )
    return addresses


class FilterModule:
    def filters(self):
        return {"firewall_sources": firewall_sources, "firewall_host_addresses": firewall_host_addresses}
