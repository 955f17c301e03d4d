import preflight

CURRENT = {
    "net.ipv4.ip_forward": {"value": "0", "writable": True},
    "net.bridge.bridge-nf-call-iptables": {"value": "1", "writable": True},
    "vm.overcommit_memory": {"value": "0", "writable": False},
    "net.missing": {"value": None, "writable": False},
}
WANTED = {"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1, "vm.overcommit_memory": 1,
          "net.missing": 1}


def test_only_writable_keys_with_another_value_are_applied():
    assert preflight.sysctls_to_apply(WANTED, CURRENT) == ["net.ipv4.ip_forward"]


def test_nothing_to_apply_when_live_values_match():
    assert preflight.sysctls_to_apply({"net.bridge.bridge-nf-call-iptables": 1}, CURRENT) == []


def test_writable_part():
    assert preflight.sysctls_writable(WANTED, CURRENT) == {
        "net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1,
    }


def test_registered_as_filters():
    assert set(preflight.FilterModule().filters()) == {"sysctls_to_apply", "sysctls_writable"}
