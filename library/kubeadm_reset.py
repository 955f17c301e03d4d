#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: kubeadm_reset
short_description: Take a host out of Kubernetes completely (kubeadm reset plus what it leaves behind)
description:
  - Finds what kubeadm, the kubelet, kube-proxy and the CNI plugins left on the host and removes it; a host
    with nothing left reports C(changed=false).
  - Leftovers are, each only when present, the files of kubeadm (C(/etc/kubernetes/manifests/*),
    C(/etc/kubernetes/pki/*), C(/etc/kubernetes/tmp/*), C(/etc/kubernetes/{admin,super-admin,kubelet,
    bootstrap-kubelet,controller-manager,scheduler}.conf)), the kubelet's state (C(/var/lib/kubelet/*)),
    a stacked etcd's data (C(/var/lib/etcd/member)), O(kubeconfig_paths) and O(extra_paths); with
    O(clean_cni) the CNI configuration and state (C(/etc/cni/net.d/*), C(/var/lib/cni/*), C(/run/flannel/*),
    C(/var/lib/calico/*), C(/run/calico/*)) and the links C(cni0), C(flannel.1), C(flannel-v6.1),
    C(vxlan.calico), C(vxlan-v6.calico), C(kube-ipvs0), C(nodelocaldns), C(cali*) (C(tunl0), which the
    kernel does not let anyone delete, is brought down); with O(clean_iptables) the iptables chains
    C(KUBE-*), C(FLANNEL*), C(cali-*), C(CNI-*) and the rules in or jumping to them (also flannel's
    C(flanneld masq) and calico's C(cali:) rules in built-in chains), and the nftables tables
    C(ip kube-proxy) and C(ip6 kube-proxy); with O(clean_ipvs) the IPVS virtual servers.
  - When kubeadm is installed and any of kubeadm's or the kubelet's files is there, runs
    C(kubeadm reset --force) first (it stops the kubelet, removes the containers, unmounts the kubelet's
    volumes and, on a stacked-etcd control plane, removes this member from etcd), then removes what it left.
  - iptables rules are cleaned by filtering C(iptables-save) and loading the result with C(iptables-restore);
    every other chain and rule (the host's own firewall, Docker's, anything else) is restored exactly as it was.
    Done for iptables and ip6tables, for the legacy and the nft variant, whichever exist.
  - Never touches the nftables table C(inet kubesmith) (the project's firewall) nor
    C(/var/lib/etcd/kubesmith) (the data of role etcd's external etcd). On a host with both a stacked etcd
    manifest and that directory, C(kubeadm reset) runs with C(--skip-phases=remove-etcd-member) (that phase
    would empty C(/var/lib/etcd)).
  - Mount points inside a directory to remove are unmounted first (deepest first), so nothing mounted into
    the kubelet's pod directories is deleted through the mount.
options:
  cri_socket:
    description: The container runtime's socket, for C(kubeadm reset --cri-socket) (to remove the containers).
    type: str
    default: unix:///run/containerd/containerd.sock
  clean_cni:
    description: Remove the CNI configuration, state and network links (see the description).
    type: bool
    default: true
  clean_iptables:
    description: Remove kube-proxy's and the CNI plugins' iptables chains and rules and kube-proxy's nftables tables.
    type: bool
    default: true
  clean_ipvs:
    description: Clear the IPVS table (C(ipvsadm --clear)) when it has virtual servers. Needs ipvsadm.
    type: bool
    default: true
  extra_paths:
    description:
      - More files or directories to remove, absolute paths (removed whole).
      - C(/), C(/var/lib/etcd/kubesmith) and the directories that hold it are refused.
    type: list
    elements: path
    default: []
  kubeconfig_paths:
    description: Kubeconfig files that pointed at the cluster, removed when present.
    type: list
    elements: path
    default: [/root/.kube/config]
  timeout:
    description:
      - Seconds C(kubeadm reset) may take before it is stopped (SIGTERM, SIGKILL 10 s later).
      - Every other command (iptables-save, ip, nft, ipvsadm, umount) is bounded to 60 s.
    type: int
    default: 300
  kubeadm_path:
    description:
      - The kubeadm executable; looked up in the PATH when not given. Without kubeadm the module removes
        the leftovers itself (it does not stop a kubelet or remove containers then).
    type: path
attributes:
  check_mode:
    support: full
    description: Finds the leftovers as in a real run (the read-only commands run) and removes nothing.
  diff_mode:
    support: full
    description: C(before) lists the leftovers (RV(removed)), one per line; C(after) is empty.
  platform:
    support: full
    platforms: posix
notes:
  - Drain and delete the node from the cluster first (kubectl drain, kubectl delete node), from the controller.
  - The leftovers of one iptables table are reported as one item (the count of chains and rules).
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Take the node out of Kubernetes
  kubeadm_reset:
  register: reset

- name: Keep the CNI configuration, remove an extra directory
  kubeadm_reset:
    clean_cni: false
    extra_paths: [/opt/kubesmith/manifests]
    kubeconfig_paths: [/root/.kube/config, /home/ops/.kube/config]
"""

RETURN = r"""
removed:
  description:
    - "What was found and removed (in check mode, would be removed): paths, C(link NAME), C(link NAME (down)),
      C(<iptables variant> table TABLE: N chains, M rules), C(nft table FAMILY NAME), C(ipvs: N virtual servers)."
  returned: always
  type: list
  elements: str
  sample:
    - /etc/kubernetes/admin.conf
    - /etc/cni/net.d/10-flannel.conflist
    - link flannel.1
    - "iptables-nft table nat: 22 chains, 61 rules"
    - nft table ip kube-proxy
stdout_lines:
  description: kubeadm reset's output (tokens and certificate keys redacted); empty when it did not run.
  returned: always
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kubeadm import run_bounded
from ansible.module_utils.kubeadm_ops import (
    QUERY_TIMEOUT,
    TIMEOUT_EXIT_CODES,
    count_ipvs_services,
    filter_iptables_save,
    is_inside,
    last_lines,
    leftover_links,
    leftover_nft_tables,
    mount_points_under,
    parse_links,
    parse_nft_tables,
    redact,
    redact_lines,
)

# The host's root: files are looked up below it. Tests point it at a temporary directory.
ROOT = "/"
# directories whose contents kubeadm/the kubelet own
KUBEADM_DIRS = ("/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/etc/kubernetes/tmp", "/var/lib/kubelet")
KUBEADM_FILES = tuple(
    f"/etc/kubernetes/{name}.conf"
    for name in ("admin", "super-admin", "kubelet", "bootstrap-kubelet", "controller-manager", "scheduler")
)
STACKED_ETCD = ("/var/lib/etcd/member",)
ETCD_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
CNI_DIRS = ("/etc/cni/net.d", "/var/lib/cni", "/run/flannel", "/var/lib/calico", "/run/calico")
PROTECTED = "/var/lib/etcd/kubesmith"
MOUNTINFO = "/proc/self/mountinfo"
IPTABLES_FAMILIES = ("iptables", "ip6tables")
IPTABLES_VARIANTS = ("legacy", "nft")


def argument_spec():
    return dict(
        cri_socket=dict(type="str", default="unix:///run/containerd/containerd.sock"),
        clean_cni=dict(type="bool", default=True),
        clean_iptables=dict(type="bool", default=True),
        clean_ipvs=dict(type="bool", default=True),
        extra_paths=dict(type="list", elements="path", default=[]),
        kubeconfig_paths=dict(type="list", elements="path", default=["/root/.kube/config"]),
        timeout=dict(type="int", default=300),
        kubeadm_path=dict(type="path"),
    )


def host_path(path):
    return os.path.join(ROOT, path.lstrip("/"))


def lexists(path):
    return os.path.lexists(host_path(path))


def children(directory):
    """The entries of a directory on the host (host paths, sorted); none when it is missing."""
    real = host_path(directory)
    if not os.path.isdir(real) or os.path.islink(real):
        return []
    return [f"{directory.rstrip('/')}/{name}" for name in sorted(os.listdir(real))]


class Scan:
    """What is left on the host."""

    def __init__(self):
        self.kubeadm_paths = []  # kubeadm's and the kubelet's files
        self.other_paths = []  # CNI, kubeconfigs, extra paths
        self.links = []
        self.tunnels = []  # links to bring down
        self.iptables = []  # (label, restore tool, filtered text, {table: (chains, rules)})
        self.nft_tables = []
        self.ipvs_services = 0

    def items(self):
        items = [*self.kubeadm_paths, *self.other_paths]
        items += [f"link {name}" for name in self.links]
        items += [f"link {name} (down)" for name in self.tunnels]
        for label, _restore, _text, removed in self.iptables:
            items += [f"{label} table {table}: {c} chains, {r} rules" for table, (c, r) in sorted(removed.items())]
        items += [f"nft table {family} {name}" for family, name in self.nft_tables]
        if self.ipvs_services:
            items.append(f"ipvs: {self.ipvs_services} virtual servers")
        return items


class KubeadmReset:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.kubeadm = None
        self.stdout = ""

    # -- plumbing ------------------------------------------------------------------------------

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=redact(msg), **kwargs)

    def failed_command(self, msg, cmd, rc, out, err, **kwargs):
        self.fail(msg, cmd=cmd, rc=rc, stdout=redact(out), stderr=redact(err), **kwargs)

    def run(self, argv, seconds=QUERY_TIMEOUT, data=None):
        result = run_bounded(self.module, argv, seconds, data=data)
        return result.argv, result.rc, result.stdout, result.stderr

    def must(self, argv, what, data=None):
        cmd, rc, out, err = self.run(argv, data=data)
        if rc != 0:
            self.failed_command(f"{what} failed (rc={rc}): {last_lines(err or out, 5)}", cmd, rc, out, err)
        return out

    def query(self, name, args, label, what, ignored=()):
        """stdout of the read-only ``name args...`` (``label`` in messages); None when the tool is missing
        or the query fails (with a warning that ``what`` was not checked, unless stderr holds one of ``ignored``)."""
        path = self.module.get_bin_path(name)
        if not path:
            return None
        _cmd, rc, out, err = self.run([path, *args])
        if rc != 0:
            if not any(mark in err for mark in ignored):
                self.module.warn(f"{label} failed (rc={rc}), {what} not checked: {last_lines(err, 2)}")
            return None
        return out

    # -- validation ----------------------------------------------------------------------------

    def validate(self):
        if self.p["timeout"] <= 0:
            self.fail(f"timeout: must be more than 0 seconds, got {self.p['timeout']}")
        for option in ("extra_paths", "kubeconfig_paths"):
            for path in self.p[option]:
                normalized = os.path.normpath(path) if path else ""
                if not os.path.isabs(normalized):
                    self.fail(f"{option}: {path!r} is not an absolute path")
                if normalized == "/" or is_inside(PROTECTED, normalized) or is_inside(normalized, PROTECTED):
                    self.fail(
                        f"{option}: refusing to remove {path}: it is or holds {PROTECTED}, the data of the external "
                        "etcd (role etcd)"
                    )
        if self.p["kubeadm_path"]:
            if not (os.path.isfile(self.p["kubeadm_path"]) and os.access(self.p["kubeadm_path"], os.X_OK)):
                self.fail(f"kubeadm_path: {self.p['kubeadm_path']} does not exist or is not executable on this host")
            self.kubeadm = self.p["kubeadm_path"]
        else:
            self.kubeadm = self.module.get_bin_path("kubeadm")

    # -- finding leftovers ---------------------------------------------------------------------

    def scan(self):
        scan = Scan()
        for directory in KUBEADM_DIRS:
            scan.kubeadm_paths += children(directory)
        scan.kubeadm_paths += [f for f in (*KUBEADM_FILES, *STACKED_ETCD) if lexists(f)]
        if self.p["clean_cni"]:
            for directory in CNI_DIRS:
                scan.other_paths += children(directory)
        for path in (*self.p["kubeconfig_paths"], *self.p["extra_paths"]):
            path = os.path.normpath(path)
            if lexists(path) and path not in scan.other_paths and path not in scan.kubeadm_paths:
                scan.other_paths.append(path)
        if self.p["clean_cni"]:
            self.scan_links(scan)
        if self.p["clean_iptables"]:
            self.scan_iptables(scan)
            self.scan_nft(scan)
        if self.p["clean_ipvs"]:
            self.scan_ipvs(scan)
        return scan

    def tool(self, name, purpose):
        path = self.module.get_bin_path(name)
        if not path:
            self.module.warn(f"{name} is not installed on this host: {purpose} not checked")
        return path

    def scan_links(self, scan):
        ip = self.tool("ip", "CNI network links")
        if ip:
            out = self.must([ip, "-o", "link", "show"], "ip -o link show")
            scan.links, scan.tunnels = leftover_links(parse_links(out))

    def scan_iptables(self, scan):
        for family in IPTABLES_FAMILIES:
            pairs = []
            for variant in IPTABLES_VARIANTS:
                save = self.module.get_bin_path(f"{family}-{variant}-save")
                restore = self.module.get_bin_path(f"{family}-{variant}-restore")
                if save and restore:
                    pairs.append((f"{family}-{variant}", save, restore))
            if not pairs:
                save = self.module.get_bin_path(f"{family}-save")
                restore = self.module.get_bin_path(f"{family}-restore")
                if save and restore:
                    pairs.append((family, save, restore))
            for label, save, restore in pairs:
                _cmd, rc, out, err = self.run([save])
                if rc != 0:
                    self.module.warn(f"{label}-save failed (rc={rc}), its rules were not checked: {last_lines(err, 2)}")
                    continue
                filtered, removed = filter_iptables_save(out)
                if removed:
                    scan.iptables.append((label, restore, filtered, removed))

    def scan_nft(self, scan):
        out = self.query("nft", ["list", "tables"], "nft list tables", "nftables")
        if out is not None:
            scan.nft_tables = leftover_nft_tables(parse_nft_tables(out))

    def scan_ipvs(self, scan):
        # without the ip_vs module there is nothing to clear, and nothing to warn about
        no_ipvs = ("Can't initialize ipvs", "Protocol not available")
        out = self.query("ipvsadm", ["--save", "-n"], "ipvsadm --save", "IPVS", ignored=no_ipvs)
        if out is not None:
            scan.ipvs_services = count_ipvs_services(out)

    # -- removing ------------------------------------------------------------------------------

    def kubeadm_reset(self):
        argv = [self.kubeadm, "reset", "--force", f"--cri-socket={self.p['cri_socket']}"]
        if lexists(ETCD_MANIFEST) and lexists(PROTECTED):
            argv.append("--skip-phases=remove-etcd-member")
            self.module.warn(
                f"{ETCD_MANIFEST} and {PROTECTED} are both on this host: kubeadm reset skipped remove-etcd-member "
                f"(it would empty /var/lib/etcd); remove this host's stacked etcd member by hand if it still exists"
            )
        cmd, rc, out, err = self.run(argv, self.p["timeout"])
        self.stdout = out
        if rc != 0:
            if rc in TIMEOUT_EXIT_CODES:
                why = f"did not finish within timeout={self.p['timeout']}s (is the container runtime answering?)"
            else:
                why = f"failed (rc={rc})"
            self.failed_command(
                f"kubeadm reset {why}: {last_lines(err or out, 8)}", cmd, rc, out, err, stdout_lines=redact_lines(out)
            )

    def unmount(self, paths):
        real = host_path(MOUNTINFO)
        if not os.path.exists(real):
            return
        with open(real) as f:
            mountinfo = f.read()
        umount = None
        for point in mount_points_under(mountinfo, paths):
            umount = umount or self.module.get_bin_path("umount", required=True)
            self.must([umount, point], f"umount {point}")

    def remove_path(self, path):
        if is_inside(path, PROTECTED) or is_inside(PROTECTED, path):
            self.fail(f"refusing to remove {path}: it is or holds {PROTECTED}")
        real = host_path(path)
        try:
            if os.path.isdir(real) and not os.path.islink(real):
                shutil.rmtree(real)
            elif os.path.lexists(real):
                os.unlink(real)
        except OSError as e:
            self.fail(f"cannot remove {path}: {e}")

    def remove(self, scan):
        paths = [*scan.kubeadm_paths, *scan.other_paths]
        self.unmount(paths)
        for path in paths:
            self.remove_path(path)
        if scan.links or scan.tunnels:
            ip = self.module.get_bin_path("ip", required=True)
            for name in scan.links:
                self.must([ip, "link", "delete", name], f"ip link delete {name}")
            for name in scan.tunnels:
                self.must([ip, "link", "set", name, "down"], f"ip link set {name} down")
        for label, restore, text, _removed in scan.iptables:
            self.must([restore], f"{label}-restore of the rules without kube-proxy's and the CNI's", data=text)
        if scan.nft_tables:
            nft = self.module.get_bin_path("nft", required=True)
            for family, name in scan.nft_tables:
                self.must([nft, "delete", "table", family, name], f"nft delete table {family} {name}")
        if scan.ipvs_services:
            ipvsadm = self.module.get_bin_path("ipvsadm", required=True)
            self.must([ipvsadm, "--clear"], "ipvsadm --clear")

    def reset(self):
        scan = self.scan()
        leftovers = scan.items()
        if leftovers and not self.module.check_mode:
            if self.kubeadm and scan.kubeadm_paths:
                self.kubeadm_reset()
                scan = self.scan()  # what kubeadm reset left
            self.remove(scan)
        result = dict(changed=bool(leftovers), removed=leftovers, stdout_lines=redact_lines(self.stdout))
        if self.module._diff:
            # strings: Ansible's diff display serializes dicts, but not lists
            result["diff"] = dict(
                before_header="Kubernetes leftovers",
                after_header="Kubernetes leftovers",
                before="".join(f"{item}\n" for item in leftovers),
                after="",
            )
        return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    reset = KubeadmReset(module)
    reset.validate()
    module.exit_json(**reset.reset())


if __name__ == "__main__":
    main()
