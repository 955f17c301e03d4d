"""Role kube_packages, controller part, on real ansible-playbook runs against localhost.

The runs use the role's ``controller`` entry point (validate + fetch into the cache), so nothing is
installed on this machine: no /usr/bin, no /var/lib. The bundles and the HTTP "release server" hold
small placeholder files with correct .sha256 files beside them: they exercise the distribution
mechanics (layout, checksums, caching, failures) and are not Kubernetes binaries.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
VERSION = "1.31.4"
BINARIES = ("kubeadm", "kubectl", "kubelet")

PLAY = """
- name: kube_packages controller part
  hosts: all
  gather_facts: false
  tasks:
    - name: Fetch into the cache
      ansible.builtin.include_role:
        name: kube_packages
        tasks_from: controller
"""


def run(tmp_path: pathlib.Path, variables: dict, *args: str, hosts: str = "localhost") -> subprocess.CompletedProcess:
    """ansible-playbook on local hosts; ``hosts`` is the inventory's host lines."""
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts.ini").write_text(
        "\n".join(f"{line} ansible_connection=local ansible_python_interpreter={sys.executable}"
                  for line in hosts.splitlines()) + "\n"
    )
    (tmp_path / "vars.json").write_text(json.dumps({"kube_packages_version": VERSION, **variables}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".ansible-tmp")}
    start = time.monotonic()
    proc = subprocess.run(
        [str(PLAYBOOK), "-i", str(tmp_path / "hosts.ini"), str(tmp_path / "play.yml"),
         "-e", f"@{tmp_path / 'vars.json'}", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    proc.elapsed = time.monotonic() - start
    return proc


def changed(proc: subprocess.CompletedProcess) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


def oneline(proc: subprocess.CompletedProcess) -> str:
    """The output with YAML's line folding undone, so a long message can be searched for."""
    return re.sub(r"\s+", " ", proc.stdout + proc.stderr)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_files(directory: pathlib.Path, arch: str = "amd64") -> dict[str, bytes]:
    """Placeholder binaries with a correct .sha256 beside each, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in BINARIES:
        data = f"placeholder {name} {VERSION} {arch}: not a Kubernetes binary\n".encode()
        (directory / name).write_bytes(data)
        (directory / f"{name}.sha256").write_text(sha256(data))  # bare digest, as dl.k8s.io publishes it
        files[name] = data
    return files


def bundle(root: pathlib.Path, arch: str = "amd64") -> dict[str, bytes]:
    return make_files(root / "kubernetes" / f"v{VERSION}" / "linux" / arch, arch)


def cached(cache: pathlib.Path, arch: str = "amd64") -> pathlib.Path:
    return cache / "kubernetes" / f"v{VERSION}" / "linux" / arch


def assert_cache_holds(cache: pathlib.Path, files: dict[str, bytes], arch: str = "amd64") -> None:
    for name, data in files.items():
        assert (cached(cache, arch) / name).read_bytes() == data
        assert (cached(cache, arch) / f"{name}.sha256").read_text().strip() == sha256(data)


def test_unreachable_release_url_fails_fast_naming_the_alternatives(tmp_path):
    proc = run(tmp_path, {"kube_packages_release_base_url": "http://127.0.0.1:9",
                          "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert proc.elapsed < 30
    assert f"http://127.0.0.1:9/v{VERSION}/bin/linux/amd64/kubeadm.sha256" in out  # what was tried
    for variable in ("kubesmith_bundle_dir", "kube_packages_source", "kube_packages_release_base_url"):
        assert variable in out
    assert not (tmp_path / "cache").exists() or not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_a_silent_release_server_fails_after_the_timeout(tmp_path):
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = run(tmp_path, {"kube_packages_release_base_url": url, "kube_packages_download_timeout": 2,
                              "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert proc.elapsed < 15
    assert f"could not fetch {url}/v{VERSION}/bin/linux/amd64/kubeadm.sha256" in out
    assert "(timeout 2 s): timed out" in out


def test_missing_bundle_dir_fails_naming_the_path_and_the_variable(tmp_path):
    missing = tmp_path / "no-such-bundle"
    proc = run(tmp_path, {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(missing),
                          "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert f"kube_packages_bundle_dir '{missing}'" in out
    assert "is not a directory" in out


def test_incomplete_bundle_names_each_missing_file(tmp_path):
    bundle(tmp_path / "bundle")
    gone = cached(tmp_path / "bundle") / "kubelet.sha256"
    gone.unlink()
    proc = run(tmp_path, {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(tmp_path / "bundle"),
                          "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert f"lacks {gone}" in out


def test_bundle_fills_the_cache_then_a_rerun_changes_nothing(tmp_path):
    """The bundle holds small placeholder files with correct .sha256 files: they exercise the
    distribution mechanics only and are not Kubernetes binaries."""
    files = bundle(tmp_path / "bundle")
    variables = {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(tmp_path / "bundle"),
                 "kube_packages_cache_dir": str(tmp_path / "cache")}
    first = run(tmp_path, variables)
    assert first.returncode == 0, oneline(first)
    assert changed(first) > 0
    assert_cache_holds(tmp_path / "cache", files)
    second = run(tmp_path, variables)
    assert second.returncode == 0, oneline(second)
    assert changed(second) == 0, second.stdout


def test_checksum_mismatch_names_both_digests_and_keeps_the_file_out_of_the_cache(tmp_path):
    files = bundle(tmp_path / "bundle")
    wrong = "0" * 64
    (cached(tmp_path / "bundle") / "kubectl.sha256").write_text(wrong + "\n")
    proc = run(tmp_path, {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(tmp_path / "bundle"),
                          "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert "checksum mismatch" in out
    assert f"expected {wrong}" in out
    assert f"got {sha256(files['kubectl'])}" in out
    assert str(cached(tmp_path / "bundle") / "kubectl") in out
    assert not (cached(tmp_path / "cache") / "kubectl").exists()


def test_check_mode_with_an_empty_cache_says_what_it_would_fetch_and_writes_nothing(tmp_path):
    bundle(tmp_path / "bundle")
    proc = run(tmp_path, {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(tmp_path / "bundle"),
                          "kube_packages_cache_dir": str(tmp_path / "cache")}, "--check")
    out = oneline(proc)
    assert proc.returncode == 0, out
    assert "a real run would fetch" in out
    assert str(cached(tmp_path / "bundle") / "kubelet") in out
    assert not (tmp_path / "cache").exists()


def test_each_architecture_of_the_batch_is_fetched_once(tmp_path):
    amd64, arm64 = bundle(tmp_path / "bundle", "amd64"), bundle(tmp_path / "bundle", "arm64")
    proc = run(tmp_path, {"kube_packages_source": "bundle", "kube_packages_bundle_dir": str(tmp_path / "bundle"),
                          "kube_packages_cache_dir": str(tmp_path / "cache")},
               hosts="cp1\nworker1 kube_packages_arch=arm64\nworker2 kube_packages_arch=arm64")
    assert proc.returncode == 0, oneline(proc)
    assert_cache_holds(tmp_path / "cache", amd64, "amd64")
    assert_cache_holds(tmp_path / "cache", arm64, "arm64")
    assert len(re.findall(r"changed: \[cp1 -> localhost\] => \(item=\S+/kubelet\)", proc.stdout)) == 2  # one per arch


def test_bad_version_is_rejected_by_name(tmp_path):
    proc = run(tmp_path, {"kube_packages_version": "v1.31", "kube_packages_cache_dir": str(tmp_path / "cache")})
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert "kube_packages_version 'v1.31' is not a Kubernetes release like 1.31.4" in out


class _Recorder(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, requests: list, **kwargs):
        self._requests = requests
        super().__init__(*args, **kwargs)

    def send_head(self):
        self._requests.append(self.path)
        return super().send_head()

    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def release_server(tmp_path):
    """A local stand-in for dl.k8s.io/release: v<version>/bin/linux/amd64/<binary>[.sha256]."""
    root = tmp_path / "www"
    files = make_files(root / f"v{VERSION}" / "bin" / "linux" / "amd64")
    requests: list[str] = []
    handler = functools.partial(_Recorder, directory=str(root), requests=requests)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files, requests
    server.shutdown()
    server.server_close()


def test_release_source_downloads_once_then_reads_only_the_cache(tmp_path, release_server):
    """The server holds placeholder files laid out like dl.k8s.io (not Kubernetes binaries)."""
    url, files, requests = release_server
    variables = {"kube_packages_release_base_url": url, "kube_packages_cache_dir": str(tmp_path / "cache")}
    first = run(tmp_path, variables)
    assert first.returncode == 0, oneline(first)
    assert_cache_holds(tmp_path / "cache", files)
    assert sorted(requests) == sorted(f"/v{VERSION}/bin/linux/amd64/{name}{ext}"
                                      for name in BINARIES for ext in ("", ".sha256"))
    requests.clear()
    second = run(tmp_path, variables)
    assert second.returncode == 0, oneline(second)
    assert changed(second) == 0, second.stdout
    assert requests == []  # a complete cache needs no network
