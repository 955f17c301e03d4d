"""haproxy and keepalived on the control-plane hosts (the api_endpoint_group of this scenario)."""

import pytest
from endpoint_lab import (
    BACKEND_PORT,
    CONTROL_PLANE,
    FRONTEND_PORT,
    INVENTORY,
    VIP,
    haproxy_servers,
    journal,
    vrrp_state,
)

testinfra_hosts = [f"ansible://{name}?ansible_inventory={INVENTORY}" for name in CONTROL_PLANE]


@pytest.mark.parametrize("unit", ["haproxy", "keepalived"])
def test_service_running_and_enabled(host, unit):
    service = host.service(unit)
    assert service.is_running, journal(host, unit)
    assert service.is_enabled


def test_haproxy_listens_on_the_vip_and_loopback(host):
    listening = host.run(f"ss -Htln 'sport = :{FRONTEND_PORT}'").stdout
    assert f"{VIP}:{FRONTEND_PORT}" in listening, listening
    assert f"127.0.0.1:{FRONTEND_PORT}" in listening, listening


def test_haproxy_sees_every_standin_backend_up(host):
    servers = haproxy_servers(host)
    assert sorted(servers) == CONTROL_PLANE, servers
    assert all(f[5] == "2" for f in servers.values()), f"not all servers UP (srv_op_state 2): {servers}"
    assert all(f[18] == str(BACKEND_PORT) for f in servers.values()), servers


def test_keepalived_is_master_or_backup(host):
    assert vrrp_state(host) in ("MASTER", "BACKUP"), journal(host, "keepalived")
