#!/usr/bin/python3
"""Read-only probe of the api_endpoint role on a host that is to hold the VIP.

Prints JSON: the host's IPv4 interfaces, and the VRRP advertisements it hears for a moment (to tell
whether the virtual router id is taken by a router outside the cluster). It does not listen when
keepalived already runs this router id here: that router id was checked when it was set up.
"""

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import time

VRRP_PROTO = 112
VRRP_GROUP = "224.0.0.18"
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"


def interfaces():
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return [
        {
            "name": iface["ifname"],
            "addresses": [
                {"address": a["local"], "prefixlen": a["prefixlen"]}
                for a in iface.get("addr_info", [])
                if a.get("family") == "inet"
            ],
        }
        for iface in json.loads(out or "[]")
    ]


def keepalived_runs_router(vrid):
    try:
        with open(KEEPALIVED_CONF) as f:
            configured = re.search(rf"^\s*virtual_router_id\s+{vrid}\s*$", f.read(), re.M) is not None
    except OSError:
        return False
    active = subprocess.run(["systemctl", "is-active", "--quiet", "keepalived"], check=False).returncode == 0
    return configured and active


def listen(seconds, local_addresses):
    """(source, vrid, version) of the VRRP advertisements received within ``seconds``."""
    seen = {}
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTO) as s:
        for address in local_addresses:  # multicast VRRP reaches a raw socket only in the group
            mreq = socket.inet_aton(VRRP_GROUP) + socket.inet_aton(address)
            with contextlib.suppress(OSError):
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data, (source, _port) = s.recvfrom(4096)
            except TimeoutError:
                break
            header = (data[0] & 0x0F) * 4
            if len(data) < header + 2:
                continue
            version, kind, vrid = data[header] >> 4, data[header] & 0x0F, data[header + 1]
            if kind == 1:  # advertisement
                seen[(source, vrid)] = version
    return [{"source": s, "vrid": v, "version": ver} for (s, v), ver in sorted(seen.items())]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vrid", type=int, required=True)
    parser.add_argument("--listen", type=float, default=1.2, help="seconds to listen for VRRP")
    args = parser.parse_args()
    ifaces = interfaces()
    result = {"interfaces": ifaces, "listened": 0.0, "adverts": []}
    if args.listen > 0 and os.geteuid() == 0 and not keepalived_runs_router(args.vrid):
        local = [a["address"] for i in ifaces for a in i["addresses"] if not a["address"].startswith("127.")]
        result["adverts"] = listen(args.listen, local)
        result["listened"] = args.listen
    print(json.dumps(result))


if __name__ == "__main__":
    main()
