"""playbooks/validate.yml for real: ansible-playbook on sample inventories, on the controller alone.

One ansible-playbook run per inventory (inventories/), with the json callback so that the problems
are read as the list the role printed. A good inventory passes, an inventory of hosts nobody could
reach passes just as fast (nothing is contacted), and each bad one fails listing all of its problems.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
INVENTORIES = pathlib.Path(__file__).resolve().parent / "inventories"
PLAYBOOK = ROOT / "playbooks" / "validate.yml"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"

# every problem each bad inventory has, one fragment (naming the host/variable and the fix) per problem
BAD = {
    "bad_groups.yml": [
        ["group masters (m1)", "masters -> kube_control_plane"],
        ["group kube_control_plane has no hosts", "put at least one host in it"],
        ["w2 of group kube_node are not in k8s_cluster", "children of k8s_cluster"],
        ["group kube_nodes (w3)", "did you mean kube_node?"],
        ["group etcd has 2 hosts (e1, e2)", "remove one host or add one"],
    ],
    "bad_networks.yml": [
        ["kubesmith_pod_cidr 10.96.0.0/16 and kubesmith_service_cidr 10.96.0.0/12 overlap", "separate ranges"],
        ["w1 (10.96.3.4) is inside kubesmith_pod_cidr", "change kubesmith_pod_cidr"],
        ["w1 (10.96.3.4) is inside kubesmith_service_cidr", "change kubesmith_service_cidr"],
        ["kubesmith_api_vip 10.100.0.10 is inside kubesmith_service_cidr", "an address of the network of the hosts"],
        ["entries 192.0.2.240-192.0.2.250 and 192.0.2.248/29 overlap", "list each address once"],
        ['entry "198.51.100.1/28" is 198.51.100.1/28, which has host bits set', "198.51.100.0/28"],
        ["hosts cp1, w2 have the same address 192.0.2.11", "each host needs its own"],
    ],
    "bad_variables.yml": [
        ['kubesmith_kubernetes_version is "v1.31.4"', "drop the v"],
        ["variable kube_network_plugin (on all 3 hosts)", "kubesmith calls it kubesmith_cni"],
        ["variable kubesmith_pod_cdir", "did you mean kubesmith_pod_cidr?"],
        ["variable kube_packages_version", "set kubesmith_kubernetes_version instead"],
        ['kubesmith_cni_backend is "bgp", which flannel does not have', "vxlan, host-gw"],
        ["kubesmith_service_cidr differs between hosts", '"10.100.0.0/16" on w1', "set it once"],
        ["kubesmith_etcd_mode is stacked but group etcd has hosts (e1)", "empty group etcd"],
    ],
}
GOOD = {"good": 5, "unreachable.yml": 4, str(ROOT / "inventory" / "sample" / "hosts.yml"): 3}


def validate(inventory: pathlib.Path, callback="ansible.posix.json",
             playbook=PLAYBOOK) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK=callback, ANSIBLE_NOCOLOR="1")
    t0 = time.monotonic()
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    return proc, time.monotonic() - t0


@pytest.fixture(scope="module")
def runs():
    """Each inventory validated once: name -> (process, seconds, the json callback's document)."""
    out = {}
    for name in [*GOOD, *BAD]:
        proc, took = validate(INVENTORIES / name)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"{name}: no JSON from ansible-playbook (rc={proc.returncode}): {proc.stdout}{proc.stderr}")
        out[name] = (proc, took, doc)
    return out


def check_task(doc) -> dict:
    """The localhost result of the role's last task (the assert)."""
    return doc["plays"][-1]["tasks"][-1]["hosts"]["localhost"]


@pytest.mark.parametrize("name", list(GOOD))
def test_good_inventories_pass_on_the_controller_alone(runs, name):
    proc, _, doc = runs[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert check_task(doc)["msg"] == f"The inventory is valid: {GOOD[name]} hosts"
    assert set(doc["stats"]) == {"localhost"}  # no inventory host took part
    assert [p["play"]["name"] for p in doc["plays"]] == ["Check the inventory (on the controller only)"]


def test_hosts_nobody_can_reach_are_not_contacted(runs):
    # ansible_timeout and ConnectTimeout are 60 s on addresses nobody routes: a single attempt would show
    proc, took, _ = runs["unreachable.yml"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert took < 20, f"validate took {took:.1f}s"


@pytest.mark.parametrize("name", list(BAD))
def test_bad_inventories_fail_listing_every_problem(runs, name):
    proc, _, doc = runs[name]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    result = check_task(doc)
    assert result["failed"] is True
    header, *found = result["msg"]
    assert header == f"The inventory has {len(BAD[name])} problem(s); no host was touched. Fix:"
    for fragments in BAD[name]:
        matching = [p for p in found if all(f in p for f in fragments)]
        assert len(matching) == 1, (fragments, found)
    assert len(found) == len(BAD[name]), found
    assert set(doc["stats"]) == {"localhost"}


def test_a_person_reads_the_problems_as_a_list():
    proc, _ = validate(INVENTORIES / "bad_variables.yml", callback="ansible.builtin.default")
    assert proc.returncode == 2
    text = " ".join((proc.stdout + proc.stderr).split())  # the failure goes to stderr
    assert "msg: - 'The inventory has 7 problem(s); no host was touched. Fix:' - " in text
    assert ("- 'variable kubesmith_pod_cdir (on all 3 hosts) is not a kubesmith variable: did you mean "
            "kubesmith_pod_cidr?' - ") in text
    assert """- 'kubesmith_kubernetes_version is "v1.31.4": drop the v""" in text


def test_settings_given_as_vars_of_import_playbook_are_checked(tmp_path):
    # how molecule/cluster/converge.yml passes them: play vars, in no host's hostvars
    (tmp_path / "hosts.yml").write_text((INVENTORIES / "unreachable.yml").read_text().replace(
        'kubesmith_kubernetes_version: "1.32.0"', "ansible_user: root"))
    (tmp_path / "converge.yml").write_text(
        f"- ansible.builtin.import_playbook: {PLAYBOOK}\n"
        "  vars:\n"
        "    kubesmith_kubernetes_version: \"{{ '1.31' ~ '.4' }}\"\n"
        "    kubesmith_pod_cidr: 203.0.113.0/24\n")
    proc, _ = validate(tmp_path / "hosts.yml", playbook=tmp_path / "converge.yml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _, *found = check_task(json.loads(proc.stdout))["msg"]
    assert len(found) == 2, found  # the version is there; the pod CIDR holds the hosts and has too few /24s
    assert "holds 1 node subnet(s) of /24, and the cluster has 2 nodes" in found[0]
    assert "cp1 (203.0.113.11), w1 (203.0.113.21), e1 (203.0.113.31), lb1 (203.0.113.41)" in found[1]


def test_a_limit_does_not_skip_the_check_and_contacts_no_host():
    # with --limit, localhost is not in the play: it runs once on the limit's first host, whose tasks
    # act on the controller (an unreachable host would fail the run if anything connected to it)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for name, rc in (("unreachable.yml", 0), ("bad_variables.yml", 2)):
        inventory = INVENTORIES / name
        hosts = subprocess.run([str(ANSIBLE_PLAYBOOK.parent / "ansible-inventory"), "-i", str(inventory), "--list"],
                               capture_output=True, text=True, env=env, check=True)
        first = sorted(json.loads(hosts.stdout)["_meta"]["hostvars"])[0]
        proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK), "--limit", first],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == rc, out
        assert "unreachable=0" in out and "problem(s); no host was touched" in out if rc else "is valid" in out
