"""Shared logic of kubesmith's kubeadm modules (kubeadm_init, kubeadm_join, kubeadm_token, and the
generic pieces kubeadm_upgrade and kubeadm_reset reuse through module_utils/kubeadm_ops.py).

Stable API (other modules rely on these names and signatures; extend, do not change):

Running commands
  KUBEADM_ENVIRONMENT                    {"LC_ALL": "C"}: every kubeadm/kubectl call runs with it
  TIMEOUT_EXIT_CODES                     exit codes of coreutils ``timeout`` when it stopped the command
  find_binary(module, name, path, option) -> str
                                         ``path`` (an option's value) or ``module.get_bin_path(name)``;
                                         fails naming ``option`` when neither is there
  bounded_argv(module, argv, timeout) -> list
                                         ``timeout --kill-after=10s <timeout>s argv...`` (coreutils)
  run_bounded(module, argv, timeout, data=None) -> CommandResult
                                         runs bounded_argv with KUBEADM_ENVIRONMENT; never raises on rc
  CommandResult(argv, rc, stdout, stderr, timeout)   .timed_out, .ok
  fail_command(module, what, result, hint="", secrets=(), **extra)
                                         fail_json with a one-line reason from kubeadm's output, the
                                         hint, rc and the redacted stdout/stderr lines and command

Secrets
  TOKEN_RE, TOKEN_ID_RE, CA_HASH_RE,
  CERTIFICATE_KEY_RE                     bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}), certificate key
                                         (64 hex digits not preceded by "sha256:", which is a public
                                         CA hash)
  redact(value, secrets=()) -> same type redacts str, and str inside list/tuple/dict (keys kept);
                                         a token keeps its public ID: "abcdef.<redacted>"
  redact_lines(text, secrets=()) -> list[str]
  is_token(text), is_certificate_key(text), token_id(token), generate_certificate_key()

Versions
  parse_version(text) -> (major, minor, patch)   "v1.31.4", "1.31", "Kubernetes v1.31.4",
                                         "kubeadm version: &version.Info{...GitVersion:"v1.31.4"...}"
  format_version(version) -> "1.31.4"

CA certificate hash (what --discovery-token-ca-cert-hash pins; pure Python, no cryptography)
  ca_cert_hashes(pem) -> ["sha256:<hex>", ...]   one per certificate in the PEM text/bytes
  ca_cert_hash(pem) -> "sha256:<hex>"            of the first certificate
  ca_cert_hash_file(path) -> "sha256:<hex>"
  subject_public_key_info(der) -> bytes          the DER SubjectPublicKeyInfo of a certificate

Errors
  error_reason(stdout, stderr) -> str    kubeadm's "error execution phase ..." with its [ERROR ...]
                                         lines, else the last line of output (not redacted)

The modules' workers (kubeadm_init/join/token)
  KubeadmWorker(module, secrets=())      .module, .p (its params), .secrets (a list, to append to);
                                         .fail(msg, **kw): fail_json with msg redacted
  RESET_WITH                             how to reset a host, for the advice of failure messages
  kubernetes_paths(kubeconfig) -> KubernetesPaths(manifest, kubelet_conf, ca)
                                         the files kubeadm writes beside a kubeconfig of /etc/kubernetes
  write_private(module, prefix, text) -> path
                                         a 0600 temporary .yaml in the module's tmpdir (secrets inside);
                                         the caller deletes it

kubeadm output and configuration (used by kubeadm_init/join/token)
  parse_init_output(stdout) -> dict      token, certificate_key, join_endpoint, ca_cert_hashes
  parse_token_list(stdout) -> list[dict] the JSON stream of ``kubeadm token list -o json``
  parse_rfc3339(text) -> datetime, parse_duration(text) -> seconds (Go durations: "1h30m", "0")
  public_token(entry) -> dict            a token list entry without its secret
  config_certificate_key(text), with_certificate_key(text, key)
                                         read/add certificateKey of the InitConfiguration document
  split_endpoint("host:port") -> (host, port)
  kubeconfig_server(text) -> "host:port" of the first cluster's server URL, or None
  tcp_reachable(host, port, timeout) -> None | "refused" | "timed out" | other error text
  join_configuration(...) -> dict        the complete JoinConfiguration kubeadm_join writes
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
import secrets as _secrets
import socket
import tempfile
from datetime import datetime, timezone
from typing import NamedTuple

KUBEADM_ENVIRONMENT = {"LC_ALL": "C"}
KILL_AFTER = "10s"  # after the timeout, SIGTERM; this much later, SIGKILL
TIMEOUT_EXIT_CODES = (124, 137)  # coreutils timeout: 124 after SIGTERM worked, 128+9 after SIGKILL

TOKEN_RE = re.compile(r"(?<![a-z0-9])([a-z0-9]{6})\.([a-z0-9]{16})(?![a-z0-9])")
CERTIFICATE_KEY_RE = re.compile(r"(?<![0-9A-Fa-f])(?<!sha256:)[0-9a-f]{64}(?![0-9A-Fa-f])")
TOKEN_ID_RE = re.compile(r"[a-z0-9]{6}")
CA_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
REDACTED = "<redacted>"


# ---------------------------------------------------------------------------------------------
# secrets


def is_token(text) -> bool:
    return isinstance(text, str) and TOKEN_RE.fullmatch(text) is not None


def is_certificate_key(text) -> bool:
    return isinstance(text, str) and re.fullmatch(r"[0-9a-f]{64}", text) is not None


def token_id(token: str) -> str:
    """The public part of a bootstrap token (or a token ID given alone)."""
    return token.split(".", 1)[0]


def generate_certificate_key() -> str:
    """32 random bytes in hex, as kubeadm's own --certificate-key."""
    return _secrets.token_hex(32)


def _redact_text(text: str, secrets=()) -> str:
    text = TOKEN_RE.sub(lambda m: f"{m.group(1)}.{REDACTED}", text)
    text = CERTIFICATE_KEY_RE.sub(REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact(value, secrets=()):
    """Bootstrap tokens, certificate keys and the given strings replaced in value (str, or
    lists/tuples/dicts of them, recursively; dict keys are left alone)."""
    secrets = [s for s in secrets if s]
    if isinstance(value, str):
        return _redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    return value


def redact_lines(text: str, secrets=()) -> list[str]:
    return [redact(line, secrets) for line in (text or "").splitlines()]


# ---------------------------------------------------------------------------------------------
# running commands


class CommandResult(NamedTuple):
    argv: list
    rc: int
    stdout: str
    stderr: str
    timeout: int

    @property
    def timed_out(self) -> bool:
        return self.rc in TIMEOUT_EXIT_CODES

    @property
    def ok(self) -> bool:
        return self.rc == 0


def find_binary(module, name: str, path: str | None, option: str) -> str:
    """Path of an executable: the option's value when set (must be executable), else the PATH."""
    if path:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        module.fail_json(msg=f"{option}: {path} does not exist or is not executable")
    found = module.get_bin_path(name)
    if not found:
        module.fail_json(
            msg=f"{name} was not found in the PATH on this host: "
            f"install it (role kube_packages) or give its path in {option}"
        )
    return found


def bounded_argv(module, argv: list, timeout: int) -> list:
    """argv run under coreutils timeout, so a hung kubeadm/kubectl never hangs the play."""
    timeout_bin = module.get_bin_path("timeout")
    if not timeout_bin:
        module.fail_json(msg="coreutils 'timeout' was not found in the PATH on this host: install coreutils")
    if int(timeout) <= 0:
        module.fail_json(msg=f"timeout: must be a positive number of seconds, got {timeout}")
    return [timeout_bin, f"--kill-after={KILL_AFTER}", f"{int(timeout)}s", *[str(a) for a in argv]]


def run_bounded(module, argv: list, timeout: int, data: str | None = None) -> CommandResult:
    full = bounded_argv(module, argv, timeout)
    kwargs = {"environ_update": dict(KUBEADM_ENVIRONMENT)}
    if data is not None:
        kwargs["data"] = data
    rc, out, err = module.run_command(full, **kwargs)
    return CommandResult(full, rc, out or "", err or "", int(timeout))


_PHASE_ERROR = re.compile(r"^(error execution phase [^:]+:.*|error: .*|Error: .*)$")
_STACK_TRACE_HINT = re.compile(r"^To see the stack trace of this error execute with --v=5 or higher")
_CHECK_LINE = re.compile(r"^\s*\[ERROR [^\]]+\]:.*$")


def error_reason(stdout: str, stderr: str) -> str:
    """kubeadm's own error in one line: "error execution phase X: ..." with the [ERROR ...] lines
    that follow it, else the last non-empty line of stderr or stdout. Not redacted."""
    lines = [line.rstrip() for line in (stderr or "").splitlines()]
    for i, line in enumerate(lines):
        if _PHASE_ERROR.match(line.strip()):
            checks = [c.strip() for c in lines[i + 1 :] if _CHECK_LINE.match(c)]
            head = line.strip()
            if not checks:
                return head
            return f"{head} {'; '.join(checks)}" if head.endswith(":") else "; ".join([head, *checks])
    checks = [c.strip() for c in lines if _CHECK_LINE.match(c)]
    if checks:
        return "; ".join(checks)
    for text in (stderr, stdout):
        rest = [
            line.strip() for line in (text or "").splitlines() if line.strip() and not _STACK_TRACE_HINT.match(line)
        ]
        if rest:
            return rest[-1]
    return "no output"


def fail_command(module, what: str, result: CommandResult, hint: str = "", secrets=(), **extra):
    """fail_json for a command that failed: what it was doing, kubeadm's reason, the hint."""
    if result.timed_out:
        reason = f"timed out after {result.timeout} s (option timeout)"
    else:
        reason = f"rc {result.rc}: {error_reason(result.stdout, result.stderr)}"
    msg = f"{what} failed: {reason}"
    if hint:
        msg = f"{msg}. {hint}"
    module.fail_json(
        msg=redact(msg, secrets),
        rc=result.rc,
        cmd=redact(" ".join(result.argv), secrets),
        stdout_lines=redact_lines(result.stdout, secrets),
        stderr_lines=redact_lines(result.stderr, secrets),
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# what the modules' workers share

RESET_WITH = "module kubeadm_reset, playbook reset"


class KubeadmWorker:
    """Base of a kubeadm module's worker: the module, its params and the secrets no message may show."""

    def __init__(self, module, secrets=()):
        self.module = module
        self.p = module.params
        self.secrets = list(secrets)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=redact(msg, self.secrets), **kwargs)


class KubernetesPaths(NamedTuple):
    manifest: str  # manifests/kube-apiserver.yaml: the host runs an API server
    kubelet_conf: str  # kubelet.conf: the host is a node of a cluster
    ca: str  # pki/ca.crt: the cluster CA


def kubernetes_paths(kubeconfig: str) -> KubernetesPaths:
    """The files kubeadm writes in the directory of ``kubeconfig`` (admin.conf or kubelet.conf)."""
    base = os.path.dirname(kubeconfig) or "/"
    return KubernetesPaths(
        os.path.join(base, "manifests", "kube-apiserver.yaml"),
        os.path.join(base, "kubelet.conf"),
        os.path.join(base, "pki", "ca.crt"),
    )


def write_private(module, prefix: str, text: str) -> str:
    """``text`` (a kubeadm configuration with secrets) in a new 0600 file of the module's tmpdir;
    the caller deletes it."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".yaml", dir=module.tmpdir)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except BaseException:
        os.unlink(path)
        raise
    return path


# ---------------------------------------------------------------------------------------------
# versions

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]*)?")


def parse_version(text) -> tuple[int, int, int]:
    """(major, minor, patch) of the first version in text: "v1.31.4", "1.31" (patch 0),
    "Kubernetes v1.31.4", kubeadm's long "version.Info{... GitVersion:"v1.31.4" ...}"."""
    text = str(text or "")
    git = re.search(r'GitVersion:"([^"]+)"', text)
    if git:
        text = git.group(1)
    match = _VERSION.search(text)
    if not match:
        raise ValueError(f"no Kubernetes version (like 1.31.4) in {text.strip()[:80]!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def format_version(version) -> str:
    return ".".join(str(part) for part in version)


# ---------------------------------------------------------------------------------------------
# CA certificate hash

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def _der_item(data: bytes, pos: int):
    """(tag, start of contents, end) of the DER element at pos."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("unexpected multi-byte DER tag")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, end


def subject_public_key_info(der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo (header included) of an X.509 certificate in DER."""
    tag, start, _end = _der_item(der, 0)
    if tag != 0x30:
        raise ValueError("not a certificate (no outer SEQUENCE)")
    tag, pos, tbs_end = _der_item(der, start)
    if tag != 0x30:
        raise ValueError("not a certificate (no tbsCertificate)")
    tag, _s, end = _der_item(der, pos)
    if tag == 0xA0:  # [0] EXPLICIT version, absent in v1 certificates
        pos = end
    # serialNumber, signature, issuer, validity, subject
    for expected in (0x02, 0x30, 0x30, 0x30, 0x30):
        tag, _s, end = _der_item(der, pos)
        if tag != expected:
            raise ValueError(f"unexpected DER tag 0x{tag:02x} in tbsCertificate")
        pos = end
    tag, _s, end = _der_item(der, pos)
    if tag != 0x30 or end > tbs_end:
        raise ValueError("no subjectPublicKeyInfo in tbsCertificate")
    return der[pos:end]


def ca_cert_hashes(pem) -> list[str]:
    """ "sha256:<hex>" of the SubjectPublicKeyInfo of every certificate in the PEM, as kubeadm's
    --discovery-token-ca-cert-hash (and `openssl x509 -pubkey | openssl pkey -pubin -outform DER
    | sha256sum`)."""
    if isinstance(pem, bytes):
        pem = pem.decode("ascii", "replace")
    hashes = []
    for block in _PEM.findall(pem or ""):
        try:
            der = base64.b64decode("".join(block.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a CERTIFICATE block is not valid base64") from None
        hashes.append("sha256:" + hashlib.sha256(subject_public_key_info(der)).hexdigest())
    if not hashes:
        raise ValueError("no PEM CERTIFICATE block found")
    return hashes


def ca_cert_hash(pem) -> str:
    return ca_cert_hashes(pem)[0]


def ca_cert_hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return ca_cert_hash(f.read())


# ---------------------------------------------------------------------------------------------
# kubeadm init

_USING_TOKEN = re.compile(r"^\[bootstrap-token\] Using token: (\S+)\s*$", re.MULTILINE)
_CERT_KEY = re.compile(r"^\[upload-certs\] Using certificate key:\s*\n\s*([0-9a-f]{64})\s*$", re.MULTILINE)
_JOIN_ENDPOINT = re.compile(r"kubeadm join (\S+)")
_JOIN_HASH = re.compile(r"--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})")


def parse_init_output(stdout: str) -> dict:
    """What a successful `kubeadm init` printed: the bootstrap token, the certificate key (with
    --upload-certs), the endpoint and CA hashes of its join commands ('' / [] when absent)."""
    stdout = stdout or ""
    token = _USING_TOKEN.search(stdout)
    key = _CERT_KEY.search(stdout)
    endpoint = _JOIN_ENDPOINT.search(stdout)
    hashes = list(dict.fromkeys(_JOIN_HASH.findall(stdout)))
    return {
        "token": token.group(1) if token else "",
        "certificate_key": key.group(1) if key else "",
        "join_endpoint": endpoint.group(1) if endpoint else "",
        "ca_cert_hashes": hashes,
    }


_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_KIND_INIT = re.compile(r"^kind:[ \t]*[\"']?InitConfiguration[\"']?[ \t]*$", re.MULTILINE)
_KIND_CLUSTER = re.compile(r"^kind:[ \t]*[\"']?ClusterConfiguration[\"']?[ \t]*$", re.MULTILINE)
_API_VERSION = re.compile(r"^apiVersion:[ \t]*[\"']?([^\"'\s]+)[\"']?[ \t]*$", re.MULTILINE)
_CONFIG_CERT_KEY = re.compile(r"^certificateKey:[ \t]*[\"']?([^\"'\s#]*)[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)


def _documents(text: str) -> list[str]:
    return _DOC_SEPARATOR.split(text)


def config_certificate_key(text: str) -> str | None:
    """certificateKey of the InitConfiguration document of a kubeadm config, None when unset."""
    for doc in _documents(text):
        if _KIND_INIT.search(doc):
            match = _CONFIG_CERT_KEY.search(doc)
            return match.group(1) if match and match.group(1) else None
    return None


def with_certificate_key(text: str, key: str) -> str:
    """The kubeadm config with certificateKey set in its InitConfiguration document (added when
    there is none, with the ClusterConfiguration's apiVersion). kubeadm refuses --certificate-key
    together with --config: the key has to be in the file."""
    if not is_certificate_key(key):
        raise ValueError("a certificate key is 64 hex digits")
    docs = _documents(text)
    line = f'certificateKey: "{key}"'
    for i, doc in enumerate(docs):
        if _KIND_INIT.search(doc):
            if _CONFIG_CERT_KEY.search(doc):
                docs[i] = _CONFIG_CERT_KEY.sub(line, doc, count=1)
            else:
                docs[i] = doc.rstrip("\n") + "\n" + line + "\n"
            return "---".join(docs)
    api_version = "kubeadm.k8s.io/v1beta4"
    for doc in docs:
        if _KIND_CLUSTER.search(doc):
            match = _API_VERSION.search(doc)
            if match:
                api_version = match.group(1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{body}---\napiVersion: {api_version}\nkind: InitConfiguration\n{line}\n"


_SERVER = re.compile(r"^\s*server:\s*[\"']?https?://([^\"'\s/]+)", re.MULTILINE)


def kubeconfig_server(text: str) -> str | None:
    """host:port of the first cluster's server in a kubeconfig (admin.conf), None when absent."""
    match = _SERVER.search(text or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# kubeadm join


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """ "host:port" or "[v6]:port" -> (host, port); ValueError otherwise."""
    text = str(endpoint or "").strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})", text) or re.fullmatch(r"([^\s:/\[\]]+):(\d{1,5})", text)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError(f"{endpoint!r} is not an API endpoint like 10.0.0.10:6443 or [fd00::10]:6443")
    return match.group(1), int(match.group(2))


def tcp_reachable(host: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection to host:port opens within timeout seconds, else why not:
    "refused", "timed out", or the error text (name resolution, no route, ...)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):  # noqa: UP041 - distinct classes before Python 3.10 (hosts)
        return "timed out"
    except OSError as e:
        return e.strerror or str(e)


def join_configuration(
    api_version: str,
    config: dict,
    api_endpoint: str,
    token: str,
    ca_cert_hashes: list,
    control_plane: bool,
    certificate_key: str | None,
) -> dict:
    """The whole JoinConfiguration: config (the rest of it, e.g. nodeRegistration) with apiVersion,
    kind, discovery.bootstrapToken and, for a control-plane host, controlPlane.certificateKey set
    by the module (they win over the same keys in config)."""
    doc = copy.deepcopy(config or {})
    if not control_plane and "controlPlane" in doc:
        raise ValueError("config.controlPlane is set, but control_plane is false")
    doc["apiVersion"] = api_version
    doc["kind"] = "JoinConfiguration"
    discovery = doc.setdefault("discovery", {})
    if not isinstance(discovery, dict):
        raise ValueError("config.discovery must be a mapping")
    discovery.pop("file", None)
    bootstrap = discovery.setdefault("bootstrapToken", {})
    if not isinstance(bootstrap, dict):
        raise ValueError("config.discovery.bootstrapToken must be a mapping")
    bootstrap.update({"token": token, "apiServerEndpoint": api_endpoint, "caCertHashes": list(ca_cert_hashes)})
    bootstrap.pop("unsafeSkipCAVerification", None)
    if control_plane:
        plane = doc.get("controlPlane") or {}
        if not isinstance(plane, dict):
            raise ValueError("config.controlPlane must be a mapping")
        plane["certificateKey"] = certificate_key
        doc["controlPlane"] = plane
    return doc


# ---------------------------------------------------------------------------------------------
# kubeadm token


def parse_token_list(stdout: str) -> list[dict]:
    """`kubeadm token list -o json` prints one JSON object per token (kind BootstrapToken,
    apiVersion output.kubeadm.k8s.io/v1alpha3), one after the other, nothing when there is none."""
    decoder = json.JSONDecoder()
    text = (stdout or "").strip()
    tokens, pos = [], 0
    while pos < len(text):
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            snippet = redact(text[pos : pos + 120])
            raise ValueError(f"expected the JSON of kubeadm token list -o json, got {snippet!r}") from None
        if not isinstance(obj, dict) or obj.get("kind") != "BootstrapToken" or not is_token(obj.get("token")):
            raise ValueError(f"unexpected object in kubeadm token list output: kind {obj.get('kind')!r}")
        tokens.append(obj)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def parse_rfc3339(text: str) -> datetime:
    value = str(text).strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # noqa: UP017 - datetime.UTC needs Python 3.11
    return parsed


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def parse_duration(text: str) -> float:
    """Seconds of a Go duration as kubeadm's --ttl takes it: "24h", "1h30m", "90s", "0"."""
    value = str(text).strip()
    if value == "0":
        return 0.0
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"{text!r} is not a duration like 1h, 30m, 1h30m or 0 (never expires)")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def public_token(entry: dict) -> dict:
    """A token list entry without its secret: id, description, expires (null: never), usages, groups."""
    return {
        "id": token_id(entry["token"]),
        "description": entry.get("description", ""),
        "expires": entry.get("expires"),
        "usages": sorted(entry.get("usages") or []),
        "groups": list(entry.get("groups") or []),
    }
