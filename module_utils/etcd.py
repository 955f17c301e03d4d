"""Shared logic of the etcd_member and etcd_snapshot modules: etcdctl/etcdutl command lines, parsing
of their JSON output, membership planning (quorum, initial cluster), snapshot checks and retention.

Everything here is a plain function of its arguments, except diagnose_endpoint (it opens a TLS
connection, to say why etcdctl only reported "context deadline exceeded") and snapshot_digests
(it reads a file).

etcdctl facts this relies on (recorded from etcd 3.4.23, tests/unit/fixtures/etcd/):
- member and cluster IDs are uint64; JSON prints them as decimal numbers (Python's json keeps
  them exact), the simple and table outputs and the member commands use lowercase hex;
- ``endpoint status`` and ``endpoint health`` print the JSON of the endpoints that answered even
  when some did not (rc 1, one "Failed to get the status of endpoint URL (error)" line each);
- a learner refuses ``member list``, ``member add`` and the linearizable read of ``endpoint
  health`` ("etcdserver: rpc not supported for learner"), after retrying for the whole command
  timeout; ``endpoint status`` works;
- ``member promote -w json`` promotes, then etcdctl 3.4 panics: promote is run without -w json;
- TLS mistakes (no client certificate, another CA, http:// to a TLS port) and dead endpoints all
  end in "context deadline exceeded" after --command-timeout;
- ``snapshot status`` does not notice a flipped byte in the database; the sha256 that ``snapshot
  save`` appends (file size % 512 == 32) does, and ``snapshot restore`` checks it;
- etcdctl 3.4 restores only into a data dir that does not exist (etcdutl 3.5+: or is empty), and
  leaves a partial data dir behind when it fails.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import socket
import ssl
from typing import NamedTuple
from urllib.parse import urlsplit

# ETCDCTL_API=3: etcdctl 3.3 and older default to the v2 API
ETCD_ENVIRONMENT = {"LC_ALL": "C", "ETCDCTL_API": "3"}
SHA256_SIZE = 32
MARKER_NAME = "kubesmith-restore.json"
_STATUS_FAILED = re.compile(r"^Failed to get the status of endpoint (\S+) \((.*)\)\s*$")
_VERSION = re.compile(r"^etcdctl version:\s*(\S+)", re.MULTILINE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# etcdctl's errors, by what the modules do about them
UNREACHABLE_ERRORS = (
    "context deadline exceeded",
    "connection refused",
    "rpc not supported for learner",
    "all SubConns are in TransientFailure",
    "transport is closing",
    "i/o timeout",
    "no route to host",
)
# etcd refuses a membership change for now: a member (re)connected less than 5 s ago, or is down
UNHEALTHY_CLUSTER = "etcdserver: unhealthy cluster"
NOT_IN_SYNC = "can only promote a learner member which is in sync with leader"
TRANSIENT_ERRORS = (UNHEALTHY_CLUSTER, NOT_IN_SYNC, "etcdserver: leader changed", "etcdserver: request timed out")


# ---------------------------------------------------------------------------------------------
# arguments


def format_duration(seconds: float) -> str:
    """Seconds as a Go duration for etcdctl: 5 -> '5s', 0.5 -> '500ms', 2.25 -> '2250ms'."""
    if seconds <= 0:
        raise ValueError(f"a timeout must be positive, got {seconds!r}")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    millis = round(seconds * 1000)
    if millis < 1:
        raise ValueError(f"a timeout of {seconds!r}s is below one millisecond")
    return f"{millis}ms"


def validate_url(url: str, what: str) -> str:
    """An http(s)://host:port URL without a path; returned without a trailing '/'."""
    parts = urlsplit(str(url).strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"{what}: {url!r} is not a URL like https://10.0.0.11:2379 (scheme, host and port, no path)")
    if parts.query or parts.fragment or parts.username:
        raise ValueError(f"{what}: {url!r} is not a URL like https://10.0.0.11:2379 (no query, fragment or user)")
    return f"{parts.scheme}://{parts.netloc}"


def validate_member_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ValueError(f"name: {name!r} is not an etcd member name (letters, digits, '._-', not empty)")
    return name


def format_member_id(member_id: int) -> str:
    """The lowercase hex form etcdctl prints and its member commands take."""
    return format(member_id, "x")


def parse_member_id(text) -> int:
    """A member ID as etcdctl prints it (hex, '0x' optional) -> int."""
    value = str(text).strip().lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{1,16}", value) or int(value, 16) == 0:
        raise ValueError(
            f"id: {text!r} is not an etcd member ID (up to 16 hex digits, as 'etcdctl member list' prints)"
        )
    return int(value, 16)


def tls_flags(cacert: str | None, cert: str | None, key: str | None) -> list[str]:
    flags = []
    for flag, value in (("--cacert", cacert), ("--cert", cert), ("--key", key)):
        if value:
            flags.append(f"{flag}={value}")
    return flags


def etcdctl_argv(
    etcdctl: str,
    endpoints: list[str],
    tls: list[str],
    dial_timeout: float,
    command_timeout: float,
    command: list[str],
    json_output: bool = True,
) -> list[str]:
    """etcdctl --endpoints=... TLS --dial-timeout --command-timeout <command> [-w json]."""
    return [
        etcdctl,
        f"--endpoints={','.join(endpoints)}",
        *tls,
        f"--dial-timeout={format_duration(dial_timeout)}",
        f"--command-timeout={format_duration(command_timeout)}",
        *command,
        *(["-w", "json"] if json_output else []),
    ]


# ---------------------------------------------------------------------------------------------
# etcdctl output


def parse_json(text: str, what: str):
    try:
        return json.loads(text)
    except ValueError:
        snippet = text.strip()[:200] or "nothing"
        raise ValueError(f"{what}: expected JSON from etcdctl, got {snippet!r}") from None


def error_message(stdout: str, stderr: str) -> str:
    """What went wrong, in one line: etcdctl's 'Error: ...' line, a Go panic, or the last line."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line[len("Error: ") :]
    for line in lines:
        if line.startswith("panic: "):
            return line
    for text in (stderr, stdout):
        rest = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if rest:
            return rest[-1]
    return "no output"


def is_unreachable(message: str) -> bool:
    """The endpoint could not be used (down, blocked, a TLS mistake, a learner): try another one."""
    return any(text in message for text in UNREACHABLE_ERRORS)


def is_transient(message: str) -> bool:
    return any(text in message for text in TRANSIENT_ERRORS)


class Member(NamedTuple):
    id: int
    name: str  # empty until the member started and published itself
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @property
    def started(self) -> bool:
        return bool(self.name)

    @property
    def hex_id(self) -> str:
        return format_member_id(self.id)

    def label(self) -> str:
        return f"{self.name or '(not started)'} ({self.hex_id})"

    def as_dict(self) -> dict:
        return {
            "id": self.hex_id if self.id else None,  # 0: not added yet (check mode)
            "id_int": self.id or None,
            "name": self.name,
            "peer_urls": list(self.peer_urls),
            "client_urls": list(self.client_urls),
            "is_learner": self.is_learner,
            "started": self.started,
        }


def _member(entry: dict) -> Member:
    return Member(
        id=int(entry["ID"]),
        name=entry.get("name", ""),
        peer_urls=tuple(entry.get("peerURLs") or ()),
        client_urls=tuple(entry.get("clientURLs") or ()),
        is_learner=bool(entry.get("isLearner", False)),
    )


def _header(data: dict) -> dict:
    header = data.get("header") or {}
    return {
        "cluster_id": int(header.get("cluster_id", 0)),
        "member_id": int(header.get("member_id", 0)),
        "raft_term": int(header.get("raft_term", 0)),
    }


def parse_member_list(text: str) -> tuple[dict, list[Member]]:
    """``member list -w json`` (also the output of ``member remove -w json``) -> (header, members)."""
    data = parse_json(text, "member list")
    if not isinstance(data, dict) or "members" not in data:
        raise ValueError(f"member list: no 'members' in etcdctl's answer: {text.strip()[:200]!r}")
    return _header(data), [_member(m) for m in data["members"]]


def parse_member_add(text: str) -> tuple[Member, list[Member]]:
    """``member add -w json`` -> (the new member, all members)."""
    data = parse_json(text, "member add")
    if not isinstance(data, dict) or "member" not in data:
        raise ValueError(f"member add: no 'member' in etcdctl's answer: {text.strip()[:200]!r}")
    return _member(data["member"]), [_member(m) for m in data.get("members") or []]


def parse_endpoint_health(text: str) -> dict[str, dict]:
    """``endpoint health -w json`` -> {endpoint: {healthy, took, error}} (the JSON is printed for every
    endpoint, even when some are unhealthy and etcdctl exits 1)."""
    result = {}
    if not text.strip():
        return result
    for entry in parse_json(text, "endpoint health"):
        result[entry["endpoint"]] = {
            "healthy": bool(entry.get("health")),
            "took": entry.get("took"),
            "error": entry.get("error") or None,
        }
    return result


def parse_endpoint_status(stdout: str, stderr: str) -> tuple[dict[str, dict], dict[str, str]]:
    """``endpoint status -w json`` -> ({endpoint: status}, {endpoint: error}) for the endpoints that
    answered and those that did not."""
    statuses = {}
    if stdout.strip():
        for entry in parse_json(stdout, "endpoint status"):
            st = entry.get("Status") or {}
            header = st.get("header") or {}
            statuses[entry["Endpoint"]] = {
                "member_id": int(header.get("member_id", 0)),
                "cluster_id": int(header.get("cluster_id", 0)),
                "revision": int(header.get("revision", 0)),
                "leader": int(st.get("leader", 0)),
                "version": st.get("version", ""),
                "db_size": int(st.get("dbSize", 0)),
                "db_size_in_use": int(st.get("dbSizeInUse", 0)),
                "raft_index": int(st.get("raftIndex", 0)),
                "raft_term": int(st.get("raftTerm", 0)),
                "raft_applied_index": int(st.get("raftAppliedIndex", 0)),
                "is_learner": bool(st.get("isLearner", False)),
                "errors": list(st.get("errors") or []),
            }
    errors = {}
    for line in (stderr or "").splitlines():
        match = _STATUS_FAILED.match(line.strip())
        if match:
            errors[match.group(1)] = match.group(2)
    return statuses, errors


def parse_etcdctl_version(text: str) -> str:
    """'etcdctl version: 3.4.23\\nAPI version: 3.4' -> '3.4.23'."""
    match = _VERSION.search(text or "")
    if not match:
        raise ValueError(f"no 'etcdctl version:' line in {text.strip()[:200]!r}")
    return match.group(1)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("-")[0].split("+")[0])[:3])


# ---------------------------------------------------------------------------------------------
# membership


def find_members(
    members: list[Member], name: str | None = None, peer_urls=None, member_id: int | None = None
) -> list[Member]:
    """The members matching every criterion given (peer_urls: any URL in common)."""
    wanted_peers = set(peer_urls or ())
    found = []
    for m in members:
        if member_id is not None and m.id != member_id:
            continue
        if name is not None and m.name != name:
            continue
        if wanted_peers and not wanted_peers & set(m.peer_urls):
            continue
        found.append(m)
    return found


def plan_present(members: list[Member], name: str, peer_urls: list[str]) -> Member | None:
    """The member that already is ``name`` with ``peer_urls`` (None: it must be added).

    A member added earlier and not started yet has no name: one with exactly these peer URLs is
    taken as this one. Raises ValueError when the name or a peer URL belongs to another member.
    """
    wanted = set(peer_urls)
    by_name = [m for m in members if m.name == name]
    if by_name:
        m = by_name[0]
        if set(m.peer_urls) != wanted:
            raise ValueError(
                f"member {m.label()} exists with peer URLs {', '.join(m.peer_urls)}, not {', '.join(peer_urls)}; "
                "remove it first (state: absent) or give its peer URLs"
            )
        return m
    for m in members:
        if wanted & set(m.peer_urls):
            if not m.started and set(m.peer_urls) == wanted:
                return m  # added earlier, not started yet
            owner = f"member {m.label()}"
            raise ValueError(
                f"peer URL {', '.join(sorted(wanted & set(m.peer_urls)))} belongs to {owner} "
                f"(peer URLs {', '.join(m.peer_urls)}); remove that member first (state: absent)"
            )
    return None


def quorum(voters: int) -> int:
    return voters // 2 + 1


def removal_refusal(members: list[Member], healthy_ids: set[int], target: Member) -> str | None:
    """Why removing ``target`` would cost the cluster its quorum; None when it is safe.

    Learners do not vote, so removing one is always safe. Otherwise the voting members left must
    hold a quorum of healthy ones (``healthy_ids``: members whose endpoint health passed).
    """
    if target.is_learner:
        return None
    voters = [m for m in members if not m.is_learner]
    healthy_now = [m for m in voters if m.id in healthy_ids]
    if len(healthy_now) < quorum(len(voters)):
        return (
            f"the cluster has no quorum now: {len(healthy_now)} of {len(voters)} voting members are healthy "
            f"({', '.join(m.label() for m in healthy_now) or 'none'}), {quorum(len(voters))} are needed; "
            "etcd cannot commit a membership change until members come back"
        )
    left = [m for m in voters if m.id != target.id]
    if not left:
        return f"{target.label()} is the last voting member; removing it would destroy the cluster"
    healthy_left = [m for m in left if m.id in healthy_ids]
    if len(healthy_left) < quorum(len(left)):
        unhealthy = [m.label() for m in left if m.id not in healthy_ids]
        return (
            f"removing {target.label()} would leave {len(left)} voting members of which {len(healthy_left)} "
            f"are healthy, fewer than the quorum of {quorum(len(left))}: the cluster would stop accepting writes. "
            f"Bring back or remove the unhealthy member(s) first ({', '.join(unhealthy)})"
        )
    return None


def initial_cluster(members: list[Member], names: dict[int, str] | None = None) -> tuple[str, list[Member]]:
    """``name=peer_url,...`` over the members (in etcd's order), as a member joining with
    ETCD_INITIAL_CLUSTER_STATE=existing needs it; ``names`` names members that have not started
    yet (the one just added). Returns the string and the unnamed members left out of it."""
    names = names or {}
    parts, unnamed = [], []
    for m in members:
        name = m.name or names.get(m.id, "")
        if not name:
            unnamed.append(m)
            continue
        parts.extend(f"{name}={url}" for url in m.peer_urls)
    return ",".join(parts), unnamed


def member_lines(members: list[Member]) -> str:
    """One line per member, for the diff."""
    lines = []
    for m in sorted(members, key=lambda m: (m.name or "~", m.peer_urls)):
        role = "learner" if m.is_learner else "voting"
        ident = m.hex_id if m.id else "(id assigned by etcd)"
        lines.append(f"{m.name or '(not started)'} {ident} {role} peer_urls={','.join(m.peer_urls)}\n")
    return "".join(lines)


def leader_of(statuses: dict[str, dict]) -> int | None:
    """The leader most answering endpoints agree on; None when none knows one."""
    votes: dict[int, int] = {}
    for st in statuses.values():
        if st["leader"]:
            votes[st["leader"]] = votes.get(st["leader"], 0) + 1
    if not votes:
        return None
    return max(votes, key=lambda leader: (votes[leader], -leader))


def endpoint_report(members, health, statuses, status_errors, leader) -> list[dict]:
    """One entry per client URL of every started member: what health and status said about it."""
    report = []
    for m in members:
        for url in m.client_urls:
            h = health.get(url)
            st = statuses.get(url)
            if h is not None:
                healthy, error, took = h["healthy"], h["error"], h["took"]
            elif st is not None:  # a learner: status answered, health is not asked
                healthy, error, took = True, None, None
            else:
                healthy, error, took = False, status_errors.get(url, "not checked"), None
            report.append(
                {
                    "endpoint": url,
                    "name": m.name,
                    "member_id": m.hex_id,
                    "is_learner": m.is_learner,
                    "healthy": healthy,
                    "error": error,
                    "took": took,
                    "is_leader": leader is not None and m.id == leader,
                    "version": st["version"] if st else None,
                    "db_size": st["db_size"] if st else None,
                    "raft_index": st["raft_index"] if st else None,
                    "raft_term": st["raft_term"] if st else None,
                }
            )
    return report


# ---------------------------------------------------------------------------------------------
# snapshots


def parse_snapshot_status(text: str) -> dict:
    """``snapshot status -w json`` (etcdctl or etcdutl) -> hash, revision, total_keys, total_size, version."""
    data = parse_json(text, "snapshot status")
    if not isinstance(data, dict) or "hash" not in data:
        raise ValueError(f"snapshot status: no 'hash' in {text.strip()[:200]!r}")
    return {
        "hash": int(data["hash"]),
        "revision": int(data.get("revision", 0)),
        "total_keys": int(data.get("totalKey", 0)),
        "total_size": int(data.get("totalSize", 0)),
        # the storage version, etcdutl 3.6+ only
        "storage_version": data.get("version") or None,
    }


def choose_snapshot_tool(etcdutl_path: str | None, etcdctl_version: str | None) -> str:
    """'etcdutl' when it is there (3.5+; etcdctl 3.5 deprecated its snapshot status and restore,
    3.6 removed them), else 'etcdctl' when it is older than 3.6. ValueError otherwise."""
    if etcdutl_path:
        return "etcdutl"
    if etcdctl_version and version_tuple(etcdctl_version) >= (3, 6):
        raise ValueError(
            f"etcdctl {etcdctl_version} has no 'snapshot status' and 'snapshot restore' (etcd 3.6 moved them "
            "to etcdutl), and etcdutl was not found: install it beside etcdctl or give its path in etcdutl"
        )
    return "etcdctl"


def snapshot_status_argv(tool_path: str, path: str) -> list[str]:
    return [tool_path, "snapshot", "status", path, "-w", "json"]


def snapshot_restore_argv(
    tool_path: str, path: str, data_dir: str, name: str, cluster: str, token: str, peer_urls: list[str]
) -> list[str]:
    return [
        tool_path,
        "snapshot",
        "restore",
        path,
        f"--data-dir={data_dir}",
        f"--name={name}",
        f"--initial-cluster={cluster}",
        f"--initial-cluster-token={token}",
        f"--initial-advertise-peer-urls={','.join(peer_urls)}",
    ]


def parse_initial_cluster(text: str) -> list[tuple[str, str]]:
    """'a=https://h1:2380,b=https://h2:2380' -> [(name, url)], validated."""
    pairs = []
    for part in (text or "").split(","):
        name, sep, url = part.strip().partition("=")
        if not sep or not name:
            raise ValueError(f"initial_cluster: {part.strip()!r} is not name=peer_url (in {text!r})")
        pairs.append((validate_member_name(name), validate_url(url, f"initial_cluster {name}")))
    return pairs


def check_restore_arguments(name: str, cluster: str, peer_urls: list[str]) -> None:
    """The restored member must be in initial_cluster with exactly its advertised peer URLs."""
    pairs = parse_initial_cluster(cluster)
    mine = sorted(url for n, url in pairs if n == name)
    if not mine:
        names = ", ".join(sorted({n for n, _ in pairs}))
        raise ValueError(f"name {name!r} is not in initial_cluster (which names {names})")
    if mine != sorted(peer_urls):
        raise ValueError(
            f"initial_cluster gives {name} the peer URLs {', '.join(mine)}, but initial_advertise_peer_urls "
            f"are {', '.join(peer_urls)}: they must be the same"
        )


def snapshot_digests(path: str, chunk_size: int = 1 << 20) -> tuple[str, str]:
    """(sha256 of the file, integrity) where integrity says what the sha256 etcd appends to a saved
    snapshot says: 'ok', 'mismatch' (the file is damaged: etcd would refuse to restore it) or
    'absent' (size % 512 != 32: not from 'snapshot save', e.g. a db copied from a data dir)."""
    whole = hashlib.sha256()
    body = hashlib.sha256()
    tail = b""
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            whole.update(chunk)
            size += len(chunk)
            data = tail + chunk
            body.update(data[:-SHA256_SIZE])
            tail = data[-SHA256_SIZE:]
    if size % 512 != SHA256_SIZE:
        return whole.hexdigest(), "absent"
    return whole.hexdigest(), "ok" if body.digest() == tail else "mismatch"


def restore_marker(sha256: str, name: str, cluster: str, token: str, peer_urls: list[str], status: dict) -> dict:
    """What the module writes into a data dir it restored, to recognise it later."""
    return {
        "snapshot_sha256": sha256,
        "name": name,
        "initial_cluster": cluster,
        "initial_cluster_token": token,
        "initial_advertise_peer_urls": list(peer_urls),
        "status": status,
    }


def marker_differences(marker: dict | None, wanted: dict) -> list[str]:
    """The fields of a restore marker that differ from what is asked ([] -> already restored)."""
    if not isinstance(marker, dict):
        return ["marker"]
    keys = ("snapshot_sha256", "name", "initial_cluster", "initial_cluster_token", "initial_advertise_peer_urls")
    return [key for key in keys if marker.get(key) != wanted.get(key)]


def retention_victims(entries: list[tuple[str, float]], keep: int, pattern: str, protect: str) -> list[str]:
    """The file names to delete (oldest first) so that the ``keep`` newest (by mtime, then name)
    matching ``pattern`` remain; ``protect`` (the snapshot just saved) is always kept and counts as
    one of them. Hidden files (temporary ones) are never touched."""
    if keep < 1:
        raise ValueError(f"retention must be at least 1, got {keep}")
    matching = [(name, mtime) for name, mtime in entries if not name.startswith(".") and fnmatch.fnmatch(name, pattern)]
    others = sorted((e for e in matching if e[0] != protect), key=lambda e: (e[1], e[0]), reverse=True)
    room = keep - (1 if any(name == protect for name, _ in matching) else 0)
    return [name for name, _ in sorted(others[max(room, 0) :], key=lambda e: (e[1], e[0]))]


# ---------------------------------------------------------------------------------------------
# the one function here that touches the network


def diagnose_endpoint(url: str, cacert: str | None, cert: str | None, key: str | None, timeout: float) -> str:
    """Why an endpoint does not answer etcdctl, as far as a TCP connection and a TLS handshake with
    the same CA, certificate and key can tell (etcdctl 3.4 reports all of it as "context deadline
    exceeded")."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {host}:{port}"
    except TimeoutError:
        return f"no TCP connection to {host}:{port} within {timeout:g}s (host down or a firewall drops it)"
    except OSError as e:
        return f"cannot connect to {host}:{port}: {e.strerror or e}"
    with sock:
        if parts.scheme != "https":
            return "TCP connects; the endpoint is http://, is the server using TLS (then use https://)?"
        try:
            context = ssl.create_default_context(cafile=cacert) if cacert else ssl.create_default_context()
            if cert:
                context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as e:
            return f"cannot load the TLS files: {e}"
        sock.settimeout(timeout)
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                # a server that rejects the client certificate says so after the handshake (TLS 1.3)
                tls.settimeout(min(timeout, 1.0))
                try:
                    tls.recv(1)
                except TimeoutError:
                    pass
                except ssl.SSLError as e:
                    return f"the server rejected the client certificate: {e.reason or e}"
        except ssl.SSLCertVerificationError as e:
            return f"the server's certificate is not trusted with cacert: {e.verify_message or e}"
        except ssl.SSLError as e:
            return f"TLS handshake failed: {e.reason or e}"
        except TimeoutError:
            return f"TCP connects but no TLS handshake within {timeout:g}s (not a TLS port, or the server hangs)"
        except OSError as e:
            return f"TLS handshake failed: {e}"
    return "TCP and TLS work with these files; etcd itself did not answer in time (overloaded, or no quorum?)"
