#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: kubeadm_join
short_description: Join a host to a kubeadm cluster as a worker or a further control-plane host, once
description:
  - Joins the host with C(kubeadm join --config FILE), where FILE is the whole JoinConfiguration (bootstrap
    token discovery, and the certificate key of a control-plane host) written to a private (0600) temporary
    file that is deleted afterwards, also when kubeadm fails. No secret is ever on the command line.
  - A host that joined already (O(kubelet_kubeconfig) exists; for a control-plane host also the API server
    manifest beside it in C(manifests/kube-apiserver.yaml)) is left alone, and needs no token. A worker
    asked to become a control-plane host fails; reset it first (module kubeadm_reset).
  - Before kubeadm runs, the module opens a TCP connection to O(api_endpoint) within O(reach_timeout)
    seconds, and fails at once with what is wrong (refused, or timed out) instead of kubeadm's retries.
  - kubeadm runs under coreutils C(timeout) with C(LC_ALL=C); bootstrap tokens and certificate keys are
    redacted from every output line and message the module returns.
options:
  api_endpoint:
    description: The cluster's API endpoint, "host:port" (C(join_endpoint) of kubeadm_init), like V(10.0.0.10:6443).
    type: str
    required: true
  token:
    description:
      - Bootstrap token (C([a-z0-9]{6}.[a-z0-9]{16})), from kubeadm_init or kubeadm_token.
      - Required unless the host joined already.
    type: str
  ca_cert_hashes:
    description:
      - C(sha256:<hex>) hashes of the cluster CA's public key (C(ca_cert_hash) of kubeadm_init); the API
        server found through O(api_endpoint) must present a CA with one of them.
      - Required unless the host joined already.
    type: list
    elements: str
    default: []
  control_plane:
    description: Join as a further control-plane host (with stacked etcd, also as an etcd member).
    type: bool
    default: false
  certificate_key:
    description:
      - Key of the control-plane certificates uploaded by kubeadm_init (C(upload_certs=true));
        required with O(control_plane=true) unless the host joined already.
    type: str
  config:
    description:
      - "The rest of the JoinConfiguration, like C({nodeRegistration: {name, criSocket, kubeletExtraArgs, taints},
        controlPlane: {localAPIEndpoint: {advertiseAddress, bindPort}}})."
      - C(apiVersion), C(kind), C(discovery.bootstrapToken) and C(controlPlane.certificateKey) are set by the
        module from the other options.
    type: dict
    default: {}
  api_version:
    description: apiVersion of the JoinConfiguration; V(kubeadm.k8s.io/v1beta3) for kubeadm older than 1.31.
    type: str
    default: kubeadm.k8s.io/v1beta4
  ignore_preflight_errors:
    description:
      - Preflight checks whose errors are only warnings (C(--ignore-preflight-errors)). V(all) is refused.
    type: list
    elements: str
    default: []
  reach_timeout:
    description: Seconds to wait for a TCP connection to O(api_endpoint) before kubeadm runs.
    type: int
    default: 10
  timeout:
    description: Seconds C(kubeadm join) may take before it is stopped.
    type: int
    default: 300
  kubelet_kubeconfig:
    description:
      - The kubeconfig of the kubelet, written by a successful join; its existence means the host joined.
      - The API server manifest is looked for in C(manifests/kube-apiserver.yaml) beside it.
    type: path
    default: /etc/kubernetes/kubelet.conf
  kubeadm_path:
    description: Path of kubeadm; looked up in the PATH when not given.
    type: path
attributes:
  check_mode:
    support: full
    description:
      - Looks at the host's files and checks that O(api_endpoint) is reachable, then reports a join without
        running kubeadm.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - Bootstrap tokens expire (24 h by default) and uploaded certificates after two hours; get fresh ones with
    kubeadm_token and kubeadm_init (C(upload_certs=true)) on the first control-plane host.
  - The JoinConfiguration is written as JSON, which kubeadm reads as YAML; no YAML library is needed on the host.
seealso:
  - module: kubeadm_init
  - module: kubeadm_token
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Join the workers
  kubeadm_join:
    api_endpoint: "{{ kubesmith_api_endpoint.host }}:{{ kubesmith_api_endpoint.port }}"
    token: "{{ hostvars[groups['kube_control_plane'][0]].kubeadm_token_result.token }}"
    ca_cert_hashes: ["{{ hostvars[groups['kube_control_plane'][0]].kubeadm_init_result.ca_cert_hash }}"]
    config:
      nodeRegistration:
        name: "{{ inventory_hostname }}"
        criSocket: unix:///run/containerd/containerd.sock
        kubeletExtraArgs:
          - name: node-ip
            value: "{{ ansible_host }}"
  when: inventory_hostname in groups['kube_node']

- name: Join a further control-plane host
  kubeadm_join:
    api_endpoint: 10.0.0.10:6443
    token: "{{ join_token }}"
    ca_cert_hashes: ["{{ join_ca_hash }}"]
    control_plane: true
    certificate_key: "{{ join_certificate_key }}"
    config:
      controlPlane:
        localAPIEndpoint:
          advertiseAddress: "{{ ansible_host }}"
          bindPort: 6443
"""

RETURN = r"""
joined:
  description: Whether this run joined the host (would join it, in check mode).
  returned: always
  type: bool
  sample: true
stdout_lines:
  description: What kubeadm join printed, with tokens and certificate keys redacted; empty when nothing ran.
  returned: always
  type: list
  elements: str
  sample: ["[preflight] Running pre-flight checks", "This node has joined the cluster:"]
"""

import json
import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kubeadm import (
    CA_HASH_RE,
    RESET_WITH,
    KubeadmWorker,
    fail_command,
    find_binary,
    is_certificate_key,
    is_token,
    join_configuration,
    kubernetes_paths,
    redact_lines,
    run_bounded,
    split_endpoint,
    tcp_reachable,
    write_private,
)

RESET_HINT = f"reset it first ({RESET_WITH})"


def argument_spec():
    return dict(
        api_endpoint=dict(type="str", required=True),
        token=dict(type="str", no_log=True),
        ca_cert_hashes=dict(type="list", elements="str", default=[]),
        control_plane=dict(type="bool", default=False),
        certificate_key=dict(type="str", no_log=True),
        config=dict(type="dict", default={}),
        api_version=dict(type="str", default="kubeadm.k8s.io/v1beta4"),
        ignore_preflight_errors=dict(type="list", elements="str", default=[]),
        reach_timeout=dict(type="int", default=10),
        timeout=dict(type="int", default=300),
        kubelet_kubeconfig=dict(type="path", default="/etc/kubernetes/kubelet.conf"),
        kubeadm_path=dict(type="path"),
    )


def join_hint(text: str, endpoint: str, timed_out: bool) -> str:
    """What to do about a failed kubeadm join, from kubeadm's error."""
    if timed_out:
        return f"kubeadm join did not finish in time; the host may be half-joined: {RESET_HINT}, then run again"
    if "could not find a JWS signature" in text or "invalid bootstrap token" in text.lower():
        return (
            "the bootstrap token is unknown to the cluster or expired: create a fresh one with kubeadm_token on the "
            "first control-plane host and pass it as token"
        )
    if "none of the public keys" in text or "are pinned" in text:
        return (
            "the cluster's CA does not match ca_cert_hashes: pass the ca_cert_hash kubeadm_init returns, or check that "
            f"{endpoint} is the API endpoint of this cluster"
        )
    if "kubeadm-certs" in text or "certificate key" in text.lower() or "decrypt" in text.lower():
        return (
            "the uploaded control-plane certificates are gone (they expire after two hours) or do not match "
            "certificate_key: upload them again with kubeadm_init (upload_certs: true) and pass its certificate_key"
        )
    if "connection refused" in text or "i/o timeout" in text or "no route to host" in text:
        return (
            f"the API server at {endpoint} stopped answering during discovery: "
            "check the control plane and load balancer"
        )
    if "error execution phase preflight" in text:
        return (
            "fix the failed preflight checks on this host; files or ports in use mean leftovers of an earlier join: "
            + RESET_HINT
        )
    return f"fix the cause above; if kubeadm got past its preflight checks, {RESET_HINT}, then run again"


class KubeadmJoin(KubeadmWorker):
    def __init__(self, module):
        super().__init__(module, [module.params["token"], module.params["certificate_key"]])
        self.kubelet_conf = self.p["kubelet_kubeconfig"]
        self.manifest = kubernetes_paths(self.kubelet_conf).manifest
        self.result = dict(changed=False, joined=False, stdout_lines=[])

    def joined_already(self) -> bool:
        kubelet = os.path.exists(self.kubelet_conf)
        manifest = os.path.exists(self.manifest)
        if kubelet and not self.p["control_plane"]:
            return True
        if kubelet and manifest:
            return True
        if kubelet:
            self.fail(
                f"this host joined the cluster as a worker ({self.kubelet_conf} exists, {self.manifest} does not) and "
                f"cannot become a control-plane host in place: drain and delete the node, {RESET_HINT}, then join it "
                "with control_plane: true"
            )
        if manifest:
            self.fail(
                f"{self.manifest} exists but {self.kubelet_conf} does not: leftovers of an earlier control plane or a "
                f"failed join; {RESET_HINT}"
            )
        return False

    def validate(self):
        p = self.p
        try:
            self.host, self.port = split_endpoint(p["api_endpoint"])
        except ValueError as e:
            self.fail(f"api_endpoint: {e}")
        if not p["token"]:
            self.fail(
                "token: a bootstrap token is needed to join (kubeadm_init returns one, kubeadm_token creates one)"
            )
        if not is_token(p["token"]):
            self.fail("token: not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
        if not p["ca_cert_hashes"]:
            self.fail(
                "ca_cert_hashes: give the CA hash kubeadm_init returns (ca_cert_hash); joining without one is unsafe"
            )
        bad = [h for h in p["ca_cert_hashes"] if not CA_HASH_RE.match(h)]
        if bad:
            self.fail(f"ca_cert_hashes: {', '.join(bad)} not like sha256:<64 hex digits>")
        if p["control_plane"] and not p["certificate_key"]:
            self.fail(
                "certificate_key: required with control_plane: true (kubeadm_init with upload_certs: true returns it)"
            )
        if p["certificate_key"] and not is_certificate_key(p["certificate_key"]):
            self.fail("certificate_key: must be 64 lowercase hex digits")
        if any(check.strip().lower() == "all" for check in p["ignore_preflight_errors"]):
            self.fail("ignore_preflight_errors: 'all' hides real failures; name the checks to ignore")
        for option in ("reach_timeout", "timeout"):
            if p[option] <= 0:
                self.fail(f"{option}: must be a positive number of seconds, got {p[option]}")
        try:
            self.document = join_configuration(
                p["api_version"],
                p["config"],
                p["api_endpoint"],
                p["token"],
                p["ca_cert_hashes"],
                p["control_plane"],
                p["certificate_key"],
            )
        except ValueError as e:
            self.fail(f"config: {e}")

    def reachable(self):
        why = tcp_reachable(self.host, self.port, self.p["reach_timeout"])
        if why is None:
            return
        endpoint = self.p["api_endpoint"]
        here = socket.gethostname()
        if why == "refused":
            detail = (
                "connection refused: nothing listens there (the control plane or its load balancer is down, or the "
                "port is wrong) or a firewall rejects the connection"
            )
        elif why == "timed out":
            detail = (
                f"timed out after {self.p['reach_timeout']} s: a firewall drops the packets, the address is wrong or "
                "not routable from here, or the host is down"
            )
        else:
            detail = f"{why}: check the address and this host's name resolution and routes"
        self.fail(
            f"cannot reach the API endpoint {endpoint} (host {self.host}, port {self.port}) from {here}: {detail}. "
            "Check the firewall, that api_endpoint is the cluster's address, and that the control plane is up"
        )

    def join(self):
        self.result.update(changed=True, joined=True)
        if self.module.check_mode:
            return
        kubeadm = find_binary(self.module, "kubeadm", self.p["kubeadm_path"], "kubeadm_path")
        path = write_private(self.module, "kubeadm-join-", json.dumps(self.document, indent=2, sort_keys=True) + "\n")
        try:
            argv = [kubeadm, "join", "--config", path]
            if self.p["ignore_preflight_errors"]:
                argv.append("--ignore-preflight-errors=" + ",".join(self.p["ignore_preflight_errors"]))
            result = run_bounded(self.module, argv, self.p["timeout"])
        finally:
            os.unlink(path)
        if not result.ok:
            hint = join_hint(f"{result.stdout}\n{result.stderr}", self.p["api_endpoint"], result.timed_out)
            fail_command(self.module, "kubeadm join", result, hint, self.secrets, joined=False)
        self.result["stdout_lines"] = redact_lines(result.stdout, self.secrets)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    join = KubeadmJoin(module)
    if not join.joined_already():
        join.validate()
        join.reachable()
        join.join()
    module.exit_json(**join.result)


if __name__ == "__main__":
    main()
