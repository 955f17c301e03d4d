"""terraform_output against a real terraform binary, and the example modules under terraform/.

Uses the terraform of the virtualenv (requirements.txt installs a Terraform 1.0 build from PyPI)
or one on PATH; skipped, with the reason, when there is none. Only configurations without a
provider are applied (variables and outputs), so nothing is downloaded.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

ROOT = pathlib.Path(__file__).resolve().parents[3]
inventory_loader.add_directory(str(ROOT / "inventory_plugins"))


def find_terraform():
    beside = pathlib.Path(sys.executable).parent / "terraform"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("terraform")


TERRAFORM = find_terraform()
pytestmark = pytest.mark.skipif(
    TERRAFORM is None, reason="no terraform binary (make setup installs one into .venv from PyPI on x86_64 Linux)")
ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
       "TF_CLI_CONFIG_FILE": os.devnull, "PATH": f"{pathlib.Path(TERRAFORM or '/').parent}:{os.environ['PATH']}"}

STATIC_TFVARS = {
    "hosts": {
        "cp1": {"address": "192.0.2.11", "user": "debian", "groups": ["kube_control_plane"],
                "vars": {"ansible_become": True}},
        "worker1": {"address": "192.0.2.21", "groups": ["kube_node", "lab"]},
        "etcd1": {"address": "etcd1.example.org", "user": "admin", "groups": ["etcd"], "vars": {"etcd_member": "e1"}},
    },
    "cluster": {"kubesmith_kubernetes_version": "1.31.4", "kubesmith_api_vip": "192.0.2.10"},
}

# A configuration of variables and outputs only, with a sensitive output.
SENSITIVE_TF = """
variable "token" {
  type      = string
  sensitive = true
}
variable "hosts" {
  type = any
}
output "hosts" {
  value     = var.hosts
  sensitive = true
}
output "cluster" {
  value     = { join_token = var.token }
  sensitive = true
}
"""
SECRET = "abcdef.0123456789abcdef"


def tf(cwd, *args, check=True):
    proc = subprocess.run([TERRAFORM, *args, "-no-color"], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=120, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def parse(tmp_path, source, **options):
    cfg = tmp_path / f"t{len(list(tmp_path.glob('*.terraform.yml')))}.terraform.yml"
    cfg.write_text(yaml.safe_dump({"plugin": "terraform_output", "source": str(source), **options}))
    data = InventoryData()
    inventory_loader.get("terraform_output").parse(data, DataLoader(), str(cfg), cache=False)
    return data


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of terraform/ (the examples refer to ../modules), without anything a user left there."""
    dest = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(ROOT / "terraform", dest,
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "terraform.tfvars"))
    return dest


@pytest.fixture(scope="module")
def static(tree):
    """terraform/static applied for real with three hosts."""
    d = tree / "static"
    (d / "terraform.tfvars.json").write_text(json.dumps(STATIC_TFVARS))
    tf(d, "init", "-input=false")
    tf(d, "apply", "-auto-approve", "-input=false")
    return d


def check_static_inventory(inv):
    assert sorted(h.name for h in inv.groups["kube_control_plane"].get_hosts()) == ["cp1"]
    assert sorted(h.name for h in inv.groups["kube_node"].get_hosts()) == ["worker1"]
    assert sorted(h.name for h in inv.groups["etcd"].get_hosts()) == ["etcd1"]
    assert sorted(h.name for h in inv.groups["lab"].get_hosts()) == ["worker1"]
    assert sorted(h.name for h in inv.groups["k8s_cluster"].get_hosts()) == ["cp1", "worker1"]
    cp1, etcd1 = inv.hosts["cp1"].vars, inv.hosts["etcd1"].vars
    assert (cp1["ansible_host"], cp1["ansible_user"], cp1["ansible_become"]) == ("192.0.2.11", "debian", True)
    assert (etcd1["ansible_host"], etcd1["ansible_user"], etcd1["etcd_member"]) == ("etcd1.example.org", "admin", "e1")
    assert "ansible_user" not in inv.hosts["worker1"].vars
    all_vars = inv.groups["all"].vars
    assert (all_vars["kubesmith_kubernetes_version"], all_vars["kubesmith_api_vip"]) == ("1.31.4", "192.0.2.10")


def test_the_plugin_runs_terraform_output_in_the_directory(tmp_path, static):
    check_static_inventory(parse(tmp_path, static, binary=TERRAFORM))


def test_the_plugin_reads_the_state_file(tmp_path, static):
    assert json.loads((static / "terraform.tfstate").read_text())["version"] == 4
    check_static_inventory(parse(tmp_path, static / "terraform.tfstate"))


@pytest.mark.parametrize("command", [["output", "-json"], ["show", "-json"]])
def test_the_plugin_reads_saved_terraform_json(tmp_path, static, command):
    saved = tmp_path / "saved.json"
    saved.write_text(tf(static, *command).stdout)
    check_static_inventory(parse(tmp_path, saved))


def test_the_module_rejects_a_host_without_address_at_plan_time(tree):
    d = tree / "static"
    bad = {"hosts": {"cp1": {"groups": ["kube_control_plane"]}}}
    (d / "bad.tfvars.json").write_text(json.dumps(bad))
    tf(d, "init", "-input=false")
    proc = tf(d, "plan", "-input=false", "-var-file=bad.tfvars.json", check=False)
    assert proc.returncode != 0
    assert "Every host needs an address" in proc.stderr


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory):
    d = tmp_path_factory.mktemp("sensitive")
    (d / "main.tf").write_text(SENSITIVE_TF)
    good = {"hosts": {"cp1": {"address": "192.0.2.11", "groups": ["kube_control_plane"]}}, "token": SECRET}
    (d / "good.tfvars.json").write_text(json.dumps(good))
    (d / "bad.tfvars.json").write_text(json.dumps({"hosts": {"cp1": [SECRET]}, "token": SECRET}))
    tf(d, "init", "-input=false")
    tf(d, "apply", "-auto-approve", "-input=false", "-var-file=good.tfvars.json")
    return d


def test_sensitive_outputs_are_used_from_a_real_state(tmp_path, sensitive):
    state = json.loads((sensitive / "terraform.tfstate").read_text())
    assert state["outputs"]["cluster"]["sensitive"] is True
    for source in (sensitive, sensitive / "terraform.tfstate"):
        inv = parse(tmp_path, source, binary=TERRAFORM)
        assert inv.groups["all"].vars["join_token"] == SECRET


def test_a_sensitive_output_of_the_wrong_shape_is_not_printed(tmp_path, sensitive):
    tf(sensitive, "apply", "-auto-approve", "-input=false", "-var-file=bad.tfvars.json")
    for source in (sensitive, sensitive / "terraform.tfstate"):
        with pytest.raises(AnsibleParserError) as exc:
            parse(tmp_path, source, binary=TERRAFORM)
        assert "host 'cp1' must be an object" in str(exc.value)
        assert SECRET not in str(exc.value)


@pytest.mark.parametrize("module", ["modules/kubesmith_inventory", "static"])
def test_the_provider_free_modules_validate(tree, module):
    tf(tree / module, "init", "-backend=false", "-input=false")
    assert "Success" in tf(tree / module, "validate").stdout


def test_every_terraform_file_is_formatted(tree):
    proc = tf(tree, "fmt", "-check", "-recursive", check=False)
    assert proc.returncode == 0, f"terraform fmt would change: {proc.stdout}"


def test_the_libvirt_example_validates_against_its_provider(tree):
    plugin_dir = os.environ.get("KUBESMITH_TF_PLUGIN_DIR")
    if not plugin_dir:
        pytest.skip("the libvirt provider is not available offline: set KUBESMITH_TF_PLUGIN_DIR to a directory "
                    "holding registry.terraform.io/dmacvicar/libvirt 0.8.x to validate terraform/libvirt")
    d = tree / "libvirt"
    tf(d, "init", "-backend=false", "-input=false", f"-plugin-dir={plugin_dir}")
    assert "Success" in tf(d, "validate").stdout
