"""Filters of the pki role: which certificates a host needs, with which names."""

from __future__ import annotations

import ipaddress


def _san(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return f"IP:{value}"
    except ValueError:
        return f"DNS:{value}"


def pki_etcd_member_certs(host: str, hostvars: dict, extra_sans: list | None = None) -> list[dict]:
    """Server and peer certificates of one etcd member: SANs are its name, address and localhost."""
    hv = hostvars.get(host, {})
    address = hv.get("ansible_host", host)
    sans = []
    for v in [host, address, "localhost", "127.0.0.1", *(extra_sans or [])]:
        s = v if v.startswith(("DNS:", "IP:")) else _san(str(v))
        if s not in sans:
            sans.append(s)
    usage = ["serverAuth", "clientAuth"]
    return [
        {"name": f"etcd/{host}-{kind}", "ca": "etcd/ca", "cn": host, "sans": sans, "usage": usage}
        for kind in ("server", "peer")
    ]


def pki_expiring(infos: list[dict]) -> list[str]:
    """Paths of certificates x509_certificate_info found not valid at the 'renew' point in time."""
    return sorted(r["item"] for r in infos if not r.get("skipped") and not r.get("valid_at", {}).get("renew", True))


class FilterModule:
    def filters(self):
        return {"pki_etcd_member_certs": pki_etcd_member_certs, "pki_expiring": pki_expiring}
