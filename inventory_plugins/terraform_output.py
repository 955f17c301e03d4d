"""Inventory plugin: kubesmith hosts, groups and variables from Terraform outputs."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.vars import combine_vars, isidentifier

DOCUMENTATION = r"""
---
name: terraform_output
short_description: Hosts, groups and variables from the outputs of a Terraform configuration
description:
  - Turns the outputs of the Terraform that created the hosts into Ansible hosts, groups and
    variables, with no glue script. The outputs must follow kubesmith's contract
    (C(terraform/README.md)); the example modules under C(terraform/) write it.
  - Output C(hosts) (required) is a map of host name to an object with C(address) (required,
    the IP address or DNS name Ansible connects to, set as C(ansible_host)), C(user) (optional,
    set as C(ansible_user)), C(groups) (optional list of group names) and C(vars) (optional map
    of host variables).
  - Output C(groups) (optional) is a map of group name to a list of host names; it adds to the
    groups the hosts name themselves.
  - Output C(cluster) (optional) is a map of variables set on every host (group C(all)), for
    example the API endpoint.
  - Groups must be ones kubesmith knows (C(kube_control_plane), C(kube_node), C(etcd),
    C(loadbalancers), C(k8s_cluster), C(lab)) or be listed in O(extra_groups); another name is
    an error that says which group to use. C(k8s_cluster) is always the parent of
    C(kube_control_plane) and C(kube_node).
  - The source is a saved C(terraform output -json) file, a saved C(terraform show -json) file,
    a state file (C(terraform.tfstate), format version 4, Terraform 0.12 and later) or a
    Terraform configuration directory, in which C(terraform output -json) is run (it must have
    been initialised with C(terraform init)).
  - Values from Terraform are data, never templates.
  - Outputs marked C(sensitive) are used, but their values are never printed in an error and
    never written to the inventory cache.
  - With the inventory cache on, a source file is read again when it changes; the outputs of a
    Terraform directory are kept for O(cache_timeout).
  - The name of the configuration file must end in C(terraform.yml) or C(terraform.yaml), for
    example C(inventory/prod.terraform.yml). Keys this plugin does not know are an error.
version_added: "0.1.0"
author: kubesmith
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as a configuration of this plugin.
    type: str
    required: true
    choices: [terraform_output]
  source:
    description:
      - Where the outputs come from. A file (C(terraform output -json) or C(terraform show -json)
        output, or a C(terraform.tfstate)) is read; a directory holding a Terraform configuration
        has C(terraform output -json) run in it.
      - A relative path is relative to the directory of this configuration file.
    type: str
    required: true
  binary:
    description:
      - The terraform executable used when O(source) is a directory. By default C(terraform) on
        E(PATH), then one beside the Python running Ansible (a virtualenv's C(bin/)).
    type: str
  workspace:
    description: Terraform workspace to read when O(source) is a directory (sets E(TF_WORKSPACE)).
    type: str
  timeout:
    description: Seconds C(terraform output) may take (a remote state backend may be slow).
    type: int
    default: 120
  hosts_output:
    description: Name of the output that holds the hosts.
    type: str
    default: hosts
  groups_output:
    description: Name of the optional output that maps groups to host names.
    type: str
    default: groups
  cluster_output:
    description: Name of the optional output that holds variables for every host.
    type: str
    default: cluster
  extra_groups:
    description:
      - Group names accepted besides the ones kubesmith knows, for groups that your own plays use.
        Shell-style patterns match several (C(etcd_*)); C(*) accepts any valid group name, but
        names other tools use for kubesmith's groups (C(masters), C(kube_node), ...) are still
        rejected unless listed by name.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
# inventory/prod.terraform.yml: a Terraform configuration, read with `terraform output -json`
plugin: terraform_output
source: ../terraform/libvirt

# inventory/lab.terraform.yml: the lab's hosts, in the same contract
plugin: terraform_output
source: ../.lab/terraform-output.json

# a state file, with an extra group and variables built from host variables
plugin: terraform_output
source: /srv/terraform/cluster/terraform.tfstate
extra_groups: [gpu]
compose:
  node_zone: zone | default('a')
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/kubesmith-inventory
"""

# Groups kubesmith's playbooks read, and the parent groups it builds from them.
KNOWN_GROUPS = ("kube_control_plane", "kube_node", "etcd", "loadbalancers", "k8s_cluster", "lab")
PARENT_GROUPS = {"k8s_cluster": ("kube_control_plane", "kube_node")}
# Group names other tools use, and the kubesmith group to rename each to (as the
# inventory_check role rejects them).
RENAMED_GROUPS = {
    "control_plane": "kube_control_plane",
    "controlplane": "kube_control_plane",
    "kube-master": "kube_control_plane",
    "kube_master": "kube_control_plane",
    "masters": "kube_control_plane",
    "master": "kube_control_plane",
    "workers": "kube_node",
    "worker": "kube_node",
    "kube-node": "kube_node",
    "nodes": "kube_node",
    "node": "kube_node",
    "agents": "kube_node",
}
HOST_KEYS = ("address", "user", "groups", "vars")
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CONFIG_SUFFIXES = ("terraform.yml", "terraform.yaml")
HIDDEN = "(value hidden: the output is sensitive)"


class ContractError(ValueError):
    """The outputs do not follow the contract; the message says what to change."""


@dataclasses.dataclass
class Output:
    value: object
    sensitive: bool = False


@dataclasses.dataclass
class Model:
    """What the outputs mean for Ansible."""

    hosts: dict[str, dict] = dataclasses.field(default_factory=dict)  # host -> variables
    groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # group -> hosts
    children: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # parent -> groups
    cluster_vars: dict = dataclasses.field(default_factory=dict)
    sensitive: bool = False  # some output used is sensitive


# ----------------------------------------------------------------------------- reading outputs
def show(value, sensitive: bool) -> str:
    """A value for an error message: short, and never a sensitive one."""
    if sensitive:
        return HIDDEN
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value) -> str:
    return {dict: "a map", list: "a list", str: "a string", bool: "a bool", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def parse_outputs(data, origin: str) -> dict[str, Output]:
    """The outputs in any of the JSON shapes Terraform writes them in.

    - ``terraform output -json``: ``{name: {"value", "type", "sensitive"}}``;
    - ``terraform show -json``: ``{"format_version", "values": {"outputs": {...}}}``;
    - a state file, format version 4: ``{"version": 4, "terraform_version", "outputs": {...}}``.
    """
    if not isinstance(data, dict):
        raise ContractError(f"{origin} holds {_kind(data)}, not Terraform outputs: point source at the output of "
                            "`terraform output -json`, a terraform.tfstate or a Terraform directory")
    if isinstance(data.get("version"), int) and "terraform_version" in data:
        if data["version"] != 4:
            raise ContractError(
                f"{origin} is a Terraform state of format version {data['version']} "
                f"(Terraform {data.get('terraform_version')}); only version 4 (Terraform 0.12 and later) is read. "
                "Upgrade the state, or save `terraform output -json` and point source at that file")
        raw = data.get("outputs") or {}
    elif "format_version" in data:  # an empty state shows as {"format_version": ...} alone
        raw = (data.get("values") or {}).get("outputs") or {}
    elif data and all(isinstance(v, dict) and "value" in v for v in data.values()):
        raw = data
    elif not data:
        raw = {}
    else:
        keys = ", ".join(sorted(data)[:6])
        raise ContractError(
            f"{origin} is neither `terraform output -json` output (each output an object with 'value'), "
            f"`terraform show -json` output nor a terraform.tfstate; its top-level keys are: {keys}")
    if not isinstance(raw, dict):
        raise ContractError(f"{origin}: 'outputs' is {_kind(raw)}, not a map of outputs")
    outputs = {}
    for name, out in raw.items():
        if not isinstance(out, dict) or "value" not in out:
            raise ContractError(f"{origin}: output {name!r} has no 'value' "
                                "(a Terraform output is an object with 'value')")
        outputs[name] = Output(out["value"], bool(out.get("sensitive", False)))
    return outputs


def find_terraform(binary: str | None = None) -> str:
    """The terraform executable: the one asked for, else on PATH, else beside this Python."""
    if binary:
        path = shutil.which(os.path.expanduser(binary))
        if not path:
            raise ContractError(f"binary {binary!r} is not an executable terraform")
        return path
    path = shutil.which("terraform")
    beside = os.path.join(os.path.dirname(sys.executable), "terraform")
    if not path and os.access(beside, os.X_OK):
        path = beside
    if not path:
        raise ContractError(
            "no terraform executable: none on PATH nor beside the Python running Ansible "
            f"({os.path.dirname(sys.executable)}). Install Terraform, set `binary:`, or save "
            "`terraform output -json` to a file and point source at it")
    return path


def run_terraform(directory: str, binary: str | None = None, workspace: str | None = None,
                  timeout: int = 120) -> str:
    """``terraform output -json`` in a configuration directory; its stdout."""
    names = os.listdir(directory)
    if not any(n.endswith((".tf", ".tf.json")) for n in names) and "terraform.tfstate" not in names:
        raise ContractError(f"{directory} is a directory without a Terraform configuration (*.tf files)")
    exe = find_terraform(binary)
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
    if workspace:
        env["TF_WORKSPACE"] = workspace
    argv = [exe, "output", "-json", "-no-color"]
    try:
        proc = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ContractError(f"`terraform output -json` in {directory} did not finish in {timeout}s "
                            "(a state backend that does not answer?); raise `timeout:` or save the output "
                            "to a file") from None
    except OSError as exc:
        raise ContractError(f"cannot run {exe}: {exc}") from None
    if proc.returncode != 0:
        err = "\n".join(proc.stderr.strip().splitlines()[-12:])
        hint = " Run `terraform init` there first." if "init" in proc.stderr else ""
        raise ContractError(
            f"`terraform output -json` failed in {directory} (rc={proc.returncode}):\n{err}\n{hint}".rstrip())
    return proc.stdout


def read_source(source: str, binary: str | None = None, workspace: str | None = None,
                timeout: int = 120) -> dict[str, Output]:
    """Every output of ``source`` (a file or a Terraform directory)."""
    if os.path.isdir(source):
        text, origin = run_terraform(source, binary, workspace, timeout), f"`terraform output -json` in {source}"
    else:
        try:
            with open(source, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise ContractError(f"source {source} does not exist (has `terraform apply` run, or the lab been "
                                "started?)") from None
        except OSError as exc:
            raise ContractError(f"cannot read source {source}: {exc}") from None
        origin = source
    if not text.strip():
        raise ContractError(f"{origin} is empty: no Terraform outputs (has `terraform apply` run?)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{origin} is not JSON ({exc}); save outputs with `terraform output -json > FILE`") from None
    return parse_outputs(data, origin)


# ----------------------------------------------------------------------------- the contract
def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_group(group, where: str, allowed: tuple[str, ...]) -> str:
    """``group`` if kubesmith knows it or ``allowed`` (names and glob patterns) admits it."""
    if not isinstance(group, str) or not group:
        raise ContractError(f"{where}: a group name must be a non-empty string, got {show(group, False)}")
    if group in allowed:
        return group
    if group in RENAMED_GROUPS:
        raise ContractError(f"{where}: group {group!r} is another tool's name; kubesmith calls it "
                            f"{RENAMED_GROUPS[group]!r}: rename it in the Terraform output")
    patterns = [p for p in allowed if any(c in p for c in "*?[")]
    if any(fnmatch.fnmatchcase(group, p) for p in patterns):
        if not isidentifier(group):
            raise ContractError(f"{where}: {group!r} is not a valid group name (letters, digits and '_')")
        return group
    raise ContractError(
        f"{where}: unknown group {group!r}{_suggest(group, allowed)}. kubesmith knows "
        f"{', '.join(KNOWN_GROUPS)}; add it to extra_groups in the inventory configuration if your own "
        "plays use it")


def _check_vars(value, where: str, sensitive: bool) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContractError(f"{where} must be a map of variable name -> value, got {_kind(value)}: "
                            f"{show(value, sensitive)}")
    for key in value:
        if not isidentifier(key):
            raise ContractError(f"{where}: {key!r} is not a valid Ansible variable name "
                                "(letters, digits and '_', not starting with a digit)")
    return dict(value)


def _host(name, spec, sensitive: bool, allowed: tuple[str, ...], out: str) -> tuple[dict, list[str]]:
    """A host's variables and groups from its entry in the hosts output."""
    where = f"output {out!r}, host {name!r}"
    if not HOST_NAME_RE.match(name):
        raise ContractError(f"output {out!r}: host name {name!r} must start with a letter or digit and hold only "
                            "letters, digits, '.', '_' and '-'")
    if not isinstance(spec, dict):
        raise ContractError(f"{where} must be an object {{address, user, groups, vars}}, got {_kind(spec)}: "
                            f"{show(spec, sensitive)}")
    for key in spec:
        if key not in HOST_KEYS:
            raise ContractError(f"{where}: unknown key {key!r}{_suggest(key, HOST_KEYS)}; a host has "
                                f"{', '.join(HOST_KEYS)} (put anything else in vars)")
    address = spec.get("address")
    if address is None or address == "":
        raise ContractError(f"{where} has no address (it is {'null' if address is None else 'empty'}): "
                            "an instance without an IP address yet? Refresh or apply the Terraform state")
    if not isinstance(address, str) or any(c.isspace() for c in address):
        raise ContractError(f"{where}: address must be an IP address or DNS name, got {show(address, sensitive)}")
    user = spec.get("user")
    if user is not None and (not isinstance(user, str) or not user):
        raise ContractError(f"{where}: user must be a non-empty string or null, got {show(user, sensitive)}")
    groups = spec.get("groups")
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        raise ContractError(f"{where}: groups must be a list of group names, got {_kind(groups)}: "
                            f"{show(groups, sensitive)}")
    groups = [_check_group(g, where, allowed) for g in groups]
    hostvars = _check_vars(spec.get("vars"), f"{where}, vars", sensitive)
    for key, field in (("ansible_host", "address"), ("ansible_user", "user")):
        if key in hostvars:
            raise ContractError(f"{where}: set {field}, not vars.{key}")
    result = {"ansible_host": address}
    if user:
        result["ansible_user"] = user
    result.update(hostvars)
    return result, groups


def build_model(outputs: dict[str, Output], hosts_output: str = "hosts", groups_output: str = "groups",
                cluster_output: str = "cluster", extra_groups=(), origin: str = "the outputs") -> Model:
    """Hosts, groups and cluster variables from the outputs, checked against the contract."""
    allowed = tuple(KNOWN_GROUPS) + tuple(_check_extra(extra_groups))
    if hosts_output not in outputs:
        have = ", ".join(sorted(outputs)) if outputs else "none (has `terraform apply` run?)"
        raise ContractError(
            f"{origin} has no output {hosts_output!r} (outputs present: {have}). Add "
            f'output "{hosts_output}" {{ value = {{ <name> = {{ address, user, groups, vars }} }} }} '
            "to the Terraform configuration (terraform/README.md)")
    model = Model()
    hosts_out = outputs[hosts_output]
    model.sensitive = hosts_out.sensitive
    if not isinstance(hosts_out.value, dict):
        hint = (" In Terraform, make a map: { for h in <list> : h.name => { address = ..., groups = [...] } }"
                if isinstance(hosts_out.value, list) else "")
        raise ContractError(f"output {hosts_output!r} must be a map of host name -> "
                            f"{{address, user, groups, vars}}, got {_kind(hosts_out.value)}: "
                            f"{show(hosts_out.value, hosts_out.sensitive)}.{hint}")
    memberships: dict[str, list[str]] = {}
    for name, spec in hosts_out.value.items():
        model.hosts[name], groups = _host(name, spec, hosts_out.sensitive, allowed, hosts_output)
        for g in groups:
            members = memberships.setdefault(g, [])
            if name not in members:
                members.append(name)

    groups_out = outputs.get(groups_output)
    if groups_out is not None and groups_out.value is not None:
        model.sensitive |= groups_out.sensitive
        if not isinstance(groups_out.value, dict):
            raise ContractError(f"output {groups_output!r} must be a map of group name -> list of host names, "
                                f"got {_kind(groups_out.value)}: {show(groups_out.value, groups_out.sensitive)}")
        for group, names in groups_out.value.items():
            where = f"output {groups_output!r}"
            _check_group(group, where, allowed)
            if names is None:
                names = []
            if not isinstance(names, list):
                raise ContractError(f"{where}, group {group!r} must be a list of host names, got {_kind(names)}: "
                                    f"{show(names, groups_out.sensitive)}")
            members = memberships.setdefault(group, [])
            for n in names:
                if n not in model.hosts:
                    raise ContractError(f"{where}, group {group!r} names host {show(n, False)}, which is not in "
                                        f"output {hosts_output!r}{_suggest(str(n), model.hosts)}")
                if n not in members:
                    members.append(n)

    for parent, kids in PARENT_GROUPS.items():
        stray = [h for h in memberships.get(parent, [])
                 if not any(h in memberships.get(k, []) for k in kids)]
        if stray:
            raise ContractError(f"host {', '.join(stray)} is in {parent!r} but in none of {', '.join(kids)}: "
                                f"{parent} is made of {' + '.join(kids)}, so put the host in one of those")
        present = [k for k in kids if memberships.get(k)]
        if present:
            model.children[parent] = present
            memberships.pop(parent, None)  # membership comes through the children
    model.groups = {g: hs for g, hs in memberships.items() if hs}

    cluster_out = outputs.get(cluster_output)
    if cluster_out is not None:
        model.sensitive |= cluster_out.sensitive
        model.cluster_vars = _check_vars(cluster_out.value, f"output {cluster_output!r}", cluster_out.sensitive)
    return model


def _check_extra(extra_groups) -> list[str]:
    for g in extra_groups or ():
        glob = isinstance(g, str) and any(c in g for c in "*?[") and re.fullmatch(r"[A-Za-z0-9_*?\[\]!-]+", g)
        if not isinstance(g, str) or not (isidentifier(g) or glob):
            raise ContractError(f"extra_groups: {g!r} is neither a valid group name (letters, digits and '_') "
                                "nor a pattern of one (etcd_*)")
    return list(extra_groups or ())


def resolve_source(source: str, config_path: str) -> str:
    """``source`` with ~ and $VARS expanded, relative to the configuration file's directory."""
    path = os.path.expandvars(os.path.expanduser(source))
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(config_path)), path)
    return os.path.normpath(path)


def _stamp(path: str):
    """What tells a changed source file: size and modification time (None for a directory)."""
    if os.path.isdir(path):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# ----------------------------------------------------------------------------- the plugin
class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "terraform_output"

    def verify_file(self, path):
        return super().verify_file(path) and str(path).endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        unknown = sorted(set(config) - set(self._options))
        if unknown:
            raise AnsibleParserError(
                f"terraform_output: {path}: unknown key {unknown[0]!r}{_suggest(unknown[0], self._options)}; "
                f"the keys are: {', '.join(sorted(self._options))}")
        names = (self.get_option("hosts_output"), self.get_option("groups_output"), self.get_option("cluster_output"))
        try:
            source = resolve_source(self.get_option("source"), path)
            outputs = self._outputs(source, path, cache, names)
            model = build_model(outputs, *names, extra_groups=self.get_option("extra_groups"), origin=source)
        except ContractError as exc:
            raise AnsibleParserError(f"terraform_output: {path}: {exc}") from None
        self._populate(model)

    def _outputs(self, source: str, path: str, cache: bool, names) -> dict[str, Output]:
        """The outputs this plugin uses, from the cache when allowed and still fresh."""
        use_cache = self.get_option("cache")
        key = self.get_cache_key(path)
        stamp = _stamp(source)
        if use_cache and cache:
            try:
                entry = self._cache[key]
            except KeyError:
                entry = None
            if entry and entry.get("source") == source and entry.get("stamp") == stamp:
                return {n: Output(o["value"], o["sensitive"]) for n, o in entry["outputs"].items()}
        outputs = read_source(source, self.get_option("binary"), self.get_option("workspace"),
                              self.get_option("timeout"))
        used = {n: o for n, o in outputs.items() if n in names}
        if use_cache:
            if any(o.sensitive for o in used.values()):
                self.display.vvv(f"terraform_output: {path}: a sensitive output is used, so nothing is cached")
            else:
                self._cache[key] = {"source": source, "stamp": stamp,
                                    "outputs": {n: dataclasses.asdict(o) for n, o in used.items()}}
        return outputs

    def _populate(self, model: Model) -> None:
        inv = self.inventory
        for name, hostvars in model.hosts.items():
            inv.add_host(name)
            for k, v in hostvars.items():
                inv.set_variable(name, k, v)
        for group, members in model.groups.items():
            inv.add_group(group)
            for h in members:
                inv.add_child(group, h)
        for parent, kids in model.children.items():
            inv.add_group(parent)
            for kid in kids:
                inv.add_group(kid)
                inv.add_child(parent, kid)
        for k, v in model.cluster_vars.items():
            inv.set_variable("all", k, v)
        strict = self.get_option("strict")
        for name in model.hosts:
            hostvars = combine_vars(model.cluster_vars, inv.get_host(name).get_vars())
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
