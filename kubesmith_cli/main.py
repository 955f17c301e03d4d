"""`kubesmith SUBCOMMAND`: run the matching playbook through ansible-runner, show progress, sum it up."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import shlex
import signal
import sys
import tempfile
import threading
import time

import yaml

from kubesmith_cli import BAD_INPUT, ERROR, INTERRUPTED, NOT_BUILT, __version__
from kubesmith_cli import inventory as inv
from kubesmith_cli.display import Progress, summary_table
from kubesmith_cli.events import RunState

PROJECT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Command:
    playbook: str
    help: str
    destructive: bool = False
    check: bool = False  # always in check mode (validate, preflight: nothing may change)


COMMANDS = {
    "up": Command("playbooks/cluster.yml", "create the cluster, or bring it to what the inventory says"),
    "scale": Command("playbooks/scale.yml", "join the inventory's new hosts to the cluster"),
    "remove-node": Command("playbooks/remove-node.yml", "drain and remove nodes (NODE ...)", destructive=True),
    "upgrade": Command("playbooks/upgrade.yml", "upgrade Kubernetes, node by node"),
    "reset": Command("playbooks/reset.yml", "tear the cluster down on the inventory's hosts", destructive=True),
    "apps": Command("playbooks/apps.yml", "deploy the applications from templated manifests"),
    "backup": Command("playbooks/etcd-backup.yml", "snapshot etcd"),
    "validate": Command("playbooks/validate.yml", "check the inventory on this machine only; contact no host",
                        check=True),
    "preflight": Command("playbooks/preflight.yml", "check the inventory, then every host's requirements; "
                         "change nothing", check=True),
    "status": Command("playbooks/status.yml", "report the state of the hosts and the cluster"),
}
GRACE_S = 15  # after Ctrl-C, how long ansible-playbook may take to stop before it is killed
# The variable playbooks/remove-node.yml reads: the inventory names of the nodes to remove.
REMOVE_NODE_VAR = "kubesmith_remove_nodes"
# What playbooks/reset.yml asks for before it deletes anything; the command passes it once the
# user confirmed (typed yes, or --yes), or with --check.
RESET_CONFIRM = {"kubesmith_reset_confirm": "yes"}

EPILOG = """\
Inventory (-i, repeatable, or $KUBESMITH_INVENTORY): an Ansible inventory file or directory, a
plugin configuration such as inventory/lab.terraform.yml, or Terraform itself: a configuration
directory (terraform output -json is run there), a terraform.tfstate, or a saved
`terraform output -json`. Arguments after `--` go to ansible-playbook unchanged.

Exit codes: 0 ok; 1 ansible-playbook or runner error; 2 bad input (arguments, inventory,
playbook), nothing ran; 3 the playbook of this subcommand is not built yet; 4 a task failed;
5 a host was unreachable (and no task failed); 130 interrupted.
"""


class UsageError(Exception):
    """Bad input found before anything ran."""


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("inventory and output")
    g.add_argument("-i", "--inventory", action="append", metavar="PATH",
                   help="inventory: file, directory, plugin config, Terraform directory, tfstate or output JSON")
    g.add_argument("--json", action="store_true",
                   help="machine-readable: runner events as JSON lines on stdout, the summary as the last line")
    g.add_argument("--summary-file", metavar="PATH", help="also write the summary (JSON) to PATH")
    g.add_argument("--artifacts", metavar="DIR", help="keep ansible-runner's artifacts (job_events/, stdout) in DIR")
    g.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    g.add_argument("--project-dir", metavar="DIR", default=os.environ.get("KUBESMITH_PROJECT_DIR"),
                   help="the kubesmith checkout whose playbooks run (default: the one this command is installed from)")
    a = common.add_argument_group("passed to ansible-playbook")
    a.add_argument("-C", "--check", action="store_true", help="do not change anything; say what would change")
    a.add_argument("-D", "--diff", action="store_true", help="show the differences in files and templates")
    a.add_argument("-l", "--limit", metavar="PATTERN", help="only these hosts (ansible host pattern)")
    a.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                   help="extra variables: key=value, YAML/JSON, or @file (repeatable)")
    a.add_argument("-t", "--tags", metavar="TAGS", help="only tasks with these tags")
    a.add_argument("--skip-tags", metavar="TAGS", help="skip tasks with these tags")
    a.add_argument("-f", "--forks", type=int, metavar="N", help="hosts in parallel")
    a.add_argument("-v", "--verbose", action="count", default=0, help="ansible-playbook verbosity (-vvv)")

    top = argparse.ArgumentParser(
        prog="kubesmith", description="Run kubesmith's playbooks: a live progress display, a per-host summary.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"kubesmith {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, parents=[common], help=f"{cmd.help} ({cmd.playbook})",
                           description=f"{cmd.help}: runs {cmd.playbook}.", epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == "remove-node":
            p.add_argument("nodes", nargs="+", metavar="NODE",
                           help=f"inventory name of a node (sets {REMOVE_NODE_VAR})")
        if cmd.destructive:
            p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    return top


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def playbook_args(args, passthrough: list[str]) -> list[str]:
    """ansible-playbook's options, from ours and the ones after `--`."""
    out = []
    if args.check:
        out.append("--check")
    if args.diff:
        out.append("--diff")
    if args.limit:
        out += ["--limit", args.limit]
    for ev in args.extra_vars:
        out += ["--extra-vars", ev]
    if getattr(args, "nodes", None):
        out += ["--extra-vars", json.dumps({REMOVE_NODE_VAR: args.nodes})]
    if getattr(args, "command", None) == "reset":
        out += ["--extra-vars", json.dumps(RESET_CONFIRM)]
    if args.tags:
        out += ["--tags", args.tags]
    if args.skip_tags:
        out += ["--skip-tags", args.skip_tags]
    if args.forks:
        out += ["--forks", str(args.forks)]
    if args.verbose:
        out.append("-" + "v" * args.verbose)
    return out + passthrough


def check_extra_vars(values: list[str]) -> None:
    """Reject an -e that ansible-playbook would choke on (it would blame the inventory)."""
    for v in values:
        if v.startswith("@"):
            if not os.path.isfile(os.path.expanduser(v[1:])):
                raise UsageError(f"-e {v}: no such file")
        elif v.lstrip().startswith(("{", "[")):
            try:
                yaml.safe_load(v)
            except yaml.YAMLError as exc:
                raise UsageError(f"-e {v!r} is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None


def count_plays(path: pathlib.Path, depth: int = 0) -> int | None:
    """Plays in a playbook, following import_playbook; None when it cannot be told."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(doc, list) or depth > 10:
        return None
    n = 0
    for item in doc:
        if not isinstance(item, dict):
            return None
        target = item.get("ansible.builtin.import_playbook") or item.get("import_playbook")
        if target:
            if "{{" in str(target):
                return None
            sub = count_plays(path.parent / str(target), depth + 1)
            if sub is None:
                return None
            n += sub
        else:
            n += 1
    return n


def build_summary(state: RunState, *, command: str, playbook: str, sources, check: bool, argv: list[str],
                  rc: int | None, status: str, exit_code: int, message: str | None = None) -> dict:
    hosts = {h: dataclasses.asdict(st) | {"time_s": round(st.time_s, 3)} for h, st in sorted(state.hosts.items())}
    return {
        "event": "kubesmith_summary", "kubesmith": __version__, "command": command, "playbook": playbook,
        "inventory": [s.given for s in sources], "check_mode": check, "ansible_playbook_args": argv,
        "status": status, "exit_code": exit_code, "ansible_rc": rc, "message": message,
        "elapsed_s": round(state.elapsed, 3), "plays": state.play_n, "tasks": state.task_n,
        "hosts": hosts, "failures": state.failures, "unreachable": state.unreachable, "errors": state.errors,
    }


STATUS = {0: "ok", 1: "error", 2: "bad_input", 3: "not_built", 4: "failed", 5: "unreachable", 130: "interrupted"}


class App:
    def __init__(self, argv: list[str], stdout=None, stderr=None, stdin=None):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        ours, self.passthrough = split_passthrough(argv)
        self.args = parser().parse_args(ours)
        self.project = pathlib.Path(self.args.project_dir or PROJECT).resolve()
        self.command = COMMANDS[self.args.command]
        if self.command.check:
            self.args.check = True
        self.sources: list = []
        self.cancel = False  # ansible-runner kills ansible-playbook when this turns True
        self.interrupted = False

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.stderr.write(f"kubesmith: {text}\n")
        self.stderr.flush()

    def emit_json(self, obj: dict) -> None:
        self.stdout.write(json.dumps(obj, default=str) + "\n")
        self.stdout.flush()

    def write_summary(self, summary: dict) -> None:
        if self.args.summary_file:
            pathlib.Path(self.args.summary_file).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if self.args.json:
            self.emit_json(summary)

    def early_exit(self, code: int, message: str) -> int:
        """Stop before anything ran: say why, and still leave a summary for CI."""
        self.say(message)
        state = RunState()
        state.finish()
        self.write_summary(build_summary(
            state, command=self.args.command, playbook=self.command.playbook, sources=self.sources,
            check=self.args.check, argv=[], rc=None, status=STATUS[code], exit_code=code, message=message))
        return code

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        if not (self.project / "ansible.cfg").is_file():
            return self.early_exit(BAD_INPUT, f"{self.project} is not a kubesmith checkout (no ansible.cfg); "
                                              "use --project-dir or $KUBESMITH_PROJECT_DIR")
        playbook = self.project / self.command.playbook
        if not playbook.is_file():
            return self.early_exit(NOT_BUILT, f"not built yet: {self.command.playbook} does not exist, so "
                                              f"`kubesmith {self.args.command}` has nothing to run")
        given = self.args.inventory or ([os.environ["KUBESMITH_INVENTORY"]] if os.environ.get("KUBESMITH_INVENTORY")
                                        else [])
        if not given:
            return self.early_exit(BAD_INPUT, "no inventory: give -i PATH (or set KUBESMITH_INVENTORY)")
        # Ansible reads its configuration when first imported: the project's, before any import.
        os.environ["ANSIBLE_CONFIG"] = str(self.project / "ansible.cfg")
        os.environ["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "True"
        with tempfile.TemporaryDirectory(prefix="kubesmith-") as tmp:
            workdir = pathlib.Path(self.args.artifacts or tmp).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                check_extra_vars(self.args.extra_vars)
                tfo = inv.plugin_module(self.project)
                self.sources = inv.resolve(given, workdir, tfo)
                loaded = inv.load(self.sources, self.project, self.args.limit)
                if getattr(self.args, "nodes", None) and loaded.hosts:
                    unknown = [n for n in self.args.nodes if n not in loaded.hosts]
                    if unknown:
                        raise UsageError(f"not in the inventory: {', '.join(unknown)}")
                if self.command.destructive and not self.args.check and not self.args.yes:
                    self.confirm(loaded)
            except (inv.InventoryError, UsageError) as exc:
                return self.early_exit(BAD_INPUT, str(exc))
            return self.run_playbook(playbook, loaded, workdir)

    def confirm(self, loaded) -> None:
        targets = self.args.nodes if getattr(self.args, "nodes", None) else loaded.hosts
        what = f"`kubesmith {self.args.command}` on {', '.join(targets)}"
        if not (hasattr(self.stdin, "isatty") and self.stdin.isatty()):
            raise UsageError(f"{what} destroys state: add --yes to confirm (or --check to see what it would do)")
        self.stderr.write(f"{what} destroys state. Type 'yes' to go on: ")
        self.stderr.flush()
        if self.stdin.readline().strip() != "yes":
            raise UsageError("not confirmed; nothing was done")

    def run_playbook(self, playbook: pathlib.Path, loaded, workdir: pathlib.Path) -> int:
        import ansible_runner

        argv = playbook_args(self.args, self.passthrough)
        state = RunState(play_hosts=loaded.hosts_of, plays_total=count_plays(playbook))
        stream = self.stderr if self.args.json else self.stdout
        tty = not self.args.plain and hasattr(stream, "isatty") and stream.isatty()
        progress = Progress(stream, tty)
        check = " --check" if self.args.check else ""
        n = len(loaded.hosts)
        hosts = (f"{n} host{'s' if n != 1 else ''} ({', '.join(loaded.hosts[:8])}{', ...' if n > 8 else ''})"
                 if n else "an inventory read by ansible-playbook only (encrypted)")
        progress.start(state, f"kubesmith {self.args.command}: {self.command.playbook}{check} on {hosts}")

        playbook_pid: list[int] = []

        def on_event(ev: dict) -> bool:
            if not playbook_pid and ev.get("pid"):
                playbook_pid.append(ev["pid"])  # the callback runs in ansible-playbook's own process
            notes = state.feed(ev)
            if self.args.json:
                self.emit_json(ev)
            progress.notes(notes)
            return True

        def on_sigint(signum, frame):
            # ansible-runner gives ansible-playbook its own terminal, so Ctrl-C reaches only us: pass it
            # on (Ansible stops its workers and the play cleanly), and make runner kill it if it lingers
            if self.interrupted:
                self.cancel = True
                return
            self.interrupted = True
            progress.line("kubesmith: stopping ansible-playbook (Ctrl-C again to kill it)", "failed")
            if playbook_pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(playbook_pid[0], signal.SIGINT)
                timer = threading.Timer(GRACE_S, lambda: setattr(self, "cancel", True))
                timer.daemon = True
                timer.start()
            else:
                self.cancel = True

        bindir = str(pathlib.Path(sys.executable).parent)
        envvars = {
            "ANSIBLE_CONFIG": str(self.project / "ansible.cfg"),
            "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_NOCOLOR": "1",
        }
        old = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
        rc, status = None, "error"
        try:
            runner = ansible_runner.run(
                private_data_dir=str(workdir), project_dir=str(self.project), playbook=str(playbook),
                inventory=[s.path for s in self.sources], cmdline=shlex.join(argv), envvars=envvars,
                event_handler=on_event, cancel_callback=lambda: self.cancel, quiet=True,
                suppress_env_files=True, ident=f"{self.args.command}-{time.strftime('%Y%m%dT%H%M%S')}",
            )
            rc, status = runner.rc, runner.status
        except Exception as exc:  # runner could not start ansible-playbook at all
            progress.stop()
            return self.early_exit(ERROR, f"ansible-runner failed: {exc}")
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        state.finish()
        progress.stop()
        canceled = self.cancel or self.interrupted or status == "canceled"
        code = state.exit_code(rc if rc is not None else 1, canceled=canceled)
        message = None
        if code == ERROR and state.play_n == 0:
            code = BAD_INPUT  # ansible-playbook stopped before the first play: options, syntax, variables
            message = "; ".join(state.errors) or f"ansible-playbook exited with rc={rc} before running a play"
        elif code == ERROR:
            message = "; ".join(state.errors) or f"ansible-playbook exited with rc={rc} ({status})"
        if canceled:
            code = INTERRUPTED
        summary = build_summary(state, command=self.args.command, playbook=self.command.playbook,
                                sources=self.sources, check=self.args.check, argv=argv, rc=rc,
                                status=STATUS[code], exit_code=code, message=message)
        stream.write(summary_table(summary, color=tty) + "\n")
        if message and not state.errors:
            stream.write(f"kubesmith: {message}\n")
        if self.args.artifacts:
            stream.write(f"kubesmith: runner artifacts in {workdir}/artifacts\n")
        stream.flush()
        self.write_summary(summary)
        return code


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None) -> int:
    try:
        return App(sys.argv[1:] if argv is None else argv).run()
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("kubesmith: interrupted\n")
        return INTERRUPTED
