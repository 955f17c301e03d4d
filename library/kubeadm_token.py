#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: kubeadm_token
short_description: Create, reuse, delete and list kubeadm bootstrap tokens
description:
  - Manages the bootstrap tokens hosts join with, through C(kubeadm token list -o json), C(kubeadm token create)
    and C(kubeadm token delete), on a control-plane host with the admin kubeconfig.
  - V(present) reuses a token that is still valid for at least O(min_remaining) seconds (the given O(token),
    or one with the same O(description), O(usages) and O(groups)), and creates one otherwise, so a play that
    runs every day does not pile up tokens.
  - Commands run under coreutils C(timeout) with C(LC_ALL=C); tokens are redacted from every output line and
    message, and RV(tokens) never holds a token's secret.
options:
  state:
    description:
      - V(present) makes sure a valid token exists and returns it in RV(token).
      - V(absent) deletes O(token) (a token or a token ID), or every token with O(description).
      - V(list) only reports the tokens.
    type: str
    choices: [present, absent, list]
    default: present
  token:
    description:
      - A bootstrap token (C([a-z0-9]{6}.[a-z0-9]{16})) to create or keep (V(present)); with V(absent) also a
        token ID alone.
      - With V(present), either this or O(description) is needed.
    type: str
  description:
    description:
      - Human-readable description of the token; V(present) without O(token) reuses a valid token with exactly
        this description, V(absent) without O(token) deletes every token with it.
    type: str
  ttl:
    description: Lifetime of a created token, a duration like V(1h) or V(30m); V(0) never expires.
    type: str
    default: 1h
  usages:
    description: What a created token may be used for (C(--usages)).
    type: list
    elements: str
    default: [signing, authentication]
  groups:
    description: Extra groups a created token authenticates as (C(--groups)).
    type: list
    elements: str
    default: [system:bootstrappers:kubeadm:default-node-token]
  min_remaining:
    description: Seconds a token must still be valid to be reused; must be below O(ttl).
    type: int
    default: 600
  kubeconfig:
    description: Admin kubeconfig kubeadm talks to the cluster with (C(--kubeconfig)).
    type: path
    default: /etc/kubernetes/admin.conf
  timeout:
    description: Seconds each kubeadm command may take before it is stopped.
    type: int
    default: 60
  kubeadm_path:
    description: Path of kubeadm; looked up in the PATH when not given.
    type: path
attributes:
  check_mode:
    support: full
    description:
      - Lists the tokens as in a real run and reports what would be created or deleted; a token kubeadm would
        generate is unknown, so RV(token) is empty then.
  diff_mode:
    support: full
    description: The tokens before and after, one line per token (ID, description, expiry), never a secret.
  platform:
    support: full
    platforms: posix
notes:
  - Run it on the first host of group C(kube_control_plane) (with C(become)) after kubeadm_init; register the
    result in a task with C(no_log), as RV(token) is a secret.
seealso:
  - module: kubeadm_init
  - module: kubeadm_join
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: A join token valid for at least 10 more minutes
  kubeadm_token:
    description: kubesmith join
    ttl: 1h
  register: kubeadm_token_result
  no_log: true
  run_once: true
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: Delete the join tokens once every host joined
  kubeadm_token:
    state: absent
    description: kubesmith join

- name: List the tokens
  kubeadm_token:
    state: list
  register: kubeadm_tokens
"""

RETURN = r"""
token:
  description:
    - The token (a secret) - reused or created with V(present) (empty in check mode when kubeadm would generate
      it); empty for V(absent) and V(list).
  returned: always
  type: str
  sample: abcdef.0123456789abcdef
token_id:
  description: Public ID of RV(token), or of the token deleted with V(absent) and O(token); empty when none.
  returned: always
  type: str
  sample: abcdef
tokens:
  description: The bootstrap tokens after this call (predicted in check mode), without their secrets.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Token ID.
      type: str
      sample: abcdef
    description:
      description: Description; empty when none.
      type: str
      sample: kubesmith join
    expires:
      description: Expiry (RFC 3339, UTC); null when the token never expires.
      type: str
      sample: "2026-11-28T08:17:05Z"
    usages:
      description: Usages, sorted.
      type: list
      elements: str
      sample: [authentication, signing]
    groups:
      description: Extra groups.
      type: list
      elements: str
      sample: [system:bootstrappers:kubeadm:default-node-token]
"""

import os
from datetime import datetime, timedelta, timezone

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kubeadm import (
    TOKEN_ID_RE,
    KubeadmWorker,
    fail_command,
    find_binary,
    is_token,
    parse_duration,
    parse_rfc3339,
    parse_token_list,
    public_token,
    redact,
    run_bounded,
    token_id,
)

UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; hosts may run older Pythons


def argument_spec():
    return dict(
        state=dict(type="str", default="present", choices=["present", "absent", "list"]),
        token=dict(type="str", no_log=True),
        description=dict(type="str"),
        ttl=dict(type="str", default="1h"),
        usages=dict(type="list", elements="str", default=["signing", "authentication"]),
        groups=dict(type="list", elements="str", default=["system:bootstrappers:kubeadm:default-node-token"]),
        min_remaining=dict(type="int", default=600),
        kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
        timeout=dict(type="int", default=60),
        kubeadm_path=dict(type="path"),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_line(entry: dict) -> str:
    public = public_token(entry)
    expires = public["expires"] or "never expires"
    name = public["id"] or "(new)"
    description = public["description"] or "<no description>"
    return f"{name} {description} ({expires}; {','.join(public['usages'])})\n"


class KubeadmToken(KubeadmWorker):
    def __init__(self, module):
        super().__init__(module, [module.params["token"]])
        self.kubeadm = None
        self.before = []
        self.after = []
        self.changed = False
        self.token = ""
        self.token_id = ""

    def validate(self):
        p = self.p
        token = p["token"]
        if p["state"] == "present":
            if token is not None and not is_token(token):
                self.fail("token: not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
            if not token and not p["description"]:
                self.fail(
                    "state=present needs token or description: the description finds the token to reuse "
                    "(without it, every run would create another token)"
                )
            try:
                ttl = parse_duration(p["ttl"])
            except ValueError as e:
                self.fail(f"ttl: {e}")
            if ttl and ttl <= p["min_remaining"]:
                self.fail(
                    f"ttl {p['ttl']} is not longer than min_remaining ({p['min_remaining']} s): a new token would be "
                    "too short-lived to reuse; raise ttl or lower min_remaining"
                )
            if not p["usages"]:
                self.fail("usages: give at least one, like [signing, authentication]")
        if p["state"] == "absent":
            if token is not None and not (is_token(token) or TOKEN_ID_RE.fullmatch(token)):
                self.fail("token: not a bootstrap token or token ID ([a-z0-9]{6})")
            if not token and not p["description"]:
                self.fail("state=absent needs token (or its ID) or description, to know which tokens to delete")
        if p["timeout"] <= 0:
            self.fail(f"timeout: must be a positive number of seconds, got {p['timeout']}")
        if not os.path.exists(p["kubeconfig"]):
            self.fail(
                f"kubeconfig {p['kubeconfig']} does not exist: "
                "run this on the first control-plane host, after kubeadm_init"
            )

    def run(self, args, what, hint):
        argv = [self.kubeadm, "token", *args, "--kubeconfig", self.p["kubeconfig"]]
        result = run_bounded(self.module, argv, self.p["timeout"])
        if not result.ok:
            fail_command(self.module, what, result, hint, self.secrets)
        return result

    def list_tokens(self):
        self.kubeadm = find_binary(self.module, "kubeadm", self.p["kubeadm_path"], "kubeadm_path")
        result = self.run(
            ["list", "-o", "json"],
            "kubeadm token list",
            f"kubeadm needs the API server through {self.p['kubeconfig']}: is the control plane up?",
        )
        try:
            self.before = parse_token_list(result.stdout)
        except ValueError as e:
            self.fail(f"kubeadm token list: {e}")
        self.secrets.extend(entry["token"] for entry in self.before)
        self.after = list(self.before)

    # -- decisions --------------------------------------------------------------------------

    def lasts(self, entry) -> bool:
        """Valid for at least min_remaining more seconds (or forever)."""
        if not entry.get("expires"):
            return True
        try:
            expires = parse_rfc3339(entry["expires"])
        except ValueError:
            return False
        return (expires - utcnow()).total_seconds() >= self.p["min_remaining"]

    def matches(self, entry) -> bool:
        p = self.p
        return (
            entry.get("description", "") == p["description"]
            and sorted(entry.get("usages") or []) == sorted(p["usages"])
            and sorted(entry.get("groups") or []) == sorted(p["groups"])
        )

    def present(self):
        token = self.p["token"]
        if token:
            entry = next((e for e in self.before if token_id(e["token"]) == token_id(token)), None)
            if entry is not None and entry["token"] == token and self.lasts(entry):
                self.use(entry)
                return
            if entry is not None:  # same ID but another secret, or expiring: replace it
                self.delete([entry])
            self.create(token)
            return
        valid = [e for e in self.before if self.matches(e) and self.lasts(e)]
        if valid:
            # the one that lasts longest; a token that never expires first
            self.use(max(valid, key=lambda e: (e.get("expires") is None, e.get("expires") or "")))
            return
        self.create(None)

    def use(self, entry):
        self.token = entry["token"]
        self.token_id = token_id(entry["token"])

    def create(self, token):
        p = self.p
        args = ["create"]
        if token:
            args.append(token)
        args += ["--ttl", p["ttl"]]
        if p["description"]:
            args += ["--description", p["description"]]
        args += ["--usages", ",".join(p["usages"]), "--groups", ",".join(p["groups"])]
        self.changed = True
        if self.module.check_mode:
            created = token or ""
        else:
            result = self.run(
                args, "kubeadm token create", "check ttl, usages and groups (groups need usage authentication)"
            )
            lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
            created = lines[-1] if lines else ""
            if not is_token(created):
                self.fail(f"kubeadm token create printed no token: {redact(result.stdout.strip()[:200])!r}")
            self.secrets.append(created)
        ttl = parse_duration(p["ttl"])
        entry = {
            "token": created,  # "" in check mode when kubeadm would generate it
            "description": p["description"] or "",
            "expires": format_rfc3339(utcnow() + timedelta(seconds=ttl)) if ttl else None,
            "usages": sorted(p["usages"]),
            "groups": list(p["groups"]),
        }
        self.after.append(entry)
        self.token = created
        self.token_id = token_id(created) if created else ""

    def delete(self, entries):
        if not entries:
            return
        ids = [token_id(e["token"]) for e in entries]
        self.changed = True
        if not self.module.check_mode:
            self.run(
                ["delete", *ids],
                "kubeadm token delete",
                "check that the admin kubeconfig may delete Secrets in kube-system",
            )
        self.after = [e for e in self.after if token_id(e["token"]) not in ids]

    def absent(self):
        token = self.p["token"]
        if token:
            self.token_id = token_id(token)
            self.delete([e for e in self.before if token_id(e["token"]) == self.token_id])
        else:
            self.delete([e for e in self.before if e.get("description", "") == self.p["description"]])

    def result(self):
        result = dict(
            changed=self.changed,
            token=self.token,
            token_id=self.token_id,
            tokens=[public_token(e) for e in self.after],
        )
        if self.module._diff:
            result["diff"] = dict(
                before_header="bootstrap tokens",
                after_header="bootstrap tokens",
                before="".join(token_line(e) for e in self.before),
                after="".join(token_line(e) for e in self.after),
            )
        return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    tokens = KubeadmToken(module)
    tokens.validate()
    tokens.list_tokens()
    state = module.params["state"]
    if state == "present":
        tokens.present()
    elif state == "absent":
        tokens.absent()
    module.exit_json(**tokens.result())


if __name__ == "__main__":
    main()
