#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: kubeadm_upgrade
short_description: Plan and run kubeadm upgrades (upgrade plan, upgrade apply, upgrade node), idempotently
description:
  - O(action=plan) runs C(kubeadm upgrade plan -o json) and reports the current and target versions and the
    component table. It changes nothing.
  - O(action=apply) (on the first control-plane host) reads the cluster's version, refuses a downgrade or a
    skipped minor version (naming the minors to go through), and runs
    C(kubeadm upgrade apply v<version> --yes) when the cluster is not at O(version) yet.
  - O(action=node) (on every other host) runs C(kubeadm upgrade node) when the host is not at O(version) yet.
  - The cluster's version is the C(kubernetesVersion) of the ClusterConfiguration in ConfigMap
    C(kube-system/kubeadm-config), read with kubectl and O(admin_kubeconfig). kubeadm writes it there at the
    end of a successful C(upgrade apply) (and it is what kubeadm itself calls the cluster version), so a
    failed or rolled back upgrade is retried, and the answer does not depend on which API server behind a
    load balancer answers.
  - A host's version for O(action=node) is what is on the host. On a control-plane host (it has
    C(/etc/kubernetes/manifests/kube-apiserver.yaml)) the tag of the kube-apiserver image in that manifest;
    on any other host the version in C(/var/lib/kubesmith/kubeadm-upgrade-node), which the module writes
    (mode 0644) after C(kubeadm upgrade node) succeeded, and only then.
  - Commands run with C(LC_ALL=C) under C(timeout) (coreutils), so a hung kubeadm never blocks the play;
    bootstrap tokens and certificate keys are redacted from everything returned.
options:
  action:
    description:
      - V(plan) reports what an upgrade would do; V(apply) upgrades the control plane (first control-plane host);
        V(node) upgrades the local kubelet configuration and, on further control-plane hosts, their static pods.
    type: str
    choices: [plan, apply, node]
    required: true
  version:
    description:
      - The Kubernetes version to upgrade to, like V(1.32.1) (a leading V(v) is accepted).
      - Required with O(action=apply) and O(action=node). With O(action=plan) it is passed to kubeadm, which
        then does not look up the latest release on the internet; without it kubeadm does.
    type: str
  etcd_upgrade:
    description: Upgrade the stacked etcd too (C(--etcd-upgrade=false) when false). Irrelevant with external etcd.
    type: bool
    default: true
  certificate_renewal:
    description:
      - Let kubeadm renew the control plane's certificates during the upgrade
        (C(--certificate-renewal=false) when false).
    type: bool
    default: true
  admin_kubeconfig:
    description:
      - The admin kubeconfig kubeadm and kubectl use on a control-plane host (O(action=plan) and O(action=apply)).
    type: path
    default: /etc/kubernetes/admin.conf
  timeout:
    description:
      - Seconds C(kubeadm upgrade plan|apply|node) may take before it is stopped (SIGTERM, SIGKILL 10 s later).
      - Reads (C(kubeadm version), C(kubectl get)) are bounded to 60 s each.
    type: int
    default: 900
  kubeadm_path:
    description: The kubeadm executable; looked up in the PATH when not given.
    type: path
  kubectl_path:
    description: The kubectl executable (O(action=apply)); looked up in the PATH when not given.
    type: path
attributes:
  check_mode:
    support: full
    description:
      - Reads the versions as in a real run and reports whether an upgrade would run (and refuses the same
        downgrades and skipped minors); runs no C(kubeadm upgrade apply|node) and writes no state file.
      - O(action=plan) runs in check mode too (it is read-only).
  diff_mode:
    support: full
    description: For O(action=apply) and O(action=node), C({version}) before and after.
  platform:
    support: full
    platforms: posix
notes:
  - Upgrade the kubeadm package to O(version) before O(action=apply) or O(action=node); the module refuses
    (O(action=apply)) when the installed kubeadm is older than O(version).
  - O(action=node) on a host that is not a control plane trusts that O(action=apply) already brought the
    cluster to O(version); C(kubeadm upgrade node) configures the kubelet for the cluster's version, whatever
    O(version) says.
  - The kubelet package is upgraded and restarted separately (after draining the node).
  - C(kubeadm upgrade plan -o json) needs kubeadm 1.30 or later (UpgradePlan output.kubeadm.k8s.io/v1alpha3);
    the text tables of older releases (1.20 and later) are parsed as well.
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: What would an upgrade to 1.32.1 do?
  kubeadm_upgrade:
    action: plan
    version: "1.32.1"
  register: upgrade_plan

- name: Upgrade the control plane (first control-plane host)
  kubeadm_upgrade:
    action: apply
    version: "1.32.1"
  when: inventory_hostname == groups['kube_control_plane'][0]

- name: Upgrade the other nodes, one at a time
  kubeadm_upgrade:
    action: node
    version: "1.32.1"
    certificate_renewal: true
  when: inventory_hostname != groups['kube_control_plane'][0]
"""

RETURN = r"""
from_version:
  description: The version before this call (the cluster's for plan/apply, the host's for node); null when unknown.
  returned: always
  type: str
  sample: 1.31.4
to_version:
  description: The version after this call (predicted in check mode); for plan, the target kubeadm would upgrade to.
  returned: always
  type: str
  sample: 1.32.1
upgraded:
  description: Whether this call ran (in check mode, would run) C(kubeadm upgrade apply) or C(kubeadm upgrade node).
  returned: always
  type: bool
  sample: true
plan:
  description: With O(action=plan), what kubeadm upgrade plan said; an empty dict otherwise.
  returned: always
  type: dict
  contains:
    up_to_date:
      description: kubeadm found nothing to upgrade.
      type: bool
    current_version:
      description: The kube-apiserver's current version as kubeadm reports it.
      type: str
      sample: v1.31.4
    target_version:
      description: The version the last available upgrade goes to.
      type: str
      sample: v1.32.1
    available_upgrades:
      description: One entry per upgrade kubeadm offers, each with its description and component table.
      type: list
      elements: dict
      sample:
        - description: version in the v1.31 series
          components:
            - {name: kube-apiserver, node: cp-1, current: v1.31.4, target: v1.32.1}
    config_versions:
      description: Component config API groups, with C(manual_upgrade_required).
      type: list
      elements: dict
    manual_config_upgrade_required:
      description: The API groups whose component config must be upgraded by hand first.
      type: list
      elements: str
    format:
      description: C(json) or C(text), the form kubeadm printed.
      type: str
stdout_lines:
  description: kubeadm's output, with bootstrap tokens and certificate keys redacted; empty when nothing ran.
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kubeadm import find_binary, run_bounded
from ansible.module_utils.kubeadm_ops import (
    QUERY_TIMEOUT,
    TIMEOUT_EXIT_CODES,
    cluster_version_from_config,
    explain_upgrade_failure,
    format_version,
    image_version,
    last_lines,
    parse_release,
    parse_upgrade_plan,
    redact,
    redact_lines,
    upgrade_refusal,
    upgraded_to,
)

# The host's root: files are looked up below it. Tests point it at a temporary directory.
ROOT = "/"
APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
STATE_FILE = "/var/lib/kubesmith/kubeadm-upgrade-node"


def argument_spec():
    return dict(
        action=dict(type="str", required=True, choices=["plan", "apply", "node"]),
        version=dict(type="str"),
        etcd_upgrade=dict(type="bool", default=True),
        certificate_renewal=dict(type="bool", default=True),
        admin_kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
        timeout=dict(type="int", default=900),
        kubeadm_path=dict(type="path"),
        kubectl_path=dict(type="path"),
    )


def host_path(path):
    return os.path.join(ROOT, path.lstrip("/"))


class KubeadmUpgrade:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.version = None
        self.kubeadm = None
        self.stdout = ""

    # -- plumbing ------------------------------------------------------------------------------

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=redact(msg), **kwargs)

    def executable(self, option, name):
        return find_binary(self.module, name, self.p[option], option)

    def run(self, argv, seconds):
        result = run_bounded(self.module, argv, seconds)
        return result.argv, result.rc, result.stdout, result.stderr

    def failed_command(self, msg, cmd, rc, out, err):
        self.fail(msg, cmd=cmd, rc=rc, stdout=redact(out), stderr=redact(err), stdout_lines=redact_lines(out))

    def upgrade_flags(self):
        flags = []
        if not self.p["etcd_upgrade"]:
            flags.append("--etcd-upgrade=false")
        if not self.p["certificate_renewal"]:
            flags.append("--certificate-renewal=false")
        return flags

    # -- validation ----------------------------------------------------------------------------

    def validate(self):
        if self.p["timeout"] <= 0:
            self.fail(f"timeout: must be more than 0 seconds, got {self.p['timeout']}")
        if self.p["version"] is not None:
            try:
                self.version = parse_release(self.p["version"])
            except ValueError as e:
                self.fail(f"version: {e} (kubesmith_kubernetes_version)")
        self.kubeadm = self.executable("kubeadm_path", "kubeadm")

    # -- versions ------------------------------------------------------------------------------

    def kubeadm_version(self):
        cmd, rc, out, err = self.run([self.kubeadm, "version", "-o", "short"], QUERY_TIMEOUT)
        if rc != 0:
            self.failed_command(f"kubeadm version failed: {last_lines(err or out, 5)}", cmd, rc, out, err)
        try:
            return parse_release(out.strip())
        except ValueError:
            self.failed_command(f"cannot read the version kubeadm printed: {out.strip()[:100]!r}", cmd, rc, out, err)

    def cluster_version(self):
        kubectl = self.executable("kubectl_path", "kubectl")
        kubeconfig = self.p["admin_kubeconfig"]
        cmd, rc, out, err = self.run(
            [
                kubectl,
                f"--kubeconfig={kubeconfig}",
                f"--request-timeout={QUERY_TIMEOUT - 10}s",
                "--namespace=kube-system",
                "get",
                "configmap",
                "kubeadm-config",
                "--output=jsonpath={.data.ClusterConfiguration}",
            ],
            QUERY_TIMEOUT,
        )
        if rc != 0:
            hint = ""
            if "NotFound" in err or "not found" in err:
                hint = ": the cluster has no kubeadm-config ConfigMap (was it created by kubeadm init?)"
            elif rc in TIMEOUT_EXIT_CODES or "connection refused" in err or "Unable to connect" in err:
                hint = ": the API server does not answer; is the control plane up (crictl ps on this host)?"
            self.failed_command(
                f"cannot read the cluster's version from ConfigMap kube-system/kubeadm-config with {kubeconfig}"
                f"{hint}: {last_lines(err, 3)}",
                cmd,
                rc,
                out,
                err,
            )
        try:
            return parse_release(cluster_version_from_config(out))
        except ValueError as e:
            self.failed_command(f"ConfigMap kube-system/kubeadm-config: {e}", cmd, rc, out, err)

    def node_version(self):
        """(version on this host or None, is a control-plane host)."""
        manifest = host_path(APISERVER_MANIFEST)
        if os.path.exists(manifest):
            with open(manifest) as f:
                text = f.read()
            version = image_version(text)
            if version is None:
                self.fail(
                    f"{APISERVER_MANIFEST} names no kube-apiserver image with a version tag; "
                    "the module cannot tell this control plane's version"
                )
            return parse_release(version), True
        state = host_path(STATE_FILE)
        if os.path.exists(state):
            with open(state) as f:
                text = f.read().strip()
            try:
                return parse_release(text), False
            except ValueError:
                self.module.warn(f"{STATE_FILE} holds {text[:40]!r}, not a version: running kubeadm upgrade node")
        return None, False

    def write_state(self, version):
        path = host_path(STATE_FILE)
        directory = os.path.dirname(path)
        tmp = None
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".kubeadm-upgrade-node.")
            with os.fdopen(fd, "w") as f:
                f.write(f"{version}\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as e:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            self.fail(f"kubeadm upgrade node succeeded, but writing {STATE_FILE} failed: {e}")

    # -- actions -------------------------------------------------------------------------------

    def plan(self):
        argv = [self.kubeadm, "upgrade", "plan"]
        if self.version:
            argv.append(f"v{format_version(self.version)}")
        argv += [f"--kubeconfig={self.p['admin_kubeconfig']}", "--output=json"]
        if not self.p["etcd_upgrade"]:
            argv.append("--etcd-upgrade=false")
        cmd, rc, out, err = self.run(argv, self.p["timeout"])
        self.stdout = out
        if rc != 0:
            self.failed_command(
                explain_upgrade_failure("kubeadm upgrade plan", rc, out, err, self.p["timeout"]), cmd, rc, out, err
            )
        try:
            plan = parse_upgrade_plan(out)
        except ValueError as e:
            self.failed_command(f"cannot read kubeadm upgrade plan's output: {e}", cmd, rc, out, err)
        current = plan["current_version"]
        target = plan["target_version"] or current
        if plan["up_to_date"] and self.version:
            target = format_version(self.version)
        return self.result(False, False, _plain(current), _plain(target), plan=plan)

    def apply(self):
        if self.version is None:
            self.fail("version is required with action=apply (kubesmith_kubernetes_version)")
        target = format_version(self.version)
        kubeadm_version = self.kubeadm_version()
        current = self.cluster_version()
        if current == self.version:
            return self.result(False, False, target, target)
        refusal = upgrade_refusal(current, self.version)
        if refusal:
            self.fail(f"refusing to upgrade: {refusal}")
        if kubeadm_version[:2] != self.version[:2] or kubeadm_version < self.version:
            self.fail(
                f"kubeadm on this host is {format_version(kubeadm_version)}; upgrading the cluster to {target} "
                f"needs kubeadm {target} (or a later patch of {self.version[0]}.{self.version[1]}): upgrade the "
                "kubeadm package first"
            )
        if not self.module.check_mode:
            argv = [
                self.kubeadm,
                "upgrade",
                "apply",
                f"v{target}",
                "--yes",
                f"--kubeconfig={self.p['admin_kubeconfig']}",
                *self.upgrade_flags(),
            ]
            cmd, rc, out, err = self.run(argv, self.p["timeout"])
            self.stdout = out
            if rc != 0:
                self.failed_command(
                    explain_upgrade_failure(f"kubeadm upgrade apply v{target}", rc, out, err, self.p["timeout"]),
                    cmd,
                    rc,
                    out,
                    err,
                )
            reported = upgraded_to(out)
            if reported is None:
                self.module.warn("kubeadm upgrade apply exited 0 without its SUCCESS line; check its output")
            elif reported != target:
                self.failed_command(
                    f"kubeadm upgrade apply reported an upgrade to {reported}, not {target}", cmd, rc, out, err
                )
        return self.result(True, True, format_version(current), target)

    def node(self):
        if self.version is None:
            self.fail("version is required with action=node (kubesmith_kubernetes_version)")
        target = format_version(self.version)
        current, control_plane = self.node_version()
        before = format_version(current) if current else None
        if current == self.version:
            return self.result(False, False, before, target)
        if current is not None and current > self.version:
            self.fail(
                f"this host is at {before} ({APISERVER_MANIFEST if control_plane else STATE_FILE}), above the "
                f"requested {target}: kubeadm does not downgrade"
            )
        if not control_plane and not os.path.exists(host_path(KUBELET_KUBECONFIG)):
            self.fail(
                f"{KUBELET_KUBECONFIG} does not exist: this host has not joined the cluster, so there is nothing to "
                "upgrade; join it (kubeadm_join) instead"
            )
        if not self.module.check_mode:
            argv = [self.kubeadm, "upgrade", "node", *self.upgrade_flags()]
            cmd, rc, out, err = self.run(argv, self.p["timeout"])
            self.stdout = out
            if rc != 0:
                self.failed_command(
                    explain_upgrade_failure("kubeadm upgrade node", rc, out, err, self.p["timeout"]), cmd, rc, out, err
                )
            if control_plane:
                after, _ = self.node_version()
                if after != self.version:
                    self.failed_command(
                        f"kubeadm upgrade node finished, but {APISERVER_MANIFEST} is at "
                        f"{format_version(after) if after else 'an unknown version'}, not {target}: upgrade the "
                        f"cluster first (action=apply v{target} on the first control-plane host)",
                        cmd,
                        rc,
                        out,
                        err,
                    )
            else:
                self.write_state(target)
        return self.result(True, True, before, target)

    # -- result --------------------------------------------------------------------------------

    def result(self, changed, upgraded, before, after, plan=None):
        result = dict(
            changed=changed,
            upgraded=upgraded,
            from_version=before,
            to_version=after,
            plan=plan or {},
            stdout_lines=redact_lines(self.stdout),
        )
        if self.module._diff and self.p["action"] != "plan":
            result["diff"] = dict(before={"version": before}, after={"version": after})
        return result


def _plain(version):
    """'v1.32.1' -> '1.32.1' (None stays None)."""
    if not version:
        return None
    try:
        return format_version(parse_release(version))
    except ValueError:
        return version


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[("action", "apply", ("version",)), ("action", "node", ("version",))],
    )
    upgrade = KubeadmUpgrade(module)
    upgrade.validate()
    action = module.params["action"]
    result = getattr(upgrade, action)()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
