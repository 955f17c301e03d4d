"""The firewall: kubesmith's nftables table on every host; etcd's client port open only to the
etcd members and API servers, the API ports only to cluster hosts (and the controller), SSH to all.

The listeners on the filtered ports are STAND-INs (a plain TCP server on 2379 started here, the
stand-in API server of prepare.yml on 6443), not etcd or Kubernetes."""

import os
import socket
import subprocess

import pytest
from endpoint_lab import (
    ALL,
    BACKEND_PORT,
    CONTROL_PLANE,
    CONTROLLER,
    FRONTEND_PORT,
    LAB_NET,
    LAB_STATE,
    VIP,
    WORKERS,
    address,
)

ETCD_CLIENT_PORT = 2379
MEMBER = CONTROL_PLANE[0]  # runs the stand-in etcd listener
ALLOWED = CONTROL_PLANE[1]  # an etcd member: allowed to 2379
OUTSIDER = WORKERS[0]  # a worker: outside the etcd set, inside the API set

PROBE = (
    "python3 -c \"import socket, sys\n"
    "s = socket.socket(); s.settimeout(2)\n"
    "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
    "except socket.timeout:\n    print('timeout')\n"
    "except OSError as e:\n    print('refused' if e.errno == 111 else e)\" {} {}"
)


def connect_from(host, target, port):
    """'open', 'timeout' (dropped by a firewall) or 'refused' (no listener)."""
    return host.run(PROBE.format(target, port)).stdout.strip()


def drop_counter(host):
    out = host.run("nft list chain inet kubesmith input").stdout
    line = next(ln for ln in out.splitlines() if "counter" in ln and "tcp dport" in ln and ln.strip().endswith("drop"))
    return int(line.split("packets")[1].split()[0])


@pytest.fixture(scope="module")
def standin_etcd(hosts):
    """A plain TCP listener on the etcd client port of MEMBER (a STAND-IN: not etcd)."""
    host = hosts[MEMBER]
    host.run(f"systemctl stop standin-etcd 2>/dev/null; systemctl reset-failed standin-etcd 2>/dev/null; "
             f"systemd-run --unit=standin-etcd --description='STAND-IN for etcd (kubesmith tests; not etcd)' "
             f"/usr/bin/python3 -m http.server {ETCD_CLIENT_PORT} --bind 0.0.0.0")
    assert connect_from(host, "127.0.0.1", ETCD_CLIENT_PORT) == "open"
    yield
    host.run("systemctl stop standin-etcd")


@pytest.mark.parametrize("name", ALL)
def test_table_loaded_and_kept_for_boot(hosts, name):
    host = hosts[name]
    live = host.run("nft -s list table inet kubesmith")
    assert live.rc == 0, live.stderr
    assert live.stdout == host.file("/var/lib/kubesmith/firewall/kubesmith.loaded").content_string
    assert 'include "/etc/nftables.d/*.nft"' in host.file("/etc/nftables.conf").content_string
    assert host.service("nftables").is_enabled
    check = host.run("nft -c -f /etc/nftables.conf")
    assert check.rc == 0, check.stderr  # what the boot will load


@pytest.mark.parametrize("name", ALL)
def test_vrrp_rule_only_on_keepalived_peers(hosts, name):
    listing = hosts[name].run("nft list chain inet kubesmith input").stdout
    assert ("ip protocol 112" in listing) == (name in CONTROL_PLANE), listing


def test_etcd_port_dropped_for_a_host_outside_the_allowed_set(hosts, standin_etcd):
    before = drop_counter(hosts[MEMBER])
    assert connect_from(hosts[OUTSIDER], address(MEMBER), ETCD_CLIENT_PORT) == "timeout"
    assert drop_counter(hosts[MEMBER]) > before


def test_etcd_port_open_to_an_etcd_member(hosts, standin_etcd):
    assert connect_from(hosts[ALLOWED], address(MEMBER), ETCD_CLIENT_PORT) == "open"


def test_api_ports_open_to_a_worker(hosts):
    assert connect_from(hosts[OUTSIDER], address(MEMBER), BACKEND_PORT) == "open"
    assert connect_from(hosts[OUTSIDER], VIP, FRONTEND_PORT) == "open"


@pytest.mark.parametrize("name", CONTROL_PLANE)
def test_ssh_open_to_a_host_outside_the_allowed_set(hosts, name):
    assert connect_from(hosts[OUTSIDER], address(name), 22) == "open"
    assert hosts[name].run("true").rc == 0  # and the controller still gets in


@pytest.fixture
def outside_address():
    """A second address of the controller on the lab bridge, in no allowed set (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root on the controller to add an address to the lab bridge")
    outside = str(LAB_NET.network_address + 9)  # .2-.10 are free; .5 is the VIP
    bridge = LAB_STATE["bridge"]
    subprocess.run(["ip", "addr", "add", f"{outside}/32", "dev", bridge], check=True)
    yield outside
    subprocess.run(["ip", "addr", "del", f"{outside}/32", "dev", bridge], check=False)


def _connect_locally(target, port, source):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind((source, 0))
        s.connect((target, port))
        return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    finally:
        s.close()


def test_api_ports_dropped_for_an_address_outside_the_cluster(outside_address):
    assert _connect_locally(VIP, FRONTEND_PORT, outside_address) == "timeout"
    assert _connect_locally(address(MEMBER), BACKEND_PORT, outside_address) == "timeout"
    # the controller's own address is let in
    assert _connect_locally(VIP, FRONTEND_PORT, CONTROLLER) == "open"
