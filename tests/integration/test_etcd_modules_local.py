"""etcd_member and etcd_snapshot for real: `ansible localhost -c local -m ...` against a 3-member etcd
cluster with TLS on 127.0.0.1 (Debian's etcd-server and etcd-client, fetched with apt-get download
into the pytest cache and unpacked, never installed).

Covers: info; add a learner (etcd's 'unhealthy cluster' right after start is waited out), start it
with the returned initial_cluster, promote it; remove it after its host died, the dead endpoint
listed first; a removal that would lose quorum is refused; snapshot save with retention, restore
into a new data dir, an etcd started on it holds the keys, a second restore changes nothing; what
diagnose_endpoint says about TLS mistakes.

Bounded: the whole file in 60 s (an alarm), every subprocess with a timeout, every etcd killed by
its pid in a finalizer, data under pytest's temporary directory. Loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import ansible.module_utils
import pytest
from etcd_local import FetchError, LocalCluster, fetch_binaries, free_port, make_pki

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / ".venv" / "bin" / "ansible"
NAMES = ["etcd-1", "etcd-2", "etcd-3"]
FILE_BUDGET = 60  # seconds for this whole file
KEYS = 500

if str(ROOT / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
from ansible.module_utils.etcd import diagnose_endpoint  # noqa: E402  (the code the modules run)


@pytest.fixture(scope="module", autouse=True)
def budget():
    """Fail (and so tear everything down) when this file runs longer than FILE_BUDGET seconds."""

    def expired(signum, frame):
        raise TimeoutError(f"{Path(__file__).name} ran longer than {FILE_BUDGET}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(FILE_BUDGET)
    began = time.monotonic()
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
    print(f"\n{Path(__file__).name}: {time.monotonic() - began:.1f}s")


@pytest.fixture(scope="session")
def etcd_bin(request):
    """Debian's etcd binaries, downloaded once into the pytest cache."""
    if not ANSIBLE.exists():
        pytest.skip(f"{ANSIBLE} is missing: run `make setup`")
    if getattr(request.config, "cache", None) is not None:
        cache = Path(request.config.cache.mkdir("kubesmith-etcd-debs"))
    else:  # -p no:cacheprovider
        cache = Path.home() / ".cache" / "kubesmith-etcd-debs"
    try:
        return fetch_binaries(cache, timeout=90)
    except FetchError as e:
        pytest.skip(f"no etcd binaries to test with: {e}")


@pytest.fixture(scope="module")
def cluster(etcd_bin, tmp_path_factory):
    work = tmp_path_factory.mktemp("etcd")
    pki = make_pki(work / "pki", [*NAMES, "etcd-4", "etcd-r"])
    ports = [free_port() for _ in range(6)]
    c = LocalCluster(etcd_bin, work, pki, NAMES, ports[:3], ports[3:], token="kubesmith-it")
    try:
        c.start(timeout=20)
        yield c
    finally:
        c.stop()
        shutil.rmtree(work, ignore_errors=True)


def tls(c):
    cert, key = c.pki.pair("client")
    return {"cacert": str(c.pki.ca), "cert": str(cert), "key": str(key), "etcdctl": str(c.etcdctl_bin)}


def ansible(module, args, check=False, diff=False, timeout=45):
    """Run one module on localhost through the ansible CLI; its result, with '_seconds' added."""
    argv = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", module, "-a", json.dumps(args)]
    argv += ["--check"] if check else []
    argv += ["--diff"] if diff else []
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    began = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"ansible printed no result (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result["_seconds"] = time.monotonic() - began
    print(f"  ansible -m {module} {args.get('state', '')}: {result['_seconds']:.1f}s")
    return result


def member_names(result):
    return sorted(m["name"] or "(not started)" for m in result["members"])


def test_info_reports_members_leader_and_health(cluster):
    urls = [cluster.members[n].client_url for n in NAMES]
    result = ansible("etcd_member", {"state": "info", "endpoints": urls, **tls(cluster)})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert member_names(result) == NAMES
    assert result["leader_name"] in NAMES
    assert sorted(h["endpoint"] for h in result["health"] if h["healthy"]) == sorted(urls)
    assert all(m["id_int"] == int(m["id"], 16) for m in result["members"])  # exact 64-bit IDs through JSON
    assert result["initial_cluster"].count("=https://127.0.0.1:") == 3


def test_add_a_learner_start_it_promote_it_and_remove_it_when_its_host_died(cluster):
    e1 = cluster.members["etcd-1"].client_url
    new = cluster.add_member_slot("etcd-4", free_port(), free_port())
    add = {"name": "etcd-4", "peer_urls": [new.peer_url], "learner": True, "endpoints": [e1], **tls(cluster)}

    # right after the cluster started, etcd answers 'unhealthy cluster' for ~5 s: the module waits
    added = ansible("etcd_member", add, diff=True)
    assert not added.get("failed"), added.get("msg")
    assert added["changed"] is True
    assert added["added_member"]["is_learner"] is True
    assert f"etcd-4={new.peer_url}" in added["initial_cluster"]
    assert ansible("etcd_member", add)["changed"] is False  # added, not started: present

    cluster.start_member("etcd-4", initial_cluster=added["initial_cluster"], state="existing")
    promoted = ansible("etcd_member", {**add, "state": "promoted", "wait_timeout": 20})
    assert not promoted.get("failed"), promoted.get("msg")
    assert promoted["changed"] is True
    assert promoted["promoted_member"]["is_learner"] is False
    assert promoted["promoted_member"]["id"] == added["added_member"]["id"]

    cluster.stop_member("etcd-4")
    # the dead host's endpoint first: it costs one command_timeout, then etcd-1 answers
    gone = ansible(
        "etcd_member",
        {"state": "absent", "name": "etcd-4", "endpoints": [new.client_url, e1], "command_timeout": 2, **tls(cluster)},
    )
    assert not gone.get("failed"), gone.get("msg")
    assert gone["changed"] is True
    assert gone["removed_member"]["name"] == "etcd-4"
    assert member_names(gone) == NAMES
    assert gone["_seconds"] < 15
    del cluster.members["etcd-4"]


def test_a_removal_that_would_lose_quorum_is_refused(cluster):
    e1 = cluster.members["etcd-1"].client_url
    cluster.stop_member("etcd-3")
    try:
        refused = ansible(
            "etcd_member",
            {"state": "absent", "name": "etcd-2", "endpoints": [e1], "command_timeout": 2, **tls(cluster)},
        )
        assert refused.get("failed") is True
        assert refused["msg"].startswith("refusing to remove member etcd-2 ")
        assert "fewer than the quorum of 2" in refused["msg"]
    finally:
        cluster.start_member("etcd-3", state="existing")
        cluster.wait_healthy(NAMES, timeout=20)


def test_snapshot_save_with_retention_then_restore_into_a_new_data_dir(cluster):
    cluster.put_keys(KEYS, prefix="/registry/it/")
    work = cluster.workdir / "snapshots"  # removed with the cluster
    backups = work / "backups"
    backups.mkdir(parents=True)
    for i, age in enumerate((300, 200)):
        old = backups / f"etcd-old{i}.db"
        old.write_bytes(b"old")
        os.utime(old, (time.time() - age, time.time() - age))
    path = backups / "etcd-new.db"
    dead = f"https://127.0.0.1:{free_port()}"
    save = {
        "path": str(path),
        "endpoints": [dead, cluster.members["etcd-2"].client_url],
        "retention": 2,
        "command_timeout": 2,
        **tls(cluster),
    }
    saved = ansible("etcd_snapshot", save)
    assert not saved.get("failed"), saved.get("msg")
    assert saved["changed"] is True
    assert saved["integrity"] == "ok"
    assert saved["total_keys"] >= KEYS
    assert saved["deleted"] == [str(backups / "etcd-old0.db")]
    assert sorted(p.name for p in backups.iterdir()) == ["etcd-new.db", "etcd-old1.db"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ansible("etcd_snapshot", save)["changed"] is False  # a sound snapshot is there

    member = cluster.add_member_slot("etcd-r", free_port(), free_port(), data_dir=work / "restored" / "etcd")
    restore = {
        "state": "restored",
        "path": str(path),
        "data_dir": str(member.data_dir),
        "name": "etcd-r",
        "initial_cluster": f"etcd-r={member.peer_url}",
        "initial_cluster_token": "kubesmith-it-restored",
        "initial_advertise_peer_urls": [member.peer_url],
        "etcdctl": str(cluster.etcdctl_bin),
    }
    restored = ansible("etcd_snapshot", restore)
    assert not restored.get("failed"), restored.get("msg")
    assert restored["changed"] is True
    assert restored["sha256"] == saved["sha256"]
    assert (member.data_dir / "member" / "kubesmith-restore.json").is_file()
    took = f"save {saved['seconds']}s, restore {restored['seconds']}s"
    print(f"\nsnapshot: {saved['size']} bytes, {saved['total_keys']} keys, {took}")

    cluster.token = "kubesmith-it-restored"
    cluster.start_member("etcd-r", initial_cluster=restore["initial_cluster"])
    try:
        cluster.wait_healthy(["etcd-r"], timeout=20)
        got = cluster.etcdctl(
            "get", "/registry/it/", "--prefix", "--limit=1", "-w", "json", endpoints=[member.client_url]
        )
        assert json.loads(got.stdout)["count"] == KEYS
    finally:
        cluster.stop_member("etcd-r")
    again = ansible("etcd_snapshot", restore)
    assert again["changed"] is False  # recognised, also after etcd ran on it


def test_diagnose_endpoint_names_tls_mistakes(cluster):
    e1 = cluster.members["etcd-1"].client_url
    cert, key = cluster.pki.pair("client")
    rogue_cert, rogue_key = cluster.pki.pair("rogue-client")
    assert diagnose_endpoint(e1, str(cluster.pki.ca), str(cert), str(key), 2).startswith("TCP and TLS work")
    assert diagnose_endpoint(e1, str(cluster.pki.ca), None, None, 2).startswith(
        "the server rejected the client certificate"
    )
    assert diagnose_endpoint(e1, str(cluster.pki.ca), str(rogue_cert), str(rogue_key), 2).startswith(
        "the server rejected the client certificate"
    )
    assert diagnose_endpoint(e1, str(cluster.pki.rogue_ca), str(cert), str(key), 2).startswith(
        "the server's certificate is not trusted with cacert"
    )
    assert diagnose_endpoint(f"https://127.0.0.1:{free_port()}", None, None, None, 1).startswith("connection refused")
