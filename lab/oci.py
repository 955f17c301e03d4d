"""A tiny OCI image built locally from Debian's busybox-static, for container tests without a registry.

The result is an OCI image-layout tarball that ``ctr images import`` accepts, named
``localhost/busybox:latest``. Built deterministically (mtime 0, sorted), so its digest is stable.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile

from lab.sysutil import LabError, run

REF = "localhost/busybox:latest"
GOARCH = {"amd64": "amd64", "arm64": "arm64", "armhf": "arm", "i386": "386", "ppc64el": "ppc64le", "s390x": "s390x"}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tf: tarfile.TarFile, name: str, data: bytes | None = None, mode: int = 0o755,
         kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    ti = tarfile.TarInfo(name)
    ti.mode, ti.type, ti.linkname, ti.mtime = mode, kind, link, 0
    if data is not None:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)


def layer_from_busybox(busybox: bytes, applets: list[str]) -> bytes:
    """An uncompressed layer tar: /bin/busybox, an applet symlink each, /etc/passwd and /etc/group."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
            _add(tf, d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        _add(tf, "bin/busybox", busybox)
        for a in sorted(set(applets) - {"busybox"}):
            _add(tf, f"bin/{a}", kind=tarfile.SYMTYPE, link="busybox")
        _add(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        _add(tf, "etc/group", b"root:x:0:\n", 0o644)
    return raw.getvalue()


def image_layout(layer_tar: bytes, arch: str, ref: str = REF) -> dict[str, bytes]:
    """Files of an OCI image layout (path -> bytes) holding one image with one layer."""
    layer_gz = gzip.compress(layer_tar, mtime=0)
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer_tar)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kubesmith lab/oci.py"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _sha(layer_gz),
                    "size": len(layer_gz)}],
    }, sort_keys=True).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref},
    }]}, sort_keys=True).encode()
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
    for blob in (layer_gz, config, manifest):
        files["blobs/sha256/" + _sha(blob)[7:]] = blob
    return files


def write_layout_tar(files: dict[str, bytes], out: str) -> None:
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tf:
        _add(tf, "blobs", kind=tarfile.DIRTYPE)
        _add(tf, "blobs/sha256", kind=tarfile.DIRTYPE)
        for name in sorted(files):
            _add(tf, name, files[name], 0o644)
    os.replace(tmp, out)


def build_busybox_image(out: str) -> str:
    """Download busybox-static with apt and write its OCI tarball to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["apt-get", "download", "busybox-static"], cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:  # stale apt lists on this machine: refresh once and retry
            run(["apt-get", "update", "-q"], capture=True)
            subprocess.run(["apt-get", "download", "busybox-static"], cwd=tmp, check=True, capture_output=True)
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if not debs:
            raise LabError("apt-get download busybox-static gave no .deb")
        run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), os.path.join(tmp, "x")])
        bb = os.path.join(tmp, "x", "bin", "busybox")
        applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
        with open(bb, "rb") as f:
            layer = layer_from_busybox(f.read(), applets)
    arch = run(["dpkg", "--print-architecture"], capture=True).stdout.strip()
    write_layout_tar(image_layout(layer, GOARCH.get(arch, arch)), out)
    return out
