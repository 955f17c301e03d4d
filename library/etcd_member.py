#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: etcd_member
short_description: Add, remove, promote and inspect the members of an etcd cluster (etcdctl, API v3)
description:
  - Manages the membership of a running etcd cluster through C(etcdctl) over TLS, with JSON output
    and short timeouts, and reports the members, the leader and the health of every member's endpoint.
  - The member list is asked of O(endpoints) in order, each alone, until one answers, so a dead host
    only costs O(command_timeout). Health (C(endpoint health)) and status (C(endpoint status)) are then
    asked of the client URLs the members advertise; membership changes go to the endpoint that answered
    or to a healthy voting member (the leader first), never to a learner or to the member being removed.
  - Refuses to remove a member when the voting members left would not hold a quorum of healthy ones,
    unless O(force=true).
  - Works with etcdctl 3.4 (Debian bookworm's etcd-client) and later.
options:
  state:
    description:
      - V(present) makes sure a member O(name) with O(peer_urls) exists, and adds it when missing
        (as a learner with O(learner=true)). A member added earlier but not started yet (it has no name
        then) with exactly these peer URLs counts as present.
      - V(absent) removes the member given by O(name), O(peer_urls) or O(id) (all of those given must
        match the same member); nothing to do when there is none.
      - V(promoted) makes a learner (given by O(name), O(peer_urls) or O(id)) a voting member. A voting
        member is left alone.
      - V(info) only reports the members, the leader, their health and the initial cluster.
    type: str
    choices: [present, absent, promoted, info]
    default: present
  name:
    description: Name of the member (C(--name) of its etcd).
    type: str
  peer_urls:
    description:
      - Peer URLs of the member (C(--initial-advertise-peer-urls) of its etcd), like V(https://10.0.0.14:2380).
      - Required with O(state=present).
    type: list
    elements: str
  id:
    description: Member ID in hex, as C(etcdctl member list) prints it (O(state=absent) and O(state=promoted)).
    type: str
  learner:
    description:
      - Add the member as a learner (a non-voting member that catches up before it counts for the quorum),
        to be promoted with O(state=promoted) once it runs.
      - Only used when the member is added; an existing member is not changed.
    type: bool
    default: false
  force:
    description:
      - Remove the member even when the module's quorum check says the cluster would lose its quorum.
      - etcd's own check (C(--strict-reconfig-check), on by default) may still refuse.
    type: bool
    default: false
  endpoints:
    description:
      - Client URLs to ask for the member list, in order, like V(https://10.0.0.11:2379).
      - Those of live members are enough; a dead one only costs O(command_timeout).
    type: list
    elements: str
    required: true
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
      - Seconds one etcdctl request may take (C(--command-timeout)), so a dead endpoint never hangs the task.
    type: float
    default: 5
  dial_timeout:
    description: Seconds to establish a connection (C(--dial-timeout)).
    type: float
    default: 2
  wait_timeout:
    description:
      - Seconds to keep retrying a membership change that etcd refuses for the moment while every voting
        member is healthy (C(unhealthy cluster) for 5 s after a member connected), or a promotion while
        the started learner has not caught up with the leader yet.
      - A change that cannot succeed (a voting member is down, the learner never started) fails at once.
    type: float
    default: 30
  etcdctl:
    description: The etcdctl executable, a name looked up in the PATH or a path.
    type: str
    default: etcdctl
attributes:
  check_mode:
    support: full
    description:
      - Reads the member list, health and status as in a real run, and reports the member that would be
        added, removed or promoted without running C(member add), C(member remove) or C(member promote).
        An added member's ID is chosen by etcd, so it is null in check mode.
  diff_mode:
    support: full
    description: The member list before and after, one line per member (name, ID, voting or learner, peer URLs).
  platform:
    support: full
    platforms: posix
notes:
  - With a dead voting member, etcd refuses to add members (C(unhealthy cluster)); remove the dead one first.
  - etcd allows one learner at a time.
  - A new member must then be started with C(--initial-cluster-state=existing) and C(--initial-cluster)
    set to RV(initial_cluster) (which names it).
  - The module asks the client URLs the members advertise for health and status; they must be reachable
    from where the module runs (usually an etcd host, with C(delegate_to)).
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Add etcd-4 as a learner (run on a healthy etcd host)
  etcd_member:
    name: etcd-4
    peer_urls: ["https://10.0.0.14:2380"]
    learner: true
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
  delegate_to: etcd-1
  register: etcd_add

- name: Start etcd-4 with the cluster it joins
  ansible.builtin.debug:
    msg: "ETCD_INITIAL_CLUSTER={{ etcd_add.initial_cluster }} ETCD_INITIAL_CLUSTER_STATE=existing"

- name: Promote etcd-4 once it runs (retries while it catches up)
  etcd_member:
    name: etcd-4
    state: promoted
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379"]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    wait_timeout: 60

- name: Remove the member of a dead host
  etcd_member:
    name: etcd-3
    state: absent
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379"]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key

- name: Members, leader and health
  etcd_member:
    state: info
    endpoints: ["https://10.0.0.11:2379"]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    command_timeout: 3
  register: etcd_info
"""

RETURN = r"""
members:
  description: The members after this call (predicted in check mode), in etcd's order (by ID).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Member ID in hex, as etcdctl prints it; null for a member check mode would add.
      type: str
      sample: d0e393e033a6ee96
    id_int:
      description: The same ID as an integer (an unsigned 64-bit number; exact, not a float).
      type: int
      sample: 15052036970750865046
    name:
      description: Name; empty for a member added but not started yet.
      type: str
      sample: etcd-2
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
      sample: ["https://10.0.0.12:2380"]
    client_urls:
      description: Client URLs it advertises (empty until it started).
      type: list
      elements: str
      sample: ["https://10.0.0.12:2379"]
    is_learner:
      description: Whether it is a learner (does not vote).
      type: bool
      sample: false
    started:
      description: Whether it started and published its name.
      type: bool
      sample: true
cluster_id:
  description: Cluster ID in hex.
  returned: always
  type: str
  sample: 6e8e275ad6250df2
leader:
  description: ID (hex) of the leader, as the members that answered C(endpoint status) see it; null when none knows one.
  returned: always
  type: str
  sample: 738eb8f0bcbcfa96
leader_name:
  description: Name of the leader; null when there is none.
  returned: always
  type: str
  sample: etcd-1
health:
  description:
    - One entry per client URL of every started member (before the change). Voting members are checked with
      C(endpoint health), learners (which refuse that check) with C(endpoint status).
  returned: always
  type: list
  elements: dict
  contains:
    endpoint:
      description: The client URL.
      type: str
      sample: https://10.0.0.13:2379
    name:
      description: The member's name.
      type: str
      sample: etcd-3
    member_id:
      description: The member's ID (hex).
      type: str
      sample: 1d9fa86a04167a01
    is_learner:
      description: Whether the member is a learner.
      type: bool
      sample: false
    healthy:
      description: Whether the endpoint answered (and, for a voting member, served a quorum read).
      type: bool
      sample: false
    error:
      description: Why not; null when healthy.
      type: str
      sample: context deadline exceeded
    took:
      description: How long the health check took, as etcdctl prints it.
      type: str
      sample: 3.627801ms
    is_leader:
      description: Whether the member is the leader.
      type: bool
      sample: false
    version:
      description: etcd version of the member; null when status did not answer.
      type: str
      sample: 3.4.23
    db_size:
      description: Size of its database in bytes; null when status did not answer.
      type: int
      sample: 20480
    raft_index:
      description: Its raft index; null when status did not answer.
      type: int
      sample: 14
    raft_term:
      description: Its raft term; null when status did not answer.
      type: int
      sample: 2
initial_cluster:
  description:
    - C(name=peer_url,...) of the members after this call, naming the member just added (or added earlier
      and not started yet). A new member starts with it and C(--initial-cluster-state=existing).
    - Members added but not started, other than this one, have no name and are left out (with a warning).
  returned: always
  type: str
  sample: etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-4=https://10.0.0.14:2380
member:
  description: The member O(name) (O(id), O(peer_urls)) after this call; null when there is none.
  returned: always
  type: dict
  sample: {id: 5e986d8895c7762f, name: etcd-4, is_learner: true}
added_member:
  description: The member added (would be added, in check mode, with a null ID).
  returned: when a member was added
  type: dict
  sample: {id: 5e986d8895c7762f, id_int: 6816846566394656303, name: "", peer_urls: ["https://10.0.0.14:2380"]}
removed_member:
  description: The member removed (would be removed, in check mode).
  returned: when a member was removed
  type: dict
  sample: {id: 1d9fa86a04167a01, name: etcd-3}
promoted_member:
  description: The learner promoted (would be promoted, in check mode).
  returned: when a learner was promoted
  type: dict
  sample: {id: 5e986d8895c7762f, name: etcd-4, is_learner: false}
endpoint:
  description: The endpoint that answered the member list.
  returned: always
  type: str
  sample: https://10.0.0.11:2379
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.etcd import (
    ETCD_ENVIRONMENT,
    NOT_IN_SYNC,
    UNHEALTHY_CLUSTER,
    Member,
    diagnose_endpoint,
    endpoint_report,
    error_message,
    etcdctl_argv,
    find_members,
    format_member_id,
    initial_cluster,
    is_transient,
    is_unreachable,
    leader_of,
    member_lines,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_add,
    parse_member_id,
    parse_member_list,
    plan_present,
    removal_refusal,
    tls_flags,
    validate_member_name,
    validate_url,
)

RETRY_INTERVAL = 1.0  # seconds between two attempts of a change etcd refused for the moment


def argument_spec():
    return dict(
        state=dict(type="str", default="present", choices=["present", "absent", "promoted", "info"]),
        name=dict(type="str"),
        peer_urls=dict(type="list", elements="str"),
        id=dict(type="str"),
        learner=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        endpoints=dict(type="list", elements="str", required=True),
        cacert=dict(type="path"),
        cert=dict(type="path"),
        key=dict(type="path"),
        command_timeout=dict(type="float", default=5),
        dial_timeout=dict(type="float", default=2),
        wait_timeout=dict(type="float", default=30),
        etcdctl=dict(type="str", default="etcdctl"),
    )


def find_executable(module, name, what):
    """Path of an executable given by name (PATH) or path; fails with the fix when missing."""
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        module.fail_json(msg=f"{what} {name} does not exist or is not executable")
    path = module.get_bin_path(name)
    if not path:
        module.fail_json(
            msg=f"{what} was not found in the PATH ({name}): install etcd-client, or give its path in {what}"
        )
    return path


class EtcdMember:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.state = self.p["state"]
        self.etcdctl_path = None
        self.tls = []
        self.endpoints = []
        self.peer_urls = None
        self.member_id = None
        # what etcd said
        self.answered = None  # the endpoint that answered member list
        self.header = {}
        self.before = []
        self.after = []
        self.health = {}
        self.statuses = {}
        self.status_errors = {}
        self.healthy_ids = set()
        self.leader = None
        # what this call did
        self.changed = False
        self.member = None
        self.extra = {}
        self.names = {}  # id -> name of a member that has not started yet (for initial_cluster)

    # -- plumbing ------------------------------------------------------------------------------

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def etcdctl(self, endpoints, command, json_output=True):
        argv = etcdctl_argv(
            self.etcdctl_path,
            endpoints,
            self.tls,
            self.p["dial_timeout"],
            self.p["command_timeout"],
            command,
            json_output=json_output,
        )
        rc, out, err = self.module.run_command(argv, environ_update=ETCD_ENVIRONMENT)
        return argv, rc, out, err

    def parsed(self, parse, argv, rc, out, err):
        try:
            return parse(out)
        except (ValueError, KeyError, TypeError) as e:
            self.fail(f"cannot read etcdctl's answer: {e}", cmd=argv, rc=rc, stdout=out, stderr=err)

    # -- validation ----------------------------------------------------------------------------

    def validate(self):
        p = self.p
        try:
            if not p["endpoints"]:
                raise ValueError("endpoints: give at least one client URL, like https://10.0.0.11:2379")
            self.endpoints = [validate_url(url, "endpoints") for url in p["endpoints"]]
            if p["name"] is not None:
                validate_member_name(p["name"])
            if p["peer_urls"] is not None:
                if not p["peer_urls"]:
                    raise ValueError("peer_urls: give at least one peer URL, like https://10.0.0.14:2380")
                self.peer_urls = [validate_url(url, "peer_urls") for url in p["peer_urls"]]
            if p["id"] is not None:
                self.member_id = parse_member_id(p["id"])
            for option in ("command_timeout", "dial_timeout"):
                if p[option] <= 0:
                    raise ValueError(f"{option}: must be more than 0 seconds, got {p[option]:g}")
            if p["wait_timeout"] < 0:
                raise ValueError(f"wait_timeout: must not be negative, got {p['wait_timeout']:g}")
        except ValueError as e:
            self.fail(str(e))
        for option in ("cacert", "cert", "key"):
            path = p[option]
            if path and not os.path.isfile(path):
                self.fail(f"{option} {path} does not exist (or is not a file) on this host")
        self.tls = tls_flags(p["cacert"], p["cert"], p["key"])
        self.etcdctl_path = find_executable(self.module, p["etcdctl"], "etcdctl")

    # -- reading the cluster -------------------------------------------------------------------

    def list_members(self):
        """member list from the first of the endpoints that answers, each asked alone."""
        errors = []
        for endpoint in self.endpoints:
            argv, rc, out, err = self.etcdctl([endpoint], ["member", "list"])
            if rc == 0:
                self.answered = endpoint
                self.header, self.before = self.parsed(parse_member_list, argv, rc, out, err)
                self.after = list(self.before)
                return
            message = error_message(out, err)
            if not is_unreachable(message):
                self.fail(
                    f"etcdctl member list failed on {endpoint}: {message}", cmd=argv, rc=rc, stdout=out, stderr=err
                )
            errors.append((endpoint, message))
        self.fail_unreachable("member list", errors)

    def fail_unreachable(self, what, errors):
        lines = []
        for endpoint, message in errors:
            line = f"{endpoint}: {message}"
            if "context deadline exceeded" in message:
                why = diagnose_endpoint(
                    endpoint, self.p["cacert"], self.p["cert"], self.p["key"], self.p["dial_timeout"]
                )
                line += f" ({why})"
            lines.append(line)
        self.fail(
            f"no etcd endpoint answered {what} within {self.p['command_timeout']:g}s: " + "; ".join(lines),
            errors=[{"endpoint": endpoint, "error": message} for endpoint, message in errors],
        )

    def probe(self):
        """endpoint health of the voting members' client URLs (all at once: etcdctl checks them in
        parallel), then endpoint status of the healthy ones and of the learners."""
        voters = [url for m in self.before if not m.is_learner for url in m.client_urls]
        if voters:
            argv, rc, out, err = self.etcdctl(voters, ["endpoint", "health"])
            self.health = self.parsed(parse_endpoint_health, argv, rc, out, err)
            if rc != 0 and not self.health:
                message = error_message(out, err)
                self.health = {url: {"healthy": False, "took": None, "error": message} for url in voters}
        self.healthy_ids = {
            m.id
            for m in self.before
            if not m.is_learner and any(self.health.get(url, {}).get("healthy") for url in m.client_urls)
        }
        ask = [
            url for m in self.before for url in m.client_urls if m.is_learner or self.health.get(url, {}).get("healthy")
        ]
        if ask:
            argv, rc, out, err = self.etcdctl(ask, ["endpoint", "status"])
            try:
                self.statuses, self.status_errors = parse_endpoint_status(out, err)
            except (ValueError, KeyError, TypeError) as e:
                self.fail(f"cannot read etcdctl's answer: {e}", cmd=argv, rc=rc, stdout=out, stderr=err)
        self.leader = leader_of(self.statuses)

    def find(self):
        """The member given by name, peer_urls and/or id; None when there is none."""
        p = self.p
        peers = self.peer_urls if self.state != "present" else None
        found = find_members(self.before, name=p["name"], peer_urls=peers, member_id=self.member_id)
        if not found and p["name"] is not None and (peers or self.member_id is not None):
            # a member added but not started yet has no name: its peer URLs or ID tell it
            found = [m for m in find_members(self.before, peer_urls=peers, member_id=self.member_id) if not m.started]
        if len(found) > 1:
            self.fail(f"{len(found)} members match: {', '.join(m.label() for m in found)}; give the member's id")
        if found:
            return found[0]
        # name, peer_urls and id given together must match the same member
        given = {"name": p["name"], "peer_urls": peers, "id": self.member_id}
        partial = {
            m: None
            for key, value in given.items()
            if value is not None
            for m in find_members(self.before, **{"member_id" if key == "id" else key: value})
        }
        if partial:
            self.fail(
                "name, peer_urls and id do not all match the same member: "
                + ", ".join(f"{m.label()} peer_urls={','.join(m.peer_urls)}" for m in partial)
            )
        return None

    # -- changing it ---------------------------------------------------------------------------

    def change_endpoints(self, exclude):
        """Where to send a membership change: the endpoint that answered (unless it is a learner or
        in ``exclude``), then the healthy voting members, the leader first."""
        by_id = {m.id: m for m in self.before}
        candidates = []
        responder = by_id.get(self.header.get("member_id"))
        if responder is not None and responder.id not in exclude and not responder.is_learner:
            candidates.append(self.answered)
        voters = sorted(
            (m for m in self.before if m.id in self.healthy_ids and m.id not in exclude),
            key=lambda m: m.id != self.leader,
        )
        for m in voters:
            for url in m.client_urls:
                if self.health.get(url, {}).get("healthy") and url not in candidates:
                    candidates.append(url)
        return candidates

    def change(self, command, what, exclude=(), json_output=True, give_up=None, settled=None):
        """Run a membership change on the first endpoint that can take it; retry while etcd refuses
        it for the moment (``give_up(message)`` returns the reason not to wait, or None).

        An endpoint that timed out may still have committed the change; when a later endpoint then
        answers with an error that ``settled(message)`` recognises as "already done", the change
        counts as made and that endpoint's member list is returned instead."""
        candidates = self.change_endpoints(set(exclude))
        if not candidates:
            self.fail(f"{what}: no healthy voting member to send it to", health=self.report())
        deadline = time.monotonic() + self.p["wait_timeout"]
        unreachable = []
        while True:
            refused = None
            for endpoint in candidates:
                argv, rc, out, err = self.etcdctl([endpoint], command, json_output=json_output)
                if rc == 0:
                    return argv, rc, out, err
                message = error_message(out, err)
                if is_unreachable(message):
                    unreachable.append((endpoint, message))
                    continue
                if unreachable and settled is not None and settled(message):
                    return self.etcdctl([endpoint], ["member", "list"])
                if not is_transient(message):
                    self.fail(f"{what} failed: {message}{self.hint(message)}", cmd=argv, rc=rc, stdout=out, stderr=err)
                refused = (argv, rc, out, err, message)
                break
            if refused is None:
                self.fail_unreachable(what, unreachable)
            argv, rc, out, err, message = refused
            reason = give_up(message) if give_up else None
            now = time.monotonic()
            if reason is None and now >= deadline:
                reason = f"etcd still refused after {self.p['wait_timeout']:g}s"
            if reason is not None:
                self.fail(f"{what} failed: {message}: {reason}", cmd=argv, rc=rc, stdout=out, stderr=err)
            time.sleep(min(RETRY_INTERVAL, deadline - now))
            unreachable = []

    def hint(self, message):
        if "too many learner members" in message:
            return ": etcd allows one learner at a time; promote or remove the other learner first"
        if "Peer URLs already exists" in message:
            return ": another member has these peer URLs"
        return ""

    def unhealthy_voters(self):
        return [m for m in self.before if not m.is_learner and m.id not in self.healthy_ids]

    def refused_while_members_down(self, message):
        """etcd answers 'unhealthy cluster' for 5 s after a member connected (worth waiting), and for as
        long as a voting member is down (not worth it)."""
        down = self.unhealthy_voters()
        if UNHEALTHY_CLUSTER in message and down:
            return (
                f"etcd refuses membership changes while voting member(s) {', '.join(m.label() for m in down)} "
                "are unreachable: bring them back or remove them first (state: absent)"
            )
        return None

    def present(self):
        try:
            existing = plan_present(self.before, self.p["name"], self.peer_urls)
        except ValueError as e:
            self.fail(str(e))
        if existing is not None:
            self.member = existing
            if not existing.started:
                self.names[existing.id] = self.p["name"]
            return
        command = ["member", "add", self.p["name"], *(["--learner"] if self.p["learner"] else [])]
        command.append(f"--peer-urls={','.join(self.peer_urls)}")
        if self.module.check_mode:
            added = Member(0, "", tuple(self.peer_urls), (), self.p["learner"])
            self.after = [*self.before, added]
        else:
            argv, rc, out, err = self.change(
                command, f"adding member {self.p['name']}", give_up=self.refused_while_members_down
            )
            added, members = self.parsed(parse_member_add, argv, rc, out, err)
            self.after = members or [*self.before, added]
        self.changed = True
        self.member = added
        self.names[added.id] = self.p["name"]
        self.extra["added_member"] = added.as_dict()

    def absent(self):
        target = self.find()
        if target is None:
            return
        refusal = removal_refusal(self.before, self.healthy_ids, target)
        if refusal and not self.p["force"]:
            self.fail(f"refusing to remove member {target.label()}: {refusal}; force: true removes it anyway")
        if refusal:
            self.module.warn(f"removing member {target.label()} although {refusal}")
        if not self.module.check_mode:
            argv, rc, out, err = self.change(
                ["member", "remove", target.hex_id],
                f"removing member {target.label()}",
                exclude={target.id},
                give_up=self.refused_while_members_down,
                settled=lambda message: "member not found" in message,
            )
            _header, self.after = self.parsed(parse_member_list, argv, rc, out, err)
        else:
            self.after = [m for m in self.before if m.id != target.id]
        self.changed = True
        self.extra["removed_member"] = target.as_dict()

    def promoted(self):
        target = self.find()
        if target is None:
            what = " ".join(
                f"{k}={v}"
                for k, v in (("name", self.p["name"]), ("id", self.p["id"]), ("peer_urls", self.peer_urls))
                if v
            )
            self.fail(
                f"no member with {what} to promote; add it first (state: present, learner: true) and start it "
                "(a member added but not started yet has no name: give its peer_urls or id)"
            )
        self.member = target
        if not target.is_learner:
            return
        if not target.started:
            self.fail(
                f"learner {target.label()} has not started yet: start its etcd with --initial-cluster-state=existing "
                "and the initial cluster of the add, wait until it caught up, then promote it"
            )

        def learner_gone(message):
            if NOT_IN_SYNC in message and not any(url in self.statuses for url in target.client_urls):
                return f"learner {target.label()} does not answer endpoint status; is its etcd running?"
            return self.refused_while_members_down(message)

        if not self.module.check_mode:
            # no -w json: etcdctl 3.4 panics printing the JSON of a promotion (after promoting)
            self.change(
                ["member", "promote", target.hex_id],
                f"promoting learner {target.label()}",
                json_output=False,
                give_up=learner_gone,
            )
        promoted = target._replace(is_learner=False)
        self.after = [promoted if m.id == target.id else m for m in self.before]
        self.changed = True
        self.member = promoted
        self.extra["promoted_member"] = promoted.as_dict()

    def info(self):
        if any(v is not None for v in (self.p["name"], self.peer_urls, self.member_id)):
            self.member = self.find()

    # -- result --------------------------------------------------------------------------------

    def report(self):
        return endpoint_report(self.before, self.health, self.statuses, self.status_errors, self.leader)

    def result(self):
        cluster, unnamed = initial_cluster(self.after, self.names)
        if unnamed and self.state == "present":
            self.module.warn(
                "left out of initial_cluster, because they were added but never started (they have no name yet): "
                + ", ".join(f"{m.hex_id} ({','.join(m.peer_urls)})" for m in unnamed)
            )
        leader = next((m for m in self.before if m.id == self.leader), None)
        member = self.member
        result = dict(
            changed=self.changed,
            members=[m.as_dict() for m in self.after],
            cluster_id=format_member_id(self.header.get("cluster_id", 0)),
            leader=format_member_id(self.leader) if self.leader else None,
            leader_name=leader.name if leader else None,
            health=self.report(),
            initial_cluster=cluster,
            member=member.as_dict() if member is not None else None,
            endpoint=self.answered,
            **self.extra,
        )
        if self.module._diff:
            result["diff"] = dict(
                before_header="etcd members",
                after_header="etcd members",
                before=member_lines(self.before),
                after=member_lines(self.after),
            )
        return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[
            ("state", "present", ("name", "peer_urls")),
            ("state", "absent", ("name", "peer_urls", "id"), True),
            ("state", "promoted", ("name", "peer_urls", "id"), True),
        ],
        required_together=[("cert", "key")],
    )
    member = EtcdMember(module)
    member.validate()
    member.list_members()
    member.probe()
    state = module.params["state"]
    if state == "present":
        member.present()
    elif state == "absent":
        member.absent()
    elif state == "promoted":
        member.promoted()
    else:
        member.info()
    module.exit_json(**member.result())


if __name__ == "__main__":
    main()
