"""Role bundle on real ansible-playbook runs against localhost.

The build (entry point main) runs for real: role kube_packages' controller part, the real skopeo
and the real bookkeeping. Nothing here reaches the internet: the sources are a closed loopback
port, or local stand-ins (a plain HTTP server laid out like dl.k8s.io/release and a minimal
registry speaking the registry v2 API) that serve small placeholder files and a one-file image.
They exercise the bundle's mechanics (layout, checksums, reuse, re-fetch, failures) and are not
Kubernetes binaries or images. The Debian packages part needs the controller's apt mirror and is
left out here (its parsing is covered in tests/unit/filter_plugins/test_bundle.py).

The host side (entry point install) runs in check mode: it checks the bundle and the host's
release, shows what it would write, and writes nothing on this machine.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
VERSION = "1.31.4"
BINARIES = ("kubeadm", "kubectl", "kubelet")
KUBEADM_IMAGES = ("kube-apiserver:v1.31.4", "kube-controller-manager:v1.31.4", "kube-scheduler:v1.31.4",
                  "kube-proxy:v1.31.4", "coredns:v1.11.3", "etcd:3.5.15-0", "pause:3.10")

def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once closed: connections are refused


def run(tmp: pathlib.Path, variables: dict, *args: str, playbook: pathlib.Path | None = None,
        env: dict | None = None, hosts: tuple = ("localhost",)):
    """ansible-playbook on local hosts (playbooks/bundle.yml unless ``playbook``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    playbook = playbook or ROOT / "playbooks" / "bundle.yml"
    (tmp / "hosts.ini").write_text("".join(
        f"{host} ansible_connection=local ansible_python_interpreter={sys.executable}\n" for host in hosts))
    (tmp / "vars.json").write_text(json.dumps(variables))
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-tmp"), **(env or {})}
    start = time.monotonic()
    proc = subprocess.run(
        [str(PLAYBOOK), "-i", str(tmp / "hosts.ini"), str(playbook), "-e", f"@{tmp / 'vars.json'}", *args],
        capture_output=True, text=True, env=full_env, timeout=120, check=False,
    )
    proc.elapsed = time.monotonic() - start
    return proc


def changed(proc) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


def oneline(proc) -> str:
    return re.sub(r"\s+", " ", proc.stdout + proc.stderr)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_lists(tmp: pathlib.Path, registry: str) -> dict:
    """cni_images / addons_images files as roles cni and addons define them, at ``registry``."""
    (tmp / "cni.yml").write_text(f"cni_images:\n  flannel: ['{registry}/flannel/flannel:v0.26.1']\n"
                                 f"  calico: ['{registry}/calico/node:v3.29.1']\n")
    (tmp / "addons.yml").write_text(
        f"addons_images:\n  metrics_server: ['{registry}/metrics-server/metrics-server:v0.7.2']\n")
    return {"bundle_cni_vars_file": str(tmp / "cni.yml"), "bundle_addons_vars_file": str(tmp / "addons.yml")}


def all_refs(registry: str) -> list[str]:
    return [f"{registry}/{i}" for i in KUBEADM_IMAGES] + [f"{registry}/flannel/flannel:v0.26.1",
                                                          f"{registry}/metrics-server/metrics-server:v0.7.2"]


def tar_name(ref: str) -> str:
    return "images/" + re.sub(r"[/:@]", "_", ref) + ".tar"


def base_vars(tmp: pathlib.Path, port: int, registry: str) -> dict:
    return {"kubesmith_kubernetes_version": VERSION, "kubesmith_bundle_dir": str(tmp / "bundle"),
            "kube_packages_release_base_url": f"http://127.0.0.1:{port}", "kubesmith_image_repository": registry,
            "bundle_parts": ["kubernetes", "images"], **image_lists(tmp, registry)}


# --- local stand-ins --------------------------------------------------------------------------

def placeholder_release(root: pathlib.Path) -> dict[str, bytes]:
    """dl.k8s.io's layout with placeholder binaries and their bare .sha256 digests."""
    files = {}
    directory = root / f"v{VERSION}" / "bin" / "linux" / "amd64"
    directory.mkdir(parents=True)
    for name in BINARIES:
        data = f"placeholder {name} {VERSION}: not a Kubernetes binary\n".encode()
        (directory / name).write_bytes(data)
        (directory / f"{name}.sha256").write_text(sha256(data))
        files[name] = data
    return files


def one_layer_image(ref: str) -> dict[str, tuple[str, bytes]]:
    """A tiny image (one file) as registry blobs: manifest, config, layer."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = f"placeholder image {ref}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha256(layer_tar)}"]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": f"sha256:{sha256(config)}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": f"sha256:{sha256(layer)}"}],
    }).encode()
    return {"manifest": ("application/vnd.docker.distribution.manifest.v2+json", manifest),
            f"sha256:{sha256(config)}": ("application/octet-stream", config),
            f"sha256:{sha256(layer)}": ("application/octet-stream", layer)}


class Registry(http.server.BaseHTTPRequestHandler):
    """The registry v2 read API, for every repository and tag asked for (plain HTTP)."""

    blobs: dict = {}
    pulls: list = []

    def log_message(self, *args):
        pass

    def _send(self, status: int, ctype: str = "application/json", body: bytes = b"{}", digest: str = ""):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        match = re.match(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$", path)
        if path in ("/v2/", "/v2"):
            return self._send(200)
        if not match:
            return self._send(404)
        name, kind, ref = match.groups()
        if kind == "manifests":
            image = one_layer_image(f"{name}:{ref}")
            type(self).blobs.update({k: v for k, v in image.items() if k != "manifest"})
            type(self).pulls.append(f"{name}:{ref}")
            ctype, body = image["manifest"]
            return self._send(200, ctype, body, f"sha256:{sha256(body)}")
        if ref in type(self).blobs:
            ctype, body = type(self).blobs[ref]
            return self._send(200, ctype, body, ref)
        return self._send(404)

    do_HEAD = do_GET


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A release server (placeholder binaries) and a registry (plain HTTP), both on loopback."""
    tmp = tmp_path_factory.mktemp("servers")
    files = placeholder_release(tmp / "release")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp / "release"))
    handler.log_message = lambda *a: None
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    registry = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for server in (web, registry):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"release_port": web.server_address[1], "registry": f"127.0.0.1:{registry.server_address[1]}",
           "files": files}
    for server in (web, registry):
        server.shutdown()
        server.server_close()


# --- scenarios: independent chains of runs, started together (the suite stays fast) -----------

def unreachable(tmp: pathlib.Path, servers: dict) -> dict:
    port = closed_port()
    variables = {**base_vars(tmp, port, f"127.0.0.1:{port}"), "kube_packages_download_timeout": 5,
                 "bundle_image_timeout": 10}
    return {"port": port, "proc": run(tmp, variables)}


def missing_lists(tmp: pathlib.Path, servers: dict) -> dict:
    variables = base_vars(tmp, closed_port(), "127.0.0.1:1")
    variables["bundle_cni_vars_file"] = str(tmp / "no-cni.yml")
    return {"proc": run(tmp, variables)}


def prefill(bundle: pathlib.Path, registry: str) -> dict:
    """A bundle made of small placeholder files with correct SHA-256s: binaries with their
    .sha256 files, image tarballs, and the manifest.json that recorded the tarballs."""
    directory = bundle / "kubernetes" / f"v{VERSION}" / "linux" / "amd64"
    directory.mkdir(parents=True)
    for name in BINARIES:
        data = f"placeholder {name}: not a Kubernetes binary\n".encode()
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o755)  # as the build leaves them (and a copy keeps them)
        (directory / f"{name}.sha256").write_text(sha256(data) + "\n")
    entries = []
    (bundle / "images").mkdir()
    for ref in all_refs(registry):
        data = f"placeholder tarball of {ref}\n".encode()
        (bundle / tar_name(ref)).write_bytes(data)
        entries.append({"path": tar_name(ref), "sha256": sha256(data), "size": len(data), "kind": "image", "ref": ref})
    (bundle / "manifest.json").write_text(json.dumps({"files": entries}))
    return {e["path"]: e for e in entries}


def prefilled(tmp: pathlib.Path, servers: dict) -> dict:
    """Every source is a closed port: a run can only succeed by keeping what is there."""
    port = closed_port()
    registry = f"127.0.0.1:{port}"
    images = prefill(tmp / "bundle", registry)
    first = run(tmp, base_vars(tmp, port, registry))
    manifest = json.loads((tmp / "bundle" / "manifest.json").read_text()) if first.returncode == 0 else {}
    return {"images": images, "first": first, "manifest": manifest}


def fetched(tmp: pathlib.Path, servers: dict) -> dict:
    """The images part from the local registry: fetch, re-run, then re-run after altering one
    tarball. (The binaries' fetch and re-fetch are role kube_packages' own, tested in
    test_kube_packages.py; the kubernetes part is covered here by the prefilled bundle.)"""
    variables = {**base_vars(tmp, servers["release_port"], servers["registry"]), "bundle_image_tls_verify": False,
                 "bundle_parts": ["images"]}
    bundle = tmp / "bundle"
    out = {"first": run(tmp, variables)}
    out["first_pulls"] = sorted(Registry.pulls)
    out["manifest"] = json.loads((bundle / "manifest.json").read_text()) if out["first"].returncode == 0 else {}
    out["images"] = {}
    for entry in out["manifest"].get("files", []):
        if entry["kind"] == "image":
            with tarfile.open(bundle / entry["path"]) as tar:  # a docker-archive named by its reference
                repo_tags = json.load(tar.extractfile("manifest.json"))[0]["RepoTags"]
            out["images"][entry["path"]] = (entry, repo_tags, sha256((bundle / entry["path"]).read_bytes()))
    out["parts"] = list(bundle.rglob("*.part"))
    Registry.pulls = []
    out["again"] = run(tmp, variables)
    out["again_pulls"] = list(Registry.pulls)
    pause = bundle / tar_name(f"{servers['registry']}/pause:3.10")
    pause.write_bytes(b"corrupted")
    Registry.pulls = []
    out["third"] = run(tmp, variables)
    out["third_pulls"] = list(Registry.pulls)
    out["pause_sha256"] = sha256(pause.read_bytes())
    out["pause_entry"] = next((e for e in json.loads((bundle / "manifest.json").read_text())["files"]
                               if e["path"].endswith("pause_3.10.tar")), {})
    return out


def this_release() -> dict:
    text = pathlib.Path("/etc/os-release").read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {"id": values["ID"].strip('"'), "codename": values.get("VERSION_CODENAME", "").strip('"')}


def installable(bundle: pathlib.Path, distro: dict, damaged: bool = False) -> str:
    (bundle / "debs").mkdir(parents=True)
    (bundle / "debs" / "Packages").write_text("altered\n" if damaged else "")
    (bundle / "manifest.json").write_text(json.dumps({
        "distro": distro, "files": [{"path": "debs/Packages", "sha256": sha256(b""), "size": 0, "kind": "index"}],
    }))
    return str(bundle)


INSTALL_PLAY = """
- name: "bundle {entry} entry point: {name}"
  hosts: {name}
  gather_facts: false
  vars: {variables}
  tasks:
    - name: Serve the bundle
      block:
        - name: Entry point {entry}
          ansible.builtin.include_role: {{name: bundle, tasks_from: {entry}}}
        - name: Show the facts for kube_packages
          ansible.builtin.debug:
            msg: "FACTS[{name}] {{{{ kube_packages_source }}}} {{{{ kube_packages_bundle_dir }}}}"
      rescue:
        - name: Show why it stopped
          ansible.builtin.debug:
            msg: "FAILED[{name}] {{{{ ansible_failed_result.msg }}}}"
"""


def install(tmp: pathlib.Path, servers: dict) -> dict:
    """The host entry point in check mode, one play per case (one ansible-playbook run)."""
    cases = {
        "same": {"kubesmith_bundle_dir": installable(tmp / "same", this_release())},
        "other": {"kubesmith_bundle_dir": installable(tmp / "other", {"id": "ubuntu", "codename": "noble"})},
        "damaged": {"kubesmith_bundle_dir": installable(tmp / "damaged", this_release(), damaged=True)},
        "missing": {"kubesmith_bundle_dir": str(tmp / "none")},
        "none": {"kube_packages_source": "release", "kube_packages_bundle_dir": ""},
    }
    plays = [INSTALL_PLAY.format(name=name, entry="install", variables=json.dumps(v)) for name, v in cases.items()]
    # entry point images on a host without containerd (this machine has none): stopped, with the order to fix
    cases["nocontainerd"] = {"kubesmith_bundle_dir": installable(tmp / "nocontainerd", this_release())}
    plays.append(INSTALL_PLAY.format(name="nocontainerd", entry="images",
                                     variables=json.dumps(cases["nocontainerd"])))
    (tmp / "install.yml").write_text("".join(plays))
    return {"proc": run(tmp, {}, "--check", "--diff", playbook=tmp / "install.yml", hosts=tuple(cases))}


SCENARIOS = {"unreachable": unreachable, "missing_lists": missing_lists, "prefilled": prefilled,
             "fetched": fetched, "install": install}


@pytest.fixture(scope="module")
def results(tmp_path_factory, servers):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (tools/setup.sh installs it)")
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        futures = {name: pool.submit(fn, tmp_path_factory.mktemp(name), servers) for name, fn in SCENARIOS.items()}
        return {name: future.result() for name, future in futures.items()}


# --- tests ------------------------------------------------------------------------------------

def test_unreachable_sources_stop_naming_what_where_and_how_to_bring_a_bundle(results):
    proc, port = results["unreachable"]["proc"], results["unreachable"]["port"]
    registry = f"127.0.0.1:{port}"
    out = oneline(proc)
    assert proc.returncode != 0, out
    # bounded: a refused connection is not retried, and the images stop at the first that fails
    assert proc.elapsed < 60
    assert len(re.findall(rf"\(item={registry}/", proc.stdout + proc.stderr)) == 1
    # what could not be fetched, from where, and why
    assert f"could not fetch 2 part(s) of the offline bundle for Kubernetes {VERSION}" in out
    assert f"kubeadm, kubelet and kubectl v{VERSION} linux/amd64 from http://127.0.0.1:{port}" in out
    assert f"http://127.0.0.1:{port}/v{VERSION}/bin/linux/amd64/kubeadm.sha256" in out
    assert f"9 image(s) ({registry}/kube-apiserver:v{VERSION}, " in out
    assert f"and 6 more) from {registry}: initializing source docker://{registry}/kube-apiserver" in out
    assert out.lower().count("connection refused") >= 2  # the release server and the registry
    # how to bring a bundle built elsewhere
    assert f"playbooks/bundle.yml -e kubesmith_kubernetes_version={VERSION}" in out
    assert "run again with `-e kubesmith_bundle_dir=" in out


def test_an_incomplete_bundle_gets_no_manifest(results, tmp_path_factory):
    out = oneline(results["unreachable"]["proc"])
    bundle = re.search(r"offline bundle for Kubernetes \S+ into (\S+?):", out).group(1)
    assert pathlib.Path(bundle).is_dir()
    assert not (pathlib.Path(bundle) / "manifest.json").exists()


def test_missing_image_lists_are_named(results):
    proc = results["missing_lists"]["proc"]
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert re.search(r"/no-cni\.yml does not exist", out), out
    assert "addons.yml" not in out.split("does not exist")[0]  # the one that exists is not blamed
    assert "bundle_cni_vars_file" in out


def test_a_prefilled_bundle_is_reused_without_any_network(results):
    res = results["prefilled"]
    assert res["first"].returncode == 0, oneline(res["first"])
    manifest = res["manifest"]
    assert manifest["kubernetes_version"] == VERSION
    assert manifest["arch"] == "amd64"
    assert manifest["distro"]["id"] == this_release()["id"]  # checked by install on every host
    listed = {e["path"]: e for e in manifest["files"]}
    for path, entry in res["images"].items():
        assert listed[path] == entry
    binary = listed[f"kubernetes/v{VERSION}/linux/amd64/kubeadm"]
    assert binary["kind"] == "binary"
    assert len(binary["sha256"]) == 64
    assert listed[f"kubernetes/v{VERSION}/linux/amd64/kubeadm.sha256"]["kind"] == "checksum"
    # nothing fetched, nothing rewritten: only manifest.json gained what the placeholder one lacked
    assert changed(res["first"]) == 1, res["first"].stdout
    assert re.search(r"TASK \[bundle : Write manifest.json\] \**\nchanged:", res["first"].stdout)


def test_images_are_fetched_as_named_docker_archives(results, servers):
    res = results["fetched"]
    assert res["first"].returncode == 0, oneline(res["first"])
    assert res["first_pulls"] == sorted(r.split("/", 1)[1] for r in all_refs(servers["registry"]))
    assert len(res["images"]) == 9
    for entry, repo_tags, digest in res["images"].values():
        assert repo_tags == [entry["ref"]]
        assert entry["sha256"] == digest
    assert res["parts"] == []


def test_a_rerun_keeps_everything(results):
    res = results["fetched"]
    assert res["again"].returncode == 0, oneline(res["again"])
    assert changed(res["again"]) == 0, res["again"].stdout
    assert res["again_pulls"] == []


def test_altered_files_are_fetched_again(results, servers):
    res = results["fetched"]
    assert res["third"].returncode == 0, oneline(res["third"])
    assert res["third_pulls"] == ["pause:3.10"]  # only the altered image
    assert res["pause_entry"]["sha256"] == res["pause_sha256"] != sha256(b"corrupted")


def test_install_in_check_mode_serves_the_bundle_and_sets_the_facts(results):
    out = oneline(results["install"]["proc"])
    match = re.search(r"FACTS\[same\] bundle (\S+)", out)
    assert match, out
    assert match.group(1).endswith("/same")
    assert "URIs: file:/var/lib/kubesmith/bundle/debs" in out
    assert "Trusted: yes" in out


def test_install_refuses_another_release_a_damaged_and_a_missing_bundle(results):
    out = oneline(results["install"]["proc"])
    assert "FAILED[other] bundle: other runs" in out
    assert "downloaded for ubuntu noble" in out
    assert "FAILED[damaged] bundle: kubesmith_bundle_dir" in out
    assert "does not match its manifest.json: debs/Packages has SHA-256" in out
    assert "FAILED[missing] kubesmith_bundle_dir" in out
    assert "manifest.json is missing" in out


@pytest.mark.skipif(shutil.which("ctr") is not None, reason="this machine has containerd's ctr")
def test_images_without_containerd_says_to_run_container_runtime_first(results):
    out = oneline(results["install"]["proc"])
    assert "FAILED[nocontainerd] bundle: nocontainerd: `ctr -n k8s.io images ls` failed" in out
    assert "Run role container_runtime on this host before it." in out


def test_install_without_a_bundle_changes_nothing(results):
    out = oneline(results["install"]["proc"])
    assert "FACTS[none] release" in out
    assert "FAILED[none]" not in out
