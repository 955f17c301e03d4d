"""A real etcd cluster on 127.0.0.1 for tests: Debian's etcd binaries, TLS on clients and peers.

Used by tests/integration/test_etcd_modules_local.py and by the recorder of the unit tests'
fixtures (tests/unit/fixtures/etcd/record.py). Nothing here listens anywhere but 127.0.0.1, every
subprocess has a timeout, and every etcd process is one this code started (killed by its pid).

    bin_dir = fetch_binaries(cache_dir)             # apt-get download + dpkg-deb -x, cached
    pki = make_pki(tmp / "pki", ["etcd-1", "etcd-2", "etcd-3"])
    with LocalCluster(bin_dir, tmp, pki, client_ports=[...], peer_ports=[...]) as cluster:
        cluster.start()
        cluster.etcdctl("member", "list", "-w", "json")
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ETCD_PACKAGES = ("etcd-server", "etcd-client")
LOOPBACK = "127.0.0.1"


class FetchError(Exception):
    """The etcd binaries could not be downloaded or unpacked (the message says why)."""


def fetch_binaries(cache_dir: Path, timeout: float = 120) -> Path:
    """Debian's etcd-server and etcd-client unpacked under ``cache_dir``; returns their usr/bin.

    ``apt-get download`` (not install: installing would start an etcd service on this machine)
    and ``dpkg-deb -x``. Nothing is fetched when the binaries are already there.
    """
    root = cache_dir / "root"
    bin_dir = root / "usr" / "bin"
    if (bin_dir / "etcd").is_file() and (bin_dir / "etcdctl").is_file():
        return bin_dir
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise FetchError("apt-get and dpkg-deb are needed to fetch Debian's etcd packages")
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            ["apt-get", "download", *ETCD_PACKAGES],
            cwd=debs,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FetchError(f"apt-get download {' '.join(ETCD_PACKAGES)} took more than {timeout:g}s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise FetchError(
            f"apt-get download {' '.join(ETCD_PACKAGES)} failed (rc={proc.returncode}): {last} "
            "(is the apt index current? apt-get update)"
        )
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=60, capture_output=True)
    # keep the executables only: the packages' docs hold YAML that linters walking the tree would read
    for entry in root.iterdir():
        if entry.name != "usr":
            shutil.rmtree(entry, ignore_errors=True)
    for entry in (root / "usr").iterdir():
        if entry.name != "bin":
            shutil.rmtree(entry, ignore_errors=True)
    if not (bin_dir / "etcd").is_file() or not (bin_dir / "etcdctl").is_file():
        raise FetchError(f"the packages unpacked under {root} hold no usr/bin/etcd and usr/bin/etcdctl")
    return bin_dir


def binary_version(path: Path) -> str:
    """'3.4.23' from ``etcd --version`` or ``etcdctl version``."""
    argv = [str(path), "--version"] if path.name == "etcd" else [str(path), "version"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("etcd version", "etcdctl version"):
            return value.strip()
    raise ValueError(f"no version in {out!r}")


# ---------------------------------------------------------------------------------------------
# certificates


@dataclass
class Pki:
    directory: Path
    ca: Path
    certs: dict[str, tuple[Path, Path]]  # name -> (cert, key); members, "client", "rogue-client"
    rogue_ca: Path  # a CA etcd does not trust

    def pair(self, name):
        return self.certs[name]


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(ca_cert, ca_key, common_name, usages, server):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory: Path, members: list[str]) -> Pki:
    """A CA; per member one certificate for 127.0.0.1/localhost used as server, peer and peer client;
    a client certificate for etcdctl; and a client certificate of a CA etcd does not trust."""
    directory.mkdir(parents=True, exist_ok=True)

    def write(name, cert, key=None):
        crt = directory / f"{name}.crt"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is None:
            return crt, None
        pem = directory / f"{name}.key"
        pem.write_bytes(_key_pem(key))
        pem.chmod(0o600)
        return crt, pem

    ca_cert, ca_key = _ca("kubesmith-test-etcd-ca")
    rogue_cert, rogue_key = _ca("kubesmith-test-rogue-ca")
    certs = {}
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    for name in members:
        certs[name] = write(name, *_leaf(ca_cert, ca_key, name, both, server=True))
    certs["client"] = write(
        "client", *_leaf(ca_cert, ca_key, "kubesmith-test-client", [ExtendedKeyUsageOID.CLIENT_AUTH], False)
    )
    certs["rogue-client"] = write(
        "rogue-client", *_leaf(rogue_cert, rogue_key, "rogue-client", [ExtendedKeyUsageOID.CLIENT_AUTH], False)
    )
    return Pki(directory, write("ca", ca_cert)[0], certs, write("rogue-ca", rogue_cert)[0])


# ---------------------------------------------------------------------------------------------
# the cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen | None = None
    log: Path | None = None
    log_file: object = field(default=None, repr=False)

    @property
    def client_url(self):
        return f"https://{LOOPBACK}:{self.client_port}"

    @property
    def peer_url(self):
        return f"https://{LOOPBACK}:{self.peer_port}"


class LocalCluster:
    """etcd members on 127.0.0.1, each with its own ports and data dir under ``workdir``."""

    def __init__(self, bin_dir: Path, workdir: Path, pki: Pki, names, client_ports, peer_ports, token="kubesmith-test"):
        self.bin_dir = bin_dir
        self.etcd = bin_dir / "etcd"
        self.etcdctl_bin = bin_dir / "etcdctl"
        self.workdir = workdir
        self.pki = pki
        self.token = token
        self.members = {
            name: Member(name, cp, pp, workdir / f"{name}.etcd")
            for name, cp, pp in zip(names, client_ports, peer_ports, strict=True)
        }

    # -- processes ---------------------------------------------------------------------------

    def initial_cluster(self, names=None):
        names = names or list(self.members)
        return ",".join(f"{n}={self.members[n].peer_url}" for n in names)

    def add_member_slot(self, name, client_port, peer_port, data_dir=None):
        self.members[name] = Member(name, client_port, peer_port, data_dir or self.workdir / f"{name}.etcd")
        return self.members[name]

    def start_member(self, name, initial_cluster=None, state="new", data_dir=None):
        m = self.members[name]
        if data_dir is not None:
            m.data_dir = data_dir
        cert, key = self.pki.pair(name)
        argv = [
            str(self.etcd),
            f"--name={name}",
            f"--data-dir={m.data_dir}",
            f"--listen-client-urls={m.client_url}",
            f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}",
            f"--initial-advertise-peer-urls={m.peer_url}",
            f"--initial-cluster={initial_cluster or self.initial_cluster()}",
            f"--initial-cluster-state={state}",
            f"--initial-cluster-token={self.token}",
            f"--cert-file={cert}",
            f"--key-file={key}",
            "--client-cert-auth",
            f"--trusted-ca-file={self.pki.ca}",
            f"--peer-cert-file={cert}",
            f"--peer-key-file={key}",
            "--peer-client-cert-auth",
            f"--peer-trusted-ca-file={self.pki.ca}",
            "--logger=zap",
            "--log-outputs=stderr",
            "--enable-v2=false",
        ]
        m.log = self.workdir / f"{name}.log"
        m.log_file = open(m.log, "ab")  # noqa: SIM115 (closed in stop_member)
        m.proc = subprocess.Popen(argv, stdout=m.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        return m

    def stop_member(self, name, sig=signal.SIGTERM, timeout=10):
        m = self.members[name]
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(sig)
            try:
                m.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                m.proc.kill()
                m.proc.wait(timeout=timeout)
        m.proc = None
        if m.log_file is not None:
            m.log_file.close()
            m.log_file = None

    def stop(self):
        for name in list(self.members):
            with contextlib.suppress(Exception):
                self.stop_member(name, sig=signal.SIGKILL)

    def running(self):
        return [n for n, m in self.members.items() if m.proc is not None and m.proc.poll() is None]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- etcdctl -----------------------------------------------------------------------------

    def tls_flags(self, client="client"):
        cert, key = self.pki.pair(client)
        return [f"--cacert={self.pki.ca}", f"--cert={cert}", f"--key={key}"]

    def etcdctl(self, *args, endpoints=None, tls=None, timeout=30, stdin=None):
        """Run etcdctl against ``endpoints`` (None: every running member; []: no --endpoints, for
        snapshot status/restore); CompletedProcess with ``.seconds`` added."""
        if endpoints is None:
            endpoints = [self.members[n].client_url for n in self.running()]
        argv = [
            str(self.etcdctl_bin),
            *([f"--endpoints={','.join(endpoints)}"] if endpoints else []),
            *(self.tls_flags() if tls is None else tls),
            *args,
        ]
        began = time.monotonic()
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=stdin,
            env={**os.environ, "ETCDCTL_API": "3", "LC_ALL": "C"},
        )
        proc.seconds = time.monotonic() - began
        return proc

    def wait_healthy(self, names=None, timeout=30):
        names = names or list(self.members)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            dead = [n for n in names if self.members[n].proc is None or self.members[n].proc.poll() is not None]
            if dead:
                raise RuntimeError(f"etcd {dead} exited; see {self.members[dead[0]].log}")
            last = self.etcdctl(
                "endpoint",
                "health",
                "--dial-timeout=1s",
                "--command-timeout=2s",
                endpoints=[self.members[n].client_url for n in names],
                timeout=10,
            )
            if last.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"etcd {names} not healthy in {timeout}s: {last.stderr if last else ''}")

    def start(self, timeout=30):
        for name in self.members:
            self.start_member(name)
        self.wait_healthy(timeout=timeout)

    def put_keys(self, count, prefix="/registry/test/", value_size=100, batch=120):
        """``count`` keys, written in transactions of ``batch`` puts (one etcdctl run each)."""
        value = "v" * value_size
        for start in range(0, count, batch):
            puts = "".join(f'put {prefix}{i:06d} "{value}"\n' for i in range(start, min(count, start + batch)))
            proc = self.etcdctl("txn", stdin=f"\n{puts}\n\n", timeout=30)
            if proc.returncode != 0:
                raise RuntimeError(f"etcdctl txn failed: {proc.stderr}")
