"""Shared helpers of the api-endpoint scenario (imported by the tests; conftest.py puts this
directory on sys.path, as pytest's importlib mode does not): the lab's hosts, the VIP, requests through it, and a
request loop that runs beside a fault to measure how long the endpoint did not answer.

Requests go from the controller (the machine running the tests, on the lab bridge) to the VIP, as
an operator's kubectl would. Behind it answer STAND-INs for kube-apiserver (prepare.yml), not
Kubernetes.
"""

import ipaddress
import json
import os
import pathlib
import socket
import ssl
import threading
import time

import testinfra
import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
CONTROL_PLANE = sorted(RUNNER.get_hosts("kube_control_plane"))
WORKERS = sorted(RUNNER.get_hosts("kube_node"))
ALL = CONTROL_PLANE + WORKERS
FRONTEND_PORT = 8443  # haproxy shares the control-plane hosts with the API servers (port 6443)
BACKEND_PORT = 6443


def _lab_dir():
    default = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".lab"
    return pathlib.Path(os.environ.get("KUBESMITH_LAB_DIR") or default)


LAB_STATE = json.loads((_lab_dir() / "state.json").read_text())
LAB_NET = ipaddress.ip_network(LAB_STATE["subnet"])
VIP = str(LAB_NET.network_address + 5)  # as converge.yml picks it
CONTROLLER = str(LAB_NET.network_address + 1)  # the lab bridge: the machine running the tests


def address(name):
    return RUNNER.get_variables(name)["ansible_host"]


def all_hosts():
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY) for name in ALL}


def journal(host, unit, lines=30):
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager -o short-precise").stdout


def vip_owners(hosts):
    return [name for name in CONTROL_PLANE if f"inet {VIP}/" in hosts[name].run("ip -4 -o addr show").stdout]


def haproxy_servers(host):
    """Server name -> fields of haproxy's `show servers state kubesmith-api` (srv_op_state at [5]:
    0 stopped, 2 running; srv_port at [18])."""
    out = host.run(
        "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock');"
        " s.sendall(b'show servers state kubesmith-api\\n'); print(s.makefile().read())\""
    ).stdout
    return {f[3]: f for f in (line.split() for line in out.splitlines()) if len(f) > 18 and f[1] == "kubesmith-api"}


def journal_time(host, unit, text, since):
    """Unix time of the first journal line of ``unit`` containing ``text`` at or after ``since``
    (unix time), None when there is none. The lab's hosts share the machine's clock, so times of
    two hosts compare to the millisecond."""
    out = host.run(f"journalctl -u {unit} -o short-unix --no-pager --since @{since:.6f}").stdout
    for line in out.splitlines():
        stamp, _, message = line.partition(" ")
        if text in message:
            return float(stamp)
    return None


def vrrp_state(host):
    return host.run("cat /run/kubesmith/api-endpoint.vrrp").stdout.strip()


def request(timeout=0.5, source=None):
    """One HTTPS GET through the VIP; the body's last line ("standin-api <host>"). Raises OSError."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stand-in's self-signed certificate
    raw = socket.create_connection((VIP, FRONTEND_PORT), timeout=timeout,
                                   source_address=(source, 0) if source else None)
    with context.wrap_socket(raw) as tls:
        tls.sendall(b"GET / HTTP/1.0\r\nHost: api\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    if not data.startswith(b"HTTP/1.0 200"):
        raise OSError(f"unexpected answer: {data[:80]!r}")
    return data.decode().strip().splitlines()[-1]


class RequestLoop:
    """Requests through the VIP every ``interval`` s in a thread, bounded by ``limit`` s and
    ``max_requests``; each one is (start time, ok, answer or error)."""

    def __init__(self, interval=0.05, limit=10.0, max_requests=400, timeout=0.3):
        self.interval, self.limit, self.max_requests, self.timeout = interval, limit, max_requests, timeout
        self.results = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        began = time.monotonic()
        while (not self._stop.is_set() and time.monotonic() - began < self.limit
               and len(self.results) < self.max_requests):
            t = time.monotonic()
            try:
                self.results.append((t, True, request(self.timeout)))
            except OSError as e:
                self.results.append((t, False, str(e) or type(e).__name__))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def stop_when_recovered(self, t_fault, t_applied, quiet=2.0, settle=0.5):
        """Stop once requests failed after ``t_fault`` and then succeeded for ``settle`` s; or, when
        none failed within ``quiet`` s after the fault was applied (``t_applied``), then."""
        deadline = time.monotonic() + self.limit
        while time.monotonic() < deadline and self._thread.is_alive():
            after = [r for r in self.results if r[0] >= t_fault]
            failures = [r for r in after if not r[1]]
            now = time.monotonic()
            if failures:
                last = failures[-1][0]
                if any(r[1] and r[0] > last for r in after) and now - last > settle:
                    break
            elif now - t_applied > quiet:
                break
            time.sleep(0.05)
        self._stop.set()

    def outage(self, t_fault):
        """(seconds from the fault until the first success after the last failure, failed requests)."""
        after = [r for r in self.results if r[0] >= t_fault]
        failures = [r for r in after if not r[1]]
        if not failures:
            return 0.0, 0
        recovered = next((r[0] for r in after if r[1] and r[0] > failures[-1][0]), None)
        seconds = (recovered - t_fault) if recovered is not None else float("inf")
        return round(seconds, 2), len(failures)


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
