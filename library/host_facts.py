#!/usr/bin/python
"""Everything preflight needs to know about a host, in one round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_facts
short_description: Read, in one call, the host facts kubesmith's preflight checks need
description:
  - Reads the OS release, architecture, CPU count, memory, active swap, container detection,
    listening TCP ports with their processes, time synchronisation, kernel features
    (overlay, br_netfilter, loadable modules) and the current values and writability of
    the given sysctls.
  - Read-only; replaces a full C(setup) run plus a handful of probe commands.
  - The same data is also set as the fact C(kubesmith_host), so roles later in the play can
    use it without another round trip.
version_added: "0.1.0"
options:
  ports:
    description: TCP ports to report listeners for (every port when empty).
    type: list
    elements: int
    default: []
  sysctls:
    description: Sysctl keys whose current value and writability to report.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: kubesmith
"""

EXAMPLES = r"""
- name: Read the host facts preflight needs
  host_facts:
    ports: [6443, 10250]
    sysctls: [net.ipv4.ip_forward]
  register: facts
"""

RETURN = r"""
ansible_facts:
  description: The same data under the fact C(kubesmith_host).
  returned: always
  type: dict
os:
  description: Selected /etc/os-release fields.
  returned: always
  type: dict
  sample: {id: debian, version_id: "12", pretty_name: "Debian GNU/Linux 12 (bookworm)"}
hostname:
  description: The host's kernel host name (uname -n).
  returned: always
  type: str
  sample: cp1
architecture:
  description: Machine architecture (uname -m).
  returned: always
  type: str
  sample: x86_64
cpus:
  description: Online CPUs.
  returned: always
  type: int
memory_mb:
  description: Total memory in MiB.
  returned: always
  type: int
swap:
  description: Active swap areas.
  returned: always
  type: list
  elements: dict
container:
  description: Container technology the host runs in (systemd-detect-virt -c), or "none".
  returned: always
  type: str
  sample: systemd-nspawn
listening:
  description: TCP listeners on the requested ports (port, address, process).
  returned: always
  type: list
  elements: dict
time_synchronized:
  description: Whether the kernel clock is synchronised (timedatectl NTPSynchronized), null when unknown.
  returned: always
  type: bool
kernel:
  description: Kernel features.
  returned: always
  type: dict
  sample: {release: "6.1.0", modules_loadable: true, overlay: true, br_netfilter: true}
cgroup:
  description: cgroup layout (1 = v1 or hybrid, 2 = unified) and whether systemd is the init system.
  returned: always
  type: dict
  sample: {version: 2, systemd_init: true}
sysctls:
  description: Requested sysctls with their value (null when absent) and whether this host may write them.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: {value: "1", writable: true}}
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.host_facts import (
    parse_cpu_count,
    parse_meminfo_mb,
    parse_os_release,
    parse_ss_listen,
    parse_swaps,
    sysctl_path,
)


def argument_spec():
    return {
        "ports": {"type": "list", "elements": "int", "default": []},
        "sysctls": {"type": "list", "elements": "str", "default": []},
    }


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _run(module, argv):
    """Output of a read-only probe; empty when the tool is missing or fails."""
    if not shutil.which(argv[0]):
        return ""
    rc, out, _err = module.run_command(argv, environ_update={"LC_ALL": "C"})
    return out if rc == 0 else ""


def gather(module):
    p = module.params
    osr = parse_os_release(_read("/etc/os-release"))
    container = _run(module, ["systemd-detect-virt", "--container"]).strip() or "none"
    listening = parse_ss_listen(_run(module, ["ss", "-Htlnp"]))
    if p["ports"]:
        listening = [entry for entry in listening if entry["port"] in set(p["ports"])]
    ntp = _run(module, ["timedatectl", "show", "--property=NTPSynchronized", "--value"]).strip()
    sysctls = {}
    for key in p["sysctls"]:
        path = sysctl_path(key)
        value = _read(path, None)
        sysctls[key] = {
            "value": value.strip() if value is not None else None,
            "writable": value is not None and os.access(path, os.W_OK),
        }
    return {
        "os": {"id": osr.get("ID", ""), "id_like": osr.get("ID_LIKE", ""), "version_id": osr.get("VERSION_ID", ""),
               "codename": osr.get("VERSION_CODENAME", ""), "pretty_name": osr.get("PRETTY_NAME", "")},
        "hostname": os.uname().nodename,
        "architecture": os.uname().machine,
        "cpus": parse_cpu_count(_read("/proc/cpuinfo")) or os.cpu_count() or 0,
        "memory_mb": parse_meminfo_mb(_read("/proc/meminfo")),
        "swap": parse_swaps(_read("/proc/swaps")),
        "container": container,
        "listening": listening,
        "time_synchronized": {"yes": True, "no": False}.get(ntp),
        "kernel": {
            "release": os.uname().release,
            "modules_loadable": os.path.exists("/proc/modules"),
            "overlay": "overlay" in _read("/proc/filesystems").split(),
            "br_netfilter": os.path.isdir("/proc/sys/net/bridge"),
        },
        "sysctls": sysctls,
        "cgroup": {
            "version": 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1,
            "systemd_init": os.path.isdir("/run/systemd/system"),
        },
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    facts = gather(module)
    # also as a fact, so later roles of the same play reuse it instead of asking the host again
    module.exit_json(changed=False, ansible_facts={"kubesmith_host": facts}, **facts)


if __name__ == "__main__":
    main()
