"""Filters of the bundle role (filter_plugins/bundle.py): image list, apt parsing, reuse plans,
manifest, checks and the failure message."""

from __future__ import annotations

import pathlib

import bundle
import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).resolve().parents[3]
MINORS = yaml.safe_load((ROOT / "vars" / "kubernetes.yml").read_text())["kubesmith_kubernetes_minors"]
SHA_A, SHA_B = "a" * 64, "b" * 64


def test_kubeadm_images_follow_kubeadms_naming():
    images = bundle.bundle_kubeadm_images("1.31.4", MINORS)
    tags = MINORS["1.31"]
    assert images == [
        "registry.k8s.io/kube-apiserver:v1.31.4",
        "registry.k8s.io/kube-controller-manager:v1.31.4",
        "registry.k8s.io/kube-scheduler:v1.31.4",
        "registry.k8s.io/kube-proxy:v1.31.4",
        f"registry.k8s.io/coredns/coredns:{tags['coredns']}",
        "registry.k8s.io/etcd:3.5.15-0",  # vars/kubernetes.yml: 1.31.0-1.31.13; 1.31.14 moved to 3.5.24-0
        f"registry.k8s.io/pause:{tags['pause']}",
    ]
    assert "registry.k8s.io/etcd:3.5.24-0" in bundle.bundle_kubeadm_images("1.31.14", MINORS)


def test_a_mirror_gets_coredns_without_the_extra_path_like_kubeadm_does():
    images = bundle.bundle_kubeadm_images("1.32.1", MINORS, "mirror.example:5000/k8s/")
    assert images[0] == "mirror.example:5000/k8s/kube-apiserver:v1.32.1"
    assert images[4] == f"mirror.example:5000/k8s/coredns:{MINORS['1.32']['coredns']}"


@pytest.mark.parametrize("version", ["v1.31.4", "1.31", "", None])
def test_a_malformed_version_names_the_variable(version):
    with pytest.raises(AnsibleFilterError, match="kubesmith_kubernetes_version"):
        bundle.bundle_kubeadm_images(version, MINORS)


def test_an_unsupported_minor_lists_the_supported_ones():
    with pytest.raises(AnsibleFilterError, match=r"minor 1\.20\) is not in kubesmith_kubernetes_minors.*1\.31"):
        bundle.bundle_kubeadm_images("1.20.1", MINORS)


@pytest.mark.parametrize(("version", "etcd"), [("1.31.0", "3.5.15-0"), ("1.31.13", "3.5.15-0"),
                                             ("1.31.14", "3.5.24-0"), ("1.31.20", "3.5.24-0")])
def test_a_tag_may_change_at_a_patch_release(version, etcd):
    minors = {"1.31": {"coredns": "v1.11.3", "etcd": {0: "3.5.15-0", "14": "3.5.24-0"}, "pause": "3.10"}}
    assert bundle.bundle_kubeadm_images(version, minors)[5] == f"registry.k8s.io/etcd:{etcd}"


def test_a_patch_before_the_first_listed_is_named():
    with pytest.raises(AnsibleFilterError, match=r"\['1.31'\]\.etcd names no tag for patch release 2"):
        bundle.bundle_kubeadm_images("1.31.2", {"1.31": {"coredns": "v1", "etcd": {5: "x"}, "pause": "3"}})


def test_a_minor_without_a_tag_is_named():
    with pytest.raises(AnsibleFilterError, match=r"\['1.31'\] in vars/kubernetes.yml lacks etcd"):
        bundle.bundle_kubeadm_images("1.31.4", {"1.31": {"coredns": "v1", "pause": "3"}})


@pytest.mark.parametrize(("ref", "normal"), [
    ("flannel/flannel:v0.26.1", "docker.io/flannel/flannel:v0.26.1"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("docker.io/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("localhost/x:1", "localhost/x:1"),
    ("127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1"),
])
def test_references_are_normalized_as_containerd_names_them(ref, normal):
    assert bundle.bundle_normalize_ref(ref) == normal


def test_image_list_is_deduplicated_in_order_with_file_names():
    images = bundle.bundle_images(
        ["registry.k8s.io/pause:3.10"],
        ["docker.io/flannel/flannel:v0.26.1", "flannel/flannel:v0.26.1"],
        {"metallb": ["quay.io/metallb/speaker:v0.14.8@sha256:" + SHA_A], "local_path": ["registry.k8s.io/pause:3.10"]},
        ["busybox:1.36"],
        cni="flannel",
    )
    assert [i["ref"] for i in images] == [
        "registry.k8s.io/pause:3.10", "docker.io/flannel/flannel:v0.26.1",
        "quay.io/metallb/speaker:v0.14.8@sha256:" + SHA_A, "busybox:1.36",
    ]
    assert [i["source"] for i in images] == ["kubeadm", "cni_images", "addons_images", "bundle_extra_images"]
    assert images[0]["file"] == "images/registry.k8s.io_pause_3.10.tar"
    assert images[2]["archive_ref"] == "quay.io/metallb/speaker:v0.14.8"  # a docker-archive is named by tag
    assert images[3]["file"] == "images/docker.io_library_busybox_1.36.tar"


@pytest.mark.parametrize("bad", ["registry.k8s.io/pause", "quay.io/x@sha256:" + SHA_A, "", 5, "a b:1"])
def test_a_reference_without_a_tag_is_rejected_naming_its_list(bad):
    with pytest.raises(AnsibleFilterError, match=r"cni_images\[calico\] holds"):
        bundle.bundle_images([], [bad], {}, cni="calico")


def test_checksums_are_relative_to_the_root():
    found = {"files": [{"path": "/b/images/x.tar", "checksum": SHA_A.upper(), "size": 3}]}
    assert bundle.bundle_checksums(found, "/b/") == {"images/x.tar": {"sha256": SHA_A, "size": 3}}


def test_image_plan_keeps_only_tarballs_the_manifest_vouches_for():
    images = bundle.bundle_images([], ["r.example/a:1", "r.example/b:1", "r.example/c:1", "r.example/d:1"], {})
    previous = {"files": [
        {"path": "images/r.example_a_1.tar", "kind": "image", "ref": "r.example/a:1", "sha256": SHA_A},
        {"path": "images/r.example_b_1.tar", "kind": "image", "ref": "r.example/b:1", "sha256": SHA_A},
        {"path": "images/r.example_c_1.tar", "kind": "image", "ref": "r.example/other:1", "sha256": SHA_A},
    ]}
    present = {"images/r.example_a_1.tar": {"sha256": SHA_A}, "images/r.example_b_1.tar": {"sha256": SHA_B},
               "images/r.example_c_1.tar": {"sha256": SHA_A}, "images/r.example_d_1.tar": {"sha256": SHA_A}}
    plan = bundle.bundle_image_plan(images, present, previous)
    assert [i["ref"] for i in plan["keep"]] == ["r.example/a:1"]  # b altered, c another ref, d not recorded
    assert [i["ref"] for i in plan["fetch"]] == ["r.example/b:1", "r.example/c:1", "r.example/d:1"]
    assert bundle.bundle_image_plan(images, present, None)["keep"] == []


APT_DEPENDS = """\
containerd
  Depends: runc
  Depends: libc6
runc
  Depends: libc6
curl
  Depends: libcurl4
 |Depends: <awk>
<awk>
mawk
libc6:i386
libc6
"""


def test_apt_closure_takes_real_packages_of_this_architecture():
    assert bundle.bundle_apt_closure(APT_DEPENDS) == ["containerd", "curl", "libc6", "mawk", "runc"]


APT_SHOW = f"""\
Package: conntrack
Version: 1:1.4.7-1+b2
Architecture: amd64
Depends: libc6 (>= 2.34)
Filename: pool/main/c/conntrack-tools/conntrack_1.4.7-1+b2_amd64.deb
Size: 35000
SHA256: {SHA_A.upper()}
Description: Program to modify the conntrack tables
 continued description: with a colon

Package: ca-certificates
Version: 20230311
Architecture: all
Filename: pool/main/c/ca-certificates/ca-certificates_20230311_all.deb
Size: 153000
SHA256: {SHA_B}

Package: conntrack
Version: 1:1.4.6-2
Architecture: amd64
Filename: pool/main/c/conntrack-tools/conntrack_1.4.6-2_amd64.deb
SHA256: {SHA_B}

Package: foreign
Version: 1
Architecture: arm64
Filename: pool/main/f/foreign/foreign_1_arm64.deb
SHA256: {SHA_B}
"""


def test_apt_records_hold_the_archive_name_and_apt_get_downloads_name():
    records = bundle.bundle_apt_records(APT_SHOW, "amd64")
    assert [r["name"] for r in records] == ["ca-certificates", "conntrack"]
    conntrack = records[1]
    assert conntrack == {
        "name": "conntrack", "version": "1:1.4.7-1+b2", "arch": "amd64", "sha256": SHA_A, "size": 35000,
        "file": "debs/conntrack_1.4.7-1+b2_amd64.deb", "download": "conntrack_1%3a1.4.7-1+b2_amd64.deb",
    }
    assert records[0]["download"] == "ca-certificates_20230311_all.deb"


def test_deb_plan_keeps_verified_fetches_the_rest_and_removes_other_versions():
    records = bundle.bundle_apt_records(APT_SHOW, "amd64")
    present = {"debs/conntrack_1.4.7-1+b2_amd64.deb": {"sha256": SHA_A},
               "debs/ca-certificates_20230311_all.deb": {"sha256": SHA_A},
               "debs/conntrack_1.4.6-2_amd64.deb": {"sha256": SHA_B}, "debs/Packages": {"sha256": SHA_B}}
    plan = bundle.bundle_deb_plan(records, present)
    assert [r["name"] for r in plan["keep"]] == ["conntrack"]
    assert [r["name"] for r in plan["fetch"]] == ["ca-certificates"]
    assert plan["remove"] == ["debs/conntrack_1.4.6-2_amd64.deb"]


def test_os_release():
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    assert bundle.bundle_os_release(text) == {"id": "debian", "version_id": "12", "codename": "bookworm"}


def test_manifest_lists_each_file_with_its_kind():
    checksums = {
        "kubernetes/v1.31.4/linux/amd64/kubeadm": {"sha256": SHA_A, "size": 1},
        "kubernetes/v1.31.4/linux/amd64/kubeadm.sha256": {"sha256": SHA_B, "size": 65},
        "kubernetes/v1.30.0/linux/amd64/kubeadm": {"sha256": SHA_A, "size": 1},
        "images/registry.k8s.io_pause_3.10.tar": {"sha256": SHA_A, "size": 2},
        "images/stale.tar": {"sha256": SHA_A, "size": 2},
        "debs/conntrack_1.4.7-1+b2_amd64.deb": {"sha256": SHA_B, "size": 3},
        "debs/Packages.gz": {"sha256": SHA_B, "size": 4},
        "manifests/cni/flannel.yaml": {"sha256": SHA_A, "size": 5},
        "manifest.json": {"sha256": SHA_A, "size": 6},
        "notes.txt": {"sha256": SHA_A, "size": 7},
    }
    images = bundle.bundle_images(["registry.k8s.io/pause:3.10"], [], {})
    kube = [{"cache": "/b/kubernetes/v1.31.4/linux/amd64/kubeadm"}]
    manifest = bundle.bundle_manifest(checksums, images, kube, {"kubernetes_version": "1.31.4"})
    assert manifest["format"] == 1
    assert manifest["kubernetes_version"] == "1.31.4"
    kinds = {e["path"]: e["kind"] for e in manifest["files"]}
    assert kinds == {
        "debs/Packages.gz": "index", "debs/conntrack_1.4.7-1+b2_amd64.deb": "deb",
        "images/registry.k8s.io_pause_3.10.tar": "image",
        "kubernetes/v1.31.4/linux/amd64/kubeadm": "binary", "kubernetes/v1.31.4/linux/amd64/kubeadm.sha256": "checksum",
        "manifests/cni/flannel.yaml": "manifest",
    }
    image = next(e for e in manifest["files"] if e["kind"] == "image")
    assert image == {"path": "images/registry.k8s.io_pause_3.10.tar", "sha256": SHA_A, "size": 2, "kind": "image",
                     "ref": "registry.k8s.io/pause:3.10"}


def test_verify_names_missing_and_altered_files():
    manifest = {"files": [
        {"path": "debs/a.deb", "kind": "deb", "sha256": SHA_A},
        {"path": "debs/b.deb", "kind": "deb", "sha256": SHA_A},
        {"path": "images/c.tar", "kind": "image", "sha256": SHA_A},
        {"path": "manifests/x.yaml", "kind": "manifest", "sha256": SHA_A},
    ]}
    problems = bundle.bundle_verify(manifest, {"debs/a.deb": {"sha256": SHA_A}, "debs/b.deb": {"sha256": SHA_B}})
    assert problems == [f"debs/b.deb has SHA-256 {SHA_B}, manifest.json says {SHA_A}", "images/c.tar is missing"]


def test_images_to_import_skip_what_containerd_lists():
    manifest = {"files": [
        {"path": "images/a.tar", "kind": "image", "ref": "flannel/flannel:v1"},
        {"path": "images/b.tar", "kind": "image", "ref": "registry.k8s.io/pause:3.10"},
        {"path": "images/c.tar", "kind": "image", "ref": "quay.io/x/y:1@sha256:" + SHA_A},
        {"path": "debs/Packages", "kind": "index"},
    ]}
    listed = ["docker.io/flannel/flannel:v1", "sha256:" + SHA_B, "quay.io/x/y:1", ""]
    assert [e["path"] for e in bundle.bundle_images_to_import(manifest, listed)] == ["images/b.tar"]


def test_distro_problem():
    want = {"id": "debian", "codename": "bookworm"}
    assert bundle.bundle_distro_problem(want, {"id": "debian", "codename": "bookworm"}) == ""
    assert bundle.bundle_distro_problem({}, {"id": "ubuntu", "codename": "noble"}) == ""  # nothing recorded
    problem = bundle.bundle_distro_problem(want, {"id": "ubuntu", "codename": "noble"}, "node1")
    assert problem.startswith(
        "node1 runs ubuntu noble but the bundle's Debian packages were downloaded for debian bookworm")


def test_reason_reads_skopeo_a_command_and_kube_packages():
    skopeo = {"results": [{"failed": False}, {"failed": True, "stderr": (
        'time="t" level=fatal msg="initializing source docker://r/x:1: pinging container registry r: '
        'Get \\"https://r/v2/\\": dial tcp: lookup r: no such host"')}]}
    assert bundle.bundle_reason(skopeo) == (
        "initializing source docker://r/x:1: pinging container registry r: "
        'Get "https://r/v2/": dial tcp: lookup r: no such host')
    missing = {"failed": True, "cmd": ["skopeo", "copy"], "msg": "[Errno 2] No such file or directory: b'skopeo'"}
    assert bundle.bundle_reason(missing) == "skopeo is not installed on the controller"
    apt = {"stderr": "W: x\nE: Unable to locate package nope\n"}
    assert bundle.bundle_reason(apt) == "E: Unable to locate package nope"
    kube = ("kube_packages: could not fetch http://h/v1.31.4/bin/linux/amd64/kubeadm.sha256 on the controller "
            "(timeout 20 s): refused. The controller cache /c does not hold it either. Fix one of: ...")
    assert bundle.bundle_reason({"msg": kube}) == (
        "could not fetch http://h/v1.31.4/bin/linux/amd64/kubeadm.sha256 on the controller (timeout 20 s): refused")


def test_fetch_error_names_what_where_why_and_how_to_bring_a_bundle():
    msg = bundle.bundle_fetch_error(
        [{"what": "kubeadm, kubelet and kubectl v1.31.4 linux/amd64", "source": "https://dl.k8s.io/release",
          "reason": "no such host"},
         {"what": "9 image(s) (registry.k8s.io/kube-apiserver:v1.31.4 and 8 more)", "source": "registry.k8s.io",
          "reason": "x" * 1000}],
        "/srv/bundle", "1.31.4", "calico",
    )
    assert msg.startswith(
        "bundle: could not fetch 2 part(s) of the offline bundle for Kubernetes 1.31.4 into /srv/bundle: "
        "(1) kubeadm, kubelet and kubectl v1.31.4 linux/amd64 from https://dl.k8s.io/release: no such host; "
        "(2) 9 image(s)")
    assert "x" * 400 + "..." in msg
    assert "x" * 401 not in msg
    assert "-e kubesmith_kubernetes_version=1.31.4 -e kubesmith_cni=calico -e kubesmith_bundle_dir=" in msg
    assert "run again with `-e kubesmith_bundle_dir=/path/to/bundle`" in msg
    assert "same Debian/Ubuntu release as the hosts" in msg


def test_fetch_error_for_a_cluster_run_without_a_bundle():
    msg = bundle.bundle_fetch_error([{"what": "kubeadm", "source": "https://dl.k8s.io/release", "reason": "refused"}],
                                    "", "1.32.1")
    assert msg.startswith("kubesmith: could not fetch 1 part(s) of what Kubernetes 1.32.1 needs: "
                          "(1) kubeadm from https://dl.k8s.io/release: refused.")
    assert "playbooks/bundle.yml -e kubesmith_kubernetes_version=1.32.1 -e kubesmith_bundle_dir=" in msg
    assert msg.endswith("run this again with `-e kubesmith_bundle_dir=/path/to/bundle` (nothing is then downloaded).")
