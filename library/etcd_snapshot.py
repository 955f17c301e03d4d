#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: etcd_snapshot
short_description: Save, verify and restore etcd snapshots (etcdctl, or etcdutl on etcd 3.5+)
description:
  - V(saved) takes a snapshot of a running etcd cluster (C(etcdctl snapshot save)) from the first of
    O(endpoints) that answers, into a temporary file beside O(path), verifies it, and only then moves it
    to O(path); optionally deletes older snapshots (O(retention)).
  - V(verified) checks a snapshot file (C(snapshot status) and the sha256 that C(snapshot save) appends,
    which C(snapshot status) alone does not check).
  - V(restored) restores a snapshot into a new data directory for one member of a new cluster, through a
    temporary directory beside O(data_dir), so that a failed restore leaves nothing half-written.
    The data directory is then recognised (a marker file with the snapshot's sha256 and the cluster
    arguments), so a second run, also after etcd started on it, changes nothing.
  - C(snapshot status) and C(snapshot restore) run with C(etcdutl) when it is found (etcd 3.5+; etcdctl 3.5
    deprecated them, 3.6 removed them), else with C(etcdctl) (etcd 3.4, Debian bookworm's etcd-client).
options:
  state:
    description:
      - V(saved) makes sure O(path) holds a valid snapshot, and takes one when it does not (or with O(force=true)).
      - V(verified) checks the snapshot at O(path) and reports it; fails when it is missing or damaged.
      - V(restored) makes sure O(data_dir) holds a member restored from the snapshot at O(path) with O(name),
        O(initial_cluster), O(initial_cluster_token) and O(initial_advertise_peer_urls).
    type: str
    choices: [saved, verified, restored]
    default: saved
  path:
    description:
      - The snapshot file on the host. With O(state=saved) its directory is created (mode 0700) when missing,
        and the file is written with mode 0600 (a snapshot holds every secret of the cluster).
      - Give a new name per snapshot (a timestamp) to keep several, see O(retention).
    type: path
    required: true
  force:
    description:
      - With O(state=saved), take a new snapshot even when O(path) already holds a valid one.
      - With O(state=restored), restore even when O(data_dir) is not empty and was not restored from this
        snapshot with these arguments; the directory there is moved aside to C(<data_dir>.replaced-<time>)
        (returned as RV(replaced_dir)), not deleted. Stop etcd first.
    type: bool
    default: false
  retention:
    description:
      - With O(state=saved), keep the O(retention) newest files (by modification time) that match
        O(retention_pattern) in the directory of O(path), counting the snapshot at O(path), and delete the others.
      - Not given, nothing is deleted.
    type: int
  retention_pattern:
    description: Shell pattern of the snapshot file names that O(retention) counts (hidden files never match).
    type: str
    default: '*.db'
  endpoints:
    description:
      - Client URLs to take the snapshot from (O(state=saved)), tried in order until one answers; etcd sends
        a snapshot from one member.
    type: list
    elements: str
  cacert:
    description: CA bundle to verify the etcd servers' certificates (C(--cacert)), a path on the host.
    type: path
  cert:
    description: Client certificate (C(--cert)), a path on the host.
    type: path
  key:
    description: Key of O(cert) (C(--key)), a path on the host.
    type: path
  command_timeout:
    description:
      - Seconds the snapshot download from one endpoint may take (C(--command-timeout)); a dead endpoint
        costs this much before the next one is tried.
      - Larger than etcd_member's default, as it covers streaming the whole database (about 0.1 s for 14 MB
        on a local cluster; allow for the network and databases of several GB).
    type: float
    default: 60
  dial_timeout:
    description: Seconds to establish a connection (C(--dial-timeout)).
    type: float
    default: 2
  data_dir:
    description: The data directory to restore into (O(state=restored)); its parent is created when missing.
    type: path
  name:
    description: Name of the restored member (O(state=restored)); must be in O(initial_cluster).
    type: str
  initial_cluster:
    description:
      - C(name=peer_url,...) of every member of the restored cluster (O(state=restored)).
    type: str
  initial_cluster_token:
    description: Token of the restored cluster (O(state=restored)); a new one keeps old members from joining it.
    type: str
  initial_advertise_peer_urls:
    description: Peer URLs of the restored member (O(state=restored)), as in O(initial_cluster).
    type: list
    elements: str
  owner:
    description: Owner of the restored data directory (O(state=restored)), for an etcd that does not run as root.
    type: str
  group:
    description: Group of the restored data directory (O(state=restored)).
    type: str
  etcdctl:
    description: The etcdctl executable, a name looked up in the PATH or a path.
    type: str
    default: etcdctl
  etcdutl:
    description: The etcdutl executable (etcd 3.5+), a name looked up in the PATH or a path; used when found.
    type: str
    default: etcdutl
attributes:
  check_mode:
    support: full
    description:
      - Writes, moves and deletes nothing and runs no C(snapshot save) or C(snapshot restore); reads and
        verifies existing snapshot files (C(snapshot status) only reads) to decide what a real run would do.
  diff_mode:
    support: none
    description: A snapshot is binary; the returned values say what changed.
  platform:
    support: full
    platforms: posix
notes:
  - C(snapshot status) reads the whole snapshot, and the module hashes it once (sha256), so both take
    time with large databases.
  - O(state=restored) prepares one member; restore the same snapshot on every member of the new cluster,
    each with its own O(name) and O(initial_advertise_peer_urls), then start them all with
    C(--initial-cluster-state=new).
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Snapshot the cluster, keep the 7 newest
  etcd_snapshot:
    path: "/var/backups/etcd/etcd-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}.db"
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    retention: 7
  register: etcd_backup

- name: Check a snapshot copied from elsewhere
  etcd_snapshot:
    state: verified
    path: /var/backups/etcd/from-old-cluster.db

- name: Restore it as member etcd-1 of a new cluster (etcd stopped)
  etcd_snapshot:
    state: restored
    path: /var/backups/etcd/from-old-cluster.db
    data_dir: /var/lib/etcd
    name: etcd-1
    initial_cluster: etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380
    initial_cluster_token: kubesmith-restored-1
    initial_advertise_peer_urls: ["https://10.0.0.11:2380"]
    owner: etcd
    group: etcd
    force: true
"""

RETURN = r"""
path:
  description: The snapshot file.
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-20250101T020000Z.db
sha256:
  description: sha256 of the snapshot file; null in check mode before a snapshot exists.
  returned: always
  type: str
  sample: 3f1a0c5e8f0b4c7a9d2e6b1f0a3c5d7e9f1b3d5f7a9c1e3f5b7d9f1a3c5e7f9b
integrity:
  description:
    - What the sha256 that C(snapshot save) appends says, V(ok); V(absent) for a file that has none (a database
      copied from a data directory, which C(verified) accepts and C(restored) does not); null when not read.
  returned: always
  type: str
  sample: ok
hash:
  description: Hash of the database content as C(snapshot status -w json) prints it (the table output prints it in hex).
  returned: when the snapshot was read
  type: int
  sample: 1978918236
revision:
  description: Revision of the last change in the snapshot.
  returned: when the snapshot was read
  type: int
  sample: 84
total_keys:
  description: Number of keys in the snapshot's database, etcd's own included (C(snapshot status) counts every bucket).
  returned: when the snapshot was read
  type: int
  sample: 10006
total_size:
  description: Size of the database in bytes (C(snapshot status)).
  returned: when the snapshot was read
  type: int
  sample: 13811712
storage_version:
  description: Storage version of the snapshot (etcdutl 3.6+); null otherwise.
  returned: when the snapshot was read
  type: str
  sample: "3.6.0"
size:
  description: Size of the snapshot file in bytes.
  returned: when the snapshot file exists (after this call)
  type: int
  sample: 13811744
endpoint:
  description: The endpoint the snapshot was taken from.
  returned: when a snapshot was taken
  type: str
  sample: https://10.0.0.11:2379
seconds:
  description: How long C(snapshot save) or C(snapshot restore) took.
  returned: when a snapshot was taken or restored
  type: float
  sample: 0.09
deleted:
  description: Snapshot files deleted by O(retention) (that would be, in check mode), oldest first.
  returned: with state=saved
  type: list
  elements: str
  sample: [/var/backups/etcd/etcd-20241224T020000Z.db]
tool:
  description: The executable used for C(snapshot status) and C(snapshot restore).
  returned: when one was run
  type: str
  sample: /usr/bin/etcdctl
data_dir:
  description: The restored data directory.
  returned: with state=restored
  type: str
  sample: /var/lib/etcd
marker:
  description: The file in the restored data directory by which the module recognises it.
  returned: with state=restored
  type: str
  sample: /var/lib/etcd/member/kubesmith-restore.json
replaced_dir:
  description: Where the data directory that O(force=true) replaced was moved to.
  returned: when a non-empty data directory was replaced
  type: str
  sample: /var/lib/etcd.replaced-20250101T020000
"""

import contextlib
import fnmatch
import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.etcd import (
    ETCD_ENVIRONMENT,
    MARKER_NAME,
    check_restore_arguments,
    choose_snapshot_tool,
    diagnose_endpoint,
    error_message,
    etcdctl_argv,
    is_unreachable,
    marker_differences,
    parse_etcdctl_version,
    parse_snapshot_status,
    restore_marker,
    retention_victims,
    snapshot_digests,
    snapshot_restore_argv,
    snapshot_status_argv,
    tls_flags,
    validate_member_name,
    validate_url,
)

RESTORE_OPTIONS = ("data_dir", "name", "initial_cluster", "initial_cluster_token", "initial_advertise_peer_urls")


def argument_spec():
    return dict(
        state=dict(type="str", default="saved", choices=["saved", "verified", "restored"]),
        path=dict(type="path", required=True),
        force=dict(type="bool", default=False),
        retention=dict(type="int"),
        retention_pattern=dict(type="str", default="*.db"),
        endpoints=dict(type="list", elements="str"),
        cacert=dict(type="path"),
        cert=dict(type="path"),
        key=dict(type="path"),
        command_timeout=dict(type="float", default=60),
        dial_timeout=dict(type="float", default=2),
        data_dir=dict(type="path"),
        name=dict(type="str"),
        initial_cluster=dict(type="str"),
        initial_cluster_token=dict(type="str"),
        initial_advertise_peer_urls=dict(type="list", elements="str"),
        owner=dict(type="str"),
        group=dict(type="str"),
        etcdctl=dict(type="str", default="etcdctl"),
        etcdutl=dict(type="str", default="etcdutl"),
    )


def _executable(module, name):
    """Path of an executable given by name (PATH) or path; None when missing."""
    if os.sep in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return module.get_bin_path(name)


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class EtcdSnapshot:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.path = self.p["path"]
        self.check_mode = module.check_mode
        self.tool = None
        self.changed = False
        self.info = dict(path=self.path, sha256=None, integrity=None)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **{**self.info, **kwargs})

    def run(self, argv):
        return self.module.run_command(argv, environ_update=ETCD_ENVIRONMENT)

    # -- validation ----------------------------------------------------------------------------

    def validate(self):
        p = self.p
        try:
            if p["state"] == "saved":
                if not p["endpoints"]:
                    raise ValueError("endpoints: give at least one client URL to take the snapshot from")
                self.endpoints = [validate_url(url, "endpoints") for url in p["endpoints"]]
                for option in ("command_timeout", "dial_timeout"):
                    if p[option] <= 0:
                        raise ValueError(f"{option}: must be more than 0 seconds, got {p[option]:g}")
                if p["retention"] is not None and p["retention"] < 1:
                    raise ValueError(f"retention: keep at least 1 snapshot, got {p['retention']}")
            if p["state"] == "restored":
                validate_member_name(p["name"])
                self.peer_urls = [
                    validate_url(url, "initial_advertise_peer_urls") for url in p["initial_advertise_peer_urls"]
                ]
                check_restore_arguments(p["name"], p["initial_cluster"], self.peer_urls)
                if os.path.abspath(p["data_dir"]) in ("/", os.path.dirname(os.path.abspath(self.path))):
                    raise ValueError(f"data_dir: {p['data_dir']} cannot be / or the directory of the snapshot")
        except ValueError as e:
            self.fail(str(e))
        for option in ("cacert", "cert", "key"):
            path = p[option]
            if path and not os.path.isfile(path):
                self.fail(f"{option} {path} does not exist (or is not a file) on this host")
        self.etcdctl_path = _executable(self.module, p["etcdctl"])
        if self.etcdctl_path is None and p["state"] == "saved":
            self.fail(f"etcdctl was not found ({p['etcdctl']}): install etcd-client, or give its path in etcdctl")

    # -- snapshot status -----------------------------------------------------------------------

    def snapshot_tool(self):
        """etcdutl when found, else etcdctl older than 3.6 (which still has snapshot status/restore)."""
        if self.tool is None:
            etcdutl = _executable(self.module, self.p["etcdutl"])
            version = None
            if etcdutl is None:
                if self.etcdctl_path is None:
                    self.fail(f"neither etcdutl ({self.p['etcdutl']}) nor etcdctl ({self.p['etcdctl']}) was found")
                argv = [self.etcdctl_path, "version"]
                rc, out, err = self.run(argv)
                if rc != 0:
                    self.fail(
                        f"etcdctl version failed: {error_message(out, err)}", cmd=argv, rc=rc, stdout=out, stderr=err
                    )
                try:
                    version = parse_etcdctl_version(out)
                except ValueError as e:
                    self.fail(str(e), cmd=argv, rc=rc, stdout=out, stderr=err)
            try:
                kind = choose_snapshot_tool(etcdutl, version)
            except ValueError as e:
                self.fail(str(e))
            self.tool = etcdutl if kind == "etcdutl" else self.etcdctl_path
            self.info["tool"] = self.tool
        return self.tool

    def inspect(self, path):
        """(report, problem): snapshot status and the sha256 trailer of ``path``; problem is None when
        the snapshot is sound."""
        argv = snapshot_status_argv(self.snapshot_tool(), path)
        rc, out, err = self.run(argv)
        if rc != 0:
            return None, (
                f"snapshot status failed: {error_message(out, err)}",
                dict(cmd=argv, rc=rc, stdout=out, stderr=err),
            )
        try:
            status = parse_snapshot_status(out)
        except ValueError as e:
            return None, (str(e), dict(cmd=argv, rc=rc, stdout=out, stderr=err))
        sha256, integrity = snapshot_digests(path)
        report = dict(status, sha256=sha256, integrity=integrity, size=os.path.getsize(path))
        if integrity == "mismatch":
            return report, (
                "its content does not match the sha256 that 'snapshot save' appended: the file is damaged "
                "(etcd would refuse to restore it)",
                {},
            )
        return report, None

    # -- saved ---------------------------------------------------------------------------------

    def saved(self):
        replacing = os.path.lexists(self.path)
        if replacing and not os.path.isfile(self.path):
            self.fail(f"{self.path} exists and is not a regular file")
        if replacing and not self.p["force"]:
            report, problem = self.inspect(self.path)
            if problem is None and report["integrity"] == "ok":
                self.info.update(report)
                return
            why = problem[0] if problem else "it has no sha256 appended, so it was not made by 'snapshot save'"
            self.module.warn(f"{self.path} is not a sound snapshot ({why}); taking a new one")
        self.changed = True
        if self.check_mode:
            return
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp")
        os.close(fd)
        try:
            self.save_into(tmp)
            report, problem = self.inspect(tmp)
            if problem is not None:
                self.fail(f"the snapshot taken from {self.info['endpoint']} is not sound: {problem[0]}", **problem[1])
            if report["integrity"] != "ok":
                self.fail(
                    f"the snapshot taken from {self.info['endpoint']} has no sha256 appended; is this etcdctl 3.4+?"
                )
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            _remove(tmp)
            _remove(f"{tmp}.part")  # etcdctl's own temporary file
        self.info.update(report)

    def save_into(self, tmp):
        tls = tls_flags(self.p["cacert"], self.p["cert"], self.p["key"])
        errors = []
        for endpoint in self.endpoints:
            argv = etcdctl_argv(
                self.etcdctl_path,
                [endpoint],
                tls,
                self.p["dial_timeout"],
                self.p["command_timeout"],
                ["snapshot", "save", tmp],
                json_output=False,
            )
            began = time.monotonic()
            rc, out, err = self.run(argv)
            if rc == 0:
                self.info.update(endpoint=endpoint, seconds=round(time.monotonic() - began, 3))
                return
            message = error_message(out, err)
            if not is_unreachable(message):
                self.fail(
                    f"etcdctl snapshot save from {endpoint} failed: {message}", cmd=argv, rc=rc, stdout=out, stderr=err
                )
            if "context deadline exceeded" in message:
                message += (
                    " ("
                    + diagnose_endpoint(
                        endpoint, self.p["cacert"], self.p["cert"], self.p["key"], self.p["dial_timeout"]
                    )
                    + ")"
                )
            errors.append((endpoint, message))
        self.fail(
            f"no etcd endpoint gave a snapshot within {self.p['command_timeout']:g}s: "
            + "; ".join(f"{endpoint}: {message}" for endpoint, message in errors),
            errors=[{"endpoint": endpoint, "error": message} for endpoint, message in errors],
        )

    def retain(self):
        deleted = []
        keep = self.p["retention"]
        if keep is not None:
            directory = os.path.dirname(self.path) or "."
            base = os.path.basename(self.path)
            entries = []
            if os.path.isdir(directory):
                for entry in os.scandir(directory):
                    if entry.is_file(follow_symlinks=False):
                        entries.append((entry.name, entry.stat(follow_symlinks=False).st_mtime))
            if base not in {name for name, _ in entries}:
                entries.append((base, time.time()))  # check mode: the snapshot a real run would take
            pattern = self.p["retention_pattern"]
            if not fnmatch.fnmatch(base, pattern):
                self.module.warn(f"{base} does not match retention_pattern {pattern!r}: it is kept and not counted")
            deleted = [os.path.join(directory, name) for name in retention_victims(entries, keep, pattern, base)]
            for victim in deleted:
                if not self.check_mode:
                    try:
                        os.unlink(victim)
                    except FileNotFoundError:
                        pass
                    except OSError as e:
                        self.fail(f"retention: cannot delete {victim}: {e}", deleted=deleted)
            if deleted:
                self.changed = True
        self.info["deleted"] = deleted

    # -- verified ------------------------------------------------------------------------------

    def verified(self):
        if not os.path.isfile(self.path):
            self.fail(f"there is no snapshot file at {self.path}")
        report, problem = self.inspect(self.path)
        if report:
            self.info.update(report)
        if problem is not None:
            self.fail(f"{self.path} is not a sound snapshot: {problem[0]}", **problem[1])
        if report["integrity"] == "absent":
            self.module.warn(
                f"{self.path} has no sha256 appended (a database copied from a data directory?): its content "
                "cannot be checked, and restoring it needs --skip-hash-check"
            )

    # -- restored ------------------------------------------------------------------------------

    def restored(self):
        p = self.p
        data_dir = os.path.abspath(p["data_dir"])
        marker_path = os.path.join(data_dir, "member", MARKER_NAME)
        self.info.update(data_dir=data_dir, marker=marker_path)
        if not os.path.isfile(self.path):
            self.fail(f"there is no snapshot file at {self.path}")
        sha256, integrity = snapshot_digests(self.path)
        self.info.update(sha256=sha256, integrity=integrity, size=os.path.getsize(self.path))
        if integrity != "ok":
            self.fail(
                f"{self.path} cannot be restored: "
                + (
                    "its content does not match the sha256 that 'snapshot save' appended (the file is damaged)"
                    if integrity == "mismatch"
                    else "it has no sha256 appended (not made by 'snapshot save'), so its content cannot be checked"
                )
            )
        wanted = restore_marker(
            sha256, p["name"], p["initial_cluster"], p["initial_cluster_token"], self.peer_urls, status=None
        )
        marker = self.read_marker(marker_path)
        contents = self.listdir(data_dir)
        if contents:
            differences = marker_differences(marker, wanted)
            if not differences:
                self.info.update(marker.get("status") or {})
                self.chown(data_dir)
                return
            if not p["force"]:
                if marker is None:
                    what = f"holds {', '.join(sorted(contents)[:5])}, and this module did not restore it"
                else:
                    what = f"was restored with other {', '.join(differences)}"
                self.fail(
                    f"data_dir {data_dir} is not empty: it {what}. Refusing to overwrite it: stop etcd and move it "
                    "away, or set force: true (it is then moved to <data_dir>.replaced-<time>)"
                )
        self.changed = True
        if contents:
            self.info["replaced_dir"] = f"{data_dir}.replaced-{time.strftime('%Y%m%dT%H%M%S')}"
        if self.check_mode:
            return
        report, problem = self.inspect(self.path)
        if problem is not None:
            self.fail(f"{self.path} is not a sound snapshot: {problem[0]}", **problem[1])
        self.info.update(report)
        wanted["status"] = {k: report[k] for k in ("hash", "revision", "total_keys", "total_size", "storage_version")}
        parent = os.path.dirname(data_dir)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        workdir = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(data_dir)}.restore-")
        try:
            target = os.path.join(workdir, "data")  # etcdctl 3.4 restores only into a directory that does not exist
            argv = snapshot_restore_argv(
                self.snapshot_tool(),
                self.path,
                target,
                p["name"],
                p["initial_cluster"],
                p["initial_cluster_token"],
                self.peer_urls,
            )
            began = time.monotonic()
            rc, out, err = self.run(argv)
            if rc != 0:
                self.fail(
                    f"snapshot restore failed: {error_message(out, err)}", cmd=argv, rc=rc, stdout=out, stderr=err
                )
            self.info["seconds"] = round(time.monotonic() - began, 3)
            os.chmod(target, 0o700)
            with open(os.path.join(target, "member", MARKER_NAME), "w") as f:
                json.dump(wanted, f, indent=2, sort_keys=True)
                f.write("\n")
            self.chown(target)
            if contents:
                os.rename(data_dir, self.info["replaced_dir"])
            elif os.path.isdir(data_dir):
                os.rmdir(data_dir)  # empty
            os.rename(target, data_dir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def read_marker(self, path):
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def listdir(self, path):
        if not os.path.lexists(path):
            return []
        if not os.path.isdir(path):
            self.fail(f"data_dir {path} exists and is not a directory")
        return os.listdir(path)

    def chown(self, top):
        """Give the data directory to owner/group (recursively) when asked."""
        owner, group = self.p["owner"], self.p["group"]
        if owner is None and group is None:
            return
        for root, dirs, files in os.walk(top):
            for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
                changed = self.module.set_owner_if_different(entry, owner, False) if owner else False
                changed = (self.module.set_group_if_different(entry, group, False) if group else False) or changed
                if changed:
                    self.changed = True

    def result(self):
        return dict(changed=self.changed, **self.info)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[
            ("state", "saved", ("endpoints",)),
            ("state", "restored", RESTORE_OPTIONS),
        ],
        required_together=[("cert", "key")],
    )
    snapshot = EtcdSnapshot(module)
    snapshot.validate()
    state = module.params["state"]
    if state == "saved":
        snapshot.saved()
        snapshot.retain()
    elif state == "verified":
        snapshot.verified()
    else:
        snapshot.restored()
    module.exit_json(**snapshot.result())


if __name__ == "__main__":
    main()
