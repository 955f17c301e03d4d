"""Filters of the cni role: check its variables, pick image references, split and validate the
rendered manifests.

Pure functions, unit-tested in tests/unit/filter_plugins/test_cni.py.
"""

from __future__ import annotations

import ipaddress
import re

import yaml
from ansible.errors import AnsibleFilterError

# cni_backend values each plugin takes (the first is its default).
BACKENDS = {
    "flannel": ("vxlan", "host-gw"),
    "calico": ("vxlan", "ipip", "bgp"),
}

# Pod interfaces' MTU: 0 (the plugin detects it) or an Ethernet MTU a tunnel fits in.
MTU_MIN, MTU_MAX = 1280, 9000

# Linux interface names: 1 to 15 characters, no slash, colon or white space.
_IFACE = re.compile(r"^[^/:\s]{1,15}$")

# The smallest pod network each plugin can split into per-node blocks: flannel gives each node a /24
# (SubnetLen) out of Network; Calico's IPAM blocks are /26.
_MAX_PREFIX = {"flannel": 23, "calico": 26}


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def cni_problems(plugin, backend, pod_cidr, mtu=0, iface="") -> list[str]:
    """Every problem of the cni role's variables, each naming the variable to fix; [] when all is well."""
    problems = []
    if plugin not in BACKENDS:
        problems.append(f"kubesmith_cni (cni_plugin) is {_shown(plugin)}: set it to flannel or calico")
    elif backend not in BACKENDS[plugin]:
        choices = " or ".join(BACKENDS[plugin])
        problems.append(f"kubesmith_cni_backend (cni_backend) {_shown(backend)} is not a backend of {plugin}: "
                        f"use {choices} (flannel: vxlan, host-gw; calico: vxlan, ipip, bgp)")
    try:
        network = ipaddress.ip_network(str(pod_cidr), strict=True)
    except ValueError as exc:
        problems.append(f"kubesmith_pod_cidr (cni_pod_cidr) {_shown(pod_cidr)} is not an IPv4 network in CIDR "
                        f"notation like 10.244.0.0/16: {exc}")
    else:
        if network.version != 4:
            problems.append(f"kubesmith_pod_cidr (cni_pod_cidr) {pod_cidr} is IPv6: kubesmith's CNI manifests are "
                            "IPv4 only; use an IPv4 network like 10.244.0.0/16")
        elif plugin in _MAX_PREFIX and network.prefixlen > _MAX_PREFIX[plugin]:
            problems.append(f"kubesmith_pod_cidr (cni_pod_cidr) {pod_cidr} is too small for {plugin} (at most "
                            f"/{_MAX_PREFIX[plugin]}, a /16 is usual): each node takes a "
                            f"/{24 if plugin == 'flannel' else 26} of it")
    if isinstance(mtu, bool) or not re.fullmatch(r"\d+", str(mtu).strip()):
        problems.append(f"kubesmith_cni_mtu (cni_mtu) {_shown(mtu)} is not a whole number: use 0 (auto) or "
                        f"{MTU_MIN}-{MTU_MAX}")
    elif int(mtu) != 0 and not MTU_MIN <= int(mtu) <= MTU_MAX:
        problems.append(f"kubesmith_cni_mtu (cni_mtu) {mtu} is out of range: use 0 (auto) or {MTU_MIN}-{MTU_MAX}, "
                        "the MTU of the node network minus the tunnel's overhead (vxlan 50, ipip 20 bytes)")
    if iface and not _IFACE.match(str(iface)):
        problems.append(f"cni_iface {_shown(iface)} is not a network interface name (1-15 characters, no '/', "
                        "':' or spaces), like eth1; leave it empty for the default route's interface")
    return problems


def cni_image(images, name) -> str:
    """The reference in ``images`` whose repository's last path element is ``name``
    ('docker.io/calico/node:v3.29.6' for 'node')."""
    for ref in images or []:
        repository = str(ref).rsplit("@", 1)[0]
        repository = repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository
        if repository.rsplit("/", 1)[-1] == name:
            return str(ref)
    raise AnsibleFilterError(f"cni: no image named {name!r} in {list(images or [])}: roles/cni/vars/main.yml "
                             "(cni_images) must list it")


def cni_image_tag(ref) -> str:
    """The tag of an image reference ('v3.29.6' of 'docker.io/calico/node:v3.29.6'); '' without one."""
    last = str(ref).split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def cni_manifests(text) -> list[dict]:
    """The objects of a multi-document YAML manifest, in order (empty documents dropped)."""
    try:
        docs = list(yaml.safe_load_all(str(text)))
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"cni: the rendered manifest is not valid YAML: {exc}") from exc
    objects = [doc for doc in docs if doc]
    bad = [i for i, doc in enumerate(objects) if not isinstance(doc, dict) or "kind" not in doc]
    if bad:
        raise AnsibleFilterError(f"cni: document(s) {bad} of the rendered manifest are not Kubernetes objects")
    return objects


def cni_images_used(objects) -> list[str]:
    """Every image the pod templates of ``objects`` run, in order, each once."""
    out = []
    for obj in objects or []:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if container.get("image") and container["image"] not in out:
                out.append(container["image"])
    return out


def _crd_kinds(objects) -> set[tuple[str, str]]:
    """(group, kind) of every CustomResourceDefinition among ``objects``."""
    kinds = set()
    for obj in objects or []:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kinds.add((spec.get("group"), (spec.get("names") or {}).get("kind")))
    return kinds


def _name(obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta['namespace'] + '/' if meta.get('namespace') else ''}{meta.get('name')}"


def cni_schema_problems(objects, kubernetes_version) -> list[str]:
    """Strict offline validation of ``objects`` with kubernetes-validate against ``kubernetes_version``.

    Objects of kinds the manifests' own CustomResourceDefinitions define have no published schema and
    are skipped (see cni_schema_skipped); every other object must validate strictly (an unknown field
    is an error). One message per invalid object: kind, name, the path of the field and why.
    """
    try:
        import kubernetes_validate
        from kubernetes_validate import utils
    except ImportError as exc:
        raise AnsibleFilterError("cni: the Python package kubernetes-validate is missing on the controller: "
                                 "install requirements.txt (make setup)") from exc
    version = str(kubernetes_version).lstrip("v")
    minors = {".".join(v.split(".")[:2]) for v in utils.all_versions()}
    if ".".join(version.split(".")[:2]) not in minors:
        return [f"cni_kubernetes_version {version!r} is not a version kubernetes-validate has schemas for "
                f"({min(minors)} to {max(minors)}): set kubesmith_kubernetes_version to your cluster's, like 1.31.4"]
    skipped = cni_schema_skipped(objects)
    problems = []
    for obj in objects or []:
        if obj in skipped:
            continue
        try:
            kubernetes_validate.validate(_plain(obj), version, strict=True)
        except utils.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(the object)"
            problems.append(f"{_name(obj)}: {path}: {exc.message} (Kubernetes {version} schema, strict)")
        except utils.SchemaNotFoundError as exc:
            problems.append(f"{_name(obj)}: {exc.message}")
    return problems


def _plain(value):
    """Ansible's tagged strings and containers as plain Python types, which the validator knows."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


def cni_schema_skipped(objects) -> list[dict]:
    """The objects cni_schema_problems skips: instances of kinds the manifests' CRDs define."""
    crd_kinds = _crd_kinds(objects)
    return [obj for obj in objects or []
            if (str(obj.get("apiVersion", "")).rsplit("/", 1)[0], obj.get("kind")) in crd_kinds]


class FilterModule:
    def filters(self):
        return {
            "cni_problems": cni_problems,
            "cni_image": cni_image,
            "cni_image_tag": cni_image_tag,
            "cni_manifests": cni_manifests,
            "cni_images_used": cni_images_used,
            "cni_schema_problems": cni_schema_problems,
            "cni_schema_skipped": cni_schema_skipped,
        }
