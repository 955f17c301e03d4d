"""Shared logic of the kubeadm_upgrade and kubeadm_reset modules: parsing of what kubeadm, kubectl,
iptables-save, ip, nft and ipvsadm print, the upgrade-path rules, and the filter that takes the
rules of kube-proxy and the CNI plugins out of an iptables-save dump while keeping everything else.

Every function is a plain function of its arguments; nothing here runs a command or touches a file.
The generic pieces (environment, timeouts, redaction, version parsing) come from module_utils/kubeadm.py
and are re-exported here.

Output formats relied on (tests/unit/fixtures/kubeadm_ops/README.md says where each comes from):
- ``kubeadm upgrade plan -o json`` (kubeadm >= 1.30): an ``UpgradePlan`` of
  ``output.kubeadm.k8s.io/v1alpha3`` with ``availableUpgrades[].components[]`` (name, currentVersion,
  newVersion, nodeName) and ``configVersions[]``; nothing at all on stdout when there is no upgrade.
  The text form (tables ``COMPONENT  NODE  CURRENT  TARGET``) is parsed too, as a fallback;
- ``kubeadm upgrade apply`` ends with ``[upgrade] SUCCESS! A control plane node of your cluster was
  upgraded to "v1.32.9".`` (kubeadm >= 1.31; older: ``[upgrade/successful] SUCCESS! Your cluster was
  upgraded to "v1.30.2". Enjoy!``);
- ``kubeadm reset`` does not clean CNI configuration, iptables/nftables rules, IPVS tables or
  kubeconfig files (it says so at its end): kubeadm_reset does.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.kubeadm import (  # the generic helpers every kubeadm module shares
    KUBEADM_ENVIRONMENT,
    TIMEOUT_EXIT_CODES,
    format_version,
    parse_version,
    redact,
    redact_lines,
)

__all__ = [  # re-exported for kubeadm_upgrade and kubeadm_reset
    "KUBEADM_ENVIRONMENT",
    "TIMEOUT_EXIT_CODES",
    "format_version",
    "parse_version",
    "redact",
    "redact_lines",
]

# seconds a read-only query (kubeadm version, kubectl get, iptables-save, ip, nft, ipvsadm) may take
QUERY_TIMEOUT = 60
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$")


def parse_release(text: str) -> tuple[int, int, int]:
    """A complete release version, 'v1.32.1' or '1.32.1' (what users give and the state file holds);
    unlike parse_version, '1.32' or a version inside other text is refused."""
    if not _RELEASE.match(str(text or "").strip()):
        raise ValueError(f"{text!r} is not a Kubernetes version like 1.32.1")
    return parse_version(text)


def last_lines(text: str, count: int = 15) -> str:
    lines = [line for line in redact(text or "").splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# =============================================================================================
# kubeadm upgrade
# =============================================================================================

UPGRADE_SUCCESS = re.compile(
    r"\[upgrade(?:/successful)?\] SUCCESS! (?:A control plane node of your cluster|Your cluster) "
    r"was upgraded to \"(v?[0-9][^\"]*)\""
)
_KUBERNETES_VERSION = re.compile(r"""^kubernetesVersion:\s*["']?(v?[0-9][^"'\s]*)["']?\s*$""", re.MULTILINE)
_IMAGE = re.compile(r"""^\s*-?\s*image:\s*["']?([^"'\s]+)["']?\s*$""", re.MULTILINE)
_TABLE_HEADER = re.compile(r"^COMPONENT\s+NODE\s+CURRENT\s+TARGET\s*$")
_TABLE_HEADER_OLD = re.compile(r"^COMPONENT\s+CURRENT\s+(?:TARGET|AVAILABLE)\s*$")
_UPGRADE_TITLE = re.compile(r"^Upgrade to the latest (.+):$")
_CONFIG_HEADER = re.compile(r"^API GROUP\s+CURRENT VERSION\s+PREFERRED VERSION\s+MANUAL UPGRADE REQUIRED\s*$")
_SEPARATOR = "_" * 20


def cluster_version_from_config(cluster_configuration: str) -> str:
    """kubernetesVersion of the ClusterConfiguration kubeadm keeps in ConfigMap kube-system/kubeadm-config."""
    match = _KUBERNETES_VERSION.search(cluster_configuration or "")
    if not match:
        raise ValueError("the kubeadm-config ConfigMap has no ClusterConfiguration with a kubernetesVersion")
    return format_version(parse_version(match.group(1)))


def image_version(manifest: str, component: str = "kube-apiserver") -> str | None:
    """The version in the image tag of a static pod manifest (registry.k8s.io/kube-apiserver:v1.32.1);
    None when the manifest names no such image or the tag is not a version."""
    for image in _IMAGE.findall(manifest or ""):
        name = image.partition("@")[0]
        repository, sep, tag = name.rpartition(":")
        if not sep or "/" in tag or not repository.endswith(component):
            continue
        try:
            return format_version(parse_release(tag))
        except ValueError:
            return None
    return None


def intermediate_minors(current: tuple[int, int, int], target: tuple[int, int, int]) -> list[str]:
    """The minors between two versions of one major: 1.31 -> 1.34 gives ['1.32', '1.33']."""
    return [f"{current[0]}.{minor}" for minor in range(current[1] + 1, target[1])]


def upgrade_refusal(current: tuple[int, int, int], target: tuple[int, int, int]) -> str | None:
    """Why kubeadm cannot take a cluster from ``current`` to ``target``; None when it can (or they are equal)."""
    cur, tgt = format_version(current), format_version(target)
    if target < current:
        return (
            f"the cluster is at {cur}, above the requested {tgt}: kubeadm does not downgrade; "
            f"set kubesmith_kubernetes_version to {cur} or later"
        )
    if target[0] != current[0]:
        return f"the cluster is at {cur}; an upgrade to another major version ({tgt}) is not supported"
    if target[1] > current[1] + 1:
        steps = intermediate_minors(current, target)
        path = " -> ".join([cur, *(f"{m}.x" for m in steps), tgt])
        return (
            f"the cluster is at {cur} and {tgt} skips minor version(s) {', '.join(steps)}: kubeadm upgrades one "
            f"minor at a time; upgrade through {', '.join(steps)} first (the latest patch of each), "
            f"like {path}"
        )
    return None


def _component(name, node, current, target):
    return {"name": name, "node": node or "", "current": current or "", "target": target or ""}


def _summarize(upgrades: list[dict], config_versions: list[dict], fmt: str) -> dict:
    current = target = None
    for upgrade in upgrades:
        for component in upgrade["components"]:
            if component["name"] == "kube-apiserver":
                current = current or component["current"]
                target = component["target"]
    return {
        "format": fmt,
        "up_to_date": not upgrades,
        "current_version": current,
        "target_version": target,
        "available_upgrades": upgrades,
        "config_versions": config_versions,
        "manual_config_upgrade_required": [c["group"] for c in config_versions if c["manual_upgrade_required"]],
    }


def parse_upgrade_plan_json(text: str) -> dict:
    """``kubeadm upgrade plan -o json`` (UpgradePlan, output.kubeadm.k8s.io/v1alpha3) -> the plan dict.
    Empty output is kubeadm's way of saying that there is nothing to upgrade."""
    body = text.strip()
    if not body:
        return _summarize([], [], "json")
    # the JSON object starts the output, or a line of its own after log lines
    start = 0 if body.startswith("{") else body.find("\n{") + 1
    if start == 0 and not body.startswith("{"):
        raise ValueError("no JSON object in the output of kubeadm upgrade plan")
    data, _end = json.JSONDecoder().raw_decode(body[start:])
    if not isinstance(data, dict) or data.get("kind") != "UpgradePlan":
        raise ValueError(f"expected an UpgradePlan from kubeadm upgrade plan, got kind {data.get('kind')!r}")
    api = data.get("apiVersion", "")
    if api != "output.kubeadm.k8s.io/v1alpha3":
        raise ValueError(
            f"kubeadm printed an UpgradePlan of {api!r}; this module reads output.kubeadm.k8s.io/v1alpha3 "
            "(kubeadm 1.30 and later)"
        )
    upgrades = []
    for available in data.get("availableUpgrades") or []:
        upgrades.append(
            {
                "description": available.get("description", ""),
                "components": [
                    _component(c.get("name"), c.get("nodeName"), c.get("currentVersion"), c.get("newVersion"))
                    for c in available.get("components") or []
                ],
            }
        )
    config_versions = [
        {
            "group": c.get("group", ""),
            "current_version": c.get("currentVersion", ""),
            "preferred_version": c.get("preferredVersion", ""),
            "manual_upgrade_required": bool(c.get("manualUpgradeRequired")),
        }
        for c in data.get("configVersions") or []
    ]
    return _summarize(upgrades, config_versions, "json")


def _split_columns(line: str, starts: list[int]) -> list[str]:
    """Cut a tabwriter line at the header's column starts (an empty NODE column stays empty)."""
    cells = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        cells.append(line[start:end].strip() if len(line) > start else "")
    return cells


def parse_upgrade_plan_text(text: str) -> dict:
    """The text form of ``kubeadm upgrade plan`` (kubeadm >= 1.20: COMPONENT NODE CURRENT TARGET tables;
    the kubelet table comes before the 'Upgrade to the latest ...' title it belongs to)."""
    upgrades: list[dict] = []
    config_versions: list[dict] = []
    pending: list[dict] = []  # kubelet rows, printed before the title of their upgrade
    current: dict | None = None
    starts: list[int] | None = None
    in_config = False
    for line in text.splitlines():
        stripped = line.strip()
        if _TABLE_HEADER.match(stripped):
            starts = [line.index(word) for word in ("COMPONENT", "NODE", "CURRENT", "TARGET")]
            continue
        if _TABLE_HEADER_OLD.match(stripped):
            raise ValueError(
                "kubeadm upgrade plan printed the pre-1.20 table (COMPONENT CURRENT AVAILABLE); kubeadm is too old"
            )
        if _CONFIG_HEADER.match(stripped):
            in_config = True
            continue
        title = _UPGRADE_TITLE.match(stripped)
        if title:
            current = {"description": title.group(1), "components": pending}
            upgrades.append(current)
            pending = []
            continue
        if not stripped or stripped.startswith(_SEPARATOR):
            starts = None
            in_config = False if stripped.startswith(_SEPARATOR) else in_config
            continue
        if in_config:
            parts = stripped.split()
            if len(parts) == 4:
                config_versions.append(
                    {
                        "group": parts[0],
                        "current_version": "" if parts[1] == "-" else parts[1],
                        "preferred_version": "" if parts[2] == "-" else parts[2],
                        "manual_upgrade_required": parts[3] == "yes",
                    }
                )
            continue
        if starts is not None:
            name, node, cur, tgt = _split_columns(line, starts)
            row = _component(name, node, cur, tgt)
            if current is None or (name == "kubelet" and current["components"]):
                pending.append(row)
            else:
                current["components"].append(row)
    return _summarize(upgrades, config_versions, "text")


def parse_upgrade_plan(text: str) -> dict:
    """JSON when kubeadm printed JSON (-o json), else the text tables."""
    body = (text or "").lstrip()
    if not body or body.startswith("{") or "\n{" in body:
        return parse_upgrade_plan_json(text or "")
    return parse_upgrade_plan_text(text)


def plan_upgrade_for(plan: dict, version: str) -> dict | None:
    """The available upgrade whose kube-apiserver target is ``version``; else the last one (the newest)."""
    wanted = parse_version(version)
    for upgrade in plan["available_upgrades"]:
        for component in upgrade["components"]:
            if component["name"] == "kube-apiserver":
                try:
                    if parse_version(component["target"]) == wanted:
                        return upgrade
                except ValueError:
                    pass
    return plan["available_upgrades"][-1] if plan["available_upgrades"] else None


def upgraded_to(stdout: str) -> str | None:
    """The version of kubeadm's SUCCESS line (1.31+ and older wording); None when there is none."""
    match = UPGRADE_SUCCESS.search(stdout or "")
    return format_version(parse_version(match.group(1))) if match else None


def explain_upgrade_failure(what: str, rc: int, stdout: str, stderr: str, timeout: int) -> str:
    """A message for a failed ``kubeadm upgrade apply|node|plan``, by what kubeadm said."""
    text = f"{stdout or ''}\n{stderr or ''}"
    errors = [line.strip() for line in text.splitlines() if re.match(r"\s*\[ERROR [^\]]+\]", line)]
    tail = last_lines(text, 8)
    if rc in TIMEOUT_EXIT_CODES:
        return (
            f"{what} did not finish within timeout={timeout}s and was stopped; kubeadm rolls back a control plane "
            "upgrade it could not finish, but check the static pods (crictl ps) and raise timeout. "
            f"Last output:\n{tail}"
        )
    if "is too high; kubeadm can upgrade only 1 minor version" in text or "Downgrades are not supported" in text:
        return f"{what}: kubeadm refused the version: {tail}"
    if "is higher than the kubeadm version" in text or "Upgrade kubeadm first" in text:
        return (
            f"{what}: the installed kubeadm is older than the target version; install the target kubeadm first. {tail}"
        )
    if re.search(r"\[upgrade/health\] FATAL|cluster is not (?:healthy|in an upgradeable state)", text, re.IGNORECASE):
        detail = "; ".join(errors) or tail
        return (
            f"{what}: the cluster is not healthy, kubeadm changed nothing: {redact(detail)}. "
            "Make every control plane node Ready and its static pods Running (kubectl get nodes; "
            "kubectl -n kube-system get pods), then run again"
        )
    if errors or "[preflight] Some fatal errors occurred" in text:
        return (
            f"{what}: preflight checks failed: {redact('; '.join(errors) or tail)}. Fix what they name; "
            "kubesmith does not ignore preflight errors"
        )
    if "timed out waiting for the condition" in text or "context deadline exceeded" in text:
        return (
            f"{what}: kubeadm timed out waiting for a component (it restored the previous static pod manifests "
            f"when it could): {tail}. Look at the kubelet's journal and the component's logs"
        )
    if "couldn't upgrade control plane" in text:
        return f"{what}: kubeadm could not upgrade the control plane and restored the earlier state: {tail}"
    return f"{what} failed (rc={rc}): {tail}"


# =============================================================================================
# kubeadm reset: what kube-proxy, kubelet and the CNI plugins leave behind
# =============================================================================================

# iptables chains created by kubelet/kube-proxy (KUBE-*), flannel (FLANNEL-*), calico (cali-*) and the
# CNI plugins of flannel's conflist (portmap/bridge: CNI-*)
OWNED_CHAIN_PREFIXES = ("KUBE-", "FLANNEL", "cali-", "CNI-")
# rules that flannel and calico put in built-in chains without a chain of their own
_OWNED_COMMENT = re.compile(r"""--comment\s+"?(?:flanneld |cali:)""")
_JUMP = re.compile(r"\s-[jg]\s+(\S+)")
# network links of the CNI plugins and kube-proxy (ipvs); cali* are calico's veths on the host side
CNI_LINKS = ("cni0", "flannel.1", "flannel-v6.1", "vxlan.calico", "vxlan-v6.calico", "kube-ipvs0", "nodelocaldns")
CNI_LINK_PREFIXES = ("cali",)
FALLBACK_TUNNELS = ("tunl0",)  # created by the ipip module, cannot be deleted: brought down instead
# nftables tables of kube-proxy's nftables mode; nothing else is touched (never inet kubesmith)
NFT_TABLES = (("ip", "kube-proxy"), ("ip6", "kube-proxy"))
PROTECTED_NFT_TABLES = (("inet", "kubesmith"),)


def is_owned_chain(name: str) -> bool:
    return name.startswith(OWNED_CHAIN_PREFIXES)


def _is_owned_rule(line: str) -> bool:
    parts = line.split(None, 2)
    if len(parts) < 2:
        return False
    if is_owned_chain(parts[1]):
        return True
    jump = _JUMP.search(f" {line}")
    if jump and is_owned_chain(jump.group(1)):
        return True
    return bool(_OWNED_COMMENT.search(line))


def filter_iptables_save(text: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """iptables-save output without the chains and rules of kube-proxy, kubelet, flannel, calico and
    the CNI plugins; every other line (other chains, rules, policies, comments) exactly as it was.

    Returns (filtered text, {table: (chains removed, rules removed)}) for tables that lose something.
    Restoring the filtered text with iptables-restore (which flushes only the tables it is given)
    leaves exactly the other rules.
    """
    kept: list[str] = []
    removed: dict[str, list[int]] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            if is_owned_chain(line[1:].split(None, 1)[0]):
                removed.setdefault(table, [0, 0])[0] += 1
                continue
        elif line.startswith(("-A ", "-I ")) and _is_owned_rule(line):
            removed.setdefault(table, [0, 0])[1] += 1
            continue
        kept.append(line)
    filtered = "\n".join(kept) + ("\n" if kept else "")
    return filtered, {t: (c, r) for t, (c, r) in removed.items()}


def parse_links(text: str) -> list[dict]:
    """``ip -o link show`` -> [{name, up}] ('7: cali12ab@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> ...')."""
    links = []
    for line in text.splitlines():
        match = re.match(r"^\d+:\s+([^:\s]+):\s+<([^>]*)>", line)
        if not match:
            continue
        name = match.group(1).split("@", 1)[0]
        links.append({"name": name, "up": "UP" in match.group(2).split(",")})
    return links


def leftover_links(links: list[dict]) -> tuple[list[str], list[str]]:
    """(links to delete, fallback tunnels to bring down) among ``parse_links`` output."""
    delete = [
        link["name"]
        for link in links
        if link["name"] in CNI_LINKS or (link["name"].startswith(CNI_LINK_PREFIXES) and link["name"] not in CNI_LINKS)
    ]
    down = [link["name"] for link in links if link["name"] in FALLBACK_TUNNELS and link["up"]]
    return delete, down


def parse_nft_tables(text: str) -> list[tuple[str, str]]:
    """``nft list tables`` -> [(family, name)]."""
    tables = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            tables.append((parts[1], parts[2]))
    return tables


def leftover_nft_tables(tables: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [t for t in tables if t in NFT_TABLES and t not in PROTECTED_NFT_TABLES]


def count_ipvs_services(text: str) -> int:
    """Virtual servers in ``ipvsadm --save -n`` ('-A -t 10.96.0.1:443 -s rr'; '-a' lines are real servers)."""
    return sum(1 for line in text.splitlines() if line.startswith("-A "))


def mount_points_under(mountinfo: str, directories: list[str]) -> list[str]:
    """Mount points (from /proc/self/mountinfo) inside any of ``directories``, deepest first, one entry per
    mount: a point with mounts stacked on it (a tmpfs over a bind mount) is listed once for each, because
    one umount takes off only the top one and a removal would go through the mount left below."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        if any(point == d.rstrip("/") or point.startswith(d.rstrip("/") + "/") for d in directories):
            found.append(point)
    return sorted(found, key=lambda p: (-p.count("/"), p))


def is_inside(path: str, directory: str) -> bool:
    path, directory = path.rstrip("/") or "/", directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory.rstrip("/") + "/")
