"""Reusable harness for unit tests of kubesmith's Ansible modules.

    def test_something(module_harness):
        rc = module_harness.run_command([(0, "v1.2.3\n", "")])
        with module_harness.args({"name": "x"}):
            result = module_harness.run(my_module.main)          # exit_json -> dict
        assert rc.calls[0] == ["kubeadm", "version", "-o", "short"]

``run`` returns exit_json's arguments; ``run(..., failed=True)`` expects fail_json and returns its
arguments. ``run_command`` feeds (rc, stdout, stderr) tuples to AnsibleModule.run_command in order,
records each call's argv and keyword arguments, and fails the test when a call is unexpected.
``run_module`` does all three at once, for modules that run every command under ``LC_ALL=C``.

Also here: ``fake_bin_paths`` (get_bin_path answers), ``bounded`` (a command under ``timeout``),
``FakeClock``, and the fixtures ``warnings`` (what the module warned), ``tls_files``, ``listener`` (a loopback
endpoint that accepts connections) and ``dropping_port`` (a loopback port that never answers), with
``free_port`` (one that refuses).
"""

from __future__ import annotations

import contextlib
import json
import socket

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes


class AnsibleExitJson(Exception):
    """exit_json was called."""

    @property
    def result(self) -> dict:
        return self.args[0]


class AnsibleFailJson(Exception):
    """fail_json was called."""

    @property
    def result(self) -> dict:
        return self.args[0]


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg=None, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


@contextlib.contextmanager
def set_module_args(args: dict):
    """Give the next AnsibleModule these arguments (works across ansible-core versions)."""
    args = {"_ansible_remote_tmp": "/tmp", "_ansible_keep_remote_files": False, **args}
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
    except ImportError:
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    old = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = old


class RunCommandMock:
    """Stands in for AnsibleModule.run_command: scripted results, recorded calls."""

    def __init__(self, results):
        self.results = list(results)
        self.calls: list[list[str]] = []
        self.kwargs: list[dict] = []

    def __call__(self, module, args, **kwargs):
        argv = list(args) if not isinstance(args, str) else args.split()
        self.calls.append([str(a) for a in argv])
        self.kwargs.append(kwargs)
        if not self.results:
            pytest.fail(f"unexpected run_command call: {argv}")
        result = self.results.pop(0)
        return result(argv) if callable(result) else result

    def assert_all_used(self):
        assert not self.results, f"run_command results never used: {self.results}"


class ModuleHarness:
    def __init__(self, monkeypatch):
        self._mp = monkeypatch
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    args = staticmethod(set_module_args)

    def run_command(self, results) -> RunCommandMock:
        mock = RunCommandMock(results)
        # a plain function, so Python binds it as a method and passes the module instance
        self._mp.setattr(basic.AnsibleModule, "run_command", lambda module, args, **kw: mock(module, args, **kw))
        return mock

    def run(self, main, failed: bool = False) -> dict:
        if failed:
            with pytest.raises(AnsibleFailJson) as exc:
                main()
        else:
            with pytest.raises(AnsibleExitJson) as exc:
                main()
        return exc.value.result

    def run_module(self, main, module_args: dict, results, failed: bool = False, check: bool = False,
                   diff: bool = False, environ: dict | None = None) -> tuple[dict, RunCommandMock]:
        """``main`` with ``module_args`` (and check/diff mode) on scripted ``results``: (result, mock).

        Every result must be used, and every command must run with ``environ`` (default LC_ALL=C)."""
        mock = self.run_command(results)
        if check:
            module_args = {**module_args, "_ansible_check_mode": True}
        if diff:
            module_args = {**module_args, "_ansible_diff": True}
        with self.args(module_args):
            result = self.run(main, failed=failed)
        mock.assert_all_used()
        environ = {"LC_ALL": "C"} if environ is None else environ
        assert all(kw["environ_update"] == environ for kw in mock.kwargs)
        return result, mock


@pytest.fixture
def module_harness(monkeypatch) -> ModuleHarness:
    return ModuleHarness(monkeypatch)


def fake_bin_paths(monkeypatch, found: dict) -> dict:
    """AnsibleModule.get_bin_path answers from ``found`` (name -> path; missing -> None)."""
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, arg, required=False, opt_dirs=None: found.get(arg))
    return found


TIMEOUT = "/usr/bin/timeout"


def bounded(seconds, *argv) -> list[str]:
    """The argv of ``argv`` run under timeout(1), as module_utils/kubeadm.py bounds its commands."""
    return [TIMEOUT, "--kill-after=10s", f"{seconds}s", *argv]


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """What the module passed to AnsibleModule.warn, in order."""
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg, **kw: seen.append(msg))
    return seen


def free_port() -> int:
    """A loopback port nothing listens on: a connect is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener():
    """An API endpoint on loopback that accepts connections: "127.0.0.1:<port>"."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def dropping_port():
    """A loopback listener whose accept queue is full: the kernel drops further SYNs, so a connect
    neither succeeds nor is refused - it times out, like behind a firewall that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    yield port
    for s in fillers:
        s.close()
    server.close()


class FakeClock:
    """Stands in for a module's ``time``: monotonic() advances only by sleep(), sleeps are recorded."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def tls_files(tmp_path):
    """CA, certificate and key files that exist (their content is never parsed by the modules)."""

    class Tls:
        ca = tmp_path / "pki" / "ca.crt"
        cert = tmp_path / "pki" / "client.crt"
        key = tmp_path / "pki" / "client.key"

    Tls.ca.parent.mkdir()
    for path in (Tls.ca, Tls.cert, Tls.key):
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    return Tls
