"""library/etcd_snapshot.py through the harness, fed with etcdctl 3.4.23 outputs recorded from a real
TLS cluster on 127.0.0.1 (tests/unit/fixtures/etcd/). Snapshot files live under tmp_path; a scripted
'snapshot save' or 'snapshot restore' writes what etcdctl would write, and every argv is asserted."""

import hashlib
import json
import os
import stat

import etcd_snapshot
import pytest
import yaml
from fixtures.etcd.recorded import load
from module_harness import fake_bin_paths

ETCDCTL = "/usr/bin/etcdctl"
ETCDUTL = "/usr/local/bin/etcdutl"
E1, E3 = "https://127.0.0.1:23791", "https://127.0.0.1:23793"
ENV = {"LC_ALL": "C", "ETCDCTL_API": "3"}
VERSION = [ETCDCTL, "version"]
RECORDED_STATUS = {"hash": 612527586, "revision": 85, "total_keys": 10009, "total_size": 13811712}
CLUSTER = "etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380"


def rec(name):
    return load(name).result()


def snapshot_bytes(seed=b"etcd", damaged=False):
    """A file shaped like 'snapshot save' output: a database (multiple of 512 bytes) + its sha256."""
    body = hashlib.sha256(seed).digest() * 256  # 8192 bytes
    data = bytearray(body + hashlib.sha256(body).digest())
    if damaged:
        data[100] ^= 0xFF
    return bytes(data)


def saving(data=None, result=None, part_only=False):
    """A run_command result that acts like 'etcdctl snapshot save <file>': writes <file>.part, then
    renames it over <file> (as etcdctl 3.4 does) and answers what was recorded."""

    def save(argv):
        target = argv[-1]
        with open(f"{target}.part", "wb") as f:
            f.write(snapshot_bytes() if data is None else data)
        if not part_only:
            os.replace(f"{target}.part", target)
        return result or rec("snapshot_save")

    return save


@pytest.fixture(autouse=True)
def binaries(monkeypatch):
    return fake_bin_paths(monkeypatch, {"etcdctl": ETCDCTL})


@pytest.fixture(autouse=True)
def diagnosed(monkeypatch):
    calls = []
    monkeypatch.setattr(
        etcd_snapshot, "diagnose_endpoint", lambda url, *a: calls.append(url) or "connection refused: nothing listens"
    )
    return calls


@pytest.fixture
def pki(tls_files):
    return tls_files


@pytest.fixture
def backups(tmp_path):
    return tmp_path / "backups"


def save_args(pki, path, **extra):
    tls = {"cacert": str(pki.ca), "cert": str(pki.cert), "key": str(pki.key)}
    return {"path": str(path), "endpoints": [E1], **tls, **extra}


def save_argv(pki, endpoint, target, timeout="60s"):
    return [
        ETCDCTL,
        f"--endpoints={endpoint}",
        f"--cacert={pki.ca}",
        f"--cert={pki.cert}",
        f"--key={pki.key}",
        "--dial-timeout=2s",
        f"--command-timeout={timeout}",
        "snapshot",
        "save",
        target,
    ]


def status_argv(path, tool=ETCDCTL):
    return [tool, "snapshot", "status", str(path), "-w", "json"]


def run(harness, module_args, results, failed=False):
    mock = harness.run_command(results)
    with harness.args(module_args):
        result = harness.run(etcd_snapshot.main, failed=failed)
    if not failed:
        mock.assert_all_used()
    return result, mock


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- saved ----------------------------------------------------------------------------------------


def test_save_writes_a_temporary_file_verifies_it_then_moves_it(module_harness, pki, backups):
    path = backups / "etcd-20250101.db"
    result, rc = run(module_harness, save_args(pki, path), [saving(), rec("etcdctl_version"), rec("snapshot_status")])

    tmp = rc.calls[0][-1]
    assert os.path.dirname(tmp) == str(backups)
    assert os.path.basename(tmp).startswith(".etcd-20250101.db.")
    assert tmp.endswith(".tmp")
    assert rc.calls == [save_argv(pki, E1, tmp), VERSION, status_argv(tmp)]
    assert all(kw["environ_update"] == ENV for kw in rc.kwargs)
    data = snapshot_bytes()
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert files(backups) == ["etcd-20250101.db"]  # no temporary file left
    assert result["changed"] is True
    assert {k: result[k] for k in RECORDED_STATUS} == RECORDED_STATUS
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert (result["integrity"], result["size"], result["storage_version"]) == ("ok", len(data), None)
    assert (result["endpoint"], result["tool"], result["deleted"]) == (E1, ETCDCTL, [])


def test_a_sound_snapshot_at_path_is_left_alone(module_harness, pki, backups):
    backups.mkdir()
    path = backups / "etcd.db"
    path.write_bytes(snapshot_bytes())
    result, rc = run(module_harness, save_args(pki, path), [rec("etcdctl_version"), rec("snapshot_status")])
    assert rc.calls == [VERSION, status_argv(path)]
    assert result["changed"] is False
    assert result["revision"] == 85
    assert "endpoint" not in result


def test_force_takes_a_new_snapshot(module_harness, pki, backups):
    backups.mkdir()
    path = backups / "etcd.db"
    path.write_bytes(snapshot_bytes(seed=b"old"))
    new = snapshot_bytes(seed=b"new")
    result, rc = run(
        module_harness,
        save_args(pki, path, force=True),
        [saving(new), rec("etcdctl_version"), rec("snapshot_status")],
    )
    assert rc.calls[0][:-1] == save_argv(pki, E1, "x")[:-1]
    assert path.read_bytes() == new
    assert result["changed"] is True


def test_a_damaged_snapshot_at_path_is_replaced(module_harness, pki, backups, warnings):
    backups.mkdir()
    path = backups / "etcd.db"
    path.write_bytes(snapshot_bytes(damaged=True))
    result, rc = run(
        module_harness,
        save_args(pki, path),
        [rec("etcdctl_version"), rec("snapshot_status_flipped"), saving(), rec("snapshot_status")],
    )
    tmp = rc.calls[2][-1]
    assert rc.calls == [VERSION, status_argv(path), save_argv(pki, E1, tmp), status_argv(tmp)]
    assert "does not match the sha256 that 'snapshot save' appended" in warnings[0]
    assert path.read_bytes() == snapshot_bytes()
    assert result["changed"] is True


def test_a_dead_endpoint_is_skipped(module_harness, pki, backups, diagnosed):
    path = backups / "etcd.db"
    result, rc = run(
        module_harness,
        save_args(pki, path, endpoints=[E3, E1], command_timeout=5),
        [rec("snapshot_save_dead_endpoint"), saving(), rec("etcdctl_version"), rec("snapshot_status")],
    )
    tmp = rc.calls[0][-1]
    assert rc.calls[:2] == [save_argv(pki, E3, tmp, "5s"), save_argv(pki, E1, tmp, "5s")]
    assert result["endpoint"] == E1
    assert diagnosed == [E3]


def test_no_endpoint_leaves_nothing_behind(module_harness, pki, backups):
    path = backups / "etcd.db"
    dead = saving(result=rec("snapshot_save_dead_endpoint"), part_only=True)  # etcdctl's .part stays
    result, rc = run(module_harness, save_args(pki, path, endpoints=[E3, E1]), [dead, dead], failed=True)
    assert len(rc.calls) == 2
    assert result["msg"] == (
        f"no etcd endpoint gave a snapshot within 60s: {E3}: context deadline exceeded (connection refused: nothing "
        f"listens); {E1}: context deadline exceeded (connection refused: nothing listens)"
    )
    assert files(backups) == []


def test_a_snapshot_that_fails_its_checksum_never_reaches_path(module_harness, pki, backups):
    path = backups / "etcd.db"
    result, _ = run(
        module_harness,
        save_args(pki, path),
        # 'snapshot status' passes on a flipped byte (recorded); the appended sha256 does not
        [saving(snapshot_bytes(damaged=True)), rec("etcdctl_version"), rec("snapshot_status_flipped")],
        failed=True,
    )
    assert result["msg"].startswith(f"the snapshot taken from {E1} is not sound: its content does not match")
    assert files(backups) == []


def test_etcdctl_failing_for_another_reason_fails_at_once(module_harness, pki, backups):
    result, rc = run(
        module_harness,
        save_args(pki, backups / "etcd.db", endpoints=[E1, E3]),
        [rec("snapshot_save_multiple_endpoints")],
        failed=True,
    )
    assert len(rc.calls) == 1
    assert result["msg"].startswith(f"etcdctl snapshot save from {E1} failed: snapshot must be requested to one")
    assert result["rc"] == 5


def test_check_mode_takes_no_snapshot(module_harness, pki, backups):
    result, rc = run(module_harness, save_args(pki, backups / "etcd.db", _ansible_check_mode=True), [])
    assert rc.calls == []
    assert result["changed"] is True
    assert result["sha256"] is None
    assert not backups.exists()


# --- retention ------------------------------------------------------------------------------------


def old_snapshots(backups, count):
    backups.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = backups / f"etcd-2025010{i}.db"
        p.write_bytes(snapshot_bytes(seed=bytes([i])))
        os.utime(p, (1_700_000_000 + i * 86400, 1_700_000_000 + i * 86400))
        paths.append(p)
    (backups / "README.txt").write_text("not a snapshot\n")
    return paths


def test_retention_keeps_the_newest_including_the_new_one(module_harness, pki, backups):
    old = old_snapshots(backups, 4)
    path = backups / "etcd-20250109.db"
    result, _ = run(
        module_harness,
        save_args(pki, path, retention=3),
        [saving(), rec("etcdctl_version"), rec("snapshot_status")],
    )
    assert result["deleted"] == [str(old[0]), str(old[1])]  # oldest first
    assert files(backups) == ["README.txt", "etcd-20250102.db", "etcd-20250103.db", "etcd-20250109.db"]


def test_retention_in_check_mode_only_reports(module_harness, pki, backups):
    old = old_snapshots(backups, 4)
    before = files(backups)
    result, rc = run(
        module_harness, save_args(pki, backups / "etcd-20250109.db", retention=2, _ansible_check_mode=True), []
    )
    assert rc.calls == []
    assert result["deleted"] == [str(p) for p in old[:3]]
    assert files(backups) == before


def test_retention_alone_can_change(module_harness, pki, backups):
    old = old_snapshots(backups, 3)
    result, _ = run(
        module_harness,
        save_args(pki, old[-1], retention=1),
        [rec("etcdctl_version"), rec("snapshot_status")],
    )
    assert result["changed"] is True
    assert result["deleted"] == [str(old[0]), str(old[1])]


def test_a_pattern_that_misses_path_is_warned_about(module_harness, pki, backups, warnings):
    old_snapshots(backups, 2)
    run(
        module_harness,
        save_args(pki, backups / "manual.snapshot", retention=5),
        [saving(), rec("etcdctl_version"), rec("snapshot_status")],
    )
    assert warnings == ["manual.snapshot does not match retention_pattern '*.db': it is kept and not counted"]


# --- verified -------------------------------------------------------------------------------------


def test_verified_reports_a_sound_snapshot(module_harness, tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(snapshot_bytes())
    result, rc = run(
        module_harness, {"state": "verified", "path": str(path)}, [rec("etcdctl_version"), rec("snapshot_status")]
    )
    assert rc.calls == [VERSION, status_argv(path)]
    assert result["changed"] is False
    assert (result["integrity"], result["total_keys"]) == ("ok", 10009)


def test_verified_uses_etcdutl_when_there_is_one(module_harness, tmp_path, binaries):
    binaries["etcdutl"] = ETCDUTL
    path = tmp_path / "s.db"
    path.write_bytes(snapshot_bytes())
    # etcdutl 3.6 prints the same JSON with a storage "version" (not recorded: no etcd 3.6 here)
    out = '{"hash":612527586,"revision":85,"totalKey":10009,"totalSize":13811712,"version":"3.6.0"}\n'
    result, rc = run(module_harness, {"state": "verified", "path": str(path)}, [(0, out, "")])
    assert rc.calls == [status_argv(path, ETCDUTL)]
    assert (result["tool"], result["storage_version"]) == (ETCDUTL, "3.6.0")


def test_etcdctl_3_6_without_etcdutl_is_refused(module_harness, tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(snapshot_bytes())
    version = (0, "etcdctl version: 3.6.1\nAPI version: 3.6\n", "")
    result, _ = run(module_harness, {"state": "verified", "path": str(path)}, [version], failed=True)
    assert "etcdctl 3.6.1 has no 'snapshot status' and 'snapshot restore'" in result["msg"]


@pytest.mark.parametrize(
    ("recording", "error"),
    [
        ("snapshot_status_garbage", "snapshot status failed: invalid database"),
        ("snapshot_status_truncated", "snapshot status failed: panic: freepages: failed to get all reachable pages"),
    ],
)
def test_verified_fails_on_a_broken_file(module_harness, tmp_path, recording, error):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a bolt database\n" * 64)
    results = [rec("etcdctl_version"), rec(recording)]
    result, _ = run(module_harness, {"state": "verified", "path": str(path)}, results, failed=True)
    assert result["msg"].startswith(f"{path} is not a sound snapshot: {error}")
    assert result["rc"] == load(recording).rc


def test_verified_fails_on_a_flipped_byte_that_status_misses(module_harness, tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(snapshot_bytes(damaged=True))
    result, _ = run(
        module_harness,
        {"state": "verified", "path": str(path)},
        [rec("etcdctl_version"), rec("snapshot_status_flipped")],
        failed=True,
    )
    assert "does not match the sha256 that 'snapshot save' appended" in result["msg"]
    assert result["integrity"] == "mismatch"


def test_a_db_copied_from_a_data_dir_verifies_with_a_warning(module_harness, tmp_path, warnings):
    path = tmp_path / "db"
    path.write_bytes(b"\0" * 8192)  # no sha256 appended
    result, _ = run(
        module_harness, {"state": "verified", "path": str(path)}, [rec("etcdctl_version"), rec("snapshot_status")]
    )
    assert result["integrity"] == "absent"
    assert "has no sha256 appended" in warnings[0]


def test_verified_missing_file(module_harness, tmp_path):
    result, rc = run(module_harness, {"state": "verified", "path": str(tmp_path / "none.db")}, [], failed=True)
    assert result["msg"] == f"there is no snapshot file at {tmp_path / 'none.db'}"
    assert rc.calls == []


# --- restored -------------------------------------------------------------------------------------


def restore_args(snapshot, data_dir, **extra):
    return {
        "state": "restored",
        "path": str(snapshot),
        "data_dir": str(data_dir),
        "name": "etcd-1",
        "initial_cluster": CLUSTER,
        "initial_cluster_token": "restored-1",
        "initial_advertise_peer_urls": ["https://10.0.0.11:2380"],
        **extra,
    }


def restoring(result=None, partial=False):
    """Acts like 'etcdctl snapshot restore --data-dir=D': creates D/member/{snap,wal}; on failure
    leaves a partial D behind, as etcdctl 3.4 does."""

    def restore(argv):
        data_dir = next(a.split("=", 1)[1] for a in argv if a.startswith("--data-dir="))
        assert not os.path.exists(data_dir)  # etcdctl 3.4 refuses an existing one
        os.makedirs(os.path.join(data_dir, "member", "snap"), mode=0o700)
        if not partial:
            os.makedirs(os.path.join(data_dir, "member", "wal"), mode=0o700)
            with open(os.path.join(data_dir, "member", "snap", "db"), "wb") as f:
                f.write(b"db")
        return result or rec("snapshot_restore")

    return restore


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "backups" / "etcd.db"
    path.parent.mkdir()
    path.write_bytes(snapshot_bytes())
    return path


def restore_argv(snapshot, target):
    return [
        ETCDCTL,
        "snapshot",
        "restore",
        str(snapshot),
        f"--data-dir={target}",
        "--name=etcd-1",
        f"--initial-cluster={CLUSTER}",
        "--initial-cluster-token=restored-1",
        "--initial-advertise-peer-urls=https://10.0.0.11:2380",
    ]


def test_restore_into_a_new_data_dir_then_nothing_to_do(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "var" / "lib" / "etcd"
    result, rc = run(
        module_harness,
        restore_args(snapshot, data_dir),
        [rec("etcdctl_version"), rec("snapshot_status"), restoring()],
    )
    target = rc.calls[2][4].split("=", 1)[1]
    assert os.path.dirname(os.path.dirname(target)) == str(data_dir.parent)
    assert os.path.basename(os.path.dirname(target)).startswith(".etcd.restore-")
    assert rc.calls == [VERSION, status_argv(snapshot), restore_argv(snapshot, target)]
    assert result["changed"] is True
    assert files(data_dir.parent) == [
        "etcd",
        "etcd/member",
        "etcd/member/kubesmith-restore.json",
        "etcd/member/snap",
        "etcd/member/snap/db",
        "etcd/member/wal",
    ]
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    marker = json.loads((data_dir / "member" / "kubesmith-restore.json").read_text())
    assert marker["snapshot_sha256"] == hashlib.sha256(snapshot_bytes()).hexdigest()
    assert marker["initial_cluster_token"] == "restored-1"
    assert marker["status"]["revision"] == 85
    assert (result["data_dir"], result["marker"]) == (
        str(data_dir),
        str(data_dir / "member" / "kubesmith-restore.json"),
    )

    result, rc = run(module_harness, restore_args(snapshot, data_dir), [])
    assert rc.calls == []  # recognised by its marker: not even snapshot status
    assert result["changed"] is False
    assert result["revision"] == 85


def test_an_empty_data_dir_is_restored_into(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "etcd"
    data_dir.mkdir()
    result, _ = run(
        module_harness, restore_args(snapshot, data_dir), [rec("etcdctl_version"), rec("snapshot_status"), restoring()]
    )
    assert result["changed"] is True
    assert "replaced_dir" not in result
    assert (data_dir / "member" / "wal").is_dir()


def test_a_foreign_data_dir_is_refused(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "etcd"
    (data_dir / "member" / "wal").mkdir(parents=True)
    result, rc = run(module_harness, restore_args(snapshot, data_dir), [], failed=True)
    assert rc.calls == []
    assert result["msg"] == (
        f"data_dir {data_dir} is not empty: it holds member, and this module did not restore it. Refusing to "
        "overwrite it: stop etcd and move it away, or set force: true (it is then moved to <data_dir>.replaced-<time>)"
    )


def test_other_cluster_arguments_are_refused_then_forced(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "etcd"
    run(module_harness, restore_args(snapshot, data_dir), [rec("etcdctl_version"), rec("snapshot_status"), restoring()])

    other = restore_args(snapshot, data_dir, initial_cluster_token="restored-2")
    result, _ = run(module_harness, other, [], failed=True)
    assert "it was restored with other initial_cluster_token" in result["msg"]

    result, _ = run(
        module_harness, {**other, "force": True}, [rec("etcdctl_version"), rec("snapshot_status"), restoring()]
    )
    assert result["changed"] is True
    replaced = result["replaced_dir"]
    assert replaced.startswith(f"{data_dir}.replaced-")
    assert (
        json.loads((data_dir / "member" / "kubesmith-restore.json").read_text())["initial_cluster_token"]
        == "restored-2"
    )
    with open(os.path.join(replaced, "member", "kubesmith-restore.json")) as f:
        old_marker = json.load(f)
    assert old_marker["initial_cluster_token"] == "restored-1"


def test_a_failed_restore_leaves_no_partial_data_dir(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "etcd"
    result, _ = run(
        module_harness,
        restore_args(snapshot, data_dir),
        [rec("etcdctl_version"), rec("snapshot_status"), restoring(rec("snapshot_restore_flipped"), partial=True)],
        failed=True,
    )
    assert result["msg"].startswith("snapshot restore failed: expected sha256 [")
    assert files(tmp_path) == ["backups", "backups/etcd.db"]


def test_a_damaged_snapshot_is_not_restored(module_harness, snapshot, tmp_path):
    snapshot.write_bytes(snapshot_bytes(damaged=True))
    result, rc = run(module_harness, restore_args(snapshot, tmp_path / "etcd"), [], failed=True)
    assert rc.calls == []
    assert "does not match the sha256 that 'snapshot save' appended" in result["msg"]


def test_restore_in_check_mode_writes_nothing(module_harness, snapshot, tmp_path):
    data_dir = tmp_path / "etcd"
    (data_dir / "member").mkdir(parents=True)
    result, rc = run(module_harness, restore_args(snapshot, data_dir, force=True, _ansible_check_mode=True), [])
    assert rc.calls == []
    assert result["changed"] is True
    assert result["replaced_dir"].startswith(f"{data_dir}.replaced-")
    assert files(data_dir) == ["member"]
    assert not os.path.exists(result["replaced_dir"])


def test_restore_gives_the_data_dir_to_its_owner(module_harness, snapshot, tmp_path):
    import grp
    import pwd

    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    data_dir = tmp_path / "etcd"
    run(
        module_harness,
        restore_args(snapshot, data_dir, owner=user, group=group),
        [rec("etcdctl_version"), rec("snapshot_status"), restoring()],
    )
    result, _ = run(module_harness, restore_args(snapshot, data_dir, owner=user, group=group), [])
    assert result["changed"] is False  # already theirs


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"name": "etcd-9"}, "name 'etcd-9' is not in initial_cluster (which names etcd-1, etcd-2)"),
        ({"initial_advertise_peer_urls": ["https://10.0.0.19:2380"]}, "initial_cluster gives etcd-1 the peer URLs"),
        ({"data_dir": "/"}, "data_dir: / cannot be / or the directory of the snapshot"),
        ({"initial_cluster_token": None}, "missing: initial_cluster_token"),
    ],
)
def test_bad_restore_arguments(module_harness, snapshot, tmp_path, extra, error):
    module_args = {k: v for k, v in {**restore_args(snapshot, tmp_path / "etcd"), **extra}.items() if v is not None}
    result, rc = run(module_harness, module_args, [], failed=True)
    assert error in result["msg"]
    assert rc.calls == []


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"endpoints": None}, "state is saved but all of the following are missing: endpoints"),
        ({"endpoints": ["127.0.0.1:2379"]}, "endpoints: '127.0.0.1:2379' is not a URL"),
        ({"retention": 0}, "retention: keep at least 1 snapshot, got 0"),
        ({"command_timeout": -1}, "command_timeout: must be more than 0 seconds"),
        ({"key": None}, "parameters are required together: cert, key"),
    ],
)
def test_bad_save_arguments(module_harness, pki, backups, extra, error):
    module_args = {k: v for k, v in {**save_args(pki, backups / "e.db"), **extra}.items() if v is not None}
    result, rc = run(module_harness, module_args, [], failed=True)
    assert error in result["msg"]
    assert rc.calls == []


def test_documentation_examples_use_documented_options():
    spec = etcd_snapshot.argument_spec()
    for task in yaml.safe_load(etcd_snapshot.EXAMPLES):
        assert set(task["etcd_snapshot"]) <= set(spec), task["name"]
    doc = yaml.safe_load(etcd_snapshot.DOCUMENTATION)
    assert doc["attributes"]["check_mode"]["support"] == "full"
