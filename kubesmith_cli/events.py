"""What a run did, from ansible-runner's events: pure bookkeeping, no output.

ansible-runner hands over one dict per Ansible callback (``playbook_on_play_start``,
``runner_on_ok``, ``playbook_on_stats``, ...). ``RunState.feed`` folds them into per-host counts,
the current play and task, failures, and returns the notable things worth a line of output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

from kubesmith_cli import ERROR, FAILED, INTERRUPTED, OK, UNREACHABLE

DEBUG_ACTIONS = {"debug", "ansible.builtin.debug", "ansible.legacy.debug"}
RESULT_EVENTS = {"runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"}
STATS_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
              "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


@dataclasses.dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0
    time_s: float = 0.0  # time tasks spent on this host (sum of their durations)


@dataclasses.dataclass
class Note:
    """Something worth a line: a play starting, a task starting, a host changed, failed or unreachable."""

    kind: str  # play, task, changed, failed, unreachable, error, message
    text: str
    host: str | None = None


def result_message(res) -> str:
    """The line a person needs from a failed or unreachable result."""
    if not isinstance(res, dict):
        return str(res or "")
    parts = []
    msg = res.get("msg")
    limit = 400
    if isinstance(msg, list):  # a list of problems (inventory_check): every one of them, each on its own
        limit *= max(1, len(msg))
        msg = " | ".join(str(m) for m in msg)
    if msg:
        parts.append(str(msg))
    for item in res.get("results") or []:
        if isinstance(item, dict) and item.get("failed") and item.get("msg"):
            parts.append(f"{item.get('item', '')}: {item['msg']}".strip(": "))
    stderr = (res.get("stderr") or "").strip()
    if stderr and stderr not in " ".join(parts):
        parts.append(stderr.splitlines()[-1])
    if not parts and res.get("rc") is not None:
        parts.append(f"rc={res['rc']}")
    text = " | ".join(parts) or "failed (no message)"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class RunState:
    """The state of one playbook run, fed event by event."""

    def __init__(self, play_hosts=None, plays_total: int | None = None, clock=time.monotonic):
        self.clock = clock
        self.started = clock()
        self.finished: float | None = None
        self.play_hosts = play_hosts or (lambda pattern: None)  # pattern -> host names, or None if unknown
        self.plays_total = plays_total
        self.play_n = 0
        self.play: str | None = None
        self.play_members: list[str] | None = None
        self.task_n = 0
        self.task: str | None = None
        self.task_uuid: str | None = None
        self.task_started: set[str] = set()
        self.task_done: set[str] = set()
        self.dead: set[str] = set()  # failed or unreachable hosts: Ansible drops them from the play
        self.hosts: dict[str, HostStats] = {}
        self.failures: list[dict] = []
        self.unreachable: list[dict] = []
        self.errors: list[str] = []
        self.stats_seen = False

    # ------------------------------------------------------------------ feeding
    def feed(self, ev: dict) -> list[Note]:
        kind = ev.get("event")
        data = ev.get("event_data") or {}
        notes: list[Note] = []
        if kind == "playbook_on_play_start":
            self.play_n += 1
            self.play = data.get("name") or data.get("play") or data.get("play_pattern") or "(unnamed play)"
            members = self.play_hosts(data.get("play_pattern") or "")
            self.play_members = None if members is None else list(members)
            self.task = None
            self.dead = set()
            count = "" if self.play_members is None else f" ({_plural(len(self.play_members), 'host')})"
            total = f"/{self.plays_total}" if self.plays_total else ""
            notes.append(Note("play", f"PLAY {self.play_n}{total} {self.play}{count}"))
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.task_n += 1
            self.task = data.get("name") or data.get("task") or "(unnamed task)"
            self.task_uuid = data.get("task_uuid") or data.get("uuid")
            self.task_started, self.task_done = set(), set()
            notes.append(Note("task", f"TASK {self.task}"))
        elif kind == "runner_on_start":
            self.task_started.add(data.get("host"))
        elif kind in RESULT_EVENTS:
            notes.extend(self._result(kind, data))
        elif kind == "playbook_on_stats":
            self._stats(data)
        elif kind in ("verbose", "error") and _is_error(ev.get("stdout") or ""):
            text = " ".join((ev.get("stdout") or "").split())
            self.errors.append(text)
            notes.append(Note("error", text))
        return notes

    def _result(self, kind: str, data: dict) -> list[Note]:
        host = data.get("host") or "?"
        res = data.get("res") or {}
        st = self.hosts.setdefault(host, HostStats())
        with contextlib.suppress(TypeError, ValueError):
            st.time_s += float(data.get("duration") or 0)
        self.task_done.add(host)
        task = data.get("task") or self.task or "?"
        where = {"host": host, "task": task, "play": data.get("play") or self.play}
        if kind == "runner_on_ok":
            st.ok += 1
            if data.get("task_action") in DEBUG_ACTIONS and isinstance(res, dict) and res.get("msg"):
                # what a playbook chose to tell the user (e.g. which tiers are not built yet)
                return [Note("message", f"{host}: {' '.join(str(res['msg']).split())}", host)]
            if isinstance(res, dict) and res.get("changed"):
                st.changed += 1
                return [Note("changed", f"changed: {host}", host)]
        elif kind == "runner_on_skipped":
            st.skipped += 1
        elif kind == "runner_on_failed":
            if data.get("ignore_errors"):
                st.ignored += 1
                return []
            st.failed += 1
            self.dead.add(host)
            msg = result_message(res)
            self.failures.append({**where, "msg": msg})
            return [Note("failed", f"FAILED {host}: {msg}", host)]
        elif kind == "runner_on_unreachable":
            st.unreachable += 1
            self.dead.add(host)
            msg = result_message(res)
            self.unreachable.append({**where, "msg": msg})
            return [Note("unreachable", f"UNREACHABLE {host}: {msg}", host)]
        return []

    def _stats(self, data: dict) -> None:
        """Ansible's own totals (PLAY RECAP) replace the counts made on the way."""
        self.stats_seen = True
        for key, attr in STATS_KEYS.items():
            for host, n in (data.get(key) or {}).items():
                setattr(self.hosts.setdefault(host, HostStats()), attr, int(n))

    def finish(self) -> None:
        self.finished = self.clock()

    # ------------------------------------------------------------------ reading
    @property
    def elapsed(self) -> float:
        return (self.finished or self.clock()) - self.started

    def task_progress(self) -> tuple[int, int | None]:
        """Hosts done with the current task, and how many are running it (None if unknown)."""
        if self.play_members is not None:
            alive = [h for h in self.play_members if h not in self.dead or h in self.task_done]
            return len(self.task_done), max(len(alive), len(self.task_done))
        if self.task_started:
            return len(self.task_done), max(len(self.task_started), len(self.task_done))
        return len(self.task_done), None

    def totals(self) -> HostStats:
        t = HostStats()
        for st in self.hosts.values():
            for f in dataclasses.fields(HostStats):
                setattr(t, f.name, getattr(t, f.name) + getattr(st, f.name))
        return t

    def exit_code(self, rc: int, canceled: bool = False) -> int:
        if canceled:
            return INTERRUPTED
        if any(st.failed for st in self.hosts.values()):
            return FAILED
        if any(st.unreachable for st in self.hosts.values()):
            return UNREACHABLE
        return OK if rc == 0 else ERROR


def _is_error(text: str) -> bool:
    t = text.lstrip()
    return t.startswith(("ERROR!", "[ERROR]"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
