"""Pure parsers behind the host_facts module: /proc files, os-release, ss output."""

from __future__ import annotations

import re


def parse_os_release(text: str) -> dict:
    """KEY=value lines of /etc/os-release -> dict (quotes removed)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip('"').strip("'")
    return out


def parse_meminfo_mb(text: str) -> int:
    """MemTotal of /proc/meminfo in MiB."""
    m = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) // 1024 if m else 0


def parse_swaps(text: str) -> list[dict]:
    """Active swap areas of /proc/swaps."""
    areas = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4:
            areas.append({"device": parts[0], "type": parts[1], "size_kb": int(parts[2])})
    return areas


def parse_ss_listen(text: str) -> list[dict]:
    """`ss -Htlnp` lines -> [{port, address, process}] (process '' when unknown)."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        local = parts[3]
        address, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        m = re.search(r'users:\(\("([^"]+)"', line)
        found.append({"port": int(port), "address": address.strip("[]"), "process": m.group(1) if m else ""})
    return found


def ports_in_use(listening: list[dict], wanted: list[int], allowed_processes: list[str]) -> list[dict]:
    """Listeners on wanted ports whose process is not one kubesmith expects there."""
    allowed = set(allowed_processes)
    return [entry for entry in listening if entry["port"] in set(wanted) and entry["process"] not in allowed]


def sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def parse_cpu_count(cpuinfo: str) -> int:
    return len(re.findall(r"^processor\s*:", cpuinfo, re.M))
