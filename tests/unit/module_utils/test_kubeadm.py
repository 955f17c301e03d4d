"""module_utils/kubeadm.py: redaction, commands, versions, the CA hash (checked against openssl and the
cryptography package), kubeadm's outputs (tests/unit/fixtures/kubeadm/) and the join configuration."""

import datetime
import json
import os
import socket
import stat
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import kubeadm as k
from ansible.module_utils.basic import AnsibleModule
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from fixtures.kubeadm.outputs import (
    CA_CERT,
    CA_ECDSA_CERT,
    CA_ECDSA_HASH,
    CA_HASH,
    CERTIFICATE_KEY,
    ENDPOINT,
    FOREVER_TOKEN,
    INIT_CONFIG,
    JOIN_TOKEN,
    TOKEN,
    load,
)
from module_harness import AnsibleFailJson, fake_bin_paths, free_port

# --- secrets ---------------------------------------------------------------------------------


def test_redact_keeps_the_token_id_and_drops_secret_and_certificate_key():
    text = (
        f"kubeadm join {ENDPOINT} --token {TOKEN} --discovery-token-ca-cert-hash {CA_HASH} "
        f"--certificate-key {CERTIFICATE_KEY}"
    )
    out = k.redact(text)
    assert TOKEN not in out
    assert CERTIFICATE_KEY not in out
    assert "--token 7x2kq9.<redacted>" in out
    assert "--certificate-key <redacted>" in out
    assert CA_HASH in out  # the CA hash is public: kept


def test_redact_walks_lists_and_dicts_and_given_secrets():
    value = {"a": [f"x {TOKEN}", ("y", "hunter2")], "n": 3, TOKEN: "key kept"}
    out = k.redact(value, secrets=["hunter2", None, ""])
    assert out == {"a": ["x 7x2kq9.<redacted>", ("y", "<redacted>")], "n": 3, TOKEN: "key kept"}


def test_redact_leaves_other_hex_and_words_alone():
    text = "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 and uppercase " + CERTIFICATE_KEY.upper()
    assert k.redact(text) == text
    assert k.redact_lines(f"a\n{TOKEN}\n") == ["a", "7x2kq9.<redacted>"]


@pytest.mark.parametrize(
    ("text", "token", "key"),
    [
        (TOKEN, True, False),
        ("7X2KQ9.m4vd8r1wz6hy0tne", False, False),
        ("7x2kq9.m4vd8r1wz6hy0tn", False, False),
        (CERTIFICATE_KEY, False, True),
        (CERTIFICATE_KEY[:-1], False, False),
        (None, False, False),
    ],
)
def test_token_and_key_forms(text, token, key):
    assert k.is_token(text) is token
    assert k.is_certificate_key(text) is key


def test_generated_certificate_key_is_32_random_bytes_in_hex():
    first, second = k.generate_certificate_key(), k.generate_certificate_key()
    assert k.is_certificate_key(first)
    assert first != second
    assert k.token_id(TOKEN) == "7x2kq9"
    assert k.token_id("7x2kq9") == "7x2kq9"


# --- commands ----------------------------------------------------------------------------------


@pytest.fixture
def module(module_harness, monkeypatch):
    fake_bin_paths(monkeypatch, {"timeout": "/usr/bin/timeout", "kubeadm": "/usr/bin/kubeadm"})
    with module_harness.args({}):
        return AnsibleModule(argument_spec={})


def test_run_bounded_wraps_in_coreutils_timeout_with_lc_all_c(module, module_harness):
    rc = module_harness.run_command([(0, "v1.31.4\n", "")])
    result = k.run_bounded(module, ["/usr/bin/kubeadm", "version", "-o", "short"], 30)
    assert rc.calls == [["/usr/bin/timeout", "--kill-after=10s", "30s", "/usr/bin/kubeadm", "version", "-o", "short"]]
    assert rc.kwargs[0]["environ_update"] == {"LC_ALL": "C"}
    assert result.ok
    assert not result.timed_out
    assert result.stdout == "v1.31.4\n"


@pytest.mark.parametrize(("code", "timed_out"), [(124, True), (137, True), (1, False)])
def test_timeout_exit_codes(module, module_harness, code, timed_out):
    module_harness.run_command([(code, "", "")])
    assert k.run_bounded(module, ["kubeadm"], 5).timed_out is timed_out


def test_missing_timeout_binary_fails_with_the_fix(module_harness, monkeypatch):
    fake_bin_paths(monkeypatch, {})
    with module_harness.args({}):
        module = AnsibleModule(argument_spec={})
    with pytest.raises(AnsibleFailJson) as exc:
        k.bounded_argv(module, ["kubeadm"], 5)
    assert "install coreutils" in exc.value.result["msg"]


def test_find_binary_uses_the_option_or_the_path(module, tmp_path):
    assert k.find_binary(module, "kubeadm", None, "kubeadm_path") == "/usr/bin/kubeadm"
    exe = tmp_path / "kubeadm"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert k.find_binary(module, "kubeadm", str(exe), "kubeadm_path") == str(exe)
    exe.chmod(0o644)
    with pytest.raises(AnsibleFailJson) as exc:
        k.find_binary(module, "kubeadm", str(exe), "kubeadm_path")
    assert exc.value.result["msg"] == f"kubeadm_path: {exe} does not exist or is not executable"
    with pytest.raises(AnsibleFailJson) as exc:
        k.find_binary(module, "kubectl", None, "kubectl_path")
    assert "kubectl was not found in the PATH" in exc.value.result["msg"]
    assert "kubectl_path" in exc.value.result["msg"]


def test_fail_command_redacts_message_output_and_command(module):
    out = load("init_upload_certs")
    result = k.CommandResult(["kubeadm", "join", "--token", TOKEN], 1, out.stdout, f"error: bad {TOKEN}\n", 60)
    with pytest.raises(AnsibleFailJson) as exc:
        k.fail_command(module, "kubeadm join", result, "do this", secrets=["s3cr3t"], joined=False)
    failed = exc.value.result
    assert failed["msg"] == "kubeadm join failed: rc 1: error: bad 7x2kq9.<redacted>. do this"
    assert failed["rc"] == 1
    assert failed["joined"] is False
    blob = json.dumps(failed)
    assert TOKEN not in blob
    assert CERTIFICATE_KEY not in blob
    assert failed["cmd"] == "kubeadm join --token 7x2kq9.<redacted>"


def test_fail_command_says_timed_out(module):
    with pytest.raises(AnsibleFailJson) as exc:
        k.fail_command(module, "kubeadm init", k.CommandResult(["x"], 124, "", "", 600))
    assert exc.value.result["msg"] == "kubeadm init failed: timed out after 600 s (option timeout)"


# --- errors ------------------------------------------------------------------------------------


def test_error_reason_of_failed_preflight_lists_the_checks():
    out = load("init_preflight_in_use")
    reason = k.error_reason(out.stdout, out.stderr)
    assert reason.startswith(
        "error execution phase preflight: [preflight] Some fatal errors occurred: "
        "[ERROR Port-6443]: Port 6443 is in use; "
    )
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: " in reason
    assert "WARNING" not in reason


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "init_wait_control_plane",
            "error execution phase wait-control-plane: could not initialize a Kubernetes cluster",
        ),
        ("join_token_invalid", 'could not find a JWS signature in the cluster-info ConfigMap for token ID "7x2kq9"'),
        (
            "readyz_refused",
            "The connection to the server 10.0.0.10:6443 was refused - did you specify the right host or port?",
        ),
        ("token_list_refused", "failed to list bootstrap tokens: Get "),
    ],
)
def test_error_reason(name, expected):
    out = load(name)
    assert expected in k.error_reason(out.stdout, out.stderr)


def test_error_reason_without_output():
    assert k.error_reason("", "") == "no output"
    assert k.error_reason("last line\n", "") == "last line"


# --- versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v1.31.4", (1, 31, 4)),
        ("1.31", (1, 31, 0)),
        ("Kubernetes v1.32.0-rc.1\n", (1, 32, 0)),
        ('kubeadm version: &version.Info{Major:"1", Minor:"31", GitVersion:"v1.31.4", GitCommit:"a78"}', (1, 31, 4)),
    ],
)
def test_parse_version(text, version):
    assert k.parse_version(text) == version
    assert k.format_version(version) == ".".join(map(str, version))


def test_parse_version_refuses_garbage():
    with pytest.raises(ValueError, match="no Kubernetes version"):
        k.parse_version("kubeadm: command not found")


# --- CA hash -------------------------------------------------------------------------------------


def make_ca(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_bytes(serialization.Encoding.PEM), "sha256:" + hashes_sha256(spki)


def hashes_sha256(data):
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["rsa", "ecdsa", "ed25519"],
)
def test_ca_cert_hash_equals_the_cryptography_packages(key):
    pem, expected = make_ca(key)
    assert k.ca_cert_hash(pem) == expected
    assert k.ca_cert_hash(pem.decode()) == expected


def test_ca_cert_hash_of_the_fixture_cas_equals_openssls():
    assert k.ca_cert_hash_file(str(CA_CERT)) == CA_HASH
    assert k.ca_cert_hash_file(str(CA_ECDSA_CERT)) == CA_ECDSA_HASH


def test_ca_cert_hashes_of_a_bundle_in_order():
    bundle = CA_CERT.read_text() + "\n" + CA_ECDSA_CERT.read_text()
    assert k.ca_cert_hashes(bundle) == [CA_HASH, CA_ECDSA_HASH]


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("", "no PEM CERTIFICATE block"),
        ("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n", "not a certificate"),
        ("-----BEGIN CERTIFICATE-----\nMIIBCgKCAQEA\n-----END CERTIFICATE-----\n", "truncated DER"),
    ],
)
def test_ca_cert_hash_refuses_what_is_not_a_certificate(pem, message):
    with pytest.raises(ValueError, match=message):
        k.ca_cert_hash(pem)


# --- kubeadm init ------------------------------------------------------------------------------


def test_parse_init_output_with_upload_certs():
    assert k.parse_init_output(load("init_upload_certs").stdout) == {
        "token": TOKEN,
        "certificate_key": CERTIFICATE_KEY,
        "join_endpoint": ENDPOINT,
        "ca_cert_hashes": [CA_HASH],
    }


def test_parse_init_output_of_a_single_control_plane():
    parsed = k.parse_init_output(load("init_single").stdout)
    assert parsed == {
        "token": TOKEN,
        "certificate_key": "",
        "join_endpoint": "10.0.0.11:6443",
        "ca_cert_hashes": [CA_HASH],
    }
    assert k.parse_init_output("") == {"token": "", "certificate_key": "", "join_endpoint": "", "ca_cert_hashes": []}


CONFIG = "---\n" + INIT_CONFIG  # with a leading document marker


def test_with_certificate_key_adds_it_to_the_init_configuration():
    text = k.with_certificate_key(CONFIG, CERTIFICATE_KEY)
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert docs[0]["kind"] == "InitConfiguration"
    assert docs[0]["certificateKey"] == CERTIFICATE_KEY
    assert docs[0]["nodeRegistration"] == {"name": "cp1"}
    assert docs[1] == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "controlPlaneEndpoint": "10.0.0.10:6443",
    }
    assert k.config_certificate_key(text) == CERTIFICATE_KEY
    assert k.config_certificate_key(CONFIG) is None


def test_with_certificate_key_replaces_one_in_the_config():
    other = "0" * 64
    text = k.with_certificate_key(
        CONFIG.replace("kind: InitConfiguration\n", f"kind: InitConfiguration\ncertificateKey: '{other}'\n"),
        CERTIFICATE_KEY,
    )
    assert other not in text
    assert text.count("certificateKey") == 1
    assert k.config_certificate_key(text) == CERTIFICATE_KEY


def test_with_certificate_key_adds_an_init_configuration_of_the_same_api_version():
    cluster_only = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.30.8\n"
    docs = list(yaml.safe_load_all(k.with_certificate_key(cluster_only, CERTIFICATE_KEY)))
    assert docs[1] == {
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "kind": "InitConfiguration",
        "certificateKey": CERTIFICATE_KEY,
    }
    with pytest.raises(ValueError, match="64 hex"):
        k.with_certificate_key(CONFIG, "short")


def test_kubeconfig_server():
    admin = (
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0t\n"
        "    server: https://10.0.0.10:6443\n  name: kubesmith\n"
    )
    assert k.kubeconfig_server(admin) == ENDPOINT
    assert k.kubeconfig_server("server: https://[fd00::10]:6443\n") == "[fd00::10]:6443"
    assert k.kubeconfig_server("kind: Config\n") is None


# --- kubeadm join ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "parts"),
    [
        ("10.0.0.10:6443", ("10.0.0.10", 6443)),
        ("api.example.org:443", ("api.example.org", 443)),
        ("[fd00::10]:6443", ("fd00::10", 6443)),
    ],
)
def test_split_endpoint(endpoint, parts):
    assert k.split_endpoint(endpoint) == parts


@pytest.mark.parametrize(
    "endpoint", ["10.0.0.10", "https://10.0.0.10:6443", "10.0.0.10:0", "10.0.0.10:70000", "fd00::10:6443", ""]
)
def test_split_endpoint_refuses(endpoint):
    with pytest.raises(ValueError, match="not an API endpoint"):
        k.split_endpoint(endpoint)


def test_tcp_reachable_with_a_loopback_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert k.tcp_reachable("127.0.0.1", server.getsockname()[1], 2) is None


def test_tcp_reachable_refused_on_a_closed_port():
    assert k.tcp_reachable("127.0.0.1", free_port(), 2) == "refused"


def test_tcp_reachable_times_out(dropping_port):
    assert k.tcp_reachable("127.0.0.1", dropping_port, 0.3) == "timed out"


def test_tcp_reachable_names_other_errors():
    assert k.tcp_reachable("name.invalid", 6443, 1) not in (None, "refused", "timed out")


def test_join_configuration_of_a_worker():
    config = {"nodeRegistration": {"name": "w1", "criSocket": "unix:///run/containerd/containerd.sock"}}
    doc = k.join_configuration("kubeadm.k8s.io/v1beta4", config, ENDPOINT, TOKEN, [CA_HASH], False, None)
    assert doc == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"token": TOKEN, "apiServerEndpoint": ENDPOINT, "caCertHashes": [CA_HASH]}},
        "nodeRegistration": {"name": "w1", "criSocket": "unix:///run/containerd/containerd.sock"},
    }
    assert config == {"nodeRegistration": {"name": "w1", "criSocket": "unix:///run/containerd/containerd.sock"}}


def test_join_configuration_of_a_control_plane_host_wins_over_config():
    config = {
        "controlPlane": {"localAPIEndpoint": {"advertiseAddress": "10.0.0.12", "bindPort": 6443}},
        "discovery": {
            "bootstrapToken": {"token": "other", "unsafeSkipCAVerification": True},
            "file": {"kubeConfigPath": "x"},
        },
    }
    doc = k.join_configuration("kubeadm.k8s.io/v1beta3", config, ENDPOINT, TOKEN, [CA_HASH], True, CERTIFICATE_KEY)
    assert doc["controlPlane"] == {
        "localAPIEndpoint": {"advertiseAddress": "10.0.0.12", "bindPort": 6443},
        "certificateKey": CERTIFICATE_KEY,
    }
    assert doc["discovery"] == {
        "bootstrapToken": {"token": TOKEN, "apiServerEndpoint": ENDPOINT, "caCertHashes": [CA_HASH]}
    }
    assert k.join_configuration("v", {}, ENDPOINT, TOKEN, [CA_HASH], True, CERTIFICATE_KEY)["controlPlane"] == {
        "certificateKey": CERTIFICATE_KEY
    }


@pytest.mark.parametrize(
    ("config", "control_plane", "message"),
    [
        ({"controlPlane": {}}, False, "control_plane is false"),
        ({"discovery": "x"}, False, "discovery must be a mapping"),
        ({"discovery": {"bootstrapToken": []}}, False, "bootstrapToken must be a mapping"),
        ({"controlPlane": "x"}, True, "controlPlane must be a mapping"),
    ],
)
def test_join_configuration_refuses(config, control_plane, message):
    with pytest.raises(ValueError, match=message):
        k.join_configuration("v", config, ENDPOINT, TOKEN, [CA_HASH], control_plane, CERTIFICATE_KEY)


# --- kubeadm token -----------------------------------------------------------------------------


def test_parse_token_list_reads_the_json_stream():
    tokens = k.parse_token_list(load("token_list").stdout)
    assert [t["token"] for t in tokens] == [TOKEN, JOIN_TOKEN, FOREVER_TOKEN]
    assert [k.public_token(t) for t in tokens] == [
        {
            "id": "7x2kq9",
            "description": "The default bootstrap token generated by 'kubeadm init'.",
            "expires": "2026-11-29T07:10:00Z",
            "usages": ["authentication", "signing"],
            "groups": ["system:bootstrappers:kubeadm:default-node-token"],
        },
        {
            "id": "q3fw5e",
            "description": "kubesmith join",
            "expires": "2026-11-28T08:10:00Z",
            "usages": ["authentication", "signing"],
            "groups": ["system:bootstrappers:kubeadm:default-node-token"],
        },
        {
            "id": "z9y8x7",
            "description": "kubesmith forever",
            "expires": None,
            "usages": ["authentication", "signing"],
            "groups": ["system:bootstrappers:kubeadm:default-node-token"],
        },
    ]
    assert k.parse_token_list(load("token_list_empty").stdout) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'{{"kind": "BootstrapToken", "token": "{TOKEN}"}} nonsense {TOKEN}', "expected the JSON"),
        ('{"kind": "Images", "images": []}', "unexpected object"),
        ('{"kind": "BootstrapToken", "token": "abc"}', "unexpected object"),
    ],
)
def test_parse_token_list_refuses(text, message):
    with pytest.raises(ValueError, match=message) as exc:
        k.parse_token_list(text)
    assert TOKEN not in str(exc.value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("1h30m", 5400), ("90s", 90), ("0", 0), ("1.5h", 5400), ("250ms", 0.25)]
)
def test_parse_duration(text, seconds):
    assert k.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1d", "h", "1h 30m", "-1h", ""])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="not a duration"):
        k.parse_duration(text)


def test_parse_rfc3339():
    utc = datetime.UTC
    assert k.parse_rfc3339("2026-11-28T08:10:00Z") == datetime.datetime(2026, 11, 28, 8, 10, tzinfo=utc)
    assert k.parse_rfc3339("2026-11-28T09:10:00+01:00") == datetime.datetime(2026, 11, 28, 8, 10, tzinfo=utc)


def test_module_utils_has_no_dependency_beyond_the_standard_library():
    path = k.__file__
    assert stat.S_ISREG(os.stat(path).st_mode)
    source = Path(path).read_text()
    assert "import yaml" not in source
    assert "cryptography" not in source.split('"""', 2)[2]
