"""Filters of the kube_packages role: cache/bundle layout, .sha256 parsing, failure messages."""

import kube_packages as kp
import pytest
from ansible.errors import AnsibleFilterError

DIGEST = "a" * 64
OTHER = "b" * 64


def test_layout_of_a_binary_and_of_its_directory():
    assert kp.kube_packages_layout("1.31.4", "arm64", "kubelet") == "kubernetes/v1.31.4/linux/arm64/kubelet"
    assert kp.kube_packages_layout("1.31.4", "amd64") == "kubernetes/v1.31.4/linux/amd64"


@pytest.mark.parametrize(("text", "digest"), [
    (DIGEST, DIGEST),                                  # dl.k8s.io: the bare digest, no newline
    (DIGEST.upper() + "\n", DIGEST),                   # lowercased
    (f"{DIGEST}  kubelet\n", DIGEST),                  # sha256sum output
    (f"\n  {DIGEST} *kubelet\n", DIGEST),              # binary-mode sha256sum, leading blank line
    (b"%s\n" % DIGEST.encode(), DIGEST),
    ("", ""),
    (None, ""),
    ("<html>404 Not Found</html>", ""),
    (DIGEST[:-1], ""),                                 # 63 characters
    ("g" * 64, ""),                                    # not hexadecimal
])
def test_sha256_reads_the_digest_or_nothing(text, digest):
    assert kp.kube_packages_sha256(text) == digest


def test_release_artifacts_point_at_dl_k8s_io_and_the_cache():
    arts = kp.kube_packages_artifacts([["1.31.4", "amd64"]], "/c/", "release", "https://dl.k8s.io/release/", "")
    assert [a["name"] for a in arts] == ["kubeadm", "kubectl", "kubelet"]
    kubelet = arts[2]
    assert kubelet["url"] == kubelet["src"] == "https://dl.k8s.io/release/v1.31.4/bin/linux/amd64/kubelet"
    assert kubelet["sha256_url"] == kubelet["src_sha256"] == kubelet["url"] + ".sha256"
    assert kubelet["cache"] == "/c/kubernetes/v1.31.4/linux/amd64/kubelet"
    assert kubelet["cache_sha256"] == kubelet["cache"] + ".sha256"


def test_a_cached_digest_is_read_from_the_cache_for_release():
    cached = ["/c/kubernetes/v1.31.4/linux/amd64/kubectl.sha256"]
    arts = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "", cached=cached)
    urls = {a["name"]: a["sha256_url"] for a in arts}
    assert urls["kubectl"] == "file:///c/kubernetes/v1.31.4/linux/amd64/kubectl.sha256"
    assert urls["kubeadm"] == "https://x/v1.31.4/bin/linux/amd64/kubeadm.sha256"


def test_bundle_artifacts_read_the_bundle_even_when_the_cache_has_a_digest():
    cached = ["/c/kubernetes/v1.31.4/linux/amd64/kubelet.sha256"]
    arts = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "bundle", "https://x", "/my bundle", cached=cached)
    kubelet = arts[2]
    assert kubelet["src"] == "/my bundle/kubernetes/v1.31.4/linux/amd64/kubelet"
    assert kubelet["url"] == "file:///my%20bundle/kubernetes/v1.31.4/linux/amd64/kubelet"
    assert kubelet["sha256_url"] == kubelet["url"] + ".sha256"


def test_each_platform_once_in_a_stable_order():
    arts = kp.kube_packages_artifacts(
        [("1.31.4", "arm64"), ("1.31.4", "amd64"), ("1.31.4", "arm64")], "/c", "release", "https://x", "")
    assert [(a["arch"], a["name"]) for a in arts] == [
        ("amd64", "kubeadm"), ("amd64", "kubectl"), ("amd64", "kubelet"),
        ("arm64", "kubeadm"), ("arm64", "kubectl"), ("arm64", "kubelet"),
    ]


def test_package_source_has_no_artifacts():
    with pytest.raises(AnsibleFilterError, match="package"):
        kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "package", "https://x", "")


def test_with_sha256_attaches_each_digest_in_order():
    arts = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "")
    out = kp.kube_packages_with_sha256(arts, [DIGEST, f"{OTHER}  kubectl", DIGEST.upper()])
    assert [a["sha256"] for a in out] == [DIGEST, OTHER, DIGEST]
    assert "sha256" not in arts[0]  # the input is left alone


def test_with_sha256_names_the_file_that_holds_no_digest():
    arts = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "")
    with pytest.raises(AnsibleFilterError, match=r"https://x/v1.31.4/bin/linux/amd64/kubectl.sha256 holds no SHA-256"):
        kp.kube_packages_with_sha256(arts, [DIGEST, "<html>", DIGEST])


def test_with_sha256_rejects_a_short_read():
    arts = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "")
    with pytest.raises(AnsibleFilterError, match="read 1 checksum files for 3 binaries"):
        kp.kube_packages_with_sha256(arts, [DIGEST])


def _error(result, source="release"):
    return kp.kube_packages_fetch_error(result, source, "https://dl.k8s.io/release", "/b", "/c", 20)


def test_refused_lookup_names_the_url_the_reason_and_the_variables():
    msg = _error({"failed": True, "msg": (
        "Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving "
        "value for '_kube_packages_fetch': The lookup plugin 'ansible.builtin.url' failed: Failed lookup url "
        "for http://127.0.0.1:9/v1.31.4/bin/linux/amd64/kubeadm.sha256: <urlopen error [Errno 111] "
        "Connection refused>")})
    assert msg.startswith("kube_packages: could not fetch http://127.0.0.1:9/v1.31.4/bin/linux/amd64/kubeadm.sha256 ")
    assert "(timeout 20 s): <urlopen error [Errno 111] Connection refused>" in msg
    for variable in ("kube_packages_release_base_url", "kube_packages_source", "kubesmith_bundle_dir",
                     "playbooks/bundle.yml"):
        assert variable in msg


def test_http_error_lookup_names_the_url():
    msg = _error({"msg": "... failed: Received HTTP error for https://m/v9.9.9/bin/linux/amd64/kubeadm.sha256: "
                         "HTTP Error 404: Not Found"})
    assert "could not fetch https://m/v9.9.9/bin/linux/amd64/kubeadm.sha256 " in msg
    assert "HTTP Error 404: Not Found" in msg


def test_a_timeout_names_the_first_checksum_url_fetched_from_the_network():
    msg = kp.kube_packages_fetch_error(
        {"msg": "Task failed: ... The lookup plugin 'ansible.builtin.url' failed: timed out"},
        "release", "https://m", "", "/c", 3,
        urls=["file:///c/kubeadm.sha256", "https://m/kubectl.sha256", "https://m/kubelet.sha256"])
    assert "could not fetch https://m/kubectl.sha256 (the first of 2 checksum files to fetch)" in msg
    assert "(timeout 3 s): timed out." in msg


def test_checksum_mismatch_names_both_digests_the_file_and_where_the_digest_came_from():
    art = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "bundle", "", "/b")[1]
    result = {"results": [
        {"failed": False, "item": {}},
        {"failed": True, "item": {**art, "sha256": DIGEST},
         "msg": f"The checksum for /tmp/x did not match {DIGEST}; it was {OTHER}."},
    ]}
    msg = _error(result, "bundle")
    assert f"checksum mismatch for /b/kubernetes/v1.31.4/linux/amd64/kubectl: expected {DIGEST}" in msg
    assert "(from /b/kubernetes/v1.31.4/linux/amd64/kubectl.sha256)" in msg
    assert f"got {OTHER}" in msg
    assert "kube_packages_bundle_dir (/b)" in msg


def test_mismatch_against_a_cached_digest_says_to_delete_it():
    art = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "",
                                     cached=["/c/kubernetes/v1.31.4/linux/amd64/kubeadm.sha256"])[0]
    msg = _error({"results": [{"failed": True, "item": art, "msg": f"did not match {DIGEST}; it was {OTHER}."}]})
    assert "(from /c/kubernetes/v1.31.4/linux/amd64/kubeadm.sha256)" in msg
    assert "delete it" in msg


def test_a_failed_download_names_its_url():
    art = kp.kube_packages_artifacts([("1.31.4", "amd64")], "/c", "release", "https://x", "")[2]
    msg = _error({"results": [{"failed": True, "item": art, "msg": "Request failed: <urlopen error timed out>"}]})
    assert "could not fetch https://x/v1.31.4/bin/linux/amd64/kubelet on the controller (timeout 20 s)" in msg


def test_own_assertions_pass_through_unchanged():
    result = {"failed": True, "assertion": "x", "evaluated_to": False, "msg": "kube_packages_bundle_dir '/b' lacks y"}
    assert _error(result, "bundle") == "kube_packages_bundle_dir '/b' lacks y"


def test_a_filter_explanation_is_kept_with_the_fix():
    msg = _error({"msg": "Error while resolving value: kube_packages: https://x/a.sha256 holds no SHA-256 digest"})
    assert msg.startswith("kube_packages: https://x/a.sha256 holds no SHA-256 digest. Fix one of:")


def test_registered_as_filters():
    assert set(kp.FilterModule().filters()) == {
        "kube_packages_layout", "kube_packages_sha256", "kube_packages_artifacts",
        "kube_packages_with_sha256", "kube_packages_fetch_error",
    }
