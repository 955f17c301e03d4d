"""The kubesmith command, in-process: arguments, playbook mapping, inventory resolution, bad input,
event bookkeeping, the progress display and the summary. No ansible-playbook runs here
(test_cli_runs.py runs it for real)."""

import io
import json
import pathlib

import pytest
import terraform_output as tfo
import yaml

from kubesmith_cli import BAD_INPUT, ERROR, FAILED, INTERRUPTED, NOT_BUILT, OK, UNREACHABLE
from kubesmith_cli import inventory as inv
from kubesmith_cli import main as cli
from kubesmith_cli.display import Progress, fmt_time, summary_table
from kubesmith_cli.events import RunState, result_message

ROOT = pathlib.Path(__file__).resolve().parents[3]


# ----------------------------------------------------------------------------- subcommands and arguments
def test_every_subcommand_maps_to_its_playbook():
    assert {n: c.playbook for n, c in cli.COMMANDS.items()} == {
        "up": "playbooks/cluster.yml", "scale": "playbooks/scale.yml", "remove-node": "playbooks/remove-node.yml",
        "upgrade": "playbooks/upgrade.yml", "reset": "playbooks/reset.yml", "apps": "playbooks/apps.yml",
        "backup": "playbooks/etcd-backup.yml", "validate": "playbooks/validate.yml",
        "preflight": "playbooks/preflight.yml", "status": "playbooks/status.yml",
    }
    assert {n for n, c in cli.COMMANDS.items() if c.destructive} == {"remove-node", "reset"}


def test_the_playbooks_that_exist_are_the_ones_up_validate_and_preflight_run():
    for command in ("up", "validate", "preflight"):
        assert (ROOT / cli.COMMANDS[command].playbook).is_file(), command


def args_for(*argv):
    ours, rest = cli.split_passthrough(list(argv))
    return cli.playbook_args(cli.parser().parse_args(ours), rest)


def test_ansible_playbook_options_are_passed_through():
    argv = args_for("up", "-i", "x", "--check", "--diff", "-l", "cp1,worker*", "-e", "a=1", "-e", "@vars.yml",
                    "-t", "preflight", "--skip-tags", "swap", "-f", "5", "-vv", "--", "--start-at-task", "Install x")
    assert argv == [
        "--check", "--diff", "--limit", "cp1,worker*", "--extra-vars", "a=1", "--extra-vars", "@vars.yml",
        "--tags", "preflight", "--skip-tags", "swap", "--forks", "5", "-vv", "--start-at-task", "Install x"]
    assert args_for("up", "-i", "x") == []


def test_remove_node_passes_the_nodes_as_an_extra_variable():
    argv = args_for("remove-node", "-i", "x", "worker2", "worker3", "--yes")
    assert argv == ["--extra-vars", json.dumps({cli.REMOVE_NODE_VAR: ["worker2", "worker3"]})]
    assert cli.REMOVE_NODE_VAR in (ROOT / "playbooks" / "remove-node.yml").read_text()


def test_reset_passes_the_confirmation_the_playbook_asks_for():
    # the command only gets to run the playbook once the user confirmed (or --yes, or --check)
    assert args_for("reset", "-i", "x", "--yes") == ["--extra-vars", json.dumps(cli.RESET_CONFIRM)]
    assert "kubesmith_reset_confirm | default('') | string == 'yes'" in (ROOT / "playbooks" / "reset.yml").read_text()


@pytest.mark.parametrize("command", ["validate", "preflight"])
def test_validate_and_preflight_always_run_in_check_mode(command):
    app = cli.App([command, "-i", "x", "--project-dir", str(ROOT)])
    assert app.args.check is True
    assert cli.App(["up", "-i", "x", "--project-dir", str(ROOT)]).args.check is False


def test_validate_runs_on_the_controller_alone_and_preflight_on_the_hosts():
    validate = yaml.safe_load((ROOT / cli.COMMANDS["validate"].playbook).read_text())
    # localhost, or under --limit the limit's first host (tasks that never connect; tests/unit/playbooks)
    expected = "{{ 'localhost:all' if ansible_limit is defined else 'localhost' }}"
    assert [play["hosts"] for play in validate] == [expected]
    preflight = yaml.safe_load((ROOT / cli.COMMANDS["preflight"].playbook).read_text())
    assert [play["hosts"] for play in preflight] == ["localhost", "k8s_cluster", "etcd:loadbalancers:!k8s_cluster"]


def test_count_plays_follows_import_playbook(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.yml").write_text("- hosts: a\n- hosts: b\n")
    (tmp_path / "one.yml").write_text("- hosts: c\n")
    (tmp_path / "main.yml").write_text("- hosts: x\n- ansible.builtin.import_playbook: sub/two.yml\n"
                                       "- import_playbook: one.yml\n")
    assert cli.count_plays(tmp_path / "main.yml") == 4
    assert cli.count_plays(ROOT / "playbooks" / "validate.yml") == 1
    assert cli.count_plays(ROOT / "playbooks" / "preflight.yml") == 3
    assert isinstance(cli.count_plays(ROOT / "playbooks" / "cluster.yml"), int)  # the main job shows play n/N


def test_count_plays_gives_up_on_what_it_cannot_read(tmp_path):
    (tmp_path / "a.yml").write_text("- import_playbook: \"{{ x }}.yml\"\n")
    (tmp_path / "b.yml").write_text("{not: a list}\n")
    assert cli.count_plays(tmp_path / "a.yml") is None
    assert cli.count_plays(tmp_path / "b.yml") is None
    assert cli.count_plays(tmp_path / "missing.yml") is None


def test_help_lists_the_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("3 the playbook of this subcommand is not built yet", "4 a task failed", "5 a host was unreachable",
                 "validate check the inventory on this machine only; contact no host (playbooks/validate.yml)",
                 "preflight check the inventory, then every host's requirements; change nothing "
                 "(playbooks/preflight.yml)"):
        assert line in " ".join(out.split())


def test_a_usage_error_is_bad_input(capsys):
    assert cli.main(["frobnicate"]) == BAD_INPUT
    assert cli.main(["remove-node", "-i", "x"]) == BAD_INPUT  # no NODE
    assert "invalid choice" in capsys.readouterr().err


# ----------------------------------------------------------------------------- bad input before anything runs
@pytest.fixture
def project(tmp_path, monkeypatch):
    """A kubesmith checkout with cluster.yml and remove-node.yml only; the real inventory plugin."""
    p = tmp_path / "project"
    (p / "playbooks").mkdir(parents=True)
    (p / "inventory_plugins").symlink_to(ROOT / "inventory_plugins")
    (p / "ansible.cfg").write_text("[defaults]\ninventory_plugins = inventory_plugins\n")
    for name in ("cluster.yml", "remove-node.yml"):
        (p / "playbooks" / name).write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
    (p / "hosts.yml").write_text(
        "all:\n  children:\n    kube_control_plane:\n      hosts:\n        cp1:\n        cp2:\n")
    # the command sets these for Ansible; monkeypatch puts them back afterwards
    monkeypatch.setenv("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    monkeypatch.setenv("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
    monkeypatch.delenv("KUBESMITH_INVENTORY", raising=False)
    return p


def run_app(project, *argv, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    app = cli.App([*argv, "--project-dir", str(project)], stdout=out, stderr=err, stdin=stdin or io.StringIO())
    return app.run(), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["scale", "upgrade", "reset", "apps", "backup", "status"])
def test_a_playbook_not_built_yet_has_its_own_exit_code(project, command):
    code, out, err = run_app(project, command, "-i", str(project / "hosts.yml"), "--json")
    assert code == NOT_BUILT
    playbook = cli.COMMANDS[command].playbook
    assert f"not built yet: {playbook} does not exist" in err
    summary = json.loads(out)
    assert (summary["status"], summary["exit_code"], summary["playbook"]) == ("not_built", NOT_BUILT, playbook)


def test_no_inventory_is_bad_input(project):
    code, _, err = run_app(project, "up")
    assert code == BAD_INPUT
    assert "no inventory: give -i PATH" in err


def test_a_missing_inventory_is_bad_input(project, tmp_path):
    code, _, err = run_app(project, "up", "-i", str(tmp_path / "nope.yml"), "--summary-file", str(tmp_path / "s.json"))
    assert code == BAD_INPUT
    assert "nope.yml does not exist" in err
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "bad_input"


def test_a_project_dir_that_is_not_kubesmith_is_bad_input(tmp_path):
    code, _, err = run_app(tmp_path, "up", "-i", "x")
    assert code == BAD_INPUT
    assert "is not a kubesmith checkout" in err


def test_remove_node_checks_the_node_names(project):
    code, _, err = run_app(project, "remove-node", "-i", str(project / "hosts.yml"), "cp9", "--yes")
    assert code == BAD_INPUT
    assert "not in the inventory: cp9" in err


def test_a_destructive_command_needs_confirmation(project):
    code, _, err = run_app(project, "remove-node", "-i", str(project / "hosts.yml"), "cp2")
    assert code == BAD_INPUT
    assert "destroys state: add --yes" in err

    class Tty(io.StringIO):
        def isatty(self):
            return True

    code, _, err = run_app(project, "remove-node", "-i", str(project / "hosts.yml"), "cp2", stdin=Tty("no\n"))
    assert code == BAD_INPUT
    assert "Type 'yes' to go on" in err
    assert "not confirmed; nothing was done" in err


def test_a_limit_that_matches_nothing_is_bad_input(project):
    code, _, err = run_app(project, "up", "-i", str(project / "hosts.yml"), "-l", "nothing*")
    assert code == BAD_INPUT
    assert "--limit nothing* matches no host" in err


# ----------------------------------------------------------------------------- inventory resolution
OUTPUTS = {"hosts": {"sensitive": False, "value": {"cp1": {"address": "192.0.2.1", "groups": ["kube_control_plane"]}}}}


def test_terraform_sources_get_a_plugin_configuration(tmp_path):
    (tmp_path / "tf").mkdir()
    (tmp_path / "tf" / "main.tf").write_text("")
    (tmp_path / "out.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "terraform.tfstate").write_text(json.dumps({"version": 4, "terraform_version": "1.0.3",
                                                            "outputs": OUTPUTS}))
    (tmp_path / "ansible.json").write_text(json.dumps({"all": {"hosts": {"a": None}}}))
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    work = tmp_path / "work"
    work.mkdir()
    given = [str(tmp_path / n) for n in ("tf", "out.json", "terraform.tfstate", "ansible.json", "hosts.yml")]
    sources = inv.resolve([*given, "a1,a2,"], work, tfo)
    assert [s.terraform for s in sources] == [True, True, True, False, False, False]
    for s, g in zip(sources[:3], given[:3], strict=True):
        assert s.path.endswith(".terraform.yml")
        assert f'source: "{g}"' in pathlib.Path(s.path).read_text()
    assert [s.path for s in sources[3:]] == [*given[3:], "a1,a2,"]


def test_an_encrypted_inventory_is_left_to_ansible_playbook(tmp_path, project):
    (tmp_path / "hosts.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    loaded = inv.load([inv.Source("hosts.yml", str(tmp_path / "hosts.yml"))], project)
    assert (loaded.hosts, loaded.manager) == ([], None)
    assert loaded.hosts_of("all") is None


def test_a_tfstate_without_outputs_is_refused(tmp_path):
    (tmp_path / "terraform.tfstate").write_text("not json")
    with pytest.raises(inv.InventoryError, match="is not a Terraform state with outputs"):
        inv.resolve([str(tmp_path / "terraform.tfstate")], tmp_path, tfo)


# ----------------------------------------------------------------------------- events
def ev(event, **data):
    return {"event": event, "event_data": data, "stdout": data.pop("stdout", "")}


EVENTS = [
    ev("playbook_on_start"),
    ev("playbook_on_play_start", name="Node tier", play_pattern="k8s_cluster"),
    ev("playbook_on_task_start", name="base : Install base packages"),
    ev("runner_on_start", host="cp1"), ev("runner_on_start", host="w1"), ev("runner_on_start", host="w2"),
    ev("runner_on_ok", host="cp1", duration=1.5, res={"changed": True}),
    ev("runner_on_unreachable", host="w2", duration=0.2, res={"unreachable": True, "msg": "ssh: connect refused"}),
    ev("runner_on_ok", host="w1", duration=1.0, res={"changed": False}),
    ev("playbook_on_task_start", name="preflight : Check CPUs and memory"),
    ev("runner_on_failed", host="w1", duration=0.1, ignore_errors=None, res={"msg": "w1 has 1 CPUs"}),
    ev("runner_on_failed", host="cp1", duration=0.1, ignore_errors=True, res={"msg": "ignored"}),
    ev("runner_on_skipped", host="cp1", duration=0.0),
    ev("playbook_on_stats", ok={"cp1": 1, "w1": 1}, changed={"cp1": 1}, failures={"w1": 1}, dark={"w2": 1},
       skipped={"cp1": 1}, ignored={"cp1": 1}, rescued={}),
]


def fed(events, hosts=("cp1", "w1", "w2")):
    state = RunState(play_hosts=lambda pattern: list(hosts), plays_total=3)
    notes = [n for e in events for n in state.feed(e)]
    return state, notes


def test_events_become_per_host_counts_failures_and_notes():
    state, notes = fed(EVENTS)
    assert [(n.kind, n.text) for n in notes] == [
        ("play", "PLAY 1/3 Node tier (3 hosts)"),
        ("task", "TASK base : Install base packages"),
        ("changed", "changed: cp1"),
        ("unreachable", "UNREACHABLE w2: ssh: connect refused"),
        ("task", "TASK preflight : Check CPUs and memory"),
        ("failed", "FAILED w1: w1 has 1 CPUs"),
    ]
    assert state.failures == [{"host": "w1", "task": "preflight : Check CPUs and memory", "play": "Node tier",
                               "msg": "w1 has 1 CPUs"}]
    assert state.unreachable[0]["host"] == "w2"
    cp1 = state.hosts["cp1"]
    assert (cp1.ok, cp1.changed, cp1.failed, cp1.skipped, cp1.ignored) == (1, 1, 0, 1, 1)
    assert cp1.time_s == pytest.approx(1.6)
    assert state.exit_code(2) == FAILED


def test_hosts_done_counts_against_the_hosts_still_in_the_play():
    state, _ = fed(EVENTS[:7])
    assert state.task_progress() == (1, 3)
    state, _ = fed(EVENTS[:11])  # w2 unreachable, w1 done with the second task
    assert state.task_progress() == (1, 2)


@pytest.mark.parametrize(("events", "rc", "canceled", "code"), [
    (EVENTS[:7], 0, False, OK),
    (EVENTS[:9], 4, False, UNREACHABLE),
    (EVENTS, 2, False, FAILED),
    (EVENTS[:7], 1, False, ERROR),
    (EVENTS[:7], 0, True, INTERRUPTED),
])
def test_exit_codes_tell_failure_from_unreachable(events, rc, canceled, code):
    state, _ = fed(events)
    assert state.exit_code(rc, canceled=canceled) == code


def test_ansible_errors_are_kept():
    state, notes = fed([ev("verbose", stdout="[ERROR]: couldn't resolve module/action 'nope'")])
    assert state.errors == ["[ERROR]: couldn't resolve module/action 'nope'"]
    assert notes[0].kind == "error"


@pytest.mark.parametrize(("res", "msg"), [
    ({"msg": "boom"}, "boom"),
    ({"msg": "non-zero return code", "rc": 2, "stderr": "E: Unable to locate package foo\n"},
     "non-zero return code | E: Unable to locate package foo"),
    ({"msg": "One or more items failed", "results": [{"item": "a", "failed": True, "msg": "bad a"}, {"item": "b"}]},
     "One or more items failed | a: bad a"),
    ({"rc": 3}, "rc=3"),
    ({}, "failed (no message)"),
    ({"msg": "x" * 1000}, "x" * 397 + "..."),
    ({"msg": ["The inventory has 2 problem(s)", "a" * 300, "b"]},  # a list: every item, more room
     "The inventory has 2 problem(s) | " + "a" * 300 + " | b"),
])
def test_result_message_gives_the_line_a_person_needs(res, msg):
    assert result_message(res) == msg


# ----------------------------------------------------------------------------- display
class Term(io.StringIO):
    def isatty(self):
        return True


def test_plain_progress_prints_time_stamped_lines():
    state, notes = fed(EVENTS)
    out = io.StringIO()
    p = Progress(out, tty=False)
    p.state = state
    p.notes(notes)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("] PLAY 1/3 Node tier (3 hosts)")
    assert lines[1].endswith("]   TASK base : Install base packages")
    assert lines[0].startswith("[")
    assert "\x1b" not in out.getvalue()
    assert any(line.endswith("FAILED w1: w1 has 1 CPUs") for line in lines)


def test_terminal_progress_redraws_one_status_line():
    state, notes = fed(EVENTS[:7])
    out = Term()
    p = Progress(out, tty=True)
    p.start(state, "kubesmith up: playbooks/cluster.yml on 3 hosts")
    p.notes(notes)
    p.stop()
    text = out.getvalue()
    assert "\r\x1b[2K" in text  # the status line is cleared and redrawn in place
    assert "TASK base" not in text  # tasks go to the status line, not the scrollback
    assert "PLAY 1/3 Node tier (3 hosts)" in text
    status = p.status_text(200)
    assert "play 1/3: Node tier" in status
    assert "task 1: base : Install base packages" in status
    assert "hosts 1/3" in status
    assert "ok 1 changed 1 failed 0 unreachable 0" in status


def test_the_status_line_keeps_the_numbers_on_a_narrow_terminal():
    state, _ = fed(EVENTS[:7])
    p = Progress(Term(), tty=True)
    p.state = state
    text = p.status_text(80)
    assert len(text) <= 80
    assert "hosts 1/3" in text
    assert "ok 1 chg 1 fail 0 unr 0" in text


def test_the_summary_table_has_a_row_per_host_and_says_what_went_wrong():
    state, _ = fed(EVENTS)
    state.finish()
    summary = cli.build_summary(state, command="up", playbook="playbooks/cluster.yml", sources=[], check=True,
                                argv=["--check"], rc=2, status="failed", exit_code=FAILED)
    text = summary_table(summary)
    rows = text.splitlines()
    assert rows[0].split() == ["HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", "SKIPPED", "TIME"]
    assert rows[1].split() == ["cp1", "1", "1", "0", "0", "1", "1.6s"]
    assert rows[2].split()[:6] == ["w1", "1", "0", "1", "0", "0"]
    assert rows[3].split()[:6] == ["w2", "0", "0", "0", "1", "0"]
    assert "FAILED w1, task 'preflight : Check CPUs and memory': w1 has 1 CPUs" in text
    assert "UNREACHABLE w2, task 'base : Install base packages': ssh: connect refused" in text
    assert rows[-1].startswith("kubesmith up: FAILED (exit 4) in ")
    assert rows[-1].endswith("3 hosts, 1 plays, 2 tasks; check mode: nothing was changed")
    assert json.loads(json.dumps(summary))["hosts"]["w2"]["unreachable"] == 1


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0s"), (59.94, "59.9s"), (61, "1m01s"), (3725, "1h02m05s")])
def test_fmt_time(seconds, text):
    assert fmt_time(seconds) == text


@pytest.mark.parametrize(("value", "message"), [
    ("{bad", "-e '{bad' is not valid YAML/JSON"),
    ("@/nonexistent/vars.yml", "-e @/nonexistent/vars.yml: no such file"),
])
def test_an_extra_var_ansible_would_choke_on_is_bad_input(project, value, message):
    code, _, err = run_app(project, "up", "-i", str(project / "hosts.yml"), "-e", value)
    assert code == BAD_INPUT
    assert message in err


def test_good_extra_vars_pass(tmp_path):
    (tmp_path / "v.yml").write_text("a: 1\n")
    cli.check_extra_vars(["a=1 b=2", '{"a": [1]}', f"@{tmp_path / 'v.yml'}"])


def test_a_debug_message_of_the_playbook_is_shown():
    _state, notes = fed([
        ev("playbook_on_play_start", name="Report", play_pattern="localhost"),
        ev("playbook_on_task_start", name="Say how far"),
        ev("runner_on_ok", host="localhost", task_action="ansible.builtin.debug",
           res={"msg": "kubesmith: not built yet:\n  the HA API endpoint", "changed": False}),
        ev("runner_on_ok", host="cp1", task_action="ansible.builtin.command", res={"msg": "", "changed": False}),
    ], hosts=("localhost",))
    assert [(n.kind, n.text) for n in notes if n.kind == "message"] == [
        ("message", "localhost: kubesmith: not built yet: the HA API endpoint")]
