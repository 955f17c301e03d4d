"""Filters of the addons role: check its variables, pick image references, build the Fluent Bit
output sections and the MetalLB address pool, split the rendered manifests and prepare them for
server-side apply.

Pure functions, unit-tested in tests/unit/filter_plugins/test_addons.py.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re

import yaml
from ansible.errors import AnsibleFilterError

# DNS-1123 label: a namespace name.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# A Fluent Bit configuration key: letters, digits and . _ - (like Match_Regex, tls.verify, Retry_Limit).
_FLB_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")

# The output used when addons_log_collector_outputs is empty: every record to the pod's stdout
# (kubectl logs -n <ns> ds/fluent-bit), so the pipeline works and can be inspected, nothing leaves the node.
DEFAULT_OUTPUTS = [{"Name": "stdout", "Match": "*"}]


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def addons_metallb_address_problem(entry) -> str | None:
    """Why one entry of kubesmith_metallb_addresses is not a CIDR or an 'a.b.c.d-e.f.g.h' range
    (start <= end, same IP family); None when it is fine."""
    if not isinstance(entry, str) or not entry.strip():
        return f"{_shown(entry)} is not a string like 192.0.2.240-192.0.2.250 or 192.0.2.0/28"
    text = entry.strip()
    if "-" in text:
        start_text, _, end_text = (part.strip() for part in text.partition("-"))
        try:
            start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
        except ValueError as exc:
            return f"{entry!r} is not a range of two IP addresses like 192.0.2.240-192.0.2.250: {exc}"
        if start.version != end.version:
            return f"{entry!r} mixes IPv{start.version} and IPv{end.version}: both ends must be of one family"
        if start > end:
            return f"{entry!r} starts after it ends: write it as {end}-{start}"
        return None
    if "/" not in text:
        return (f"{entry!r} is neither a CIDR (192.0.2.0/28) nor a range (192.0.2.240-192.0.2.250); "
                f"for a single address write {text}/{32 if ':' not in text else 128}")
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{entry!r} is not a CIDR like 192.0.2.0/28: {exc}"
        return (f"{entry!r} has host bits set: MetalLB would take the whole {network}; write {network} "
                f"or a range like {network[0]}-{network[-1]}")
    return None


def addons_metallb_addresses(addresses) -> list[str]:
    """The entries of kubesmith_metallb_addresses as MetalLB takes them (white space removed).
    Raises AnsibleFilterError naming every bad entry."""
    problems = addons_problems(metallb_addresses=addresses)
    if problems:
        raise AnsibleFilterError("addons: " + "; ".join(problems))
    return [re.sub(r"\s+", "", entry) for entry in addresses or []]


def _output_problems(outputs) -> list[str]:
    if not isinstance(outputs, list):
        return [f"addons_log_collector_outputs is {_shown(outputs)}: give a list of Fluent Bit output "
                "sections, each a mapping like {Name: es, Match: 'kube.*', Host: elasticsearch}"]
    problems = []
    for i, section in enumerate(outputs):
        where = f"addons_log_collector_outputs[{i}]"
        if not isinstance(section, dict):
            problems.append(f"{where} is {_shown(section)}: each output is a mapping of Fluent Bit keys to "
                            "values, like {Name: forward, Match: '*', Host: logs.example, Port: 24224}")
            continue
        names = [k for k in section if str(k).lower() == "name"]
        if not names or not str(section[names[0]]).strip():
            problems.append(f"{where} has no Name: set the output plugin, like Name: es, forward, loki or stdout")
        for key, value in section.items():
            if not isinstance(key, str) or not _FLB_KEY.match(key):
                problems.append(f"{where}: key {_shown(key)} is not a Fluent Bit key (letters, digits, . _ -)")
            elif isinstance(value, (dict, list)) or value is None:
                problems.append(f"{where}.{key} is {_shown(value)}: give a single value (string, number or "
                                "boolean)")
            elif "\n" in str(value) or "\r" in str(value):
                problems.append(f"{where}.{key} spans several lines: Fluent Bit values are one line")
    return problems


def addons_problems(namespace="kube-logging", outputs=None, local_path_dir="/opt/local-path-provisioner",
                    metallb_addresses=None, wait_timeout=300) -> list[str]:
    """Every problem of the addons role's variables, each naming the variable and the fix; [] when all is well."""
    problems = []
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
        problems.append(f"addons_log_collector_namespace {_shown(namespace)} is not a namespace name "
                        "(lower-case letters, digits and '-', at most 63, like kube-logging)")
    problems.extend(_output_problems([] if outputs is None else outputs))
    if (not isinstance(local_path_dir, str) or not posixpath.isabs(local_path_dir)
            or posixpath.normpath(local_path_dir) == "/" or re.search(r'[\s"\\]', local_path_dir)):
        problems.append(f"addons_local_path_dir {_shown(local_path_dir)} must be an absolute directory other "
                        "than /, without spaces, quotes or backslashes, like /opt/local-path-provisioner")
    if metallb_addresses is None:
        metallb_addresses = []
    if not isinstance(metallb_addresses, list):
        problems.append(f"kubesmith_metallb_addresses (addons_metallb_addresses) is {_shown(metallb_addresses)}: "
                        "give a list like ['192.0.2.240-192.0.2.250'] (empty: no MetalLB)")
    else:
        for i, entry in enumerate(metallb_addresses):
            problem = addons_metallb_address_problem(entry)
            if problem:
                problems.append(f"kubesmith_metallb_addresses[{i}] (addons_metallb_addresses): {problem}")
    if isinstance(wait_timeout, bool) or not re.fullmatch(r"\d+", str(wait_timeout).strip()) \
            or int(str(wait_timeout).strip()) < 1:
        problems.append(f"addons_wait_timeout {_shown(wait_timeout)} must be a whole number of seconds >= 1")
    return problems


def _flb_value(value) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    return str(value).strip()


def addons_fluent_bit_outputs(outputs) -> str:
    """The [OUTPUT] sections of Fluent Bit's classic configuration for addons_log_collector_outputs
    (the stdout output when it is empty). Raises AnsibleFilterError naming every problem."""
    problems = _output_problems([] if outputs is None else outputs)
    if problems:
        raise AnsibleFilterError("addons: " + "; ".join(problems))
    sections = []
    for section in outputs or DEFAULT_OUTPUTS:
        keys = list(section)
        if not any(k.lower() in ("match", "match_regex") for k in keys):
            section = {**section, "Match": "*"}
            keys.append("Match")
        # Name first, then Match, then the rest in the order given
        keys.sort(key=lambda k: {"name": 0, "match": 1, "match_regex": 1}.get(k.lower(), 2))
        width = max(len(k) for k in keys)
        lines = ["[OUTPUT]"] + [f"    {k.ljust(width)} {_flb_value(section[k])}" for k in keys]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def addons_image(images, name) -> str:
    """The reference in ``images`` (a list of full references with tag) whose repository's last path
    element is ``name`` ('controller' picks quay.io/metallb/controller:v0.13.12)."""
    for ref in images or []:
        repo = str(ref).split("@")[0]
        repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
        if repo.rsplit("/", 1)[-1] == name:
            return str(ref)
    raise AnsibleFilterError(f"addons: no image named {name!r} in {list(images or [])!r} (roles/addons/vars/main.yml "
                             "addons_images)")


def addons_image_tag(ref) -> str:
    """The tag of an image reference ('v0.7.2' of registry.k8s.io/metrics-server/metrics-server:v0.7.2)."""
    last = str(ref).split("@")[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def addons_manifests(text, addon: str = "") -> list[dict]:
    """A template's multi-document YAML output as a list of objects (empty documents dropped)."""
    where = f"{addon}: " if addon else ""
    if text is None:
        return []
    try:
        docs = list(yaml.safe_load_all(str(text)))
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"addons: {where}the template rendered invalid YAML: {exc}") from exc
    objects = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not doc.get("kind") or not isinstance(doc.get("metadata"), dict):
            raise AnsibleFilterError(f"addons: {where}document {i} is not a Kubernetes object: {str(doc)[:80]!r}")
        objects.append(doc)
    return objects


def addons_for_apply(objects) -> list[dict]:
    """Objects as kubesmith applies them (server-side): the placeholder caBundle of MetalLB's CRD
    conversion webhooks left out, so the field stays owned by MetalLB's controller, which writes the
    real CA there (applying the placeholder on every run would undo it and never be idempotent);
    ``creationTimestamp: null`` dropped (no field to own)."""
    out = []
    for obj in objects or []:
        obj = _plain(obj)
        meta = obj.get("metadata") or {}
        if "creationTimestamp" in meta and meta["creationTimestamp"] is None:
            del meta["creationTimestamp"]
        if obj.get("kind") == "CustomResourceDefinition":
            client = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook", {}).get("clientConfig")
            if isinstance(client, dict):
                client.pop("caBundle", None)
        out.append(obj)
    return out


def addons_refs(objects) -> list[str]:
    """'Kind namespace/name' of each object: labels for loops and messages."""
    out = []
    for obj in objects or []:
        meta = obj.get("metadata") or {}
        name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
        out.append(f"{obj.get('kind')} {name}")
    return out


def _plain(value):
    """Ansible's tagged strings and containers as plain Python types (and a deep copy)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class FilterModule:
    def filters(self):
        return {
            "addons_problems": addons_problems,
            "addons_metallb_address_problem": addons_metallb_address_problem,
            "addons_metallb_addresses": addons_metallb_addresses,
            "addons_fluent_bit_outputs": addons_fluent_bit_outputs,
            "addons_image": addons_image,
            "addons_image_tag": addons_image_tag,
            "addons_manifests": addons_manifests,
            "addons_for_apply": addons_for_apply,
            "addons_refs": addons_refs,
        }
