"""Filters of the apps role: check and normalize ``apps_list``, then parse, validate and write the
objects the role's templates render from it.

- ``apps_problems``: every problem of ``apps_list`` (and of the target Kubernetes version), each
  naming the app and the field, so one run reports them all;
- ``apps_normalize``: ``apps_list`` with every default filled in and every derived name (object
  names, labels, selectors) computed, the only input of ``roles/apps/templates/``;
- ``apps_manifests``: a template's multi-document YAML output as a list of objects;
- ``apps_schema_problems``: kubernetes-validate, strict, offline, against the target version;
- ``apps_to_yaml``: objects as the YAML file render-only mode writes;
- ``apps_public``, ``apps_orphan_namespaces``, ``apps_pod_problems``: helpers of the role's tasks.

The Kubernetes objects themselves are built by the Jinja2 templates, not here. Nothing here reads a
file or the network. Secret values are never put into a message.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re

import yaml
from ansible.errors import AnsibleFilterError

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KINDS = ("Deployment", "ReplicationController", "DaemonSet", "none")
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubesmith"}
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"

# Fields of each part of an app spec: name -> one-line meaning (used in messages and tests).
APP_FIELDS = {
    "name": "the app's name: its workload, files and object names derive from it",
    "state": "present or absent",
    "namespace": "namespace of every object of the app",
    "kind": "workload kind: Deployment, ReplicationController, DaemonSet or none",
    "image": "image of the main container, without tag",
    "tag": "image tag",
    "pull_policy": "imagePullPolicy of every container",
    "replicas": "number of pods",
    "strategy": "Deployment update strategy",
    "command": "entrypoint of the main container",
    "args": "arguments of the main container",
    "ports": "container ports of the main container",
    "env": "environment of the main container",
    "config": "ConfigMap data",
    "secret": "Secret data",
    "volumes": "volumes of the pod",
    "liveness": "liveness probe of the main container",
    "readiness": "readiness probe of the main container",
    "resources": "resource requests and limits of the main container",
    "sidecars": "helper containers beside the main one",
    "labels": "labels of every object",
    "node_selector": "nodeSelector of the pods",
    "tolerations": "tolerations of the pods",
    "service": "Service in front of the pods",
    "jobs": "Jobs and CronJobs of the app",
}
PORT_FIELDS = ("name", "port", "protocol")
VOLUME_FIELDS = ("name", "type", "mount", "read_only", "size", "storage_class", "access_modes", "path")
VOLUME_TYPES = ("claim", "empty_dir", "config", "secret", "host_path")
PROBE_FIELDS = ("http", "tcp", "exec", "port", "initial_delay", "period", "timeout", "failure_threshold")
SIDECAR_FIELDS = ("name", "image", "tag", "command", "args", "env", "ports", "mounts", "resources")
SERVICE_FIELDS = ("name", "type", "ports")
SERVICE_PORT_FIELDS = ("name", "port", "target", "node_port", "protocol")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
JOB_FIELDS = ("name", "image", "tag", "command", "args", "env", "mounts", "resources", "schedule",
              "restart_policy", "backoff_limit", "concurrency_policy", "wait")
ENV_FIELDS = ("value", "config", "secret", "field")
ENV_POD_FIELDS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                  "status.hostIP", "status.podIP", "status.podIPs")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
PROTOCOLS = ("TCP", "UDP", "SCTP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$")
_RESOURCE_NAME = re.compile(r"^([a-z0-9.-]+/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)(\.[0-9]+)?$")


class _Problems(list):
    """Problems of one app; each is prefixed with the app and the field."""

    def __init__(self, where: str):
        super().__init__()
        self.where = where

    def add(self, field: str, message: str) -> None:
        self.append(f"{self.where}: {field}: {message}")


def _describe(value) -> str:
    """A value as shown in a message (short; types that YAML made by accident are named)."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(name: str, known) -> str:
    """' (did you mean ...?)' with the closest of ``known`` (case aside), or ''."""
    by_lower = {str(k).lower(): str(k) for k in known}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


def _check_fields(problems: _Problems, path: str, value: dict, known) -> None:
    for key in value:
        if key not in known:
            problems.add(f"{path}{key}" if path else str(key),
                         f"unknown field{_suggest(key, known)}; known: {', '.join(known)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(problems, field, value, default, low=None, high=None):
    if value is None:
        return default
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" from {low} to {high}" if high is not None else (f" >= {low}" if low is not None else "")
        problems.add(field, f"must be an integer{bounds}, got {_describe(value)}")
        return default
    return value


def _bool(problems, field, value, default):
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.add(field, f"must be true or false, got {_describe(value)}")
        return default
    return value


def _choice(problems, field, value, choices, default):
    if value is None:
        return default
    if value not in choices:
        problems.add(field, f"must be one of {', '.join(choices)}, got {_describe(value)}{_suggest(value, choices)}")
        return default
    return value


def _scalar(problems, field, value) -> str | None:
    """A string, number or boolean as the string Kubernetes stores (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    problems.add(field, f"must be a string, got {type(value).__name__}")
    return None


def _str_list(problems, field, value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list):
        problems.add(field, f"must be a list of strings (argv form: [sh, -c, '...']), got {_describe(value)}")
        return []
    out = []
    for i, item in enumerate(value):
        text = _scalar(problems, f"{field}[{i}]", item)
        if text is not None:
            out.append(text)
    return out


def _mapping(problems, field, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(field, f"must be a mapping, got {_describe(value)}")
        return {}
    return value


def _list(problems, field, value) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(field, f"must be a list, got {_describe(value)}")
        return []
    return value


def _dns_label(problems, field, value, max_len=63, rfc1035=False) -> bool:
    pattern = _DNS_1035 if rfc1035 else _DNS_LABEL
    if not isinstance(value, str) or not pattern.match(value) or len(value) > max_len:
        start = "a lowercase letter" if rfc1035 else "a lowercase letter or digit"
        problems.add(field, f"must be {max_len} characters at most of lowercase letters, digits and '-', starting "
                            f"with {start} and ending with a letter or digit, got {_describe(value)}")
        return False
    return True


def _label_problem(key, value) -> str | None:
    key = str(key)
    prefix, _, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or not _LABEL_NAME.match(name) \
            or len(name) > 63:
        return f"label key {key!r} is not a valid Kubernetes label name"
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(value)) > 63 \
            or not _LABEL_VALUE.match(str(value)):
        return f"label {key}: value {_describe(value)} is not a valid label value (63 characters of [A-Za-z0-9-_.])"
    return None


def _labels(problems, field, value) -> dict:
    out = {}
    for key, val in _mapping(problems, field, value).items():
        problem = _label_problem(key, val)
        if problem:
            problems.add(field, problem)
        else:
            out[str(key)] = str(val)
    return out


def _image(problems, field, image, tag, required=True) -> str | None:
    """``image`` plus ``tag`` as one reference; a digest in ``image`` stands for the tag."""
    if image is None:
        if required:
            problems.add(field, "required: the image of the container, without tag (e.g. docker.io/library/nginx)")
        return None
    if not isinstance(image, str):
        problems.add(field, f"must be a string, got {_describe(image)}")
        return None
    name = _DIGEST.sub("", image)
    tag_field = field[: -len("image")] + "tag" if field.endswith("image") else "tag"
    if ":" in name.rsplit("/", 1)[-1]:
        problems.add(field, f"{image!r} carries a tag: put it in {tag_field} instead")
        return None
    if not _IMAGE.match(name):
        problems.add(field, f"{image!r} is not an image name (lowercase registry/path, no tag)")
        return None
    if _DIGEST.search(image):
        if tag is not None:
            problems.add(tag_field, "not allowed when the image is pinned by digest (@sha256:...)")
        return image
    if tag is None:
        problems.add(tag_field, f"required for image {image!r}: pin a version (a tag like '1.27.3', or a digest "
                                "in image)")
        return None
    if isinstance(tag, float):
        problems.add(tag_field, f"{tag} is a number, and YAML may have changed it (1.10 reads as 1.1): quote it")
        return None
    if isinstance(tag, bool) or not isinstance(tag, (str, int)) or not _TAG.match(str(tag)):
        problems.add(tag_field, f"{_describe(tag)} is not an image tag")
        return None
    return f"{image}:{tag}"


def _quantity(problems, field, value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not _QUANTITY.match(str(value)):
        problems.add(field, f"{_describe(value)} is not a Kubernetes quantity (like 250m, 0.5, 64Mi, 1Gi)")
        return None
    return str(value)


def _resources(problems, field, value) -> dict:
    value = _mapping(problems, field, value)
    _check_fields(problems, f"{field}.", value, ("requests", "limits"))
    out = {}
    for part in ("requests", "limits"):
        amounts = {}
        for name, amount in _mapping(problems, f"{field}.{part}", value.get(part)).items():
            if not _RESOURCE_NAME.match(str(name)):
                problems.add(f"{field}.{part}", f"{name!r} is not a resource name (cpu, memory, "
                                                "ephemeral-storage, ...)")
                continue
            quantity = _quantity(problems, f"{field}.{part}.{name}", amount)
            if quantity is not None:
                amounts[str(name)] = quantity
        if amounts:
            out[part] = amounts
    return out


def _ports(problems, field, value) -> list[dict]:
    out = []
    for i, port in enumerate(_list(problems, field, value)):
        where = f"{field}[{i}]"
        if _is_int(port):
            port = {"port": port}
        if not isinstance(port, dict):
            problems.add(where, "must be a port number or a mapping with port (and name, protocol), "
                                f"got {_describe(port)}")
            continue
        _check_fields(problems, f"{where}.", port, PORT_FIELDS)
        if port.get("port") is None:
            problems.add(f"{where}.port", "required")
            continue
        number = _int(problems, f"{where}.port", port.get("port"), None, 1, 65535)
        name = port.get("name")
        if name is not None and (not isinstance(name, str) or not _PORT_NAME.match(name) or len(name) > 15):
            problems.add(f"{where}.name", f"{_describe(name)} is not a port name (15 characters at most of lowercase "
                                          "letters, digits and '-', at least one letter)")
            name = None
        protocol = _choice(problems, f"{where}.protocol", port.get("protocol"), PROTOCOLS, "TCP")
        if number is not None:
            out.append({"name": name, "port": number, "protocol": protocol})
    return out


def _env(problems, field, value, config: dict, secret: dict) -> list[dict]:
    """Environment: name -> value, or name -> {config: key} / {secret: key} / {field: pod field}."""
    out = []
    for name, val in _mapping(problems, field, value).items():
        where = f"{field}.{name}"
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            problems.add(field, f"{name!r} is not an environment variable name")
            continue
        if isinstance(val, dict):
            _check_fields(problems, f"{where}.", val, ENV_FIELDS)
            refs = [k for k in ENV_FIELDS if k in val]
            if len(refs) != 1:
                problems.add(where, "give exactly one of value, config (a key of the app's config), secret (a key of "
                                    "the app's secret) or field (a pod field like metadata.name)")
                continue
            ref, key = refs[0], val[refs[0]]
            if ref == "value":
                text = _scalar(problems, where, key)
                if text is not None:
                    out.append({"name": name, "value": text})
            elif ref == "field":
                if key not in ENV_POD_FIELDS:
                    problems.add(f"{where}.field", f"must be one of {', '.join(ENV_POD_FIELDS)}, got {_describe(key)}")
                else:
                    out.append({"name": name, "field": key})
            else:
                data = config if ref == "config" else secret
                if key not in data:
                    known = ", ".join(sorted(map(str, data))) or "none"
                    problems.add(f"{where}.{ref}", f"{key!r} is not a key of the app's {ref} (keys: {known})"
                                                   f"{_suggest(key, map(str, data))}")
                else:
                    out.append({"name": name, ref: str(key)})
            continue
        if val is None:
            problems.add(where, "has no value (write '' for an empty one)")
            continue
        text = _scalar(problems, where, val)
        if text is not None:
            out.append({"name": name, "value": text})
    return out


def _data(problems, field, value, secret=False) -> dict:
    out = {}
    for key, val in _mapping(problems, field, value).items():
        if not isinstance(key, str) or not _DATA_KEY.match(key) or len(key) > 253:
            problems.add(field, f"{key!r} is not a valid key (letters, digits, '-', '_', '.')")
            continue
        if val is None or isinstance(val, (dict, list)):
            shown = "a value" if secret else _describe(val)
            problems.add(f"{field}.{key}", f"must be a string, got {shown if val is not None else 'nothing'}")
            continue
        if isinstance(val, bool):
            val = "true" if val else "false"
        out[key] = str(val)
    return out


def _mounts(problems, field, value, volumes: dict) -> list[dict]:
    out = []
    for name, path in _mapping(problems, field, value).items():
        if name not in volumes:
            problems.add(f"{field}.{name}", f"no volume of this name in volumes{_suggest(name, volumes)}")
            continue
        if not isinstance(path, str) or not path.startswith("/"):
            problems.add(f"{field}.{name}", f"must be an absolute path, got {_describe(path)}")
            continue
        out.append({"name": name, "path": path, "read_only": volumes[name]["read_only"]})
    return out


def _volumes(problems, app: dict, name: str, kind: str, config: dict, secret: dict) -> list[dict]:
    out, seen = [], set()
    for i, vol in enumerate(_list(problems, "volumes", app.get("volumes"))):
        where = f"volumes[{i}]"
        if not isinstance(vol, dict):
            problems.add(where, f"must be a mapping with name and type, got {_describe(vol)}")
            continue
        _check_fields(problems, f"{where}.", vol, VOLUME_FIELDS)
        vname = vol.get("name")
        if not _dns_label(problems, f"{where}.name", vname):
            continue
        where = f"volumes.{vname}"
        if vname in seen:
            problems.add(where, "volume names must be unique")
            continue
        seen.add(vname)
        vtype = _choice(problems, f"{where}.type", vol.get("type"), VOLUME_TYPES, None)
        if vtype is None:
            if vol.get("type") is None:
                problems.add(f"{where}.type", f"required: one of {', '.join(VOLUME_TYPES)}")
            continue
        mount = vol.get("mount")
        if mount is not None and (not isinstance(mount, str) or not mount.startswith("/")):
            problems.add(f"{where}.mount", f"must be an absolute path, got {_describe(mount)}")
            mount = None
        read_only = _bool(problems, f"{where}.read_only", vol.get("read_only"), vtype in ("config", "secret"))
        entry = {"name": vname, "type": vtype, "mount": mount, "read_only": read_only}
        allowed = {"claim": ("size", "storage_class", "access_modes"), "host_path": ("path",)}.get(vtype, ())
        for key in ("size", "storage_class", "access_modes", "path"):
            if key in vol and key not in allowed:
                problems.add(f"{where}.{key}", f"not used by a volume of type {vtype}")
        if vtype == "claim":
            entry["claim_name"] = f"{name}-{vname}"
            if vol.get("size") is None:
                problems.add(f"{where}.size", "required for a claim (like 1Gi)")
            else:
                entry["size"] = _quantity(problems, f"{where}.size", vol["size"])
            storage_class = vol.get("storage_class")
            if storage_class is not None and (not isinstance(storage_class, str) or not storage_class):
                problems.add(f"{where}.storage_class", "must be a StorageClass name; leave it out for the "
                                                       "default class")
            entry["storage_class"] = storage_class or None
            modes = vol.get("access_modes", ["ReadWriteOnce"])
            if not isinstance(modes, list) or not modes or any(m not in ACCESS_MODES for m in modes):
                problems.add(f"{where}.access_modes", f"must be a list of {', '.join(ACCESS_MODES)}, "
                                                      f"got {_describe(modes)}")
                modes = ["ReadWriteOnce"]
            entry["access_modes"] = modes
            if kind == "DaemonSet" and not set(modes) & {"ReadWriteMany", "ReadOnlyMany"}:
                problems.add(f"{where}.access_modes", "a DaemonSet's pods run on every node and cannot share "
                                                      f"a {'/'.join(modes)} claim: use ReadWriteMany or a "
                                                      "host_path volume")
        elif vtype == "host_path":
            path = vol.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                problems.add(f"{where}.path", f"required: an absolute path on the node, got {_describe(path)}")
            entry["path"] = path
        elif vtype == "config" and not config:
            problems.add(f"{where}.type", "config mounts the app's ConfigMap, but the app has no config")
        elif vtype == "secret" and not secret:
            problems.add(f"{where}.type", "secret mounts the app's Secret, but the app has no secret")
        out.append(entry)
    return out


def _probe(problems, field, value, port_names: set, ports: list) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(field, f"must be a mapping like {{http: /healthz, port: http}}, got {_describe(value)}")
        return None
    _check_fields(problems, f"{field}.", value, PROBE_FIELDS)
    kinds = [k for k in ("http", "tcp", "exec") if k in value]
    if len(kinds) != 1:
        problems.add(field, "give exactly one of http (a path), tcp (true) or exec (a command)")
        return None
    probe = {
        "type": kinds[0],
        "initial_delay": _int(problems, f"{field}.initial_delay", value.get("initial_delay"), 0, 0),
        "period": _int(problems, f"{field}.period", value.get("period"), 10, 1),
        "timeout": _int(problems, f"{field}.timeout", value.get("timeout"), 1, 1),
        "failure_threshold": _int(problems, f"{field}.failure_threshold", value.get("failure_threshold"), 3, 1),
    }
    if kinds[0] == "exec":
        probe["command"] = _str_list(problems, f"{field}.exec", value["exec"])
        if "port" in value:
            problems.add(f"{field}.port", "not used by an exec probe")
        return probe
    if kinds[0] == "http":
        path = value["http"]
        if not isinstance(path, str) or not path.startswith("/"):
            problems.add(f"{field}.http", f"must be a URL path starting with '/', got {_describe(path)}")
        probe["path"] = path
    elif value["tcp"] is not True:
        problems.add(f"{field}.tcp", "must be true (the port is given by port)")
    port = value.get("port")
    if port is None:
        if not ports:
            problems.add(f"{field}.port", "required: the app has no ports to default to")
            return probe
        port = ports[0]["name"] or ports[0]["port"]
    elif isinstance(port, str):
        if port not in port_names:
            problems.add(f"{field}.port", f"{port!r} is not the name of a port of the main container"
                                          f"{_suggest(port, port_names)}")
    else:
        port = _int(problems, f"{field}.port", port, None, 1, 65535)
    probe["port"] = port
    return probe


def _service(problems, value, name: str, kind: str, ports: list, pod_port_names: set) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add("service", f"must be a mapping (type, ports, name), got {_describe(value)}")
        return None
    _check_fields(problems, "service.", value, SERVICE_FIELDS)
    if kind == "none":
        problems.add("service", "an app of kind none has no pods for a Service to select")
        return None
    sname = value.get("name", name)
    _dns_label(problems, "service.name", sname, rfc1035=True)
    stype = _choice(problems, "service.type", value.get("type"), SERVICE_TYPES, None)
    known_type = stype is not None or "type" not in value  # a wrong type: no follow-up node_port errors
    stype = stype or "ClusterIP"
    raw = value.get("ports")
    if raw is None:
        raw = [{"port": p["port"], "target": p["name"] or p["port"], "protocol": p["protocol"]} for p in ports]
        if not raw:
            problems.add("service.ports", "required: the main container has no ports to default to")
    out = []
    for i, port in enumerate(_list(problems, "service.ports", raw)):
        where = f"service.ports[{i}]"
        if _is_int(port):
            port = {"port": port}
        if not isinstance(port, dict) or port.get("port") is None:
            problems.add(where, f"must be a port number or a mapping with port (and target, node_port, name), "
                                f"got {_describe(port)}")
            continue
        _check_fields(problems, f"{where}.", port, SERVICE_PORT_FIELDS)
        number = _int(problems, f"{where}.port", port["port"], None, 1, 65535)
        target = port.get("target", number)
        if isinstance(target, str):
            if target not in pod_port_names:
                problems.add(f"{where}.target", f"{target!r} is not the name of a container port of the app"
                                                f"{_suggest(target, pod_port_names)}")
        else:
            target = _int(problems, f"{where}.target", target, None, 1, 65535)
        node_port = port.get("node_port")
        if node_port is not None:
            if stype == "ClusterIP" and known_type:
                problems.add(f"{where}.node_port", "only a NodePort or LoadBalancer Service has node ports")
            node_port = _int(problems, f"{where}.node_port", node_port, None, 30000, 32767)
        pname = port.get("name")
        if pname is not None and (not isinstance(pname, str) or not _DNS_LABEL.match(pname) or len(pname) > 63):
            problems.add(f"{where}.name", f"{_describe(pname)} is not a port name")
        out.append({"name": pname, "port": number, "target": target, "node_port": node_port,
                    "protocol": _choice(problems, f"{where}.protocol", port.get("protocol"), PROTOCOLS, "TCP")})
    if len(out) > 1:  # Kubernetes requires names on the ports of a multi-port Service
        for port in out:
            if port["name"] is None:
                port["name"] = port["target"] if isinstance(port["target"], str) else f"port-{port['port']}"
        names = [p["name"] for p in out]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.add("service.ports", f"two ports are named {dup!r}: give each a unique name")
    return {"name": sname, "type": stype, "ports": out}


def _sidecars(problems, value, app_name, config, secret, volumes, pull_policy) -> list[dict]:
    out, seen = [], {app_name}
    for i, car in enumerate(_list(problems, "sidecars", value)):
        where = f"sidecars[{i}]"
        if not isinstance(car, dict):
            problems.add(where, f"must be a mapping with name, image and tag, got {_describe(car)}")
            continue
        _check_fields(problems, f"{where}.", car, SIDECAR_FIELDS)
        cname = car.get("name")
        if not _dns_label(problems, f"{where}.name", cname):
            continue
        where = f"sidecars.{cname}"
        if cname in seen:
            problems.add(f"{where}.name", "container names must be unique in the pod (the main container is "
                                          "named after the app)")
            continue
        seen.add(cname)
        out.append({
            "name": cname,
            "image": _image(problems, f"{where}.image", car.get("image"), car.get("tag")),
            "pull_policy": pull_policy,
            "command": _str_list(problems, f"{where}.command", car.get("command")),
            "args": _str_list(problems, f"{where}.args", car.get("args")),
            "env": _env(problems, f"{where}.env", car.get("env"), config, secret),
            "ports": _ports(problems, f"{where}.ports", car.get("ports")),
            "mounts": _mounts(problems, f"{where}.mounts", car.get("mounts"), volumes),
            "resources": _resources(problems, f"{where}.resources", car.get("resources")),
        })
    return out


def _cron(problems, field, value) -> str | None:
    if not isinstance(value, str):
        problems.add(field, f"must be a cron schedule like '*/15 * * * *' or @daily, got {_describe(value)}")
        return None
    words = value.split()
    if not ((len(words) == 1 and words[0] in _CRON_MACROS) or (len(words) == 5 and all(map(_CRON_FIELD.match, words)))):
        problems.add(field, f"{value!r} is not a cron schedule (five fields like '*/15 * * * *', or "
                            f"{', '.join(_CRON_MACROS)})")
        return None
    return value


def _jobs(problems, value, app_name, app_image, app_has_image, config, secret, volumes, pull_policy) -> list[dict]:
    out, seen = [], set()
    for i, job in enumerate(_list(problems, "jobs", value)):
        where = f"jobs[{i}]"
        if not isinstance(job, dict):
            problems.add(where, f"must be a mapping with name and command, got {_describe(job)}")
            continue
        _check_fields(problems, f"{where}.", job, JOB_FIELDS)
        jname = job.get("name")
        if not _dns_label(problems, f"{where}.name", jname):
            continue
        where = f"jobs.{jname}"
        if jname in seen:
            problems.add(f"{where}.name", "job names must be unique in the app")
            continue
        seen.add(jname)
        schedule = _cron(problems, f"{where}.schedule", job["schedule"]) if "schedule" in job else None
        if "image" in job or "tag" in job:
            image = _image(problems, f"{where}.image", job.get("image"), job.get("tag"))
        else:
            image = app_image
            if not app_has_image:
                problems.add(f"{where}.image", "required: the app has no image to default to")
        wait = _bool(problems, f"{where}.wait", job.get("wait"), False)
        if wait and "schedule" in job:
            problems.add(f"{where}.wait", "a CronJob runs on its schedule: there is nothing to wait for")
        if "concurrency_policy" in job and "schedule" not in job:
            problems.add(f"{where}.concurrency_policy", "only a CronJob (a job with schedule) has one")
        out.append({
            "name": f"{app_name}-{jname}",
            "job": jname,
            "kind": "CronJob" if "schedule" in job else "Job",
            "schedule": schedule,
            "image": image,
            "pull_policy": pull_policy,
            "command": _str_list(problems, f"{where}.command", job.get("command")),
            "args": _str_list(problems, f"{where}.args", job.get("args")),
            "env": _env(problems, f"{where}.env", job.get("env"), config, secret),
            "mounts": _mounts(problems, f"{where}.mounts", job.get("mounts"), volumes),
            "resources": _resources(problems, f"{where}.resources", job.get("resources")),
            "restart_policy": _choice(problems, f"{where}.restart_policy", job.get("restart_policy"),
                                      ("Never", "OnFailure"), "Never"),
            "backoff_limit": _int(problems, f"{where}.backoff_limit", job.get("backoff_limit"), 6, 0),
            "concurrency_policy": _choice(problems, f"{where}.concurrency_policy", job.get("concurrency_policy"),
                                          ("Allow", "Forbid", "Replace"), "Forbid"),
            "wait": wait,
        })
    return out


def _config_hash(config: dict, secret: dict) -> str | None:
    """A digest of config and secret for the pod template: a change of either rolls the pods."""
    if not config and not secret:
        return None
    text = json.dumps({"config": config, "secret": secret}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _app(raw, index: int) -> tuple[dict | None, list[str]]:
    """One app: its normalized form (None when unusable) and its problems."""
    label = raw.get("name") if isinstance(raw, dict) else None
    problems = _Problems(f"apps_list[{index}]" + (f" (app {label!r})" if isinstance(label, str) else ""))
    if not isinstance(raw, dict):
        problems.add("app", f"must be a mapping with at least name, image and tag, got {_describe(raw)}")
        return None, problems
    _check_fields(problems, "", raw, APP_FIELDS)
    name = raw.get("name")
    if name is None:
        problems.add("name", "required")
        return None, problems
    if not _dns_label(problems, "name", name, rfc1035=True):
        return None, problems
    state = _choice(problems, "state", raw.get("state"), ("present", "absent"), "present")
    namespace = raw.get("namespace", name)
    _dns_label(problems, "namespace", namespace)
    kind = _choice(problems, "kind", raw.get("kind"), KINDS, "Deployment")
    pull_policy = _choice(problems, "pull_policy", raw.get("pull_policy"), PULL_POLICIES, None)
    config = _data(problems, "config", raw.get("config"))
    secret = _data(problems, "secret", raw.get("secret"), secret=True)
    has_pods = kind != "none"
    if not has_pods:
        for field in ("replicas", "strategy", "command", "args", "ports", "env", "liveness", "readiness", "sidecars",
                      "node_selector", "tolerations"):
            if field in raw:
                problems.add(field, "an app of kind none has no workload pods: put this on a job, or set kind")
    image = _image(problems, "image", raw.get("image"), raw.get("tag"), required=has_pods)
    if kind == "DaemonSet" and "replicas" in raw:
        problems.add("replicas", "a DaemonSet runs one pod per node: leave replicas out")
    replicas = _int(problems, "replicas", raw.get("replicas"), 1, 0)
    if "strategy" in raw and kind != "Deployment":
        problems.add("strategy", "only a Deployment has an update strategy")
    strategy = _choice(problems, "strategy", raw.get("strategy"), ("RollingUpdate", "Recreate"), "RollingUpdate")
    ports = _ports(problems, "ports", raw.get("ports"))
    volumes = _volumes(problems, raw, name, kind, config, secret)
    by_name = {v["name"]: v for v in volumes}
    sidecars = _sidecars(problems, raw.get("sidecars"), name, config, secret, by_name, pull_policy)
    port_names = {p["name"] for p in ports if p["name"]}
    all_port_names = [p["name"] for c in [{"ports": ports}, *sidecars] for p in c["ports"] if p["name"]]
    for dup in sorted({n for n in all_port_names if all_port_names.count(n) > 1}):
        problems.add("ports", f"port name {dup!r} is used twice in the pod")
    labels = {"app": name, **_labels(problems, "labels", raw.get("labels"))}
    for key in labels:
        if key.startswith("app.kubernetes.io/"):
            problems.add("labels", f"{key} is set by kubesmith (app.kubernetes.io/* labels are reserved)")
    common = {**labels, INSTANCE: name, **MANAGED_BY}
    selector = {"app": labels["app"], **({"tier": labels["tier"]} if "tier" in labels else {}),
                INSTANCE: name, COMPONENT: "main"}
    node_selector = _labels(problems, "node_selector", raw.get("node_selector"))
    tolerations = _list(problems, "tolerations", raw.get("tolerations"))
    if any(not isinstance(t, dict) for t in tolerations):
        problems.add("tolerations", "must be a list of mappings in Kubernetes' form ({key, operator, effect})")
        tolerations = []
    app = {
        "name": name,
        "state": state,
        "namespace": namespace,
        "create_namespace": namespace not in SYSTEM_NAMESPACES,
        "namespace_labels": dict(MANAGED_BY),
        "kind": kind,
        "image": image,
        "pull_policy": pull_policy,
        "replicas": replicas,
        "strategy": strategy,
        "command": _str_list(problems, "command", raw.get("command")),
        "args": _str_list(problems, "args", raw.get("args")),
        "ports": ports,
        "env": _env(problems, "env", raw.get("env"), config, secret),
        "config": config,
        "config_name": f"{name}-config",
        "secret": secret,
        "secret_name": f"{name}-secret",
        "volumes": volumes,
        "mounts": [{"name": v["name"], "path": v["mount"], "read_only": v["read_only"]} for v in volumes if v["mount"]],
        "liveness": _probe(problems, "liveness", raw.get("liveness"), port_names, ports),
        "readiness": _probe(problems, "readiness", raw.get("readiness"), port_names, ports),
        "resources": _resources(problems, "resources", raw.get("resources")),
        "sidecars": sidecars,
        "labels": common,
        "selector": selector,
        "pod_labels": {**common, COMPONENT: "main"},
        "job_pod_labels": {**common, COMPONENT: "job"},
        "node_selector": node_selector,
        "tolerations": tolerations,
        "service": _service(problems, raw.get("service"), name, kind, ports, set(all_port_names)),
        "jobs": _jobs(problems, raw.get("jobs"), name, image, raw.get("image") is not None, config, secret, by_name,
                      pull_policy),
        "config_hash": _config_hash(config, secret),
    }
    for volume in volumes:
        if volume["type"] == "claim" and len(volume["claim_name"]) > 63:
            problems.add(f"volumes.{volume['name']}.name", f"the claim {volume['claim_name']!r} would be longer than "
                                                           "63 characters: shorten the app or volume name")
    for job in app["jobs"]:
        limit = 52 if job["kind"] == "CronJob" else 63  # a CronJob's Jobs get an 11-character suffix
        if len(job["name"]) > limit:
            problems.add(f"jobs.{job['job']}.name", f"the {job['kind']} {job['name']!r} would be longer than {limit} "
                                                    "characters: shorten the app or job name")
    used = {m["name"] for c in [app, *sidecars, *app["jobs"]] for m in c["mounts"]}
    for volume in volumes:
        if volume["name"] not in used:
            problems.add(f"volumes.{volume['name']}", "mounted nowhere: give it a mount, or mount it in a "
                                                      "sidecar or job")
    return app, problems


def _objects(app: dict) -> list[tuple[str, str]]:
    """(kind, name) of every namespaced object the app renders, for collision checks."""
    out = [] if app["kind"] == "none" else [(app["kind"], app["name"])]
    if app["config"]:
        out.append(("ConfigMap", app["config_name"]))
    if app["secret"]:
        out.append(("Secret", app["secret_name"]))
    out += [("PersistentVolumeClaim", v["claim_name"]) for v in app["volumes"] if v["type"] == "claim"]
    if app["service"]:
        out.append(("Service", app["service"]["name"]))
    out += [(j["kind"], j["name"]) for j in app["jobs"]]
    return out


def _check(apps_list) -> tuple[list[dict], list[str]]:
    if apps_list is None:
        return [], []
    if not isinstance(apps_list, list):
        return [], [f"apps_list must be a list of app specs, got {_describe(apps_list)}"]
    apps, problems, owners, names = [], [], {}, {}
    for index, raw in enumerate(apps_list):
        app, found = _app(raw, index)
        problems += found
        if app is None:
            continue
        if app["name"] in names:
            problems.append(f"apps_list[{index}] (app {app['name']!r}): name: also the name of apps_list"
                            f"[{names[app['name']]}]; app names must be unique (one file and workload each)")
            continue
        names[app["name"]] = index
        for kind, obj in _objects(app):
            key = (app["namespace"], kind, obj)
            if key in owners:
                problems.append(f"apps_list[{index}] (app {app['name']!r}): its {kind} {app['namespace']}/{obj} is "
                                f"also rendered by app {owners[key]!r}: rename one of them")
            owners.setdefault(key, app["name"])
        apps.append(app)
    return apps, problems


def _version_problem(version) -> str | None:
    match = _VERSION.match(str(version or ""))
    supported = apps_schema_versions()
    if not match or f"{match.group(1)}.{match.group(2)}" not in supported:
        shown = f"{supported[0]} to {supported[-1]}" if supported else "none: is kubernetes-validate installed?"
        return (f"apps_kubernetes_version {_describe(version)} is not a Kubernetes version the offline schemas cover "
                f"({shown}); set it to your cluster's version, like 1.31")
    return None


def apps_schema_versions(_=None) -> list[str]:
    """Kubernetes minor versions (like '1.31') the installed kubernetes-validate has schemas for."""
    try:
        from kubernetes_validate import utils
    except ImportError:
        return []
    out = []
    for version in utils.all_versions():
        minor = ".".join(version.split(".")[:2])
        if minor not in out:
            out.append(minor)
    return out


def apps_problems(apps_list, kubernetes_version=None) -> list[str]:
    """Every problem of ``apps_list`` (and of ``kubernetes_version`` when given), each naming the app
    (by position and name) and the field, with what is expected. Empty when all is well."""
    problems = _check(apps_list)[1]
    if kubernetes_version is not None:
        version = _version_problem(kubernetes_version)
        if version:
            problems.insert(0, version)
    return problems


def apps_normalize(apps_list) -> list[dict]:
    """``apps_list`` with defaults filled in and derived names computed (the templates' input).
    Raises AnsibleFilterError listing every problem when ``apps_list`` has any."""
    apps, problems = _check(apps_list)
    if problems:
        raise AnsibleFilterError("apps_list has problems:\n- " + "\n- ".join(problems))
    return apps


def apps_public(apps: list[dict]) -> list[dict]:
    """Normalized apps with secret values replaced: safe as loop items that verbose output prints."""
    return [{**app, "secret": {key: "(hidden)" for key in app.get("secret", {})}} for app in apps or []]


def apps_orphan_namespaces(apps: list[dict]) -> list[str]:
    """Namespaces kubesmith created for absent apps that no present app uses any more."""
    present = {a["namespace"] for a in apps if a["state"] == "present"}
    return sorted({a["namespace"] for a in apps if a["state"] == "absent" and a["create_namespace"]} - present)


def apps_manifests(text, app: str = "") -> list[dict]:
    """A template's multi-document YAML output as a list of objects (empty documents dropped)."""
    where = f"app {app!r}: " if app else ""
    if text is None:  # what the template lookup gives for an empty output
        return []
    try:
        docs = list(yaml.safe_load_all(str(text)))
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"apps: {where}the templates rendered invalid YAML: {exc}") from exc
    objects, seen = [], {}
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not doc.get("kind") or not isinstance(doc.get("metadata"), dict):
            raise AnsibleFilterError(f"apps: {where}rendered document {i} is not a Kubernetes object: "
                                     f"{str(doc)[:80]!r}")
        key = (doc.get("apiVersion"), doc["kind"], doc["metadata"].get("namespace"), doc["metadata"].get("name"))
        if key in seen:  # a Namespace shared by several apps: once
            if seen[key] != doc:
                raise AnsibleFilterError(f"apps: {where}{doc['kind']} {_object_name(doc)} is rendered twice, "
                                         "with different contents")
            continue
        seen[key] = doc
        objects.append(doc)
    return objects


def apps_refs(objects: list[dict]) -> list[dict]:
    """Objects reduced to what names them (apiVersion, kind, name, namespace): enough to delete or
    to list them, and free of their data."""
    out = []
    for obj in objects or []:
        meta = {"name": obj["metadata"]["name"]}
        if obj["metadata"].get("namespace"):
            meta["namespace"] = obj["metadata"]["namespace"]
        out.append({"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta})
    return out


def _object_name(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


def apps_schema_problems(objects: list[dict], kubernetes_version, app: str = "") -> list[str]:
    """Strict offline validation of ``objects`` with kubernetes-validate against ``kubernetes_version``.

    One message per invalid object: app, kind, name, the path of the offending field and why. The
    values of Secret objects are never shown. Strict: a field the schema does not know is an error.
    """
    try:
        import kubernetes_validate
        from kubernetes_validate import utils
    except ImportError as exc:
        raise AnsibleFilterError("apps: the Python package kubernetes-validate is missing on the controller: "
                                 "install requirements.txt (make setup)") from exc
    problem = _version_problem(kubernetes_version)
    if problem:
        return [problem]
    where = f"app {app!r}: " if app else ""
    version = str(kubernetes_version).lstrip("v")
    problems = []
    for obj in objects or []:
        shown = f"{where}{obj.get('kind')} {_object_name(obj)}"
        try:
            kubernetes_validate.validate(_plain(obj), version, strict=True)
        except utils.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(the object)"
            why = "invalid value (not shown: Secret data)" if obj.get("kind") == "Secret" else exc.message
            problems.append(f"{shown}: {path}: {why} (Kubernetes {exc.version} schema, strict)")
        except utils.SchemaNotFoundError as exc:
            problems.append(f"{shown}: {exc.message}")
    return problems


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, and block style for multi-line strings (configuration files
    stay readable), as kubectl prints them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def apps_to_yaml(objects: list[dict], header: str = "") -> str:
    """Objects as a multi-document YAML file (keys in template order), with ``header`` as comments."""
    lines = "".join(f"# {line}".rstrip() + "\n" for line in str(header).splitlines())
    docs = [yaml.dump(_plain(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120,
                      allow_unicode=True) for obj in objects or []]
    return lines + "".join(f"---\n{doc}" for doc in docs)


def _plain(value):
    """Ansible's tagged strings and containers as plain Python types, which yaml.SafeDumper knows."""
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


def _container_problem(status: dict) -> str | None:
    state = status.get("state") or {}
    if "waiting" in state:
        waiting = state["waiting"] or {}
        return f"waiting: {waiting.get('reason', '?')}" + (f" ({waiting['message']})" if waiting.get("message") else "")
    if "terminated" in state:
        term = state["terminated"] or {}
        return f"terminated: {term.get('reason', '?')} (exit code {term.get('exitCode', '?')})"
    if not status.get("ready"):
        last = (status.get("lastState") or {}).get("terminated") or {}
        restarts = status.get("restartCount", 0)
        extra = f", last exit {last.get('reason')} (code {last.get('exitCode')})" if last else ""
        return f"running but not ready ({restarts} restarts{extra})"
    return None


def apps_pod_problems(pods: list[dict]) -> list[str]:
    """Why pods are not ready, one line per pod (from k8s_info's resources): unscheduled, image pull
    errors, crash loops, failed probes."""
    out = []
    for pod in pods or []:
        name = (pod.get("metadata") or {}).get("name", "?")
        status = pod.get("status") or {}
        if status.get("phase") == "Succeeded":  # a Job's pod that did its work
            continue
        reasons = []
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                reasons.append(f"not scheduled: {cond.get('reason', '?')} ({cond.get('message', '')})")
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            problem = _container_problem(container)
            if problem and not (container in (status.get("initContainerStatuses") or [])
                                and problem.startswith("terminated: Completed")):
                reasons.append(f"container {container.get('name', '?')} {problem}")
        if reasons:
            out.append(f"pod {name} ({status.get('phase', '?')}): " + "; ".join(reasons))
        elif status.get("phase") not in ("Running", "Succeeded"):
            out.append(f"pod {name}: {status.get('phase', 'no status yet')}")
    return out


def apps_failed_jobs(results) -> list[str]:
    """'<namespace>/<name>: <reason> (<message>)' for each Job k8s_info found failed (a Failed
    condition), from the results of a looped k8s_info."""
    out = []
    for result in results or []:
        for job in (result or {}).get("resources") or []:
            for cond in (job.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Failed" and cond.get("status") == "True":
                    meta = job.get("metadata") or {}
                    why = cond.get("reason", "Failed") + (f" ({cond['message']})" if cond.get("message") else "")
                    out.append(f"{meta.get('namespace')}/{meta.get('name')}: {why}")
    return out


class FilterModule:
    def filters(self):
        return {
            "apps_problems": apps_problems,
            "apps_normalize": apps_normalize,
            "apps_public": apps_public,
            "apps_orphan_namespaces": apps_orphan_namespaces,
            "apps_manifests": apps_manifests,
            "apps_refs": apps_refs,
            "apps_failed_jobs": apps_failed_jobs,
            "apps_schema_problems": apps_schema_problems,
            "apps_schema_versions": apps_schema_versions,
            "apps_to_yaml": apps_to_yaml,
            "apps_pod_problems": apps_pod_problems,
        }
