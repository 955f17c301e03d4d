"""library/kubeadm_reset on a real lab host: what a kubeadm node leaves behind is removed, nothing else.

One Debian host on its own bridge, subnet, state directory and name (rs1), with iptables and nftables
from the lab's apt repository. There is no kubeadm here, so the module does the whole cleanup itself.
The host gets, like a flannel node of a kubeadm cluster: kubeadm's and the kubelet's files (a pod with
an emptyDir on tmpfs and a hostPath bind mount of a directory that must survive, with a tmpfs stacked on
it), a stacked etcd's data, a kubeconfig, flannel's CNI files, the links cni0 (bridge), flannel.1 (vxlan)
and a calico-named veth, kube-proxy's, flannel's, calico's and the bridge plugin's iptables chains and
rules (iptables-nft, v4 and v6, plus the kubelet's in iptables-legacy) and kube-proxy's nftables tables
`ip/ip6 kube-proxy`. And what must survive: the user's own iptables chains and rules in the same tables
(one chain named KUBESMITH-*, a LOG prefix "KUBE-..."), the project's nftables table `inet kubesmith`,
the external etcd's /var/lib/etcd/kubesmith, an unrelated bridge (the lab's kernel has no dummy links).

The module runs through ansible-playbook three times: check mode with --diff (reports, changes nothing),
for real (everything listed is gone, the survivors' iptables-save lines are exactly as before), again
(changed=false).
"""

import json
import re
import time

import labkit
import pytest

BRIDGE = "ksrs0"
SUBNET = "172.30.84.0/24"
HOST = "rs1"
POD = "/var/lib/kubelet/pods/5c1f0b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f"
EMPTY_DIR = f"{POD}/volumes/kubernetes.io~empty-dir/cache"
HOST_PATH = f"{POD}/volumes/kubernetes.io~host-path/data"
SAVE_TOOLS = ("iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy")
TOTAL_BOUND = 300  # seconds, lab boot and teardown included

# the user's firewall, the project's nftables table, the external etcd's data, an unrelated link
# (the lab's kernel has no dummy driver: the unrelated link is a bridge)
SURVIVORS = """\
set -eu
iptables -N ssh-guard
iptables -A ssh-guard -s 192.0.2.0/24 -j DROP
iptables -A INPUT -p tcp --dport 2222 -j ACCEPT
iptables -A INPUT -j ssh-guard
iptables -A FORWARD -i br-keep -j ACCEPT
iptables -N KUBESMITH-ALLOW
iptables -A KUBESMITH-ALLOW -p tcp --dport 6443 -m comment --comment "kube api from the admins" -j ACCEPT
iptables -A INPUT -s 203.0.113.0/24 -j KUBESMITH-ALLOW
iptables -A INPUT -p tcp --dport 10250 -j LOG --log-prefix "KUBE-kubelet "
iptables -t nat -A PREROUTING -p tcp --dport 8022 -j REDIRECT --to-ports 22
iptables -t nat -A POSTROUTING -s 198.51.100.0/24 -o host0 -j MASQUERADE
ip6tables -A INPUT -p tcp --dport 2222 -j ACCEPT
ip6tables -t nat -A POSTROUTING -s fd00:99::/64 -j MASQUERADE
iptables-legacy -A INPUT -p tcp --dport 2223 -j ACCEPT
nft add table inet kubesmith
nft add chain inet kubesmith input '{ type filter hook input priority 0; policy accept; }'
nft add rule inet kubesmith input tcp dport 2379 accept
mkdir -p /var/lib/etcd/kubesmith/member/snap /srv/keep
echo external-etcd > /var/lib/etcd/kubesmith/member/snap/db
echo keep > /srv/keep/file
ip link add br-keep type bridge
"""

# what kubeadm, the kubelet, kube-proxy (iptables mode, then nftables mode), flannel and the bridge
# plugin leave on a node; the iptables lines are as kube-proxy 1.31 and flannel 0.26 write them
LEFTOVERS = f"""\
set -eu
mkdir -p /etc/kubernetes/manifests /etc/kubernetes/pki/etcd /var/lib/kubelet/pki /etc/cni/net.d \
  /var/lib/cni/networks/cbr0 /run/flannel /var/lib/etcd/member/snap /root/.kube {EMPTY_DIR} {HOST_PATH}
for f in manifests/kube-apiserver.yaml manifests/etcd.yaml admin.conf super-admin.conf kubelet.conf \
         pki/ca.crt pki/ca.key pki/etcd/ca.crt; do echo "kubeadm $f" > /etc/kubernetes/$f; done
echo 'kind: KubeletConfiguration' > /var/lib/kubelet/config.yaml
echo pem > /var/lib/kubelet/pki/kubelet-client-2026.pem
ln -s /var/lib/kubelet/pki/kubelet-client-2026.pem /var/lib/kubelet/pki/kubelet-client-current.pem
echo '{{"name":"cbr0","cniVersion":"0.3.1","plugins":[{{"type":"flannel"}}]}}' > /etc/cni/net.d/10-flannel.conflist
echo 5c1f0b9e > /var/lib/cni/networks/cbr0/10.244.0.2
echo FLANNEL_NETWORK=10.244.0.0/16 > /run/flannel/subnet.env
echo stacked-etcd > /var/lib/etcd/member/snap/db
cp /etc/kubernetes/admin.conf /root/.kube/config
mount -t tmpfs tmpfs {EMPTY_DIR}
echo scratch > {EMPTY_DIR}/x
mount --bind /srv/keep {HOST_PATH}
mount -t tmpfs tmpfs {HOST_PATH}
echo scratch > {HOST_PATH}/x
ip link add cni0 type bridge
ip link set cni0 up
ip link add flannel.1 type vxlan id 1 dstport 8472 dev "$(ip -o route show default | awk '{{print $5; exit}}')"
ip link add cali1a2b3c4d5e6 type veth peer name eth-pod0
iptables-restore --noflush <<'RULES'
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SVC-NPX46M4PTMTKRN6Y - [0:0]
:KUBE-SEP-IDSLYBQ7AOQS6PNU - [0:0]
:FLANNEL-POSTRTG - [0:0]
:CNI-7e5a2a0f1bd1c1a3f9b0e2a6 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \\"cbr0\\" id: \\"5c1f0b9e\\"" -j CNI-7e5a2a0f1bd1c1a3f9b0e2a6
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https -> 172.30.84.11:6443" -j KUBE-SEP-IDSLYBQ7AOQS6PNU
-A KUBE-SEP-IDSLYBQ7AOQS6PNU -s 172.30.84.11/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-IDSLYBQ7AOQS6PNU -p tcp -m tcp -j DNAT --to-destination 172.30.84.11:6443
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A CNI-7e5a2a0f1bd1c1a3f9b0e2a6 -d 10.244.0.0/24 -m comment --comment "name: \\"cbr0\\" id: \\"5c1f0b9e\\"" -j ACCEPT
-A CNI-7e5a2a0f1bd1c1a3f9b0e2a6 ! -d 224.0.0.0/4 -m comment --comment "name: \\"cbr0\\" id: \\"5c1f0b9e\\"" -j MASQUERADE
COMMIT
*filter
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:FLANNEL-FWD - [0:0]
:cali-FORWARD - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
COMMIT
RULES
ip6tables-restore --noflush <<'RULES'
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
RULES
iptables-legacy -t mangle -N KUBE-KUBELET-CANARY
iptables-legacy -N KUBE-FIREWALL
iptables-legacy -I INPUT -j KUBE-FIREWALL
nft add table ip kube-proxy
nft add chain ip kube-proxy services
nft add rule ip kube-proxy services ip daddr 10.96.0.1 tcp dport 443 counter
nft add table ip6 kube-proxy
nft add chain ip6 kube-proxy services
"""  # noqa: E501 (iptables-save lines as kube-proxy writes them)

EXPECTED_REMOVED = [
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/pki/ca.key",
    "/etc/kubernetes/pki/etcd",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/pki",
    "/var/lib/kubelet/pods",
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/etcd/member",
    "/etc/cni/net.d/10-flannel.conflist",
    "/var/lib/cni/networks",
    "/run/flannel/subnet.env",
    "/root/.kube/config",
    "link cni0",
    "link flannel.1",
    "link cali1a2b3c4d5e6",
    "iptables-legacy table filter: 1 chains, 1 rules",
    "iptables-legacy table mangle: 1 chains, 0 rules",
    "iptables-nft table filter: 7 chains, 13 rules",
    "iptables-nft table nat: 8 chains, 19 rules",
    "ip6tables-nft table nat: 2 chains, 2 rules",
    "nft table ip kube-proxy",
    "nft table ip6 kube-proxy",
]
GONE_PATHS = [p for p in EXPECTED_REMOVED if p.startswith("/")] + [
    "/etc/kubernetes/pki/etcd/ca.crt",
    "/var/lib/kubelet/pki/kubelet-client-current.pem",
    "/var/lib/cni/networks/cbr0/10.244.0.2",
]
KEPT_FILES = {"/var/lib/etcd/kubesmith/member/snap/db": "external-etcd", "/srv/keep/file": "keep"}
# a chain of kube-proxy, flannel, calico or the CNI plugins, a jump to one, or flannel's or calico's comment
OWNED = re.compile(r"^:(KUBE-|FLANNEL|cali-|CNI-)|\s-[jg] (KUBE-|FLANNEL|cali-|CNI-)|flanneld |cali:", re.M)

PLAYBOOK = f"""\
- name: kubeadm_reset on the lab host
  hosts: {HOST}
  gather_facts: false
  tasks:
    - name: Start the clock
      ansible.builtin.set_fact:
        reset_started: "{{{{ now().timestamp() }}}}"

    - name: Take the host out of Kubernetes
      kubeadm_reset:
        timeout: 60
      register: reset

    - name: Save the result and the module's time on the controller
      ansible.builtin.copy:
        content: "{{{{ reset | combine({{'seconds': now().timestamp() - (reset_started | float)}}) | to_nice_json }}}}"
        dest: "{{{{ result_file }}}}"
        mode: "0644"
      delegate_to: localhost
      check_mode: false
      diff: false
      changed_when: false
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with labkit.running(
        tmp_path_factory.mktemp("reset-lab"), BRIDGE, SUBNET, f"--host={HOST}:kube_node", timeout=180
    ) as lab:
        yield lab


def iptables_tables(lab) -> dict:
    """{(tool, table): [lines]} of every iptables variant's save output, without comments and counters."""
    out = lab.must(HOST, "; ".join(f"echo '### {tool}'; {tool}-save" for tool in SAVE_TOOLS))
    tables, tool, table = {}, None, None
    for line in out.splitlines():
        if line.startswith("### "):
            tool = line[4:]
        elif line.startswith("#") or not line.strip():
            continue
        elif line.startswith("*"):
            table = (tool, line[1:])
            tables[table] = []
        else:
            tables[table].append(re.sub(r" \[\d+:\d+\]$", "", line))
    return tables


def iptables_text(tables: dict) -> str:
    return "\n".join(line for lines in tables.values() for line in lines)


def snapshot(lab) -> dict:
    """Everything on the host the module may touch, in a form that does not change by itself."""
    out = lab.must(
        HOST,
        "find /etc/kubernetes /var/lib/kubelet /var/lib/etcd /etc/cni /var/lib/cni /run/flannel /root/.kube "
        "/srv/keep | sort; echo '### links'; ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort; "
        "echo '### mounts'; awk '$5 ~ \"^/var/lib/kubelet\" {print $5}' /proc/self/mountinfo | sort; "
        "echo '### nft'; nft -s list ruleset",
    )
    return {"files_links_mounts_nft": out, "iptables": iptables_tables(lab)}


def run_reset(lab, tmp_path, name: str, *flags: str) -> tuple[dict, str, float]:
    playbook = tmp_path / "reset.yml"
    playbook.write_text(PLAYBOOK)
    result_file = tmp_path / f"{name}.json"
    run = labkit.playbook(
        name,
        "-i",
        str(lab.inventory),
        str(playbook),
        "-e",
        f"result_file={result_file}",
        *flags,
        hosts=[HOST],
        timeout=150,
    )
    stats = run.stats[HOST]
    result = json.loads(result_file.read_text())
    assert stats["changed"] == int(result["changed"]), (stats, result)
    print(
        f"{name}: module {result['seconds']:.2f}s, ansible-playbook {run.seconds:.1f}s, changed={result['changed']}, "
        f"{len(result['removed'])} items"
    )
    return result, run.proc.stdout, run.seconds


def test_reset_removes_a_nodes_leftovers_and_keeps_everything_else(lab, tmp_path):
    t_start = time.monotonic()

    # the host: iptables and nftables from the lab's repository; no kubeadm anywhere
    lab.must(
        HOST,
        "command -v iptables-nft-save iptables-legacy-save nft >/dev/null || { apt-get update -q && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iptables nftables; }",
        timeout=150,
    )
    assert lab.ssh(HOST, "command -v kubeadm").returncode != 0, "kubeadm is on the lab host"
    print(f"\nlab up and packages in {time.monotonic() - lab.started:.1f}s")

    lab.must(HOST, "sh -s", stdin=SURVIVORS)
    survivors = iptables_tables(lab)
    lab.must(HOST, "sh -s", stdin=LEFTOVERS)
    mounts = lab.must(HOST, "awk '{print $5}' /proc/self/mountinfo")
    assert EMPTY_DIR in mounts, mounts
    assert mounts.count(HOST_PATH) == 2, mounts  # a tmpfs stacked on the hostPath bind
    with_leftovers = snapshot(lab)
    assert OWNED.search(iptables_text(with_leftovers["iptables"]))

    # 1. check mode with --diff: everything is reported, nothing changes
    check, out, _ = run_reset(lab, tmp_path, "check", "--check", "--diff")
    assert check["changed"] is True
    assert sorted(check["removed"]) == sorted(EXPECTED_REMOVED), check["removed"]
    assert check["diff"]["before"] == "".join(f"{item}\n" for item in check["removed"])
    assert check["diff"]["after"] == ""
    assert "--- before: Kubernetes leftovers" in out, out[-4000:]
    assert "-link flannel.1" in out, out[-4000:]
    assert not check.get("warnings"), check.get("warnings")
    assert snapshot(lab) == with_leftovers, "check mode changed the host"

    # 2. for real: every leftover gone, every survivor exactly as it was
    real, _out, _took = run_reset(lab, tmp_path, "reset")
    assert real["changed"] is True
    assert sorted(real["removed"]) == sorted(EXPECTED_REMOVED), real["removed"]
    assert real["stdout_lines"] == []  # kubeadm did not run: there is none
    assert not real.get("warnings"), real.get("warnings")

    left = lab.ssh(HOST, " ".join(f"test ! -e {p} -a ! -L {p} || echo {p};" for p in GONE_PATHS)).stdout.split()
    assert left == [], f"still on the host: {left}"
    mounts = lab.must(HOST, "awk '{print $5}' /proc/self/mountinfo")
    assert "/var/lib/kubelet" not in mounts, mounts
    for path, content in KEPT_FILES.items():  # both mounts on the hostPath were taken off, none emptied through
        assert lab.must(HOST, f"cat {path}").strip() == content, path
    links = set(lab.must(HOST, "ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1").split())
    assert links == {"lo", "host0", "br-keep"}, links
    tables = lab.must(HOST, "nft list tables").split("\n")
    assert "table inet kubesmith" in tables, tables
    assert not any("kube-proxy" in t for t in tables), tables
    assert "tcp dport 2379 accept" in lab.must(HOST, "nft list table inet kubesmith")

    after = iptables_tables(lab)
    assert not OWNED.search(iptables_text(after)), iptables_text(after)
    for key, lines in survivors.items():
        assert after.get(key) == lines, f"{key} changed:\nbefore {lines}\nafter  {after.get(key)}"
    for key in set(after) - set(survivors):  # a table only kube-proxy used stays, with its built-in chains only
        assert all(re.fullmatch(r":[A-Z]+ ACCEPT|COMMIT", line) for line in after[key]), (key, after[key])
    print(
        "survivors' iptables-save lines: " + ", ".join(f"{t}/{n} {len(v)}" for (t, n), v in sorted(survivors.items()))
    )

    # 3. again: nothing left to do
    again, _out, _took = run_reset(lab, tmp_path, "again")
    assert again["changed"] is False, again
    assert again["removed"] == [], again

    body, total = time.monotonic() - t_start, time.monotonic() - lab.started
    print(
        f"module: reset {real['seconds']:.2f}s, no-op {again['seconds']:.2f}s; test body {body:.1f}s, "
        f"with lab up {total:.1f}s"
    )
    assert real["seconds"] < 30, real["seconds"]
    assert again["seconds"] < 30, again["seconds"]
    assert total < TOTAL_BOUND - 30, f"the test took {total:.1f}s with the lab's boot (bound: {TOTAL_BOUND}s)"
