import api_endpoint
import pytest

IFACES = [
    {"name": "lo", "addresses": [{"address": "127.0.0.1", "prefixlen": 8}]},
    {"name": "host0", "addresses": [{"address": "172.30.80.11", "prefixlen": 24},
                                    {"address": "172.30.80.5", "prefixlen": 24}]},
    {"name": "eth1", "addresses": [{"address": "10.1.0.7", "prefixlen": 16}]},
    {"name": "eth2", "addresses": []},
]
PEERS = ["172.30.80.11", "172.30.80.12", "172.30.80.13"]
GOOD = {
    "mode": "vip", "vip": "172.30.80.5", "group": "kube_control_plane", "port": 8443, "local_port": 6444,
    "backend_port": 6443, "vrrp_router_id": 5, "vrrp_version": 3, "auth_pass_length": 0,
    "backends": ["cp1", "cp2", "cp3"],
    "balancers": {"cp1": "172.30.80.11", "cp2": "172.30.80.12", "cp3": "172.30.80.13"},
    "all_addresses": [*PEERS, "172.30.80.14"], "colocated": True,
}


def problems(**changes):
    return api_endpoint.api_endpoint_problems({**GOOD, **changes})


def test_good_settings_have_no_problem():
    assert problems() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"vip": ""}, "api_endpoint_vip is not set"),
        ({"vip": "api.example"}, "api_endpoint_vip 'api.example' is not an IPv4 address"),
        ({"vip": "172.30.80.0/24"}, "is not an IPv4 address"),
        ({"vip": "172.30.80.14"}, "api_endpoint_vip 172.30.80.14 is the ansible_host of an inventory host"),
        ({"vrrp_router_id": 0}, "api_endpoint_vrrp_router_id 0 is not between 1 and 255"),
        ({"vrrp_router_id": 256}, "api_endpoint_vrrp_router_id 256 is not between 1 and 255"),
        ({"vrrp_router_id": "x"}, "api_endpoint_vrrp_router_id x is not between 1 and 255"),
        ({"auth_pass_length": 6}, "VRRPv3 has no authentication"),
        ({"auth_pass_length": 9, "vrrp_version": 2}, "longer than the 8 characters"),
        ({"balancers": {}, "group": "loadbalancers"}, "api_endpoint_group 'loadbalancers' has no hosts"),
        ({"balancers": {"cp1": "cp1.example", "cp2": ""}},
         "need an IPv4 address in ansible_host (keepalived's peers): cp1, cp2"),
        ({"port": 6443}, "api_endpoint_port 6443 is the API servers' port"),
        ({"port": 70000}, "api_endpoint_port 70000 is not a TCP port"),
        ({"backends": []}, "kube_control_plane has no hosts"),
    ],
)
def test_each_problem_names_the_variable(changes, expected):
    found = problems(**changes)
    assert len(found) == 1, found
    assert expected in found[0]


def test_vrrpv2_accepts_a_password():
    assert problems(vrrp_version=2, auth_pass_length=8) == []


def test_dedicated_load_balancers_may_use_the_api_port():
    assert problems(port=6443, colocated=False) == []


def test_local_mode_needs_no_vip_but_a_free_local_port():
    assert problems(mode="local", vip="", balancers={}, vrrp_router_id=0) == []
    assert "api_endpoint_local_port 6443" in problems(mode="local", vip="", local_port=6443)[0]


def test_addresses_of_hosts():
    hostvars = {"a": {"ansible_host": "192.0.2.1"}, "b": {}, "c": {"ansible_host": None}}
    assert api_endpoint.api_endpoint_addresses(["a", "b", "c"], hostvars) == {"a": "192.0.2.1", "b": "", "c": ""}


def test_interface_holding_the_inventory_address():
    assert api_endpoint.api_endpoint_interface(IFACES, "172.30.80.11") == {
        "name": "host0", "address": "172.30.80.11", "prefixlen": 24, "network": "172.30.80.0/24",
    }


def test_interface_by_name():
    assert api_endpoint.api_endpoint_interface(IFACES, "172.30.80.11", "eth1")["network"] == "10.1.0.0/16"
    assert api_endpoint.api_endpoint_interface(IFACES, "172.30.80.11", "eth2") == {}
    assert api_endpoint.api_endpoint_interface(IFACES, "172.30.80.99") == {}


PROBE = {"interfaces": IFACES, "adverts": []}


def host_problems(probe=PROBE, address="172.30.80.11", interface="", vip="172.30.80.5", vrid=5):
    return api_endpoint.api_endpoint_host_problems(probe, address, interface, vip, vrid, PEERS)


def test_vip_in_the_subnet_is_fine():
    assert host_problems() == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"vip": "172.30.81.5"}, "api_endpoint_vip 172.30.81.5 is outside 172.30.80.0/24, the subnet of host0"),
        ({"vip": "172.30.80.255"}, "network or broadcast address"),
        ({"address": "192.0.2.1"},
         "no interface holds the address 192.0.2.1 (ansible_host); set api_endpoint_interface"),
        ({"interface": "eth9"}, "api_endpoint_interface eth9 does not exist here"),
        ({"interface": "eth1"}, "is outside 10.1.0.0/16"),
    ],
)
def test_host_problems(kwargs, expected):
    found = host_problems(**kwargs)
    assert len(found) == 1, found
    assert expected in found[0]


def test_a_foreign_router_with_the_same_id_is_reported_and_peers_are_not():
    adverts = [{"source": "172.30.80.12", "vrid": 5, "version": 3},  # a peer
               {"source": "172.30.80.99", "vrid": 5, "version": 2},  # another cluster
               {"source": "172.30.80.98", "vrid": 7, "version": 2}]  # another router id
    found = host_problems(probe={"interfaces": IFACES, "adverts": adverts})
    assert found == ["api_endpoint_vrrp_router_id 5 is in use on this network by 172.30.80.99 "
                     "(their VRRP adverts reach this host); pick another one."]


def test_priorities_follow_the_group_order():
    hosts = ["cp1", "cp2", "cp3"]
    assert [api_endpoint.api_endpoint_priority(h, hosts) for h in hosts] == [150, 149, 148]
    assert api_endpoint.api_endpoint_priority("h200", [f"h{i}" for i in range(201)]) == 1


def test_registered_as_filters():
    assert set(api_endpoint.FilterModule().filters()) == {
        "api_endpoint_addresses", "api_endpoint_foreign_vrrp", "api_endpoint_host_problems",
        "api_endpoint_interface", "api_endpoint_is_ipv4", "api_endpoint_priority", "api_endpoint_problems",
    }
