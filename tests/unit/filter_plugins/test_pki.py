import pki


def test_member_certs_carry_name_address_and_localhost():
    certs = pki.pki_etcd_member_certs("etcd1", {"etcd1": {"ansible_host": "172.30.77.13"}}, ["DNS:etcd.example"])
    assert [c["name"] for c in certs] == ["etcd/etcd1-server", "etcd/etcd1-peer"]
    assert certs[0]["sans"] == ["DNS:etcd1", "IP:172.30.77.13", "DNS:localhost", "IP:127.0.0.1", "DNS:etcd.example"]
    assert certs[0]["ca"] == "etcd/ca"
    assert certs[1]["usage"] == ["serverAuth", "clientAuth"]


def test_host_without_address_uses_its_name_once():
    certs = pki.pki_etcd_member_certs("etcd1.example", {})
    assert certs[0]["sans"] == ["DNS:etcd1.example", "DNS:localhost", "IP:127.0.0.1"]


def test_expiring_lists_only_certificates_not_valid_at_renew_time():
    infos = [
        {"item": "/p/a.crt", "valid_at": {"renew": True}},
        {"item": "/p/b.crt", "valid_at": {"renew": False}},
        {"item": "/p/c.crt", "skipped": True},
    ]
    assert pki.pki_expiring(infos) == ["/p/b.crt"]
