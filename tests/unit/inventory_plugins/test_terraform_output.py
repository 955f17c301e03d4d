"""Inventory plugin terraform_output: the output contract, every source shape, bad inputs, caching."""

import json
import os
import pathlib
import re
import stat
import subprocess
import sys

import pytest
import terraform_output as tfo
import yaml
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from lab import plan

ROOT = pathlib.Path(__file__).resolve().parents[3]
inventory_loader.add_directory(str(ROOT / "inventory_plugins"))

HOSTS = {
    "cp1": {"address": "192.0.2.11", "user": "root", "groups": ["kube_control_plane"], "vars": {}},
    "worker1": {"address": "192.0.2.21", "user": "debian", "groups": ["kube_node"],
                "vars": {"ansible_become": True, "node_zone": "a"}},
    "etcd1": {"address": "etcd1.example.org", "groups": ["etcd"]},
}


def output_json(hosts=None, groups=None, cluster=None, sensitive=()):
    """Outputs as `terraform output -json` prints them."""
    out = {"hosts": {"sensitive": "hosts" in sensitive, "type": "any", "value": HOSTS if hosts is None else hosts}}
    if groups is not None:
        out["groups"] = {"sensitive": "groups" in sensitive, "type": "any", "value": groups}
    if cluster is not None:
        out["cluster"] = {"sensitive": "cluster" in sensitive, "type": "any", "value": cluster}
    return out


def tfstate(outputs):
    """The same outputs in a terraform.tfstate (format version 4)."""
    return {"version": 4, "terraform_version": "1.0.3", "serial": 3, "lineage": "x", "resources": [],
            "outputs": {n: {"value": o["value"], "type": o["type"], **({"sensitive": True} if o["sensitive"] else {})}
                        for n, o in outputs.items()}}


def show_json(outputs):
    """The same outputs as `terraform show -json` prints them."""
    return {"format_version": "0.2", "terraform_version": "1.0.3",
            "values": {"outputs": {n: {"sensitive": o["sensitive"], "value": o["value"]} for n, o in outputs.items()},
                       "root_module": {}}}


def write_source(tmp_path, data, name="outputs.json"):
    src = tmp_path / name
    src.write_text(data if isinstance(data, str) else json.dumps(data))
    return src


def config(tmp_path, source="outputs.json", name="test.terraform.yml", **options):
    cfg = tmp_path / name
    cfg.write_text(yaml.safe_dump({"plugin": "terraform_output", "source": str(source), **options}))
    return cfg


def parse(cfg, cache=True) -> InventoryData:
    """Run the plugin the way Ansible does (loaded by the inventory loader, options from the file)."""
    data = InventoryData()
    plugin = inventory_loader.get("terraform_output")
    plugin.parse(data, DataLoader(), str(cfg), cache=cache)
    if plugin.get_option("cache"):
        plugin.update_cache_if_changed()  # as the InventoryManager does after each source
    return data


def load(tmp_path, data, **options) -> InventoryData:
    write_source(tmp_path, data)
    return parse(config(tmp_path, **options))


def fails(tmp_path, data, **options) -> str:
    write_source(tmp_path, data)
    with pytest.raises(AnsibleParserError) as exc:
        parse(config(tmp_path, **options))
    return str(exc.value)


def members(data: InventoryData, group: str) -> list[str]:
    return sorted(h.name for h in data.groups[group].get_hosts())


# ----------------------------------------------------------------------------- shapes that work
def test_the_lab_json_is_read_as_the_lab_inventory(tmp_path):
    specs = [plan.HostSpec("cp1", ("kube_control_plane",)), plan.HostSpec("worker1", ("kube_node",)),
             plan.HostSpec("worker2", ("kube_node",)), plan.HostSpec("etcd1", ("etcd",))]
    addresses = {"cp1": "172.30.77.11", "worker1": "172.30.77.12", "worker2": "172.30.77.13", "etcd1": "172.30.77.14"}
    inv = load(tmp_path, plan.terraform_output(specs, addresses, "/lab/keys/id_ed25519"))
    assert members(inv, "kube_control_plane") == ["cp1"]
    assert members(inv, "kube_node") == ["worker1", "worker2"]
    assert members(inv, "etcd") == ["etcd1"]
    assert members(inv, "k8s_cluster") == ["cp1", "worker1", "worker2"]
    assert sorted(g.name for g in inv.groups["k8s_cluster"].child_groups) == ["kube_control_plane", "kube_node"]
    cp1 = inv.hosts["cp1"].vars
    assert (cp1["ansible_host"], cp1["ansible_user"]) == ("172.30.77.11", "root")
    assert cp1["ansible_ssh_private_key_file"] == "/lab/keys/id_ed25519"


@pytest.mark.parametrize("shape", [lambda o: o, tfstate, show_json], ids=["output-json", "tfstate-v4", "show-json"])
def test_every_source_shape_gives_the_same_inventory(tmp_path, shape):
    cluster = {"kubesmith_api_vip": "192.0.2.10", "kubesmith_kubernetes_version": "1.31.4"}
    inv = load(tmp_path, shape(output_json(cluster=cluster)))
    assert members(inv, "kube_control_plane") == ["cp1"]
    assert members(inv, "kube_node") == ["worker1"]
    assert members(inv, "etcd") == ["etcd1"]
    assert members(inv, "k8s_cluster") == ["cp1", "worker1"]
    w = inv.hosts["worker1"].vars
    assert (w["ansible_host"], w["ansible_user"]) == ("192.0.2.21", "debian")
    assert (w["ansible_become"], w["node_zone"]) == (True, "a")
    assert "ansible_user" not in inv.hosts["etcd1"].vars  # no user: Ansible's default applies
    all_vars = inv.groups["all"].vars
    assert (all_vars["kubesmith_api_vip"], all_vars["kubesmith_kubernetes_version"]) == ("192.0.2.10", "1.31.4")


def test_groups_output_adds_to_the_groups_hosts_name(tmp_path):
    hosts = {"a1": {"address": "192.0.2.1"}, "b1": {"address": "192.0.2.2", "groups": ["kube_node"]}}
    inv = load(tmp_path, output_json(hosts, groups={"kube_control_plane": ["a1"], "kube_node": ["b1"],
                                                    "lab": ["a1", "b1"], "etcd": None, "k8s_cluster": ["a1", "b1"]}))
    assert members(inv, "kube_control_plane") == ["a1"]
    assert members(inv, "kube_node") == ["b1"]
    assert members(inv, "lab") == ["a1", "b1"]
    assert members(inv, "k8s_cluster") == ["a1", "b1"]
    assert "etcd" not in inv.groups


def test_extra_groups_are_accepted_when_listed(tmp_path):
    hosts = {"g1": {"address": "192.0.2.5", "groups": ["kube_node", "gpu"]}}
    inv = load(tmp_path, output_json(hosts), extra_groups=["gpu"])
    assert members(inv, "gpu") == ["g1"]


def test_extra_groups_take_patterns_but_not_other_tools_names(tmp_path):
    hosts = {"e4": {"address": "192.0.2.5", "groups": ["etcd_spare"]}, "w1": {"address": "192.0.2.6"}}
    assert members(load(tmp_path, output_json(hosts), extra_groups=["etcd_*"]), "etcd_spare") == ["e4"]
    assert members(load(tmp_path, output_json(hosts), extra_groups=["*"]), "etcd_spare") == ["e4"]
    hosts["w1"]["groups"] = ["workers"]
    assert "kubesmith calls it 'kube_node'" in fails(tmp_path, output_json(hosts), extra_groups=["*"])
    assert members(load(tmp_path, output_json(hosts), extra_groups=["*", "workers"]), "workers") == ["w1"]


def test_values_are_data_not_templates(tmp_path):
    hosts = {"cp1": {"address": "192.0.2.11", "vars": {"motd": "{{ lookup('pipe', 'id') }}"}}}
    inv = load(tmp_path, output_json(hosts))
    assert inv.hosts["cp1"].vars["motd"] == "{{ lookup('pipe', 'id') }}"


def test_constructed_options_build_groups_and_vars(tmp_path):
    inv = load(tmp_path, output_json(cluster={"region": "eu"}),
               keyed_groups=[{"key": "node_zone", "prefix": "zone"}], compose={"site": "region ~ '-1'"})
    assert members(inv, "zone_a") == ["worker1"]
    assert inv.hosts["cp1"].vars["site"] == "eu-1"


def test_source_is_relative_to_the_configuration_file(tmp_path, monkeypatch):
    (tmp_path / "tf").mkdir()
    write_source(tmp_path / "tf", output_json())
    monkeypatch.chdir("/")
    inv = parse(config(tmp_path, source="tf/outputs.json"))
    assert "cp1" in inv.hosts


# ----------------------------------------------------------------------------- bad sources
@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("hosts:\n  cp1: {}\n", "is not JSON"),
    ("[1, 2]", "holds a list, not Terraform outputs"),
    ('{"resources": [], "name": "x"}', "its top-level keys are: name, resources"),
    ('{"version": 3, "terraform_version": "0.11.14", "modules": []}', "format version 3"),
    ('{"hosts": {"value": {}}, "groups": ["x"]}', "neither `terraform output -json`"),
])
def test_a_source_that_is_not_terraform_outputs_is_rejected(tmp_path, text, message):
    assert message in fails(tmp_path, text)


def test_a_missing_source_says_so(tmp_path):
    with pytest.raises(AnsibleParserError, match=r"nope\.json does not exist"):
        parse(config(tmp_path, source="nope.json"))


@pytest.mark.parametrize(("data", "message"), [
    ({}, "has no output 'hosts' (outputs present: none (has `terraform apply` run?))"),
    ({"instances": {"value": [], "sensitive": False}}, "has no output 'hosts' (outputs present: instances)"),
    ({"format_version": "1.0"}, "has no output 'hosts' (outputs present: none"),  # `show -json` of an empty state
])
def test_a_missing_hosts_output_names_the_outputs_present(tmp_path, data, message):
    assert message in fails(tmp_path, data)


def test_a_renamed_hosts_output_is_read_by_its_name(tmp_path):
    data = {"machines": output_json()["hosts"]}
    inv = load(tmp_path, data, hosts_output="machines")
    assert "cp1" in inv.hosts


# ----------------------------------------------------------------------------- wrong shapes
@pytest.mark.parametrize(("hosts", "message"), [
    ([{"name": "cp1", "address": "192.0.2.1"}], "must be a map of host name -> {address, user, groups, vars}, got a"),
    ({"cp1": "192.0.2.11"}, "host 'cp1' must be an object {address, user, groups, vars}, got a string"),
    ({"cp1": {"adress": "192.0.2.11"}}, "unknown key 'adress' (did you mean 'address'?)"),
    ({"cp1": {"address": None}}, "host 'cp1' has no address (it is null)"),
    ({"cp1": {"address": ""}}, "has no address (it is empty)"),
    ({"cp1": {"address": "192.0.2.11 192.0.2.12"}}, "address must be an IP address or DNS name"),
    ({"cp1": {"address": 17}}, "address must be an IP address or DNS name, got 17"),
    ({"cp1": {"address": "192.0.2.1", "user": ""}}, "user must be a non-empty string or null"),
    ({"cp1": {"address": "192.0.2.1", "groups": "kube_node"}}, "groups must be a list of group names, got a string"),
    ({"cp1": {"address": "192.0.2.1", "vars": ["a"]}}, "vars must be a map of variable name -> value, got a list"),
    ({"cp1": {"address": "192.0.2.1", "vars": {"node-zone": "a"}}}, "'node-zone' is not a valid Ansible variable name"),
    ({"cp1": {"address": "192.0.2.1", "vars": {"ansible_host": "x"}}}, "set address, not vars.ansible_host"),
    ({"cp 1": {"address": "192.0.2.1"}}, "host name 'cp 1' must start with a letter or digit"),
])
def test_a_host_of_the_wrong_shape_is_rejected_with_the_fix(tmp_path, hosts, message):
    assert message in fails(tmp_path, output_json(hosts))


@pytest.mark.parametrize(("groups", "message"), [
    (["kube_nodes"], "unknown group 'kube_nodes' (did you mean 'kube_node'?)"),
    (["workers"], "group 'workers' is another tool's name; kubesmith calls it 'kube_node'"),
    (["control_plane"], "kubesmith calls it 'kube_control_plane'"),
    (["masters"], "kubesmith calls it 'kube_control_plane'"),
    (["gpu"], "add it to extra_groups in the inventory configuration"),
    ([""], "a group name must be a non-empty string"),
])
def test_an_unknown_group_is_rejected_with_the_name_to_use(tmp_path, groups, message):
    assert message in fails(tmp_path, output_json({"h1": {"address": "192.0.2.1", "groups": groups}}))


@pytest.mark.parametrize(("groups", "message"), [
    (["kube_control_plane"], "must be a map of group name -> list of host names, got a list"),
    ({"kube_node": "w1"}, "group 'kube_node' must be a list of host names, got a string"),
    ({"kube_node": ["worker9"]}, "names host \"worker9\", which is not in output 'hosts' (did you mean 'worker1'?)"),
    ({"kube-node": ["worker1"]}, "kubesmith calls it 'kube_node'"),
])
def test_a_bad_groups_output_is_rejected(tmp_path, groups, message):
    assert message in fails(tmp_path, output_json(groups=groups))


def test_a_k8s_cluster_host_outside_control_plane_and_workers_is_rejected(tmp_path):
    message = fails(tmp_path, output_json(groups={"k8s_cluster": ["etcd1"]}))
    assert "host etcd1 is in 'k8s_cluster' but in none of kube_control_plane, kube_node" in message


@pytest.mark.parametrize(("cluster", "message"), [
    (["x"], "output 'cluster' must be a map of variable name -> value, got a list"),
    ({"api-endpoint": "x"}, "'api-endpoint' is not a valid Ansible variable name"),
])
def test_a_bad_cluster_output_is_rejected(tmp_path, cluster, message):
    assert message in fails(tmp_path, output_json(cluster=cluster))


def test_an_empty_cluster_output_is_fine(tmp_path):
    inv = load(tmp_path, output_json(cluster=None) | {"cluster": {"value": None, "sensitive": False}})
    assert "cp1" in inv.hosts


# ----------------------------------------------------------------------------- sensitive values
SECRET = "s3cr3t-t0ken"


@pytest.mark.parametrize(("data", "fragment"), [
    (output_json({"cp1": {"address": f"192.0.2.1 {SECRET}"}}, sensitive=("hosts",)), "address must be"),
    (output_json({"cp1": {"address": "192.0.2.1", "vars": [SECRET]}}, sensitive=("hosts",)), "vars must be a map"),
    (output_json({"cp1": SECRET}, sensitive=("hosts",)), "must be an object"),
    (output_json([SECRET], sensitive=("hosts",)), "must be a map of host name"),
    (output_json(cluster=[SECRET], sensitive=("cluster",)), "output 'cluster' must be a map"),
    (tfstate(output_json(cluster=[SECRET], sensitive=("cluster",))), "output 'cluster' must be a map"),
])
def test_a_sensitive_value_is_never_printed(tmp_path, data, fragment):
    message = fails(tmp_path, data)
    assert fragment in message
    assert SECRET not in message
    assert tfo.HIDDEN in message


def test_sensitive_outputs_are_used(tmp_path):
    inv = load(tmp_path, output_json(cluster={"join_token": SECRET}, sensitive=("cluster", "hosts")))
    assert inv.groups["all"].vars["join_token"] == SECRET
    assert inv.hosts["cp1"].vars["ansible_host"] == "192.0.2.11"


# ----------------------------------------------------------------------------- configuration
def test_an_unknown_configuration_key_is_rejected_with_a_suggestion(tmp_path):
    write_source(tmp_path, output_json())
    with pytest.raises(AnsibleParserError, match=r"unknown key 'extra_group' \(did you mean 'extra_groups'\?\)"):
        parse(config(tmp_path, extra_group=["gpu"]))


def test_a_configuration_without_source_is_rejected(tmp_path):
    cfg = tmp_path / "x.terraform.yml"
    cfg.write_text("plugin: terraform_output\n")
    with pytest.raises(AnsibleError, match="Required config 'source' for 'terraform_output' inventory plugin"):
        parse(cfg)


def test_a_bad_extra_group_name_is_rejected(tmp_path):
    message = fails(tmp_path, output_json(), extra_groups=["gpu-nodes"])
    assert "extra_groups: 'gpu-nodes' is neither a valid group name" in message


@pytest.mark.parametrize(("name", "wanted"), [
    ("lab.terraform.yml", True), ("terraform.yaml", True), ("prod.terraform.yaml", True),
    ("hosts.yml", False), ("terraform.json", False), ("terraform.yml.bak", False),
])
def test_verify_file_accepts_only_terraform_configuration_names(tmp_path, name, wanted):
    path = tmp_path / name
    path.write_text("plugin: terraform_output\nsource: x\n")
    assert inventory_loader.get("terraform_output").verify_file(str(path)) is wanted


def test_verify_file_rejects_a_missing_file(tmp_path):
    assert not inventory_loader.get("terraform_output").verify_file(str(tmp_path / "gone.terraform.yml"))


def test_every_option_the_code_reads_is_documented():
    doc = yaml.safe_load(tfo.DOCUMENTATION)
    source = pathlib.Path(tfo.__file__).read_text()
    used = set(re.findall(r"get_option\(\"(\w+)\"\)", source))
    documented = set(doc["options"]) | {"cache", "compose", "groups", "keyed_groups", "strict"}  # fragments
    assert used, "no get_option call found"
    assert used <= documented, f"undocumented options: {used - documented}"
    for example in yaml.safe_load_all(tfo.EXAMPLES):
        assert example["plugin"] == "terraform_output"
        assert set(example) <= documented | {"plugin", "cache_plugin", "cache_connection"}


# ----------------------------------------------------------------------------- running terraform (a stand-in binary)
FAKE = """#!/bin/sh
# stand-in for terraform: records each call, then acts as $FAKE_MODE says
echo "$PWD $*" >> "{calls}"
case "$FAKE_MODE" in
  fail) echo 'Error: Backend initialization required, please run "terraform init"' >&2; exit 1 ;;
  slow) sleep 5 ;;
esac
cat "{outputs}"
"""


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.tf").write_text('output "hosts" { value = {} }\n')
    outputs = write_source(tmp_path, output_json(), name="fake-outputs.json")
    exe = tmp_path / "fake-terraform"
    exe.write_text(FAKE.format(calls=tmp_path / "calls", outputs=outputs))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("FAKE_MODE", raising=False)

    class Fake:
        path, dir = exe, project

        @staticmethod
        def calls():
            f = tmp_path / "calls"
            return f.read_text().splitlines() if f.exists() else []

    return Fake


def test_a_terraform_directory_runs_terraform_output_json_there(tmp_path, fake_terraform):
    inv = parse(config(tmp_path, source="project", binary=str(fake_terraform.path)))
    assert "cp1" in inv.hosts
    assert fake_terraform.calls() == [f"{fake_terraform.dir} output -json -no-color"]


def test_a_failing_terraform_shows_its_error_and_the_fix(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "fail")
    with pytest.raises(AnsibleParserError, match=r"(?s)failed in .*project \(rc=1\).*Backend initialization.*"
                                                 r"Run `terraform init` there first"):
        parse(config(tmp_path, source="project", binary=str(fake_terraform.path)))


def test_a_hanging_terraform_is_stopped(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "slow")
    with pytest.raises(AnsibleParserError, match="did not finish in 1s"):
        parse(config(tmp_path, source="project", binary=str(fake_terraform.path), timeout=1))


def test_no_terraform_binary_is_a_clear_error(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "empty" / "python"))
    with pytest.raises(AnsibleParserError, match="no terraform executable"):
        parse(config(tmp_path, source="project"))
    with pytest.raises(AnsibleParserError, match="'nonexistent-terraform' is not an executable terraform"):
        parse(config(tmp_path, source="project", binary="nonexistent-terraform"))


def test_a_directory_without_terraform_files_is_rejected(tmp_path, fake_terraform):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnsibleParserError, match="directory without a Terraform configuration"):
        parse(config(tmp_path, source="empty", binary=str(fake_terraform.path)))


def test_the_workspace_option_selects_the_terraform_workspace(tmp_path, monkeypatch):
    seen = {}

    def run(argv, **kw):
        seen.update(kw["env"])
        return subprocess.CompletedProcess(argv, 0, json.dumps(output_json()), "")

    monkeypatch.setattr(tfo.subprocess, "run", run)
    (tmp_path / "main.tf").write_text("")
    tfo.run_terraform(str(tmp_path), binary=sys.executable, workspace="staging")
    assert seen["TF_WORKSPACE"] == "staging"
    assert seen["CHECKPOINT_DISABLE"] == "1"


# ----------------------------------------------------------------------------- caching
def cache_options(tmp_path):
    return {"cache": True, "cache_plugin": "jsonfile", "cache_connection": str(tmp_path / "cache")}


def test_the_cache_saves_terraform_runs_and_a_refresh_reruns_it(tmp_path, fake_terraform):
    cfg = config(tmp_path, source="project", binary=str(fake_terraform.path), **cache_options(tmp_path))
    parse(cfg)
    inv = parse(cfg)
    assert "cp1" in inv.hosts
    assert len(fake_terraform.calls()) == 1
    parse(cfg, cache=False)  # --flush-cache / refresh_inventory
    assert len(fake_terraform.calls()) == 2


def test_the_cache_notices_a_changed_source_file(tmp_path):
    cfg = config(tmp_path, **cache_options(tmp_path))
    write_source(tmp_path, output_json())
    assert "etcd1" in parse(cfg).hosts
    src = write_source(tmp_path, output_json({"cp9": {"address": "192.0.2.9", "groups": ["kube_control_plane"]}}))
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    assert list(parse(cfg).hosts) == ["cp9"]


def test_sensitive_outputs_are_never_written_to_the_cache(tmp_path):
    cfg = config(tmp_path, **cache_options(tmp_path))
    write_source(tmp_path, output_json(cluster={"join_token": SECRET}, sensitive=("cluster",)))
    parse(cfg)
    written = [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert not any(SECRET in text for text in written)
    write_source(tmp_path, output_json(cluster={"join_token": "public"}))
    parse(cfg)
    assert any("public" in p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- ansible-inventory, for real
def plain(value):
    """ansible-inventory --list marks values that are data, not templates, as {'__ansible_unsafe': value}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    return [plain(v) for v in value] if isinstance(value, list) else value


def ansible_inventory(cfg) -> dict:
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-inventory"), "-i", str(cfg), "--list"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
             "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    return plain(json.loads(proc.stdout))


def test_ansible_inventory_lists_the_lab_json_and_a_tfstate(tmp_path):
    specs = [plan.HostSpec("cp1", ("kube_control_plane",)), plan.HostSpec("worker1", ("kube_node",))]
    lab = write_source(tmp_path, plan.terraform_output(specs, {"cp1": "172.30.77.11", "worker1": "172.30.77.12"}, "/k"),
                       name="terraform-output.json")
    state = write_source(tmp_path, tfstate(output_json()), name="terraform.tfstate")
    for src, cp, kube_node in ((lab, ["cp1"], ["worker1"]), (state, ["cp1"], ["worker1"])):
        listed = ansible_inventory(config(tmp_path, source=src.name, name=f"{src.stem}.terraform.yml"))
        assert listed["kube_control_plane"]["hosts"] == cp
        assert listed["kube_node"]["hosts"] == kube_node
        assert sorted(listed["k8s_cluster"]["children"]) == ["kube_control_plane", "kube_node"]
    assert listed["etcd"]["hosts"] == ["etcd1"]
    assert listed["_meta"]["hostvars"]["worker1"]["ansible_host"] == "192.0.2.21"
