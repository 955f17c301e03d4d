"""The lab's local apt repository: the Debian packages the roles install, served on the lab bridge.

This is the offline-mirror pattern: hosts have no route to any registry; apt on them only knows
``http://<bridge ip>:8080``. The repository is keyed by the base image and the package list.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time

from lab import oci
from lab.image import FILES_DIR
from lab.sysutil import LabError, locked, log, pid_alive, require_tools, run

PORT = 8080


def packages() -> list[str]:
    with open(os.path.join(FILES_DIR, "repo-packages.txt")) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def repo_dir(cache: str, image_id: str) -> str:
    recipe = "\n".join([image_id, "oci-busybox-v1", *packages()])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return os.path.join(cache, "repo", key)


def ensure_repo(cache: str, rootfs: str) -> str:
    """Download the packages (and what the image lacks of their dependencies) into a flat repository."""
    path = repo_dir(cache, os.path.basename(rootfs))
    with locked(os.path.join(cache, "repo.lock")):
        if os.path.isfile(os.path.join(path, "Packages.gz")):
            return path
        require_tools("apt-get", "dpkg-scanpackages")
        t0 = time.monotonic()
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(os.path.join(tmp, "partial"))
        argv = [
            "apt-get", "install", "-y", "-q", "--download-only", "--no-install-recommends",
            # resolve against the image's dpkg status, so only what the hosts lack is fetched
            "-o", f"Dir::State::status={rootfs}/var/lib/dpkg/status",
            "-o", f"Dir::Cache::archives={tmp}",
            *packages(),
        ]
        if run(argv, check=False, capture=True).returncode != 0:
            log("package download failed; refreshing this machine's apt lists and retrying")
            run(["apt-get", "update", "-q"], capture=True)
            run(argv, capture=True)
        shutil.rmtree(os.path.join(tmp, "partial"), ignore_errors=True)
        if os.path.exists(os.path.join(tmp, "lock")):  # apt's lock file, not a package
            os.unlink(os.path.join(tmp, "lock"))
        scan = subprocess.run(["dpkg-scanpackages", "-m", ".", "/dev/null"], cwd=tmp, capture_output=True, check=False)
        if scan.returncode != 0:
            raise LabError(f"dpkg-scanpackages failed: {scan.stderr.decode()[-1000:]}")
        with gzip.open(os.path.join(tmp, "Packages.gz"), "wb") as f:
            f.write(scan.stdout)
        # container images for tests, served and read from here like an offline bundle's images/
        os.makedirs(os.path.join(tmp, "images"))
        oci.build_busybox_image(os.path.join(tmp, "images", "busybox-oci.tar"))
        shutil.rmtree(path, ignore_errors=True)
        os.rename(tmp, path)
        n = len([e for e in os.listdir(path) if e.endswith(".deb")])
        log(f"apt repository ready in {time.monotonic() - t0:.1f}s: {n} packages in {path}")
        return path


def serve(path: str, bind: str, pidfile: str, logfile: str) -> None:
    """Serve the repository over HTTP on the bridge address (idempotent)."""
    if pid_alive(pidfile):
        return
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", bind, "--directory", path, str(PORT)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )
    with open(pidfile, "w") as f:
        f.write(str(proc.pid))
    for _ in range(50):
        if proc.poll() is not None:
            raise LabError(f"the apt repository server stopped at once; see {logfile}")
        try:
            with socket.create_connection((bind, PORT), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise LabError(f"the apt repository server did not listen on {bind}:{PORT}; see {logfile}")


def stop(pidfile: str) -> None:
    pid = pid_alive(pidfile)
    if pid:
        os.kill(pid, 15)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
