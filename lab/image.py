"""The cached Debian base image every lab host boots from (an overlayfs lower layer).

The image is keyed by a hash of its recipe (suite, packages, files, hooks): change the recipe and a
new image is built; the old one stays in the cache until `lab image --prune`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

from lab.sysutil import LabError, locked, log, require_tools, run

SUITE = "bookworm"
BASE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "iproute2",
    "sudo", "procps", "iputils-ping", "ca-certificates", "kmod", "less",
]
FILES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")
IMAGE_FILES = {
    # file in lab/files -> path in the image
    "kubesmith-cgroup-rw.service": "/etc/systemd/system/kubesmith-cgroup-rw.service",
    "ssh-keygen.conf": "/etc/systemd/system/ssh.service.d/keygen.conf",
    "sshd-lab.conf": "/etc/ssh/sshd_config.d/kubesmith-lab.conf",
}
HOOKS = [
    'chroot "$1" systemctl enable systemd-networkd.service kubesmith-cgroup-rw.service',
    'rm -f "$1"/etc/ssh/ssh_host_* ; : > "$1"/etc/machine-id ; rm -f "$1"/etc/hostname',
    'install -d -m700 "$1"/root/.ssh',
    # apt in the hosts only ever talks to the lab mirror; keep its downloads small
    'printf \'APT::Install-Recommends "false";\\nAcquire::Languages "none";\\n\' '
    '> "$1"/etc/apt/apt.conf.d/90kubesmith-lab',
]


def recipe() -> dict:
    files = {}
    for name in sorted(IMAGE_FILES):
        with open(os.path.join(FILES_DIR, name), "rb") as f:
            files[name] = hashlib.sha256(f.read()).hexdigest()
    return {"suite": SUITE, "packages": BASE_PACKAGES, "files": files, "hooks": HOOKS, "version": 1}


def recipe_id() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:12]


def paths(cache: str) -> tuple[str, str]:
    rid = recipe_id()
    return os.path.join(cache, "images", rid), os.path.join(cache, "images", f"{rid}.tar.zst")


def ensure_image(cache: str, force: bool = False) -> str:
    """Return the extracted rootfs, building or restoring it if needed."""
    rootfs, tarball = paths(cache)
    with locked(os.path.join(cache, "image.lock")):
        if not force and os.path.isdir(os.path.join(rootfs, "usr")):
            return rootfs
        require_tools("mmdebstrap", "zstd", "tar")
        tmp = rootfs + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        t0 = time.monotonic()
        if not force and os.path.isfile(tarball):
            log(f"restoring base image from {tarball}")
            run(["sh", "-c", f"zstd -dc '{tarball}' "
                             f"| tar --numeric-owner --xattrs --xattrs-include='*' -C '{tmp}' -xf -"])
        else:
            log(f"building base image {os.path.basename(rootfs)} with mmdebstrap (about a minute)")
            _build(cache, tmp)
            run(["sh", "-c", f"tar --numeric-owner --xattrs --xattrs-include='*' -C '{tmp}' -cf - . "
                             f"| zstd -q -T0 -3 -f -o '{tarball}.tmp' && mv '{tarball}.tmp' '{tarball}'"])
        shutil.rmtree(rootfs, ignore_errors=True)
        os.rename(tmp, rootfs)
        log(f"base image ready in {time.monotonic() - t0:.1f}s: {rootfs}")
        return rootfs


def _build(cache: str, target: str) -> None:
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    argv = [
        "mmdebstrap", "--quiet", "--mode=root", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
        "--skip=download/empty", "--skip=essential/unlink",
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
        "--customize-hook=rm -f \"$1\"/var/cache/apt/archives/*.deb",
    ]
    for name, dest in IMAGE_FILES.items():
        argv.append(f"--customize-hook=mkdir -p \"$1\"{os.path.dirname(dest)}")
        argv.append(f"--customize-hook=upload {os.path.join(FILES_DIR, name)} {dest}")
    argv += [f"--customize-hook={h}" for h in HOOKS]
    # no mirror argument: mmdebstrap uses this machine's own apt sources
    argv += [SUITE, target]
    proc = run(argv, check=False, capture=True)
    if proc.returncode != 0:
        raise LabError(f"mmdebstrap failed (rc={proc.returncode}); last output:\n{(proc.stderr or '')[-3000:]}")


def prune(cache: str) -> list[str]:
    """Delete cached images of other recipes."""
    keep = recipe_id()
    removed = []
    images = os.path.join(cache, "images")
    for entry in sorted(os.listdir(images)) if os.path.isdir(images) else []:
        if not entry.startswith(keep):
            p = os.path.join(images, entry)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
            removed.append(p)
    return removed
