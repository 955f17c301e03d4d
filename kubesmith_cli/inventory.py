"""Inventory sources for a run: Ansible inventories as they are, Terraform ones through the plugin.

``-i`` takes what ansible-playbook takes (a file, a directory, ``host1,host2,``, a plugin
configuration such as ``inventory/lab.terraform.yml``) and also Terraform directly: a Terraform
configuration directory, a ``terraform.tfstate``, or a saved ``terraform output -json`` /
``terraform show -json``. For those a small configuration of the ``terraform_output`` inventory
plugin is written for the run, so the playbook sees the same inventory AWX would.

Before anything runs, the inventory is loaded here once (with the project's ansible.cfg): a bad
inventory is reported as bad input before any host is touched, and the host counts feed the
progress display.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import pathlib
import sys


class InventoryError(ValueError):
    """The inventory cannot be used; the message says why."""


@dataclasses.dataclass
class Source:
    given: str  # what the user passed
    path: str  # what ansible-playbook gets
    terraform: bool = False  # read through the terraform_output plugin


@dataclasses.dataclass
class Loaded:
    hosts: list[str]
    groups: dict[str, list[str]]
    manager: object = None  # ansible's InventoryManager, for host patterns

    def hosts_of(self, pattern: str) -> list[str] | None:
        if self.manager is None or not pattern:
            return None
        try:
            return [h.name for h in self.manager.get_hosts(pattern)]
        except Exception:  # a templated pattern, say: the display falls back to what it sees
            return None


def plugin_module(project: pathlib.Path):
    """The project's terraform_output plugin, imported from its file (ansible must be configured first)."""
    path = project / "inventory_plugins" / "terraform_output.py"
    spec = importlib.util.spec_from_file_location("kubesmith_terraform_output", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def is_terraform_json(path: str, tfo) -> bool:
    """A JSON file in one of the shapes Terraform writes outputs in (not an Ansible JSON inventory)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        tfo.parse_outputs(data, path)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data)


def resolve(given: list[str], workdir: pathlib.Path, tfo) -> list[Source]:
    """Each ``-i`` value as an inventory source for ansible-playbook; Terraform ones get a plugin config."""
    sources = []
    for n, raw in enumerate(given):
        path = os.path.abspath(os.path.expanduser(raw))
        if not os.path.exists(path):
            if "," in raw:  # ansible's host list: "host1,host2,"
                sources.append(Source(raw, raw))
                continue
            raise InventoryError(f"inventory {raw} does not exist")
        terraform = False
        if os.path.isdir(path):
            names = os.listdir(path)
            terraform = any(x.endswith((".tf", ".tf.json")) for x in names)
        elif path.endswith((".tfstate", ".json")):
            terraform = is_terraform_json(path, tfo)
            if path.endswith(".tfstate") and not terraform:
                raise InventoryError(f"{raw} is not a Terraform state with outputs (format version 4)")
        if terraform:
            cfg = workdir / f"inventory{n}.terraform.yml"
            cfg.write_text(f"# written by kubesmith for -i {raw}\n"
                           f"plugin: terraform_output\nsource: {json.dumps(path)}\n")
            sources.append(Source(raw, str(cfg), terraform=True))
        else:
            sources.append(Source(raw, path))
    return sources


def encrypted(path: str) -> bool:
    """An ansible-vault encrypted file."""
    try:
        with open(path, "rb") as f:
            return f.read(14) == b"$ANSIBLE_VAULT"
    except OSError:  # a directory or a host list
        return False


def load(sources: list[Source], project: pathlib.Path, limit: str | None = None) -> Loaded:
    """Load the inventory as ansible-playbook will; InventoryError with Ansible's message if it cannot."""
    from ansible.errors import AnsibleError
    from ansible.inventory.data import InventoryData
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import inventory_loader

    loader = DataLoader()
    for s in sources:
        if s.terraform or s.path.endswith(("terraform.yml", "terraform.yaml")):
            # the plugin's own message, not Ansible's list of every plugin that could not read the file
            plugin = inventory_loader.get("terraform_output")
            if plugin is None:
                raise InventoryError(f"no terraform_output inventory plugin under {project}/inventory_plugins")
            try:
                if plugin.verify_file(s.path):
                    plugin.parse(InventoryData(), loader, s.path, cache=False)
            except AnsibleError as exc:
                message = exc.message.replace(f"terraform_output: {s.path}: ", "") if s.terraform else exc.message
                raise InventoryError(f"inventory {s.given}: {message}") from None
    if any(encrypted(s.path) for s in sources):
        # ansible-playbook gets the vault password (after `--`); this check does not, so it stands aside
        return Loaded([], {}, None)
    try:
        manager = InventoryManager(loader, sources=[s.path for s in sources])
    except AnsibleError as exc:
        raise InventoryError(f"inventory {', '.join(s.given for s in sources)}: {exc.message}") from None
    import ansible.constants as C

    C.HOST_PATTERN_MISMATCH = "ignore"  # the display asks about patterns (etcd:...) that may match nothing
    if limit:
        manager.subset(limit)
    hosts = [h.name for h in manager.get_hosts()]
    if not hosts:
        if limit:
            raise InventoryError(f"--limit {limit} matches no host of the inventory")
        raise InventoryError(f"inventory {', '.join(s.given for s in sources)} has no hosts")
    groups = {name: sorted(h.name for h in g.get_hosts()) for name, g in manager.groups.items()
              if name not in ("all", "ungrouped")}
    return Loaded(hosts, groups, manager)
