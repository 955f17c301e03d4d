"""The offline bundle's consuming side on a real lab host: packages and an image from the bundle only.

This machine can fetch Debian packages but neither Kubernetes binaries nor registry images, so the
bundle is built with the `debs` part alone (playbooks/bundle.yml, cached under
~/.cache/kubesmith-test/ so a re-run only re-verifies it), copied, and given one real image: the
lab's busybox OCI image converted with skopeo to a docker-archive and recorded in manifest.json as
the role records images (kind image, ref, sha256, size). One host on its own bridge, subnet, state
directory and name (bd1), with the lab's own apt source removed, then gets what cluster.yml's node
tier does with a bundle: bundle `install`, roles base and container_runtime, bundle `images`.
"""

import hashlib
import json
import pathlib
import re
import shutil
import subprocess
import tarfile
import time

import labkit
import pytest

BRIDGE = "ksbd0"
SUBNET = "172.30.83.0/24"
HOST = "bd1"
K8S_VERSION = "1.31.4"
IMAGE_REF = "localhost/busybox:latest"  # the name lab/oci.py gives its image
CACHE = pathlib.Path.home() / ".cache" / "kubesmith-test" / "bundle-debs"
LAB_SOURCE = "/etc/apt/sources.list.d/kubesmith-lab.list"

PLAYBOOK = f"""\
- name: Offline bundle, packages (as cluster.yml)
  hosts: {HOST}
  gather_facts: false
  tasks:
    - name: Make the bundle's Debian packages the host's package source
      ansible.builtin.include_role:
        name: bundle
        tasks_from: install

- name: Node tier with the bundle (as node.yml), then the bundle's images (as cluster.yml)
  hosts: {HOST}
  gather_facts: false
  roles:
    - role: base
    - role: container_runtime
  tasks:
    - name: Import the bundle's container images into containerd
      ansible.builtin.include_role:
        name: bundle
        tasks_from: images
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with labkit.running(tmp_path_factory.mktemp("bundle-lab"), BRIDGE, SUBNET, f"--host={HOST}:kube_node") as lab:
        yield lab


def build_debs_bundle() -> None:
    """playbooks/bundle.yml with the debs part only, into the cache (a re-run keeps verified .debs)."""
    proc = subprocess.run(
        [str(labkit.BIN / "ansible-playbook"), "-i", "localhost,", "playbooks/bundle.yml",
         "-e", f"kubesmith_kubernetes_version={K8S_VERSION}", "-e", f"kubesmith_bundle_dir={CACHE}",
         "-e", '{"bundle_parts": ["debs"]}'],
        cwd=labkit.ROOT, env=labkit.ansible_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def add_image(bundle: pathlib.Path, oci_tar: pathlib.Path, work: pathlib.Path) -> dict:
    """The lab's busybox OCI image as the bundle keeps images: a docker-archive named by its
    reference under images/, and a manifest.json entry (kind image, ref, sha256, size)."""
    from filter_plugins.bundle import bundle_image_file

    layout = work / "busybox-oci"
    layout.mkdir()
    with tarfile.open(oci_tar) as tf:
        tf.extractall(layout, filter="data")
    rel = bundle_image_file(IMAGE_REF)
    (bundle / "images").mkdir(exist_ok=True)
    proc = subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:{IMAGE_REF}",
                           f"docker-archive:{bundle / rel}:{IMAGE_REF}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = (bundle / rel).read_bytes()
    entry = {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "kind": "image",
             "ref": IMAGE_REF}
    manifest_file = bundle / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["files"] = sorted([f for f in manifest["files"] if f["path"] != rel] + [entry], key=lambda f: f["path"])
    manifest["parts"] = sorted(set(manifest["parts"]) | {"images"})
    manifest_file.write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n")
    return entry


def test_a_host_with_only_the_bundle_gets_packages_and_images(lab, tmp_path):
    t_start = time.monotonic()

    # 1. the bundle: debs from this machine's apt sources, plus one real image
    t0 = time.monotonic()
    build_debs_bundle()
    manifest = json.loads((CACHE / "manifest.json").read_text())
    assert manifest["parts"] == ["debs"]
    assert any(f["path"].startswith("debs/containerd_") for f in manifest["files"])
    bundle = tmp_path / "bundle"
    shutil.copytree(CACHE, bundle)
    images_dir = lab.info["images_dir"]
    assert images_dir, "the lab serves no images directory (state.json images_dir)"
    image = add_image(bundle, pathlib.Path(images_dir) / "busybox-oci.tar", tmp_path)
    print(f"\nbundle built/verified and image added in {time.monotonic() - t0:.1f}s: "
          f"{len(manifest['files'])} files + {image['path']} ({image['size']} bytes)")

    # 2. the host knows no package source but the bundle (nothing else is served to it anyway)
    cut = lab.ssh(HOST, f"rm -f {LAB_SOURCE} && grep -rhsE '^[[:space:]]*(deb|URIs:)' /etc/apt/sources.list "
                   "/etc/apt/sources.list.d/ || true")
    assert cut.returncode == 0, cut.stderr
    assert cut.stdout.strip() == "", f"the host still has apt sources: {cut.stdout}"
    assert lab.ssh(HOST, "dpkg -s containerd").returncode != 0, "containerd is already installed on the fresh host"
    repo_log = lab.state / "repo-http.log"
    log_before = repo_log.stat().st_size if repo_log.exists() else 0

    # 3. the node tier with the bundle, twice
    playbook = tmp_path / "node-with-bundle.yml"
    playbook.write_text(PLAYBOOK)
    argv = ["-i", str(lab.inventory), str(playbook),
            "-e", f"kubesmith_bundle_dir={bundle}", "-e", f"kubesmith_kubernetes_version={K8S_VERSION}"]
    times = {}
    for run in ("converge", "no-op"):
        result = labkit.playbook(run, *argv, hosts=[HOST], timeout=360)
        times[run] = result.seconds
        stats = result.stats[HOST]
        if run == "converge":
            assert stats["changed"] > 0, stats
            assert "Import them into containerd" in result.proc.stdout
        else:
            assert stats["changed"] == 0, f"second run changed {stats['changed']}:\n{result.out[-6000:]}"
        print(f"{run}: {times[run]:.1f}s, {stats}")

    # containerd runs; its packages came from the bundle's file: source, nothing else
    assert lab.ssh(HOST, "systemctl is-active containerd").stdout.strip() == "active"
    policy = lab.ssh(HOST, "apt-cache policy containerd runc curl").stdout
    sections = dict(re.findall(r"^(\S+):\n((?:[ \t].*\n?)*)", policy, re.M))
    for pkg in ("containerd", "runc", "curl"):
        section = sections.get(pkg, "")
        assert re.search(r"Installed: \d", section), policy
        assert "file:/var/lib/kubesmith/bundle/debs ./ Packages" in section, policy
    sources = lab.ssh(HOST, "apt-cache policy").stdout
    assert "http" not in sources, f"the host has a network apt source:\n{sources}"
    assert lab.ssh(HOST, f"test -e {LAB_SOURCE}").returncode != 0
    if repo_log.exists():
        with repo_log.open() as f:
            f.seek(log_before)
            asked = f.read()
        assert "GET" not in asked, f"the host fetched from the lab's repository:\n{asked}"

    # the real image is in containerd's k8s.io namespace and runs
    images = lab.ssh(HOST, "ctr -n k8s.io images ls -q").stdout.split()
    assert IMAGE_REF in images, images
    hello = lab.ssh(HOST, f"ctr -n k8s.io run --rm {IMAGE_REF} bd-hello /bin/echo hello-from-bundle", timeout=90)
    assert hello.stdout.strip() == "hello-from-bundle", hello.stdout + hello.stderr

    body, total = time.monotonic() - t_start, time.monotonic() - lab.started
    print(f"converge {times['converge']:.1f}s, no-op {times['no-op']:.1f}s, "
          f"test body {body:.1f}s, with lab up {total:.1f}s")
    assert times["no-op"] < 60, f"the no-op run took {times['no-op']:.1f}s"
    assert total < 450, f"the test took {total:.1f}s with the lab's boot (bound: 450 s, then teardown)"
