"""Filters of the container_runtime role."""

from __future__ import annotations

import json
import re

_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")


def containerd_mirror_files(mirrors: dict, certs_dir: str = "/etc/containerd/certs.d") -> list[dict]:
    """Registry -> mirror endpoints as containerd hosts.toml files (node_agent `files` entries).

    >>> containerd_mirror_files({"docker.io": ["https://m.example:5000"]})[0]["path"]
    '/etc/containerd/certs.d/docker.io/hosts.toml'
    """
    files = []
    for registry in sorted(mirrors or {}):
        if not _REGISTRY_RE.match(registry):
            raise ValueError(f"container_runtime_registry_mirrors: bad registry host {registry!r}")
        endpoints = mirrors[registry]
        if isinstance(endpoints, str) or not endpoints:
            raise ValueError(f"container_runtime_registry_mirrors[{registry!r}] must be a non-empty list of URLs")
        upstream = "https://registry-1.docker.io" if registry == "docker.io" else f"https://{registry}"
        lines = ["# managed by kubesmith (container_runtime_registry_mirrors)", f"server = {json.dumps(upstream)}"]
        for endpoint in endpoints:
            if not re.match(r"^https?://", endpoint):
                raise ValueError(f"mirror {endpoint!r} of {registry} must start with http:// or https://")
            lines += ["", f"[host.{json.dumps(endpoint)}]", '  capabilities = ["pull", "resolve"]']
        files.append({"path": f"{certs_dir}/{registry}/hosts.toml", "mode": "0644", "content": "\n".join(lines) + "\n"})
    return files


class FilterModule:
    def filters(self):
        return {"containerd_mirror_files": containerd_mirror_files}
