"""The kubesmith command for real: ansible-runner runs ansible-playbook on local hosts.

A small project stands in for kubesmith's (its playbooks finish in a second); the inventory is a
`terraform output -json` file read through the real terraform_output plugin. The runs start
together in one fixture, so the module costs about as long as its slowest run.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from kubesmith_cli import BAD_INPUT, FAILED, OK, UNREACHABLE

ROOT = pathlib.Path(__file__).resolve().parents[3]

CLUSTER_YML = """
- name: Check the inventory
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Require a control plane
      ansible.builtin.assert:
        that: groups['kube_control_plane'] | length > 0
- name: Work on the cluster hosts
  hosts: k8s_cluster
  gather_facts: false
  tasks:
    - name: Change something
      ansible.builtin.command: "true"
      changed_when: true
    - name: Fail where asked
      ansible.builtin.fail:
        msg: "asked to fail on {{ inventory_hostname }}"
      when: fail_here | default(false)
"""
# validate.yml of this project is broken: ansible-playbook stops before the first play
VALIDATE_YML = """
- name: Broken
  hosts: all
  tasks:
    - name: A module that does not exist
      no_such_module_anywhere: {}
"""


def local(**extra):
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **extra}


HOSTS = {
    "c1": {"address": "127.0.0.1", "groups": ["kube_control_plane"], "vars": local()},
    "w1": {"address": "127.0.0.1", "groups": ["kube_node"], "vars": local(fail_here=True)},
    # nothing listens on port 1: ssh is refused at once
    "w2": {"address": "127.0.0.1", "user": "nobody", "groups": ["kube_node"], "vars": {"ansible_port": 1}},
}

RUNS = {
    "ok": ["up", "--check", "-l", "c1,localhost", "-e", "marker=1", "--json", "--summary-file", "{tmp}/ok.json"],
    "failed": ["up"],
    "unreachable": ["up", "-l", "w2,localhost", "--summary-file", "{tmp}/unreachable.json"],
    "broken": ["validate", "--json"],
    "bad_inventory": ["up", "-i", "{tmp}/bad.json"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    project = tmp / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "inventory_plugins").symlink_to(ROOT / "inventory_plugins")
    (project / "ansible.cfg").write_text(
        "[defaults]\ninventory_plugins = inventory_plugins\ngathering = explicit\nhost_key_checking = False\n")
    (project / "playbooks" / "cluster.yml").write_text(CLUSTER_YML)
    (project / "playbooks" / "validate.yml").write_text(VALIDATE_YML)
    (tmp / "out.json").write_text(json.dumps({"hosts": {"sensitive": False, "value": HOSTS}}))
    bad = {"hosts": {"sensitive": False, "value": {"c1": {"address": "127.0.0.1", "groups": ["masters"]}}}}
    (tmp / "bad.json").write_text(json.dumps(bad))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "KUBESMITH_"))}
    procs = {}
    for name, argv in RUNS.items():
        argv = [a.format(tmp=tmp) for a in argv]
        inventory = [] if "-i" in argv else ["-i", str(tmp / "out.json")]
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "kubesmith_cli", *argv, *inventory, "--project-dir", str(project)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    results["tmp"] = tmp
    return results


def test_a_good_run_exits_0_with_events_and_a_summary_as_json(runs):
    r = runs["ok"]
    assert r.returncode == OK, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    events = [e["event"] for e in lines[:-1]]
    assert events[0] == "playbook_on_start"
    assert "runner_on_ok" in events
    assert events[-1] == "playbook_on_stats"
    summary = lines[-1]
    assert summary == json.loads((runs["tmp"] / "ok.json").read_text())
    assert (summary["event"], summary["status"], summary["exit_code"], summary["ansible_rc"]) == (
        "kubesmith_summary", "ok", OK, 0)
    assert summary["check_mode"] is True
    assert summary["ansible_playbook_args"] == ["--check", "--limit", "c1,localhost", "--extra-vars", "marker=1"]
    assert set(summary["hosts"]) == {"c1", "localhost"}
    assert summary["hosts"]["c1"]["skipped"] == 2  # --check reached ansible-playbook: commands are skipped
    assert summary["plays"] == 2
    # the person watching gets the progress and the table on stderr
    assert "PLAY 2/2 Work on the cluster hosts (1 host)" in r.stderr
    assert "kubesmith up: OK in " in r.stderr


def test_a_failed_task_exits_4_and_names_host_task_and_message(runs):
    r = runs["failed"]
    assert r.returncode == FAILED, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith("kubesmith up: playbooks/cluster.yml on 3 hosts (c1, w1, w2)")
    assert "] PLAY 1/2 Check the inventory (1 host)" in out
    assert "]   TASK Change something" in out
    assert "]   changed: c1" in out
    assert "]   FAILED w1: asked to fail on w1" in out
    table = out[out.index("HOST "):].splitlines()
    assert table[0].split() == ["HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", "SKIPPED", "TIME"]
    rows = {line.split()[0]: line.split()[1:6] for line in table[1:5]}
    assert rows["c1"] == ["1", "1", "0", "0", "1"]
    assert rows["w1"] == ["1", "1", "1", "0", "0"]
    assert rows["w2"] == ["0", "0", "0", "1", "0"]
    assert "FAILED w1, task 'Fail where asked': asked to fail on w1" in out
    assert "UNREACHABLE w2, task 'Change something'" in out
    assert "kubesmith up: FAILED (exit 4)" in out


def test_an_unreachable_host_exits_5(runs):
    r = runs["unreachable"]
    assert r.returncode == UNREACHABLE, r.stdout + r.stderr
    summary = json.loads((runs["tmp"] / "unreachable.json").read_text())
    assert summary["status"] == "unreachable"
    assert summary["unreachable"][0]["host"] == "w2"
    assert "Connection refused" in summary["unreachable"][0]["msg"]
    assert "kubesmith up: UNREACHABLE (exit 5)" in r.stdout


def test_a_playbook_ansible_cannot_load_is_bad_input(runs):
    r = runs["broken"]
    assert r.returncode == BAD_INPUT, r.stdout + r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert (summary["status"], summary["plays"]) == ("bad_input", 0)
    assert "no_such_module_anywhere" in summary["message"]
    assert "no_such_module_anywhere" in r.stderr


def test_a_bad_terraform_inventory_is_bad_input_with_the_plugins_message(runs):
    r = runs["bad_inventory"]
    assert r.returncode == BAD_INPUT, r.stdout + r.stderr
    assert "group 'masters' is another tool's name; kubesmith calls it 'kube_control_plane'" in r.stderr
    assert "Failed to parse" not in r.stderr  # the plugin's message, not Ansible's list of every plugin tried
