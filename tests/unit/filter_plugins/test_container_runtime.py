import container_runtime as cr
import pytest


def test_no_mirrors_no_files():
    assert cr.containerd_mirror_files({}) == []
    assert cr.containerd_mirror_files(None) == []


def test_hosts_toml_per_registry_sorted():
    files = cr.containerd_mirror_files({"registry.k8s.io": ["http://10.0.0.5:5000"],
                                        "docker.io": ["https://a.example", "https://b.example"]})
    assert [f["path"] for f in files] == ["/etc/containerd/certs.d/docker.io/hosts.toml",
                                          "/etc/containerd/certs.d/registry.k8s.io/hosts.toml"]
    docker = files[0]["content"]
    assert 'server = "https://registry-1.docker.io"' in docker
    assert docker.index('[host."https://a.example"]') < docker.index('[host."https://b.example"]')
    assert 'server = "https://registry.k8s.io"' in files[1]["content"]
    assert files[1]["mode"] == "0644"


@pytest.mark.parametrize(
    ("mirrors", "match"),
    [({"bad host/x": ["https://m"]}, "bad registry host"), ({"docker.io": "https://m"}, "non-empty list"),
     ({"docker.io": []}, "non-empty list"), ({"docker.io": ["m.example"]}, "http:// or https://")],
)
def test_bad_mirrors_are_rejected_with_the_variable_named(mirrors, match):
    with pytest.raises(ValueError, match=match):
        cr.containerd_mirror_files(mirrors)
