"""Command line of the lab: ``python -m lab up|down|status|image|repo``."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time

import yaml

from lab import hosts, image, plan, repo
from lab.sysutil import LabError, locked, log, pid_alive, require_root, require_tools, run, write_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SUBNET = "172.30.77.0/24"
DEFAULT_BRIDGE = "ksbr0"
SSH_TIMEOUT = 90


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("KUBESMITH_LAB_CACHE") or os.path.join(base, "kubesmith-lab")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab", description="kubesmith's local test hosts")
    p.add_argument("--state-dir", default=os.environ.get("KUBESMITH_LAB_DIR") or os.path.join(ROOT, ".lab"),
                   help="where the running lab lives: keys, hosts, inventory (env KUBESMITH_LAB_DIR; default .lab)")
    p.add_argument("--cache-dir", default=_default_cache(),
                   help="base images and apt repositories, shared by checkouts (env KUBESMITH_LAB_CACHE)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="make the lab exactly these hosts (boots missing ones, removes others)")
    for flag in plan.ROLE_FLAGS:
        up.add_argument(f"--{flag.replace('_', '-')}", type=int, default=0, metavar="N",
                        help=f"N hosts in group {plan.ROLE_FLAGS[flag][1]} named {plan.ROLE_FLAGS[flag][0]}1..N")
    up.add_argument("--host", action="append", default=[], metavar="NAME[:GROUP,...]",
                    help="one host by name, with its inventory groups (repeatable)")
    up.add_argument("--subnet", default=os.environ.get("KUBESMITH_LAB_SUBNET", DEFAULT_SUBNET),
                    help=f"lab network (env KUBESMITH_LAB_SUBNET; default {DEFAULT_SUBNET})")
    up.add_argument("--bridge", default=os.environ.get("KUBESMITH_LAB_BRIDGE", DEFAULT_BRIDGE),
                    help=f"bridge name (env KUBESMITH_LAB_BRIDGE; default {DEFAULT_BRIDGE})")
    up.add_argument("--json", action="store_true",
                    help="print the lab's state (hosts, addresses, groups, booted) as JSON on stdout")
    up.add_argument("--no-repo", action="store_true", help="do not build or serve the local apt repository")
    up.add_argument("--nspawn-args", default=os.environ.get("KUBESMITH_LAB_NSPAWN_ARGS", ""),
                    help="extra systemd-nspawn arguments for new hosts")
    down = sub.add_parser("down", help="stop every host and remove all the lab made (keys and caches stay)")
    down.add_argument("--fast", action="store_true", help="kill the hosts instead of a clean poweroff")
    st = sub.add_parser("status", help="show the hosts, their addresses and whether they answer")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    img = sub.add_parser("image", help="build (or restore) the cached base image")
    img.add_argument("--force", action="store_true", help="rebuild even when cached")
    img.add_argument("--prune", action="store_true", help="delete cached images of other recipes")
    sub.add_parser("repo", help="build the local apt repository")
    return p


class Lab:
    def __init__(self, state_dir: str, cache_dir: str):
        self.state_dir = os.path.abspath(state_dir)
        self.cache = os.path.abspath(cache_dir)
        self.state_file = os.path.join(self.state_dir, "state.json")
        self.key = os.path.join(self.state_dir, "keys", "id_ed25519")
        self.repo_pid = os.path.join(self.state_dir, "repo-http.pid")

    def load(self) -> dict:
        try:
            with open(self.state_file) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def host_names(self) -> list[str]:
        d = os.path.join(self.state_dir, "hosts")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    # ---------------------------------------------------------------- up
    def up(self, specs: list[plan.HostSpec], subnet: str, bridge: str, with_repo: bool, nspawn_args: str) -> dict:
        require_root()
        require_tools("systemd-nspawn", "ip", "ssh", "ssh-keygen", "mount", "umount", "chroot")
        net = plan.check_subnet(subnet)
        t0 = time.monotonic()
        with locked(os.path.join(self.state_dir, "lock")):
            state = self.load()
            if self.host_names() and (state.get("subnet"), state.get("bridge")) != (str(net), bridge):
                raise LabError(
                    f"the running lab uses {state.get('subnet')} on {state.get('bridge')}; "
                    "run `python -m lab down` before changing the subnet or bridge"
                )
            rootfs = image.ensure_image(self.cache)
            image_id = os.path.basename(rootfs)
            repo_url = images_dir = None
            if with_repo:
                repo_path = repo.ensure_repo(self.cache, rootfs)
                repo_url = f"http://{plan.gateway(net)}:{repo.PORT}"
                images_dir = os.path.join(repo_path, "images")
            os.makedirs(os.path.dirname(self.key), exist_ok=True)
            if not os.path.exists(self.key):
                run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubesmith-lab", "-f", self.key])

            hosts.ensure_bridge(bridge, net)
            if repo_url:
                repo.serve(repo_path, plan.gateway(net), self.repo_pid, os.path.join(self.state_dir, "repo-http.log"))
            else:
                repo.stop(self.repo_pid)

            wanted = {s.name for s in specs}
            old_images = state.get("images", {})
            stale = [n for n in self.host_names() if n not in wanted or old_images.get(n, image_id) != image_id]
            if stale:
                log(f"removing hosts: {', '.join(stale)}")
                self._stop([hosts.Host(n, self.state_dir) for n in stale])
            kept = {k: v for k, v in state.get("addresses", {}).items() if k not in stale}
            addresses = plan.assign_addresses(specs, net, kept)
            booted = []
            for s in specs:
                h = hosts.Host(s.name, self.state_dir)
                h.prepare(rootfs, addresses[s.name], net, self.key + ".pub", repo_url)
                if not h.running():
                    h.boot(bridge, nspawn_args)
                    booted.append(s.name)
            new_state = {
                "subnet": str(net), "bridge": bridge, "addresses": addresses,
                "groups": {s.name: list(s.groups) for s in specs},
                "images": {s.name: image_id for s in specs}, "apt_repo": repo_url,
                "key_file": self.key, "images_dir": images_dir,
                "inventory": os.path.join(self.state_dir, "inventory.yml"),
            }
            write_file(self.state_file, plan.dumps_json(new_state))
            self._wait_ssh(specs, addresses)
            inv = plan.inventory(specs, addresses, self.key, repo_url, images_dir)
            write_file(os.path.join(self.state_dir, "inventory.yml"),
                       "# written by `python -m lab up`; do not edit\n" + yaml.safe_dump(inv, sort_keys=False))
            write_file(os.path.join(self.state_dir, "terraform-output.json"),
                       plan.dumps_json(plan.terraform_output(specs, addresses, self.key, repo_url)))
        took = time.monotonic() - t0
        log(f"{len(specs)} hosts up ({len(booted)} booted) in {took:.1f}s; "
            f"inventory: {os.path.join(self.state_dir, 'inventory.yml')}")
        return {**new_state, "booted": booted, "removed": stale}

    def _ssh(self, address: str, command: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-i", self.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", f"root@{address}", command],
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def _wait_ssh(self, specs, addresses) -> None:
        def wait(spec):
            h = hosts.Host(spec.name, self.state_dir)
            deadline = time.monotonic() + SSH_TIMEOUT
            while time.monotonic() < deadline:
                if not h.running():
                    raise LabError(f"{spec.name} stopped while booting; its console:\n{h.log_tail()}")
                if _port_open(addresses[spec.name], 22):
                    try:
                        proc = self._ssh(addresses[spec.name], "systemctl is-system-running --wait; "
                                         "systemctl --failed --no-legend --plain | cut -d' ' -f1", timeout=60)
                    except subprocess.TimeoutExpired:
                        continue
                    if proc.returncode in (0, 1) and proc.stdout.strip():
                        lines = proc.stdout.split()
                        if lines[0] != "running":
                            log(f"{spec.name}: system is {lines[0]}; failed units: {' '.join(lines[1:]) or '-'}")
                        return
                time.sleep(0.3)
            raise LabError(f"{spec.name} ({addresses[spec.name]}) did not answer SSH in {SSH_TIMEOUT}s; "
                           f"its console:\n{h.log_tail()}")

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(specs))) as ex:
            for f in [ex.submit(wait, s) for s in specs]:
                f.result()

    # ---------------------------------------------------------------- down
    def _stop(self, hs: list[hosts.Host], fast: bool = False) -> None:
        for h in hs:
            h.signal(signal.SIGKILL if fast else signal.SIGTERM)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(16, len(hs)))) as ex:
            for f in [ex.submit(h.cleanup) for h in hs]:
                f.result()

    def down(self, fast: bool = False) -> list[str]:
        require_root()
        t0 = time.monotonic()
        state = self.load()
        with locked(os.path.join(self.state_dir, "lock")):
            names = self.host_names()
            self._stop([hosts.Host(n, self.state_dir) for n in names], fast)
            repo.stop(self.repo_pid)
            hosts.remove_cgroup_parent()
            bridge = state.get("bridge") or os.environ.get("KUBESMITH_LAB_BRIDGE", DEFAULT_BRIDGE)
            hosts.delete_bridge(bridge)
            for f in ("state.json", "inventory.yml", "terraform-output.json"):
                if os.path.exists(os.path.join(self.state_dir, f)):
                    os.unlink(os.path.join(self.state_dir, f))
        left = leftovers(self.state_dir, bridge, names)
        if left:
            raise LabError("teardown left these behind:\n  " + "\n  ".join(left))
        log(f"lab down: {len(names)} hosts removed in {time.monotonic() - t0:.1f}s, nothing left behind")
        return names

    # ---------------------------------------------------------------- status
    def status(self) -> list[dict]:
        state = self.load()
        rows = []
        for name in sorted(set(self.host_names()) | set(state.get("addresses", {}))):
            addr = state.get("addresses", {}).get(name)
            running = hosts.Host(name, self.state_dir).running()
            rows.append({
                "name": name, "address": addr, "groups": state.get("groups", {}).get(name, []),
                "running": running, "ssh": bool(addr and running and _port_open(addr, 22)),
            })
        return rows


def _port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def leftovers(state_dir: str, bridge: str, names: list[str] = ()) -> list[str]:
    """What a torn-down lab must not leave: mounts, cgroups and veths of its hosts, bridge, processes."""
    found = []
    with open("/proc/self/mounts") as f:
        found += [f"mount {ln.split()[1]}" for ln in f if ln.split()[1].startswith(os.path.abspath(state_dir) + "/")]
    found += [f"cgroup {os.path.join(h, hosts.CGROUP_PARENT, n)}" for h in hosts.cgroup_hierarchies() for n in names
              if os.path.isdir(os.path.join(h, hosts.CGROUP_PARENT, n))]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=False).stdout.splitlines()
    links_ = [ln.split()[0].split("@")[0] for ln in links if ln.strip()]
    found += [f"link {n}" for n in links_ if n == bridge or n in {f"vb-{h}" for h in names}]
    lab_hosts = os.path.join(state_dir, "hosts")
    if os.path.isdir(lab_hosts):
        found += [f"host state {os.path.join(lab_hosts, n)}" for n in os.listdir(lab_hosts)]
    if pid_alive(os.path.join(state_dir, "repo-http.pid")):
        found.append("apt repository server")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    lab = Lab(args.state_dir, args.cache_dir)
    try:
        if args.command == "up":
            counts = {f: getattr(args, f) for f in plan.ROLE_FLAGS}
            specs = plan.merge_specs(plan.hosts_from_counts(counts) + [plan.parse_host_arg(h) for h in args.host])
            result = lab.up(specs, args.subnet, args.bridge, not args.no_repo, args.nspawn_args)
            if args.json:
                print(json.dumps(result, indent=2))
        elif args.command == "down":
            lab.down(args.fast)
        elif args.command == "status":
            rows = lab.status()
            if args.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("no lab hosts")
            else:
                print(f"{'HOST':12} {'ADDRESS':16} {'STATE':8} {'SSH':4} GROUPS")
                for r in rows:
                    print(f"{r['name']:12} {r['address'] or '-':16} {'running' if r['running'] else 'stopped':8} "
                          f"{'yes' if r['ssh'] else 'no':4} {','.join(r['groups'])}")
        elif args.command == "image":
            require_root()
            if args.prune:
                for p in image.prune(lab.cache):
                    log(f"removed {p}")
            else:
                print(image.ensure_image(lab.cache, force=args.force))
        elif args.command == "repo":
            require_root()
            print(repo.ensure_repo(lab.cache, image.ensure_image(lab.cache)))
    except (LabError, plan.PlanError) as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    return 0
