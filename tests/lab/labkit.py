"""What the lab tests share: an isolated lab of their own, ssh to its hosts, ansible-playbook runs.

Each test keeps its own bridge, subnet, state directory and host names (two labs on one machine need
different ones, see lab/README.md); this module only runs them:

- ``Lab(state, bridge, subnet)``: ``python -m lab --state-dir STATE`` with the bridge and subnet in
  its environment (``lab("up", ...)``), ``info`` (state.json), ``inventory``, ``ssh``/``must`` to a host;
- ``running(...)``: a lab brought up, yielded, and taken down even when the test failed;
- ``ansible_env``, ``playbook`` (ansible-playbook with a timeout, the recap of each host checked), ``recap``;
- ``write_inventory``: the lab's inventory with extra group vars for ``all``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
SSH_OPTIONS = (
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "BatchMode=yes",
)


def ssh(
    key_file, address: str, command: str, timeout: int = 60, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """``command`` as root on ``address`` (never asks, never remembers the host key)."""
    return subprocess.run(
        ["ssh", "-i", str(key_file), *SSH_OPTIONS, f"root@{address}", command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Lab:
    """One isolated lab: its own state directory, bridge and subnet. ``lab(*args)`` runs ``python -m lab``."""

    def __init__(self, state: pathlib.Path, bridge: str, subnet: str, timeout: int = 300, ssh_timeout: int = 60):
        self.state = pathlib.Path(state)
        self.env = {**os.environ, "KUBESMITH_LAB_BRIDGE": bridge, "KUBESMITH_LAB_SUBNET": subnet}
        self.timeout = timeout  # each `python -m lab` command
        self.ssh_timeout = ssh_timeout  # each ssh command, unless told otherwise
        self.inventory = self.state / "inventory.yml"
        self.started = time.monotonic()
        self._info = None

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "lab", "--state-dir", str(self.state), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    @property
    def info(self) -> dict:
        """state.json, read once the lab is up."""
        if self._info is None:
            self._info = json.loads((self.state / "state.json").read_text())
        return self._info

    def ssh(
        self, host: str, command: str, timeout: int | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        return ssh(self.info["key_file"], self.info["addresses"][host], command, timeout or self.ssh_timeout, stdin)

    def must(self, host: str, command: str, timeout: int | None = None, stdin: str | None = None) -> str:
        """``command``'s stdout on ``host``; it must succeed."""
        proc = self.ssh(host, command, timeout, stdin)
        assert proc.returncode == 0, (
            f"{host}: {command[:200]}\nrc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
        return proc.stdout


@contextlib.contextmanager
def running(state: pathlib.Path, bridge: str, subnet: str, *up_args: str, timeout: int = 300, ssh_timeout: int = 60):
    """A lab up with ``lab up *up_args``, down afterwards whatever happened (and down must succeed)."""
    lab = Lab(state, bridge, subnet, timeout, ssh_timeout)
    try:
        lab("up", *up_args)
        print(f"\nlab up in {time.monotonic() - lab.started:.1f}s")
        yield lab
    finally:
        t0 = time.monotonic()
        down = lab("down", check=False)
        print(f"lab down in {time.monotonic() - t0:.1f}s")
        assert down.returncode == 0, f"lab down failed: {down.stderr}"


def ansible_env() -> dict:
    """This environment without the caller's ANSIBLE_*/KUBESMITH_* settings, with the project's ansible.cfg."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "KUBESMITH_"))}
    return {**env, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}


def recap(out: str, host: str) -> dict:
    """``host``'s PLAY RECAP counters: {"ok": 3, "changed": 1, ...}."""
    match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", out, re.M)
    assert match, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


@dataclass
class Run:
    proc: subprocess.CompletedProcess
    out: str  # stdout + stderr
    stats: dict  # host -> recap
    seconds: float


def playbook(name: str, *args: str, hosts, timeout: int, log: pathlib.Path | None = None) -> Run:
    """``ansible-playbook *args`` from the project's root; it must succeed with no host failed or unreachable.
    ``log`` keeps its whole output (for a failure's post-mortem)."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), *args],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(out)
    assert proc.returncode == 0, f"{name} run failed:\n{out[-6000:]}"
    stats = {host: recap(proc.stdout, host) for host in hosts}
    for host, s in stats.items():
        assert (s["failed"], s["unreachable"]) == (0, 0), (name, host, s)
    return Run(proc, out, stats, seconds)


def write_inventory(lab: Lab, dest: pathlib.Path, extra_vars: dict) -> pathlib.Path:
    """The lab's inventory with ``extra_vars`` added to ``all``'s vars, written to ``dest``."""
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory["all"]["vars"].update(extra_vars)
    dest.write_text(yaml.safe_dump(inventory))
    return dest
