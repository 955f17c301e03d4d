#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: kubeadm_init
short_description: Initialize the first control-plane host of a cluster with kubeadm init, once
description:
  - Runs C(kubeadm init --config CONFIG) on a fresh host and returns what the other hosts need to join
    (API endpoint, CA certificate hash, bootstrap token, certificate key).
  - The host's state decides, never kubeadm's output. The files looked at are those kubeadm writes
    beside O(admin_kubeconfig) (C(/etc/kubernetes) by default) - C(admin.conf),
    C(manifests/kube-apiserver.yaml), C(kubelet.conf) and C(pki/ca.crt).
  - A control plane that exists (C(admin.conf) and the API server manifest) and answers
    C(kubectl get --raw=/readyz) is left alone. With O(upload_certs=true) the control-plane certificates
    are uploaded again (C(kubeadm init phase upload-certs --upload-certs)), as they expire after two hours.
  - A control plane that exists but does not answer fails, with what to look at; the module never
    initializes a host twice. A half-initialized host (some of those files, not all) fails too, asking
    for a reset (module kubeadm_reset).
  - kubeadm refuses C(--certificate-key) together with C(--config), so the certificate key is written as
    C(certificateKey) into the InitConfiguration of a private (0600) temporary copy of O(config), which
    is deleted afterwards.
  - Every command runs under coreutils C(timeout) with C(LC_ALL=C). Bootstrap tokens and certificate keys
    are redacted from every output line and message the module returns.
options:
  config:
    description:
      - Path on the host of the kubeadm configuration (InitConfiguration, ClusterConfiguration, ...),
        rendered by role kubeadm.
      - Its InitConfiguration may hold C(certificateKey); it is used when O(certificate_key) is not given.
    type: path
    required: true
  upload_certs:
    description:
      - Upload the control-plane certificates, encrypted with the certificate key, to the Secret
        C(kubeadm-certs), so further control-plane hosts can join (C(--upload-certs)).
      - On an existing control plane the upload is repeated on every run (it expires after two hours).
    type: bool
    default: false
  certificate_key:
    description:
      - Key (64 hex digits) the uploaded certificates are encrypted with.
      - Generated (32 random bytes) when O(upload_certs=true) and neither this nor the config sets one.
    type: str
  skip_phases:
    description: kubeadm init phases to skip (C(--skip-phases)), like V(addon/kube-proxy).
    type: list
    elements: str
    default: []
  ignore_preflight_errors:
    description:
      - Preflight checks whose errors are only warnings (C(--ignore-preflight-errors)), like V(NumCPU).
      - V(all) is refused; it hides real failures.
    type: list
    elements: str
    default: []
  admin_kubeconfig:
    description:
      - The admin kubeconfig kubeadm writes; the other files looked at are taken from its directory.
    type: path
    default: /etc/kubernetes/admin.conf
  timeout:
    description: Seconds C(kubeadm init) (and each other command) may take before it is stopped.
    type: int
    default: 600
  kubeadm_path:
    description: Path of kubeadm; looked up in the PATH when not given.
    type: path
  kubectl_path:
    description:
      - Path of kubectl (for the health check of an existing control plane); looked up in the PATH when not given.
    type: path
attributes:
  check_mode:
    support: full
    description:
      - Reads the host's files and asks an existing API server for C(/readyz), then reports what a run
        would do without running C(kubeadm init) or the upload. RV(token) and RV(certificate_key) are
        empty then.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - Run it on the first host of group C(kube_control_plane) only, with C(become).
  - The returned RV(token) and RV(certificate_key) are secrets; register the result in a task with
    C(no_log) and pass them on to kubeadm_join.
seealso:
  - module: kubeadm_join
  - module: kubeadm_token
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Initialize the control plane
  kubeadm_init:
    config: /etc/kubernetes/kubeadm-config.yaml
    upload_certs: "{{ groups['kube_control_plane'] | length > 1 }}"
  register: kubeadm_init_result
  no_log: true

- name: Join further control-plane hosts
  kubeadm_join:
    api_endpoint: "{{ hostvars[groups['kube_control_plane'][0]].kubeadm_init_result.join_endpoint }}"
    token: "{{ hostvars[groups['kube_control_plane'][0]].kubeadm_init_result.token }}"
    ca_cert_hashes: ["{{ hostvars[groups['kube_control_plane'][0]].kubeadm_init_result.ca_cert_hash }}"]
    control_plane: true
    certificate_key: "{{ hostvars[groups['kube_control_plane'][0]].kubeadm_init_result.certificate_key }}"
  when: inventory_hostname in groups['kube_control_plane'][1:]
"""

RETURN = r"""
initialized:
  description: Whether this run ran C(kubeadm init) (would run it, in check mode).
  returned: always
  type: bool
  sample: true
join_endpoint:
  description:
    - The API endpoint other hosts join ("host:port"), from the server of O(admin_kubeconfig)
      (from kubeadm's join command when that file cannot be read). Empty in check mode on a fresh host.
  returned: always
  type: str
  sample: 10.0.0.10:6443
ca_cert_hash:
  description:
    - C(sha256:) and the hex SHA-256 of the cluster CA's SubjectPublicKeyInfo (C(pki/ca.crt)), what
      C(--discovery-token-ca-cert-hash) pins. Also when the cluster existed; empty in check mode on a fresh host.
  returned: always
  type: str
  sample: sha256:1ad353837e89284ca892c948c5350dc801b4ba2e968c553b993548cb80fef7d3
token:
  description: The bootstrap token C(kubeadm init) created (a secret); empty unless this run initialized.
  returned: always
  type: str
  sample: abcdef.0123456789abcdef
certificate_key:
  description: The key the uploaded certificates are encrypted with (a secret); empty unless this run uploaded them.
  returned: always
  type: str
  sample: 7faa53ea2864349cbdee3edaf506384d4abe5abba54e8ff96efc413e4bb456b8
stdout_lines:
  description: What kubeadm printed, with tokens and certificate keys redacted; empty when nothing ran.
  returned: always
  type: list
  elements: str
  sample: ["[init] Using Kubernetes version: v1.31.4", "[bootstrap-token] Using token: abcdef.<redacted>"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kubeadm import (
    RESET_WITH,
    KubeadmWorker,
    ca_cert_hash_file,
    config_certificate_key,
    fail_command,
    find_binary,
    generate_certificate_key,
    is_certificate_key,
    kubeconfig_server,
    kubernetes_paths,
    parse_init_output,
    redact_lines,
    run_bounded,
    with_certificate_key,
    write_private,
)

READYZ_TIMEOUT = 30  # seconds for the health check of an existing control plane

RESET_HINT = f"reset this host ({RESET_WITH}) and run again"


def argument_spec():
    return dict(
        config=dict(type="path", required=True),
        upload_certs=dict(type="bool", default=False),
        certificate_key=dict(type="str", no_log=True),
        skip_phases=dict(type="list", elements="str", default=[]),
        ignore_preflight_errors=dict(type="list", elements="str", default=[]),
        admin_kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
        timeout=dict(type="int", default=600),
        kubeadm_path=dict(type="path"),
        kubectl_path=dict(type="path"),
    )


def init_hint(stdout: str, stderr: str, timed_out: bool) -> str:
    """What to do about a failed kubeadm init, from the checks and phase that failed."""
    text = f"{stdout}\n{stderr}"
    if timed_out:
        return f"kubeadm may have left a half-initialized host: {RESET_HINT} (or raise timeout)"
    if "error execution phase preflight" in text:
        leftovers = (
            "Port-6443",
            "Port-10250",
            "Port-2379",
            "FileAvailable--etc-kubernetes",
            "DirAvailable--var-lib-etcd",
        )
        if any(mark in text for mark in leftovers):
            return (
                "another control plane, or what is left of one, holds the ports or files: if this host may be "
                f"wiped, {RESET_HINT}"
            )
        if "ImagePull" in text:
            return (
                "the control-plane images cannot be pulled: check the image repository, the proxy, "
                "or import the offline bundle"
            )
        return (
            "fix the failed preflight checks on this host "
            "(ignore_preflight_errors only for checks known to be harmless)"
        )
    if "wait-control-plane" in text or "kubelet is not" in text or "context deadline exceeded" in text:
        return (
            "the kubelet did not bring the control plane up: see 'journalctl -xeu kubelet' and 'crictl ps -a' on this "
            "host (cgroup driver of kubelet and containerd, swap, container runtime); "
            "the host is now half-initialized, " + RESET_HINT
        )
    return f"fix the cause above; if kubeadm got past its preflight checks, {RESET_HINT}"


class KubeadmInit(KubeadmWorker):
    def __init__(self, module):
        super().__init__(module, [module.params["certificate_key"]])
        self.admin = self.p["admin_kubeconfig"]
        self.manifest, self.kubelet_conf, self.ca = kubernetes_paths(self.admin)
        self.result = dict(
            changed=False,
            initialized=False,
            join_endpoint="",
            ca_cert_hash="",
            token="",
            certificate_key="",
            stdout_lines=[],
        )
        self.output = {}

    def validate(self):
        key = self.p["certificate_key"]
        if key is not None and not is_certificate_key(key):
            self.fail(
                "certificate_key: must be 64 lowercase hex digits "
                "(32 bytes, like 'kubeadm certs certificate-key' prints)"
            )
        if any(check.strip().lower() == "all" for check in self.p["ignore_preflight_errors"]):
            self.fail("ignore_preflight_errors: 'all' hides real failures; name the checks to ignore, like NumCPU")
        if self.p["timeout"] <= 0:
            self.fail(f"timeout: must be a positive number of seconds, got {self.p['timeout']}")

    # -- the host's state -------------------------------------------------------------------

    def state(self):
        present = {path: os.path.exists(path) for path in (self.admin, self.manifest, self.kubelet_conf)}
        if present[self.admin] and present[self.manifest]:
            return "initialized"
        if not any(present.values()):
            return "fresh"
        found = [path for path, there in present.items() if there]
        missing = [path for path in (self.admin, self.manifest) if not present[path]]
        if found == [self.kubelet_conf]:
            self.fail(
                f"this host already joined a cluster as a node ({self.kubelet_conf} exists) and cannot be initialized "
                f"as a new control plane: {RESET_HINT}, or run kubeadm_init on the first control-plane host"
            )
        self.fail(
            f"this host is half-initialized ({', '.join(found)} exist(s), {', '.join(missing)} missing): "
            f"kubeadm init would fail on the leftovers and kubesmith does not guess; {RESET_HINT}"
        )
        return None

    def config_text(self):
        try:
            with open(self.p["config"]) as f:
                return f.read()
        except OSError as e:
            self.fail(f"config: cannot read {self.p['config']} ({e.strerror}); render it first (role kubeadm)")
        return None

    def certificate_key(self, text):
        given = self.p["certificate_key"]
        in_config = config_certificate_key(text)
        if given and in_config and given != in_config:
            self.fail(
                f"certificate_key differs from the certificateKey in {self.p['config']}: give one of them, not both"
            )
        key = given or in_config or generate_certificate_key()
        if not is_certificate_key(key):
            self.fail(f"the certificateKey in {self.p['config']} is not 64 lowercase hex digits")
        self.secrets.append(key)
        return key

    def private_config(self, text, key):
        """A 0600 temporary copy of the config with certificateKey set; the caller deletes it."""
        return write_private(self.module, "kubeadm-init-", with_certificate_key(text, key))

    # -- actions ----------------------------------------------------------------------------

    def healthy(self):
        kubectl = find_binary(self.module, "kubectl", self.p["kubectl_path"], "kubectl_path")
        argv = [kubectl, "--kubeconfig", self.admin, "--request-timeout=10s", "get", "--raw=/readyz"]
        result = run_bounded(self.module, argv, min(self.p["timeout"], READYZ_TIMEOUT))
        if result.ok:
            return
        reason = (
            "timed out" if result.timed_out else (result.stderr.strip() or result.stdout.strip() or f"rc {result.rc}")
        )
        self.fail(
            f"a control plane exists on this host ({self.admin} and {self.manifest}) but its API server does not "
            f"answer /readyz ({reason.splitlines()[-1]}); kubesmith never initializes a host twice. Look at "
            "'crictl ps -a | grep -e kube-apiserver -e etcd', 'crictl logs <container>' and 'journalctl -u kubelet' "
            "on this host, and at etcd; run again once the API server answers",
            rc=result.rc,
        )

    def upload_certs(self):
        text = self.config_text()
        key = self.certificate_key(text)
        self.result["changed"] = True
        if self.module.check_mode:
            return
        kubeadm = find_binary(self.module, "kubeadm", self.p["kubeadm_path"], "kubeadm_path")
        path = self.private_config(text, key)
        try:
            argv = [kubeadm, "init", "phase", "upload-certs", "--upload-certs", "--config", path]
            result = run_bounded(self.module, argv, self.p["timeout"])
        finally:
            os.unlink(path)
        if not result.ok:
            fail_command(
                self.module,
                "kubeadm init phase upload-certs",
                result,
                "the API server answered /readyz just before; "
                "check the Secret kube-system/kubeadm-certs and the config",
                self.secrets,
            )
        self.result["certificate_key"] = key
        self.result["stdout_lines"] = redact_lines(result.stdout, self.secrets)

    def init(self):
        self.result.update(changed=True, initialized=True)
        if self.module.check_mode:
            if not os.path.exists(self.p["config"]):
                self.module.warn(f"config {self.p['config']} does not exist (yet): a real run needs it")
            return
        text = self.config_text()
        kubeadm = find_binary(self.module, "kubeadm", self.p["kubeadm_path"], "kubeadm_path")
        path = None
        key = None
        if self.p["upload_certs"]:
            key = self.certificate_key(text)
            path = self.private_config(text, key)
        argv = [kubeadm, "init", "--config", path or self.p["config"]]
        if self.p["upload_certs"]:
            argv.append("--upload-certs")
        if self.p["skip_phases"]:
            argv.append("--skip-phases=" + ",".join(self.p["skip_phases"]))
        if self.p["ignore_preflight_errors"]:
            argv.append("--ignore-preflight-errors=" + ",".join(self.p["ignore_preflight_errors"]))
        try:
            result = run_bounded(self.module, argv, self.p["timeout"])
        finally:
            if path:
                os.unlink(path)
        if not result.ok:
            fail_command(
                self.module,
                "kubeadm init",
                result,
                init_hint(result.stdout, result.stderr, result.timed_out),
                self.secrets,
                initialized=False,
            )
        self.output = parse_init_output(result.stdout)
        self.secrets.append(self.output["token"])
        if key and self.output["certificate_key"] and self.output["certificate_key"] != key:
            self.module.warn("kubeadm printed another certificate key than the one in the config; returning kubeadm's")
            key = self.output["certificate_key"]
        self.result["token"] = self.output["token"]
        self.result["certificate_key"] = key or ""
        self.result["stdout_lines"] = redact_lines(result.stdout, self.secrets)

    # -- what the other hosts need ----------------------------------------------------------

    def join_facts(self):
        if self.module.check_mode and not os.path.exists(self.ca):
            return
        endpoint = None
        try:
            with open(self.admin) as f:
                endpoint = kubeconfig_server(f.read())
        except OSError:
            endpoint = None
        self.result["join_endpoint"] = endpoint or self.output.get("join_endpoint", "")
        if not self.result["join_endpoint"]:
            self.fail(f"no API server in {self.admin} (clusters[0].cluster.server): is it a kubeconfig kubeadm wrote?")
        try:
            self.result["ca_cert_hash"] = ca_cert_hash_file(self.ca)
        except OSError as e:
            self.fail(
                f"cannot read the cluster CA {self.ca} ({e.strerror}): the control plane is incomplete; {RESET_HINT}"
            )
        except ValueError as e:
            self.fail(f"{self.ca} is not a PEM certificate kubesmith can read: {e}")
        printed = self.output.get("ca_cert_hashes") or []
        if printed and self.result["ca_cert_hash"] not in printed:
            self.module.warn(
                f"kubeadm printed CA hash {printed[0]}, but {self.ca} hashes to {self.result['ca_cert_hash']}"
            )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    init = KubeadmInit(module)
    init.validate()
    state = init.state()
    if state == "initialized":
        init.healthy()
        if module.params["upload_certs"]:
            init.upload_certs()
    else:
        init.init()
    init.join_facts()
    module.exit_json(**init.result)


if __name__ == "__main__":
    main()
