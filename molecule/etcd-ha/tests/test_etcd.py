"""External etcd on lab hosts: TLS health, refusal without a certificate, and bounded fault tests.

Figures (writes during a fault, seconds of unavailability) are printed and written to
.bench/etcd-ha-faults.json in the project directory.
"""

import itertools
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
import testinfra
import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
MEMBERS = sorted(RUNNER.get_hosts("etcd"))
testinfra_hosts = MEMBERS
PKI = "/etc/etcd/pki"
CTL = (f"etcdctl --endpoints=https://127.0.0.1:2379 --cacert={PKI}/ca.crt --cert={PKI}/client.crt "
       f"--key={PKI}/client.key --dial-timeout=1s --command-timeout=2s")
FIGURES = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".bench" / "etcd-ha-faults.json"


def get(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def address(name):
    return RUNNER.get_variables(name)["ansible_host"]


def record(key, value):
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    data[key] = value
    FIGURES.write_text(json.dumps(data, indent=2))
    print(f"FIGURE {key}: {value}")


def journal(host, lines=30):
    return host.run(f"journalctl -u etcd -n {lines} --no-pager -o cat").stdout


def wait_for(fn, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(interval)
    return False


# --- per member ---------------------------------------------------------------------------

def test_member_healthy_over_tls(host):
    out = host.run(f"{CTL} endpoint health")
    assert out.rc == 0, out.stderr + journal(host)


def test_cluster_has_three_started_members(host):
    members = json.loads(host.check_output(f"{CTL} member list -w json"))["members"]
    assert sorted(m["name"] for m in members) == MEMBERS
    assert all(m["clientURLs"] for m in members), "a member has not started"


def test_key_files_are_private(host):
    for key in ("server.key", "peer.key", "client.key"):
        f = host.file(f"{PKI}/{key}")
        assert f.mode == 0o600, f"{key} has mode {oct(f.mode)}"


def test_client_without_certificate_is_refused(host):
    me = address(host.backend.get_hostname())
    out = host.run(f"etcdctl --endpoints=https://{me}:2379 --cacert={PKI}/ca.crt --dial-timeout=1s "
                   f"--command-timeout=2s put /ks/nocert x")
    assert out.rc != 0, "a client without a certificate could write"
    plain = host.run(f"curl -sS --max-time 3 --cacert {PKI}/ca.crt https://{me}:2379/version")
    assert plain.rc != 0, "the client port answered a client without a certificate"


# --- the cluster, bounded fault tests ------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    return {name: get(name) for name in MEMBERS}


def leader_of(h):
    status = json.loads(h.check_output(f"{CTL} endpoint status --cluster -w json"))
    leader = status[0]["Status"]["leader"]
    for s in status:
        if s["Status"]["header"]["member_id"] == leader:
            url = s["Endpoint"]
            return next(n for n in MEMBERS if address(n) in url)
    raise AssertionError(f"no leader in {status}")


def test_one_member_down_keeps_quorum_and_catches_up(cluster):
    writer, victim = cluster[MEMBERS[0]], cluster[MEMBERS[2]]
    victim.run("systemctl stop etcd")
    try:
        out = writer.run(f"for i in $(seq 1 100); do {CTL} put /ks/down/$i v$i >/dev/null || echo FAIL; done")
        failed = out.stdout.count("FAIL")
    finally:
        victim.run("systemctl start etcd")
    record("writes_with_one_member_down", {"written": 100, "failed": failed})
    assert failed == 0
    caught_up = wait_for(lambda: victim.run(f"{CTL} get /ks/down/100 --consistency=s --print-value-only")
                         .stdout.strip() == "v100", timeout=20)
    assert caught_up, "the restarted member did not catch up in 20 s\n" + journal(victim)


def leader_fault(cluster, fault, recover, label):
    """Apply ``fault`` to the leader while a client on another member writes every 0.1 s for 8 s:
    count failed writes, measure the longest gap between acknowledged writes, check none is lost."""
    leader = leader_of(cluster[MEMBERS[0]])
    client = cluster[next(n for n in MEMBERS if n != leader)]
    log = f"/root/{label}-writes.log"
    script = (f"end=$(( $(date +%s) + 8 )); i=0; while [ $(date +%s) -lt $end ]; do i=$((i+1)); "
              f"if {CTL} put /ks/{label}/$i v >/dev/null 2>&1; then echo \"$(date +%s.%N) ok $i\"; "
              f"else echo \"$(date +%s.%N) fail $i\"; fi; sleep 0.1; done")
    client.run(f"nohup sh -c '{script}' > {log} 2>&1 &")
    time.sleep(2)
    cluster[leader].run(fault)
    time.sleep(7)
    cluster[leader].run(recover)
    lines = [ln.split() for ln in client.file(log).content_string.splitlines()]
    oks = [(float(t), int(i)) for t, s, i in lines if s == "ok"]
    fails = [float(t) for t, s, _ in lines if s == "fail"]
    gap = max((b[0] - a[0] for a, b in itertools.pairwise(oks)), default=0.0)
    missing = [i for _, i in oks if client.run(f"{CTL} get /ks/{label}/{i} --print-value-only").stdout.strip() != "v"]
    record(label, {"writes_ok": len(oks), "writes_failed": len(fails), "acknowledged_missing": len(missing),
                   "longest_gap_between_acknowledged_writes_s": round(gap, 2)})
    assert oks, "no write succeeded"
    assert not missing, f"acknowledged writes lost: {missing[:10]}"
    assert gap < 5, f"writes stopped for {gap:.1f}s after the fault on the leader"
    assert wait_for(lambda: cluster[leader].run(f"{CTL} endpoint health").rc == 0, timeout=20)


def test_leader_stop_costs_seconds_not_data(cluster):
    leader_fault(cluster, "systemctl stop etcd", "systemctl start etcd", "leader_stop")


def test_leader_kill_costs_seconds_not_data(cluster):
    """kill -9: no leadership transfer; the unit restarts the process (Restart=on-abnormal)."""
    leader_fault(cluster, "systemctl kill -s KILL etcd", "systemctl start etcd", "leader_kill")


def test_only_members_reach_the_client_port(cluster):
    """The firewall (role firewall, run by etcd.yml): a lab host outside the etcd group is dropped."""
    target = address(MEMBERS[0])
    probe = f"timeout 3 bash -c '</dev/tcp/{target}/2379' && echo open || echo closed"
    assert get("worker1").run(probe).stdout.strip() == "closed"
    assert cluster[MEMBERS[1]].run(probe).stdout.strip() == "open"


# --- backup and restore, member replacement: through the project's playbooks ----------------

ROOT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."))
PKI_DIR = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "pki")


def playbook(name, *extra, inventory=INVENTORY, timeout=300):
    argv = [shutil.which("ansible-playbook"), "-i", inventory, str(ROOT / "playbooks" / name),
            "-e", f"pki_dir={PKI_DIR}", "-e", f"etcd_pki_dir={PKI_DIR}", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return time.monotonic() - t0


def count(h, prefix):
    return int(json.loads(h.check_output(f"{CTL} get --prefix {prefix} --keys-only -w json")).get("count", 0))


def test_snapshot_destroy_restore_brings_every_key_back(cluster, tmp_path):
    n = 500
    e1 = cluster[MEMBERS[0]]
    e1.check_output(f"for i in $(seq 1 {n}); do {CTL} put /ks/restore/$i v$i >/dev/null; done")
    assert count(e1, "/ks/restore/") == n
    backup_s = playbook("etcd-backup.yml", "-e", f"etcd_backup_controller_dir={tmp_path}", "-e", "etcd_backup_keep=2")
    snapshots = sorted(tmp_path.glob("etcd-*.db"))
    assert len(snapshots) == 1, snapshots
    # destroy: the keys are deleted, and a key written after the snapshot must vanish with the restore
    e1.check_output(f"{CTL} del --prefix /ks/restore/ && {CTL} put /ks/after-snapshot x")
    assert count(e1, "/ks/restore/") == 0
    restore_s = playbook("etcd-restore.yml", "-e", f"etcd_restore_snapshot={snapshots[0]}")
    restored = count(e1, "/ks/restore/")
    record("snapshot_restore", {"keys_written": n, "keys_restored": restored, "backup_playbook_s": round(backup_s, 1),
                                "restore_playbook_s": round(restore_s, 1)})
    assert restored == n
    assert count(e1, "/ks/after-snapshot") == 0
    for name in MEMBERS:
        assert cluster[name].run(f"{CTL} endpoint health").rc == 0, journal(cluster[name])


def test_replace_a_member_whose_host_is_gone(cluster, tmp_path):
    dead, new = MEMBERS[-1], "etcd4"
    subprocess.run(["ip", "link", "set", f"vb-{dead}", "down"], check=True)  # the host is gone from the network
    inv = yaml.safe_load(pathlib.Path(INVENTORY).read_text())
    inv["etcd"]["hosts"] = {h: None for h in MEMBERS if h != dead} | {new: None}
    inv.pop("etcd_spare", None)
    new_inventory = tmp_path / "inventory.yml"
    new_inventory.write_text(yaml.safe_dump(inv))
    took = playbook("etcd-replace-member.yml", "-e", f"etcd_replace_dead_member={dead}", inventory=str(new_inventory))
    e1, e4 = cluster[MEMBERS[0]], get(new)
    members = json.loads(e1.check_output(f"{CTL} member list -w json"))["members"]
    names = sorted(m.get("name", "") for m in members)
    record("replace_member", {"dead": dead, "new": new, "playbook_s": round(took, 1), "members": names})
    assert names == sorted([*(h for h in MEMBERS if h != dead), new])
    assert e4.run(f"{CTL} endpoint health").rc == 0, journal(e4)
    # the new member serves data written before it joined
    assert count(e4, "/ks/restore/") == 500
