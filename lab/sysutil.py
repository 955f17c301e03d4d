"""Small wrappers around processes and files used by the lab (root-only, Linux-only)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys


class LabError(RuntimeError):
    """A failure the user can act on; the CLI prints it without a traceback."""


def log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def run(argv, *, check=True, capture=False, input=None, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        argv,
        input=input,
        text=True,
        capture_output=capture,
        env={**os.environ, "LC_ALL": "C", **(env or {})},
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else ""
        raise LabError(f"command failed (rc={proc.returncode}): {' '.join(map(str, argv))}\n{detail}".rstrip())
    return proc


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)}; run `make setup` (it installs them with apt)")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (bridges, mounts, systemd-nspawn): run it as root")


def write_file(path: str, content: str, mode: int = 0o644) -> bool:
    """Write atomically; return True when the content changed."""
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        if f.read() == content:
            return False
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


@contextlib.contextmanager
def locked(path: str):
    """An exclusive lock on a file, so two lab commands never work on the same state at once."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pid_alive(pidfile: str) -> int | None:
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def is_mountpoint(path: str) -> bool:
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)
