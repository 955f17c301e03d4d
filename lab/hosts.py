"""Boot and stop lab hosts: systemd-nspawn containers with their own systemd, sshd and IP.

Each host is an overlayfs (the cached base image below, a per-host upper layer) booted by
``systemd-nspawn --boot`` under a small supervisor shell. PID 1 of these machines is not systemd,
so nspawn runs with ``--register=no --keep-unit`` inside cgroups the lab creates per host
(``<hierarchy>/kubesmith-lab/<host>``); teardown kills what is left in them and removes them.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import subprocess
import time

from lab import plan
from lab.sysutil import LabError, is_mountpoint, log, pid_alive, run, write_file

CGROUP_PARENT = "kubesmith-lab"

# CONFIG_* option -> module path, for kernels without loadable modules (everything built in):
# a modules.builtin listing them makes `modprobe br_netfilter` and friends succeed in the hosts.
BUILTIN_MODULES = {
    "BRIDGE_NETFILTER": "net/bridge/br_netfilter", "BRIDGE": "net/bridge/bridge",
    "OVERLAY_FS": "fs/overlayfs/overlay", "NF_CONNTRACK": "net/netfilter/nf_conntrack",
    "NF_NAT": "net/netfilter/nf_nat", "NF_TABLES": "net/netfilter/nf_tables",
    "IP_NF_IPTABLES": "net/ipv4/netfilter/ip_tables", "IP_NF_FILTER": "net/ipv4/netfilter/iptable_filter",
    "IP_NF_NAT": "net/ipv4/netfilter/iptable_nat", "IP6_NF_IPTABLES": "net/ipv6/netfilter/ip6_tables",
    "NETFILTER_XT_MATCH_CONNTRACK": "net/netfilter/xt_conntrack",
    "NETFILTER_XT_MATCH_COMMENT": "net/netfilter/xt_comment",
    "NETFILTER_XT_TARGET_MASQUERADE": "net/netfilter/xt_MASQUERADE", "IP_SET": "net/netfilter/ipset/ip_set",
    "VXLAN": "drivers/net/vxlan/vxlan", "VETH": "drivers/net/veth", "MACVLAN": "drivers/net/macvlan",
    "IP_VS": "net/netfilter/ipvs/ip_vs",
}

SUPERVISOR = r"""
for d in $CGROUPS; do echo $$ > "$d/cgroup.procs"; done
trap 'kill -TERM $c 2>/dev/null; wait $c; exit 0' TERM
while :; do
  systemd-nspawn --quiet -D "$ROOT" --machine="$NAME" --hostname="$NAME" --boot \
    --network-bridge="$BRIDGE" --register=no --keep-unit --console=passive --resolv-conf=off \
    --bind="$STATE/containerd:/var/lib/containerd" \
    --capability=all --system-call-filter='add_key keyctl bpf' $EXTRA &
  c=$!; wait $c; rc=$?
  [ $rc -eq 133 ] || exit $rc   # 133: the host asked for a reboot; boot it again
done
"""


def builtin_modules(kconfig: str | None) -> list[str]:
    """modules.builtin lines for the running kernel (all candidates when its config is unreadable)."""
    lines = []
    for opt, mod in BUILTIN_MODULES.items():
        if kconfig is None or f"CONFIG_{opt}=y" in kconfig.splitlines():
            lines.append(f"kernel/{mod}.ko")
    return lines


def _kconfig() -> str | None:
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            return f.read()
    except OSError:
        return None


def cgroup_hierarchies() -> list[str]:
    with open("/proc/self/mounts") as f:
        return [ln.split()[1] for ln in f if ln.split()[2] in ("cgroup", "cgroup2")]


def _cgroup_dirs(name: str) -> list[str]:
    return [os.path.join(h, CGROUP_PARENT, name) for h in cgroup_hierarchies()]


def _make_cgroups(name: str) -> list[str]:
    dirs = []
    for h in cgroup_hierarchies():
        parent = os.path.join(h, CGROUP_PARENT)
        d = os.path.join(parent, name)
        os.makedirs(d, exist_ok=True)
        if os.path.isfile(os.path.join(h, "cpuset.cpus")):  # v1 cpuset: children start empty
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(h, f)) as src:
                    val = src.read().strip()
                for target in (parent, d):
                    with open(os.path.join(target, f), "w") as dst:
                        dst.write(val)
        dirs.append(d)
    return dirs


class Host:
    def __init__(self, name: str, state_dir: str):
        self.name = name
        self.dir = os.path.join(state_dir, "hosts", name)
        self.merged = os.path.join(self.dir, "merged")
        self.pidfile = os.path.join(self.dir, "pid")

    def running(self) -> bool:
        return pid_alive(self.pidfile) is not None

    def prepare(self, rootfs: str, address: str, net, key_pub: str, repo_url: str | None) -> None:
        """Mount the overlay and write the host's identity, network and apt source into it."""
        for sub in ("upper", "work", "merged", "containerd"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        if not is_mountpoint(self.merged):
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={rootfs},upperdir={self.dir}/upper,workdir={self.dir}/work", self.merged])
        m = self.merged
        write_file(f"{m}/etc/hostname", self.name + "\n")
        with open(f"{m}/etc/machine-id") as f:
            if not f.read().strip():
                with open("/proc/sys/kernel/random/uuid") as u:
                    write_file(f"{m}/etc/machine-id", u.read().strip().replace("-", "") + "\n", 0o444)
        with open(key_pub) as f:
            write_file(f"{m}/root/.ssh/authorized_keys", f.read(), 0o600)
        if not os.path.exists(f"{m}/etc/hosts.kubesmith-lab"):  # only on first boot: roles own it later
            write_file(f"{m}/etc/hosts", plan.etc_hosts(self.name))
            write_file(f"{m}/etc/hosts.kubesmith-lab", "written by the lab on first boot\n")
        if os.path.islink(f"{m}/etc/resolv.conf"):
            os.unlink(f"{m}/etc/resolv.conf")
        # nothing listens there: name lookups fail fast instead of timing out
        write_file(f"{m}/etc/resolv.conf", f"nameserver {plan.gateway(net)}\n")
        os.makedirs(f"{m}/etc/systemd/network", exist_ok=True)
        write_file(f"{m}/etc/systemd/network/10-host0.network",
                   plan.networkd_unit(address, net.prefixlen, plan.gateway(net)))
        if repo_url:
            for src in ("sources.list", "sources.list.d/debian.sources"):
                p = f"{m}/etc/apt/{src}"
                if os.path.exists(p):
                    os.replace(p, p + ".disabled")
            if write_file(f"{m}/etc/apt/sources.list.d/kubesmith-lab.list", f"deb [trusted=yes] {repo_url} ./\n"):
                # the package index from the image build is for other sources: mark it stale, so the
                # first `apt update_cache/cache_valid_time` on the host refreshes it
                os.utime(f"{m}/var/lib/apt/lists", (0, 0))
                stamp = f"{m}/var/lib/apt/periodic/update-success-stamp"
                if os.path.exists(stamp):
                    os.unlink(stamp)
        kver = os.uname().release
        builtin_bin = f"{m}/lib/modules/{kver}/modules.builtin.bin"
        if not os.path.isdir(f"/lib/modules/{kver}") and not os.path.exists(builtin_bin):
            os.makedirs(f"{m}/lib/modules/{kver}", exist_ok=True)
            write_file(f"{m}/lib/modules/{kver}/modules.builtin", "\n".join(builtin_modules(_kconfig())) + "\n")
            for f in ("modules.order", "modules.builtin.modinfo"):
                write_file(f"{m}/lib/modules/{kver}/{f}", "")
            run(["chroot", m, "depmod", "-a", kver], capture=True)

    def boot(self, bridge: str, extra_args: str = "") -> None:
        if self.running():
            return
        if subprocess.run(["ip", "link", "show", f"vb-{self.name}"], capture_output=True).returncode == 0:
            raise LabError(f"interface vb-{self.name} already exists: another lab (another checkout or "
                           f"KUBESMITH_LAB_DIR) runs a host named {self.name}; stop it or use other host names")
        kver = os.uname().release
        extra = f"--bind-ro=/lib/modules/{kver}" if os.path.isdir(f"/lib/modules/{kver}") else ""
        env = {
            **os.environ, "CGROUPS": " ".join(_make_cgroups(self.name)), "ROOT": self.merged,
            "NAME": self.name, "BRIDGE": bridge, "STATE": self.dir, "EXTRA": f"{extra} {extra_args}".strip(),
        }
        with open(os.path.join(self.dir, "nspawn.log"), "ab") as out:
            proc = subprocess.Popen(["bash", "-c", SUPERVISOR], env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True)
        write_file(self.pidfile, f"{proc.pid}\n")

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(os.path.join(self.dir, "nspawn.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def signal(self, sig: int) -> None:
        pid = pid_alive(self.pidfile)
        if pid:
            if sig == signal.SIGKILL:
                subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)
            os.kill(pid, sig)

    def cleanup(self, timeout: float = 20.0) -> None:
        """After signal(): wait, kill leftovers, remove cgroups, veth, mount and state."""
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.running():
            log(f"{self.name}: did not power off in {timeout:.0f}s; killing it")
            self.signal(signal.SIGKILL)
        dirs = [d for d in _cgroup_dirs(self.name) if os.path.isdir(d)]
        for _ in range(50):
            pids = _cgroup_pids(dirs)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for d in dirs:
            for root, _subdirs, _files in sorted(os.walk(d), key=lambda t: -t[0].count("/")):
                with contextlib.suppress(OSError):
                    os.rmdir(root)
        if subprocess.run(["ip", "link", "show", f"vb-{self.name}"], capture_output=True).returncode == 0:
            run(["ip", "link", "del", f"vb-{self.name}"], check=False, capture=True)
        for _ in range(20):
            if not is_mountpoint(self.merged):
                break
            if run(["umount", self.merged], check=False, capture=True).returncode != 0:
                time.sleep(0.2)
        if is_mountpoint(self.merged):
            run(["umount", "-l", self.merged], check=False, capture=True)
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.name}", ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            raise LabError(f"{self.name}: could not remove {self.dir}")


def _cgroup_pids(dirs: list[str]) -> list[int]:
    pids = set()
    for d in dirs:
        for root, _subdirs, files in os.walk(d):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(root, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return sorted(pids)


def remove_cgroup_parent() -> None:
    for h in cgroup_hierarchies():
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(h, CGROUP_PARENT))


def ensure_bridge(bridge: str, net) -> None:
    gw = f"{plan.gateway(net)}/{net.prefixlen}"
    if subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode != 0:
        run(["ip", "link", "add", bridge, "type", "bridge"], capture=True)
    addrs = run(["ip", "-o", "-4", "addr", "show", "dev", bridge], capture=True).stdout
    if gw not in addrs:
        run(["ip", "addr", "add", gw, "dev", bridge], capture=True)
    run(["ip", "link", "set", bridge, "up"], capture=True)


def delete_bridge(bridge: str) -> None:
    if subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0:
        run(["ip", "link", "del", bridge], capture=True)
