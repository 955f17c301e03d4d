"""module_utils/etcd.py on the etcdctl 3.4.23 outputs recorded from a real 3-member TLS cluster on
127.0.0.1 (tests/unit/fixtures/etcd/, written by record.py there)."""

import hashlib
import json
import re

import pytest
from ansible.module_utils import etcd
from fixtures.etcd.recorded import load, names

# the members of the recorded cluster, as etcdctl's JSON gives their IDs
ETCD1, ETCD2, ETCD3 = 8326748530111964566, 15052036970750865046, 2134609921685486081
LEARNER = 9082314736161459507  # etcd-4, added as a learner, then promoted
CLUSTER = 7966348061958278642
E1, E2, E3, E4 = (f"https://127.0.0.1:2379{i}" for i in range(1, 5))


def members(name):
    return etcd.parse_member_list(load(name).stdout)[1]


def by_name(ms):
    return {m.name: m for m in ms}


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "flag"), [(5, "5s"), (2.0, "2s"), (0.5, "500ms"), (2.25, "2250ms"), (60, "60s")])
def test_durations_are_go_durations(seconds, flag):
    assert etcd.format_duration(seconds) == flag


@pytest.mark.parametrize("seconds", [0, -1, 0.0001])
def test_a_timeout_must_be_positive(seconds):
    with pytest.raises(ValueError, match="timeout"):
        etcd.format_duration(seconds)


def test_urls_are_validated_and_normalized():
    assert etcd.validate_url("https://10.0.0.11:2379/", "endpoints") == "https://10.0.0.11:2379"
    assert etcd.validate_url(" http://[fd00::1]:2379", "endpoints") == "http://[fd00::1]:2379"


@pytest.mark.parametrize(
    "url", ["10.0.0.11:2379", "https://10.0.0.11", "https://h:2379/v3", "ftp://h:21", "https://h:x"]
)
def test_urls_without_scheme_port_or_with_a_path_are_refused(url):
    with pytest.raises(ValueError, match=r"is not a URL like https://10\.0\.0\.11:2379"):
        etcd.validate_url(url, "endpoints")


@pytest.mark.parametrize(("text", "value"), [("7e0add21e3330d33", LEARNER), ("0x7E0ADD21E3330D33", LEARNER), ("a", 10)])
def test_member_ids_are_hex_as_etcdctl_prints_them(text, value):
    assert etcd.parse_member_id(text) == value


@pytest.mark.parametrize("text", ["0", "xyz", "1" * 17, ""])
def test_bad_member_ids(text):
    with pytest.raises(ValueError, match="is not an etcd member ID"):
        etcd.parse_member_id(text)


def test_etcdctl_argv_puts_tls_and_timeouts_before_the_command():
    argv = etcd.etcdctl_argv(
        "/usr/bin/etcdctl",
        [E1, E2],
        etcd.tls_flags("/pki/ca.crt", "/pki/c.crt", "/pki/c.key"),
        2,
        5,
        ["member", "list"],
    )
    assert argv == [
        "/usr/bin/etcdctl",
        f"--endpoints={E1},{E2}",
        "--cacert=/pki/ca.crt",
        "--cert=/pki/c.crt",
        "--key=/pki/c.key",
        "--dial-timeout=2s",
        "--command-timeout=5s",
        "member",
        "list",
        "-w",
        "json",
    ]
    plain = etcd.etcdctl_argv(
        "etcdctl", [E1], etcd.tls_flags(None, None, None), 1, 0.5, ["member", "promote", "a"], False
    )
    assert plain == [
        "etcdctl",
        f"--endpoints={E1}",
        "--dial-timeout=1s",
        "--command-timeout=500ms",
        "member",
        "promote",
        "a",
    ]


def test_the_recorded_argv_is_what_etcdctl_argv_builds():
    """The fixtures were recorded with the flags the modules pass, in the same order."""
    recorded = load("member_list").argv.split()
    work = "$WORK/pki"
    built = etcd.etcdctl_argv(
        "etcdctl",
        [E1],
        etcd.tls_flags(f"{work}/ca.crt", f"{work}/client.crt", f"{work}/client.key"),
        2,
        5,
        ["member", "list"],
    )
    assert recorded == built


# --- member list, add, remove ------------------------------------------------------------------


def test_member_ids_stay_exact_64_bit_integers():
    rec = load("member_list")
    header, ms = etcd.parse_member_list(rec.stdout)
    # the IDs as the JSON text spells them, digit for digit
    assert sorted(m.id for m in ms) == sorted(int(d) for d in re.findall(r'"ID":(\d+)', rec.stdout))
    assert ETCD2 > 2**63  # above int64 and far above a double's 2**53
    assert int(float(ETCD2)) != ETCD2  # what a float-based JSON parser would make of it
    assert header == {"cluster_id": CLUSTER, "member_id": ETCD1, "raft_term": 2}
    assert [(m.name, m.id) for m in ms] == [("etcd-3", ETCD3), ("etcd-1", ETCD1), ("etcd-2", ETCD2)]


def test_hex_ids_match_what_etcdctl_itself_prints():
    """'Member <hex> promoted in cluster <hex>': etcdctl's own hex of the IDs the JSON gave."""
    said = load("member_promote").stdout
    learner = by_name(members("member_list_learner"))["etcd-4"]
    header, _ = etcd.parse_member_list(load("member_list_learner").stdout)
    assert said.strip() == (
        f"Member {learner.hex_id} promoted in cluster {etcd.format_member_id(header['cluster_id'])}"
    )
    assert learner.as_dict()["id"] == "7e0add21e3330d33"


def test_a_member_added_and_not_started_has_no_name_and_no_client_urls():
    ms = members("member_list_unstarted_learner")
    unstarted = [m for m in ms if not m.started]
    assert len(unstarted) == 1
    assert unstarted[0] == etcd.Member(LEARNER, "", ("https://127.0.0.1:23804",), (), True)
    started = by_name(members("member_list_learner"))["etcd-4"]
    assert (started.started, started.client_urls, started.is_learner) == (True, (E4,), True)
    assert by_name(members("member_list_four"))["etcd-4"].is_learner is False


def test_member_as_dict():
    m = by_name(members("member_list"))["etcd-2"]
    assert m.as_dict() == {
        "id": "d0e393e033a6ee96",
        "id_int": ETCD2,
        "name": "etcd-2",
        "peer_urls": ["https://127.0.0.1:23802"],
        "client_urls": [E2],
        "is_learner": False,
        "started": True,
    }
    assert etcd.Member(0, "", ("https://h:2380",), (), True).as_dict()["id"] is None  # check mode: not added yet


@pytest.mark.parametrize(("name", "learner"), [("member_add_learner", True), ("member_add_voting", False)])
def test_member_add_returns_the_new_member_and_all_members(name, learner):
    added, ms = etcd.parse_member_add(load(name).stdout)
    assert added.peer_urls == ("https://127.0.0.1:23804",)
    assert (added.name, added.client_urls, added.is_learner) == ("", (), learner)
    assert len(ms) == 4
    assert added in ms


def test_member_remove_prints_the_members_left():
    _header, ms = etcd.parse_member_list(load("member_remove").stdout)
    assert sorted(m.name for m in ms) == ["etcd-1", "etcd-2", "etcd-3"]
    assert LEARNER not in {m.id for m in ms}


def test_a_non_json_answer_is_reported_with_what_came():
    with pytest.raises(ValueError, match="member list: expected JSON from etcdctl, got 'Error: x'"):
        etcd.parse_member_list("Error: x\n")


# --- health and status -------------------------------------------------------------------------


def test_endpoint_health_of_a_healthy_cluster():
    health = etcd.parse_endpoint_health(load("endpoint_health").stdout)
    assert sorted(health) == [E1, E2, E3]
    assert all(h["healthy"] and h["error"] is None for h in health.values())


def test_endpoint_health_prints_every_endpoint_even_when_one_is_dead():
    rec = load("endpoint_health_one_dead")
    assert rec.rc == 1
    health = etcd.parse_endpoint_health(rec.stdout)
    assert {url: h["healthy"] for url, h in health.items()} == {E1: True, E2: True, E3: False}
    assert health[E3]["error"] == "context deadline exceeded"
    assert health[E3]["took"].startswith("5.0")  # the whole --command-timeout


def test_a_learner_refuses_the_health_check_after_the_whole_timeout():
    rec = load("endpoint_health_learner")
    health = etcd.parse_endpoint_health(rec.stdout)
    assert health[E4] == {
        "healthy": False,
        "took": health[E4]["took"],
        "error": "etcdserver: rpc not supported for learner",
    }
    assert rec.seconds > 2  # why the module checks learners with endpoint status instead


def test_endpoint_status_of_a_healthy_cluster():
    statuses, errors = etcd.parse_endpoint_status(load("endpoint_status").stdout, "")
    assert errors == {}
    assert {url: st["member_id"] for url, st in statuses.items()} == {E1: ETCD1, E2: ETCD2, E3: ETCD3}
    assert statuses[E1]["leader"] == ETCD2
    assert statuses[E1]["version"] == "3.4.23"
    assert statuses[E1]["is_learner"] is False
    assert etcd.leader_of(statuses) == ETCD2


def test_endpoint_status_reports_the_dead_endpoint_on_stderr():
    rec = load("endpoint_status_one_dead")
    statuses, errors = etcd.parse_endpoint_status(rec.stdout, rec.stderr)
    assert sorted(statuses) == [E1, E2]
    assert errors == {E3: "context deadline exceeded"}


def test_endpoint_status_of_a_learner():
    statuses, _ = etcd.parse_endpoint_status(load("endpoint_status_learner").stdout, "")
    assert statuses[E4]["is_learner"] is True
    assert statuses[E4]["member_id"] == LEARNER


def test_no_leader_when_nobody_answers():
    assert etcd.leader_of({}) is None


def test_endpoint_report_combines_health_and_status():
    ms = members("member_list_learner")
    health = etcd.parse_endpoint_health(load("endpoint_health").stdout)
    statuses, errors = etcd.parse_endpoint_status(load("endpoint_status_learner").stdout, "")
    report = {r["endpoint"]: r for r in etcd.endpoint_report(ms, health, statuses, errors, ETCD2)}
    assert sorted(report) == [E1, E2, E3, E4]
    assert report[E2]["is_leader"] is True
    assert report[E1]["is_leader"] is False
    assert report[E4] == {
        "endpoint": E4,
        "name": "etcd-4",
        "member_id": "7e0add21e3330d33",
        "is_learner": True,
        "healthy": True,
        "error": None,
        "took": None,
        "is_leader": False,
        "version": "3.4.23",
        "db_size": 20480,
        "raft_index": 10,
        "raft_term": 2,
    }


# --- errors --------------------------------------------------------------------------------------

ERRORS = {
    "member_add_right_after_start": ("etcdserver: unhealthy cluster", False, True),
    "member_add_one_dead": ("etcdserver: unhealthy cluster", False, True),
    "member_promote_not_in_sync": (
        "etcdserver: can only promote a learner member which is in sync with leader",
        False,
        True,
    ),
    "member_promote_voting": ("etcdserver: can only promote a learner member", False, False),
    "member_remove_not_found": ("etcdserver: member not found", False, False),
    "member_list_via_learner": ("etcdserver: rpc not supported for learner", True, False),
    "member_list_dead_endpoint": ("context deadline exceeded", True, False),
    "member_list_blackhole": ("context deadline exceeded", True, False),
    "member_list_no_client_cert": ("context deadline exceeded", True, False),
    "member_list_rogue_cert": ("context deadline exceeded", True, False),
    "member_list_wrong_cacert": ("context deadline exceeded", True, False),
    "member_list_plain_http": ("context deadline exceeded", True, False),
    "member_remove_no_quorum": ("context deadline exceeded", True, False),
    "member_list_missing_cacert": ("open $WORK/nonexistent/ca.crt: no such file or directory", False, False),
    "snapshot_save_dead_endpoint": ("context deadline exceeded", True, False),
    "snapshot_save_multiple_endpoints": (
        "snapshot must be requested to one selected node, not multiple "
        "[https://127.0.0.1:23791 https://127.0.0.1:23792]",
        False,
        False,
    ),
    "snapshot_status_garbage": ("invalid database", False, False),
    "snapshot_restore_exists": ('data-dir "$WORK/restored/data" exists', False, False),
    "snapshot_restore_no_hash": ("snapshot missing hash but --skip-hash-check=false", False, False),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_recorded_errors_are_read_and_classified(name):
    rec = load(name)
    message, unreachable, transient = ERRORS[name]
    assert rec.rc != 0
    assert etcd.error_message(rec.stdout, rec.stderr) == message
    assert etcd.is_unreachable(message) is unreachable
    assert etcd.is_transient(message) is transient


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("member_promote_json_panic", "panic: runtime error: invalid memory address or nil pointer dereference"),
        ("snapshot_status_truncated", "panic: freepages: failed to get all reachable pages"),
    ],
)
def test_a_go_panic_is_reported_by_its_first_line(name, start):
    rec = load(name)
    assert rec.rc == 2
    assert etcd.error_message(rec.stdout, rec.stderr).startswith(start)


def test_timeouts_bound_every_recorded_run():
    """No recorded etcdctl run took much more than its --command-timeout (5 s; 60 s for save)."""
    for name in names():
        rec = load(name)
        assert rec.seconds < 5.5, name
    assert load("member_list_blackhole").seconds >= 4.9  # a silent endpoint costs the whole timeout


def test_error_message_without_error_line():
    assert etcd.error_message("", "") == "no output"
    assert etcd.error_message("partial\n", "") == "partial"


# --- membership plans ----------------------------------------------------------------------------


def test_present_finds_the_member_by_name_and_peer_urls():
    ms = members("member_list_learner")
    assert etcd.plan_present(ms, "etcd-4", ["https://127.0.0.1:23804"]).id == LEARNER
    assert etcd.plan_present(ms, "etcd-5", ["https://127.0.0.1:23805"]) is None


def test_present_takes_an_unstarted_member_with_the_same_peer_urls_as_this_one():
    ms = members("member_list_unstarted_learner")
    assert etcd.plan_present(ms, "etcd-4", ["https://127.0.0.1:23804"]).id == LEARNER


@pytest.mark.parametrize(
    ("name", "peers", "error"),
    [
        ("etcd-1", ["https://127.0.0.1:23809"], "member etcd-1 (738e8dabcf546596) exists with peer URLs"),
        ("etcd-9", ["https://127.0.0.1:23802"], "peer URL https://127.0.0.1:23802 belongs to member etcd-2"),
    ],
)
def test_present_refuses_a_name_or_peer_url_of_another_member(name, peers, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        etcd.plan_present(members("member_list"), name, peers)


def test_find_members_by_each_criterion():
    ms = members("member_list_learner")
    assert [m.name for m in etcd.find_members(ms, name="etcd-2")] == ["etcd-2"]
    assert [m.name for m in etcd.find_members(ms, member_id=LEARNER)] == ["etcd-4"]
    assert [m.name for m in etcd.find_members(ms, peer_urls=["https://127.0.0.1:23803"])] == ["etcd-3"]
    assert etcd.find_members(ms, name="etcd-2", member_id=LEARNER) == []


def test_removing_any_member_of_a_healthy_cluster_is_safe():
    ms = members("member_list")
    for m in ms:
        assert etcd.removal_refusal(ms, {ETCD1, ETCD2, ETCD3}, m) is None


def test_with_one_member_dead_only_the_dead_one_may_go():
    ms = by_name(members("member_list_one_dead"))
    health = etcd.parse_endpoint_health(load("endpoint_health_one_dead").stdout)
    healthy = {m.id for m in ms.values() if health[m.client_urls[0]]["healthy"]}
    assert healthy == {ETCD1, ETCD2}
    assert etcd.removal_refusal(list(ms.values()), healthy, ms["etcd-3"]) is None
    refusal = etcd.removal_refusal(list(ms.values()), healthy, ms["etcd-2"])
    assert refusal == (
        "removing etcd-2 (d0e393e033a6ee96) would leave 2 voting members of which 1 are healthy, fewer than the "
        "quorum of 2: the cluster would stop accepting writes. Bring back or remove the unhealthy member(s) first "
        "(etcd-3 (1d9fa86a04167a01))"
    )


def test_without_quorum_nothing_can_be_removed():
    ms = by_name(members("member_list_no_quorum"))  # etcd-3 removed, etcd-2 stopped
    health = etcd.parse_endpoint_health(load("endpoint_health_no_quorum").stdout)
    healthy = {m.id for m in ms.values() if health.get(m.client_urls[0], {}).get("healthy")}
    assert healthy == set()  # the last member cannot serve a quorum read
    refusal = etcd.removal_refusal(list(ms.values()), healthy, ms["etcd-2"])
    assert refusal.startswith("the cluster has no quorum now: 0 of 2 voting members are healthy (none), 2 are needed")
    assert etcd.removal_refusal(list(ms.values()), {ETCD1}, ms["etcd-2"]).startswith("the cluster has no quorum")


def test_a_learner_never_counts_for_the_quorum():
    ms = members("member_list_learner")
    learner = by_name(ms)["etcd-4"]
    assert etcd.removal_refusal(ms, set(), learner) is None
    # 4 members, one a learner: 3 voters, quorum 2 with etcd-3 down
    assert etcd.removal_refusal(ms, {ETCD1, ETCD2}, by_name(ms)["etcd-3"]) is None


def test_the_last_voting_member_is_not_removed():
    only = [by_name(members("member_list"))["etcd-1"]]
    assert "is the last voting member" in etcd.removal_refusal(only, {ETCD1}, only[0])


def test_initial_cluster_names_the_member_just_added():
    added, ms = etcd.parse_member_add(load("member_add_learner").stdout)
    cluster, unnamed = etcd.initial_cluster(ms, {added.id: "etcd-4"})
    assert cluster == (
        "etcd-3=https://127.0.0.1:23803,etcd-1=https://127.0.0.1:23801,"
        "etcd-4=https://127.0.0.1:23804,etcd-2=https://127.0.0.1:23802"
    )
    assert unnamed == []
    cluster, unnamed = etcd.initial_cluster(ms)
    assert "23804" not in cluster
    assert unnamed == [added]


def test_member_lines_for_the_diff():
    text = etcd.member_lines(members("member_list_unstarted_learner"))
    assert text.splitlines() == [
        "etcd-1 738e8dabcf546596 voting peer_urls=https://127.0.0.1:23801",
        "etcd-2 d0e393e033a6ee96 voting peer_urls=https://127.0.0.1:23802",
        "etcd-3 1d9fa86a04167a01 voting peer_urls=https://127.0.0.1:23803",
        "(not started) 7e0add21e3330d33 learner peer_urls=https://127.0.0.1:23804",
    ]


# --- snapshots -----------------------------------------------------------------------------------


def test_snapshot_status_of_the_recorded_snapshot():
    assert etcd.parse_snapshot_status(load("snapshot_status").stdout) == {
        "hash": 612527586,
        "revision": 85,
        "total_keys": 10009,
        "total_size": 13811712,
        "storage_version": None,
    }


def test_snapshot_status_of_etcdutl_3_6_has_a_storage_version():
    # NOT recorded (no etcd 3.6 here): the JSON of etcdutl's snapshot.Status, with its "version" field
    text = '{"hash":612527586,"revision":85,"totalKey":10009,"totalSize":13811712,"version":"3.6.0"}\n'
    assert etcd.parse_snapshot_status(text)["storage_version"] == "3.6.0"


def test_a_flipped_byte_passes_snapshot_status():
    """Why the module also checks the sha256 trailer: status reads the same hash from a damaged file."""
    good = etcd.parse_snapshot_status(load("snapshot_status").stdout)
    flipped = etcd.parse_snapshot_status(load("snapshot_status_flipped").stdout)
    assert flipped["total_keys"] == good["total_keys"]
    assert load("snapshot_restore_flipped").rc == 1
    assert "expected sha256" in etcd.error_message(*load("snapshot_restore_flipped")[1:3])


def test_etcdctl_version():
    assert etcd.parse_etcdctl_version(load("etcdctl_version").stdout) == "3.4.23"
    with pytest.raises(ValueError, match="no 'etcdctl version:' line"):
        etcd.parse_etcdctl_version("etcd Version: 3.4.23\n")


@pytest.mark.parametrize(
    ("etcdutl", "version", "tool"),
    [
        (None, "3.4.23", "etcdctl"),
        (None, "3.5.15", "etcdctl"),
        ("/usr/local/bin/etcdutl", None, "etcdutl"),
        ("/usr/local/bin/etcdutl", "3.6.0", "etcdutl"),
    ],
)
def test_the_snapshot_tool(etcdutl, version, tool):
    assert etcd.choose_snapshot_tool(etcdutl, version) == tool


def test_etcdctl_3_6_without_etcdutl_cannot_read_snapshots():
    with pytest.raises(ValueError, match=r"etcdctl 3\.6\.1 has no 'snapshot status'.*etcdutl was not found"):
        etcd.choose_snapshot_tool(None, "3.6.1")


def test_snapshot_command_lines():
    status = ["/usr/bin/etcdctl", "snapshot", "status", "/b/s.db", "-w", "json"]
    assert etcd.snapshot_status_argv("/usr/bin/etcdctl", "/b/s.db") == status
    assert etcd.snapshot_restore_argv(
        "etcdutl", "/b/s.db", "/var/lib/etcd", "etcd-1", "etcd-1=https://h:2380", "tok", ["https://h:2380"]
    ) == [
        "etcdutl",
        "snapshot",
        "restore",
        "/b/s.db",
        "--data-dir=/var/lib/etcd",
        "--name=etcd-1",
        "--initial-cluster=etcd-1=https://h:2380",
        "--initial-cluster-token=tok",
        "--initial-advertise-peer-urls=https://h:2380",
    ]
    # the recorded restore was run with the same flags, in the same order
    recorded = load("snapshot_restore").argv.split()
    assert [arg.split("=", 1)[0] for arg in recorded[4:]] == [
        "--data-dir",
        "--name",
        "--initial-cluster",
        "--initial-cluster-token",
        "--initial-advertise-peer-urls",
    ]


def fake_snapshot(tmp_path, body_size=4096, trailer=True):
    body = bytes(range(256)) * (body_size // 256)
    data = body + (hashlib.sha256(body).digest() if trailer else b"")
    path = tmp_path / "s.db"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("chunk_size", [7, 32, 33, 1 << 20])
def test_snapshot_digests_check_the_appended_sha256(tmp_path, chunk_size):
    path, data = fake_snapshot(tmp_path)
    assert len(data) % 512 == 32  # as 'snapshot save' writes them (13811744 % 512 == 32 recorded)
    assert etcd.snapshot_digests(str(path), chunk_size) == (hashlib.sha256(data).hexdigest(), "ok")
    damaged = bytearray(data)
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert etcd.snapshot_digests(str(path), chunk_size)[1] == "mismatch"


def test_a_db_without_trailer_has_no_integrity_to_check(tmp_path):
    path, data = fake_snapshot(tmp_path, trailer=False)
    assert etcd.snapshot_digests(str(path)) == (hashlib.sha256(data).hexdigest(), "absent")


def test_restore_arguments_must_agree():
    etcd.check_restore_arguments("a", "a=https://h1:2380,b=https://h2:2380", ["https://h1:2380"])
    with pytest.raises(ValueError, match=r"name 'c' is not in initial_cluster \(which names a, b\)"):
        etcd.check_restore_arguments("c", "a=https://h1:2380,b=https://h2:2380", ["https://h3:2380"])
    with pytest.raises(ValueError, match="initial_cluster gives a the peer URLs https://h1:2380, but"):
        etcd.check_restore_arguments("a", "a=https://h1:2380", ["https://h9:2380"])
    with pytest.raises(ValueError, match="'a:https://h1:2380' is not name=peer_url"):
        etcd.check_restore_arguments("a", "a:https://h1:2380", ["https://h1:2380"])


def test_restore_marker_comparison():
    wanted = etcd.restore_marker("ab" * 32, "a", "a=https://h:2380", "tok", ["https://h:2380"], status=None)
    written = json.loads(json.dumps({**wanted, "status": {"revision": 85}}))
    assert etcd.marker_differences(written, wanted) == []
    assert etcd.marker_differences({**written, "initial_cluster_token": "old"}, wanted) == ["initial_cluster_token"]
    assert etcd.marker_differences(None, wanted) == ["marker"]


def test_retention_keeps_the_newest_and_the_new_one():
    entries = [
        ("etcd-1.db", 100.0),
        ("etcd-2.db", 200.0),
        ("etcd-3.db", 300.0),
        ("etcd-4.db", 400.0),
        ("notes.txt", 50.0),
        (".etcd-5.db.abc.tmp", 10.0),
        (".hidden.db", 1.0),
    ]
    assert etcd.retention_victims(entries, 2, "*.db", "etcd-4.db") == ["etcd-1.db", "etcd-2.db"]
    # the new snapshot is kept even when an older file has a newer mtime
    assert etcd.retention_victims(entries, 1, "*.db", "etcd-1.db") == ["etcd-2.db", "etcd-3.db", "etcd-4.db"]
    assert etcd.retention_victims(entries, 10, "*.db", "etcd-4.db") == []
    assert etcd.retention_victims(entries, 2, "etcd-*.db", "other.db") == ["etcd-1.db", "etcd-2.db"]
    with pytest.raises(ValueError, match="at least 1"):
        etcd.retention_victims(entries, 0, "*.db", "etcd-4.db")
