import firewall
import pytest
from ansible.errors import AnsibleFilterError


def test_addresses_and_networks_split_by_family_merged_and_sorted():
    got = firewall.firewall_sources(
        ["172.30.80.12", "172.30.80.11", "172.30.80.13", "172.30.80.12", "10.244.0.0/16", "10.244.3.7",
         "2001:db8::1", "2001:db8::/64", "", None],
        "x",
    )
    assert got == {
        "ip": ["10.244.0.0/16", "172.30.80.11", "172.30.80.12/31"],
        "ip6": ["2001:db8::/64"],
    }


def test_host_bits_of_a_cidr_are_dropped():
    assert firewall.firewall_sources(["192.0.2.77/24"])["ip"] == ["192.0.2.0/24"]


def test_nothing_gives_empty_sets():
    assert firewall.firewall_sources([]) == {"ip": [], "ip6": []}


def test_a_bad_entry_names_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"firewall_admin_networks: 'office' is not an IP address or a CIDR"):
        firewall.firewall_sources(["10.0.0.0/8", "office"], "firewall_admin_networks")


def test_host_addresses():
    hostvars = {"cp1": {"ansible_host": "192.0.2.11"}, "w1": {"ansible_host": "2001:db8::21"}}
    assert firewall.firewall_host_addresses(["cp1", "w1"], hostvars) == ["192.0.2.11", "2001:db8::21"]


def test_hosts_without_an_ip_address_are_named():
    hostvars = {"cp1": {"ansible_host": "cp1.example"}, "cp2": {}, "cp3": {"ansible_host": "192.0.2.13"}}
    with pytest.raises(AnsibleFilterError, match=r"cp1 \(cp1.example\), cp2 \(no ansible_host\)$"):
        firewall.firewall_host_addresses(["cp1", "cp2", "cp3"], hostvars)


def test_registered_as_filters():
    assert set(firewall.FilterModule().filters()) == {"firewall_sources", "firewall_host_addresses"}
