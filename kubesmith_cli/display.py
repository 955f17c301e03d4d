"""What a person sees: a live progress display while the run goes, a summary table at the end.

On a terminal one status line is redrawn in place (play, current task, hosts done/total, counts,
elapsed time), with plays, failures and unreachable hosts printed above it as they happen.
Without a terminal (CI logs, pipes) the same news comes as plain, time-stamped lines.
"""

from __future__ import annotations

import shutil
import threading

from kubesmith_cli.events import Note, RunState

SPINNER = "|/-\\"
COLORS = {"play": "1", "failed": "31", "unreachable": "35", "changed": "33", "error": "31", "ok": "32"}


def fmt_time(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m{s:02d}s"


class Progress:
    """Live progress on ``stream``; ``tty`` picks the redrawn status line or plain lines."""

    def __init__(self, stream, tty: bool, color: bool | None = None, show_changed: bool = True):
        self.stream = stream
        self.tty = tty
        self.color = tty if color is None else color
        self.show_changed = show_changed
        self.lock = threading.RLock()
        self.status_shown = False
        self.spin = 0
        self.state: RunState | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, state: RunState, header: str) -> None:
        self.state = state
        self.line(header)
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, name="kubesmith-progress", daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=2)
        with self.lock:
            self._clear_status()
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                self.spin += 1
                self._draw_status()

    # ------------------------------------------------------------------ output
    def paint(self, text: str, kind: str) -> str:
        code = COLORS.get(kind)
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code else text

    def line(self, text: str, kind: str = "") -> None:
        """A permanent line (above the status line on a terminal)."""
        with self.lock:
            self._clear_status()
            self.stream.write(self.paint(text, kind) + "\n")
            self._draw_status()
            self.stream.flush()

    def notes(self, notes: list[Note]) -> None:
        for n in notes:
            if n.kind == "changed" and not self.show_changed:
                continue
            if self.tty and n.kind in ("task", "changed"):
                continue  # the status line shows the task; a terminal is not a log
            indent = "" if n.kind in ("play", "error") else "  "
            stamp = f"[{fmt_time(self.state.elapsed):>7}] " if self.state and not self.tty else ""
            self.line(f"{stamp}{indent}{n.text}", n.kind)
        if self.tty:
            with self.lock:
                self._draw_status()
                self.stream.flush()

    def status_text(self, width: int = 200) -> str:
        """One line: elapsed, play n/N, current task, hosts done/total with it, counts.

        Play and task names are shortened first, so the numbers stay in view on a narrow terminal.
        """
        s = self.state
        if s is None:
            return ""
        t = s.totals()
        head = f"{SPINNER[self.spin % len(SPINNER)]} {fmt_time(s.elapsed)}"
        counts = (f"ok {t.ok} changed {t.changed} failed {t.failed} unreachable {t.unreachable}" if width >= 110
                  else f"ok {t.ok} chg {t.changed} fail {t.failed} unr {t.unreachable}")
        play = task = hosts = ""
        if s.play:
            play = f"play {s.play_n}{f'/{s.plays_total}' if s.plays_total else ''}: "
        if s.task:
            done, total_hosts = s.task_progress()
            task = f"task {s.task_n}: "
            hosts = f"hosts {done}/{total_hosts if total_hosts is not None else '?'}"
        names = [s.play or "", s.task or ""] if s.task else [s.play or ""]
        fixed = [head, *([play] if play else []), *([task] if task else []), *([hosts] if hosts else []), counts]
        room = width - len(" | ".join(fixed)) - sum(len(n) for n in names)
        for keep in (12, 2):  # shorten the play name first, then the task name; drop them last
            for i in range(len(names)):
                cut = min(-room, max(0, len(names[i]) - keep))
                if cut > 0:
                    names[i] = names[i][: len(names[i]) - cut - 1] + "~"
                    room += cut
        parts = [head]
        if play:
            parts.append(play + names[0])
        if task:
            parts.append(task + names[1])
            parts.append(hosts)
        parts.append(counts)
        text = " | ".join(parts)
        return text if len(text) <= width else text[: width - 1] + "~"

    def _draw_status(self) -> None:
        if not self.tty or self._stop.is_set():
            return
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        text = self.status_text(width)
        self.stream.write("\r\x1b[2K" + text)
        self.status_shown = True

    def _clear_status(self) -> None:
        if self.tty and self.status_shown:
            self.stream.write("\r\x1b[2K")
            self.status_shown = False


def summary_table(summary: dict, color: bool = False) -> str:
    """The per-host table and the closing lines, from ``build_summary``'s dict."""
    cols = ("ok", "changed", "failed", "unreachable", "skipped")
    rows = [("HOST", *(c.upper() for c in cols), "TIME")]
    for host, st in summary["hosts"].items():
        rows.append((host, *(str(st[c]) for c in cols), fmt_time(st["time_s"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        line = "  ".join(cells)
        if i and color:
            st = summary["hosts"][r[0]]
            kind = next((k for k in ("failed", "unreachable", "changed") if st[k]), "ok")
            line = f"\x1b[{COLORS[kind]}m{line}\x1b[0m"
        lines.append(line)
    if len(rows) == 1:
        lines = ["(no host ran a task)"]
    for f in summary["failures"]:
        lines.append(f"FAILED {f['host']}, task '{f['task']}': {f['msg']}")
    for u in summary["unreachable"]:
        lines.append(f"UNREACHABLE {u['host']}, task '{u['task']}': {u['msg']}")
    for e in summary.get("errors") or []:
        lines.append(e)
    lines.append(closing_line(summary))
    return "\n".join(lines)


def closing_line(summary: dict) -> str:
    words = {"ok": "OK", "failed": "FAILED", "unreachable": "UNREACHABLE", "error": "ERROR",
             "interrupted": "INTERRUPTED"}
    status = words.get(summary["status"], summary["status"].upper())
    n = len(summary["hosts"])
    what = f"{n} host{'' if n == 1 else 's'}, {summary['plays']} plays, {summary['tasks']} tasks"
    check = "; check mode: nothing was changed" if summary.get("check_mode") else ""
    code = f" (exit {summary['exit_code']})" if summary["exit_code"] else ""
    return f"kubesmith {summary['command']}: {status}{code} in {fmt_time(summary['elapsed_s'])}: {what}{check}"
