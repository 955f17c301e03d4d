"""Every field kubesmith writes into a kubeadm, kubelet, kube-proxy, encryption or audit document exists in the
upstream Go types, with a value of the kind the type decodes (kubeadm and the API server decode these strictly:
an unknown or misspelt field is an error or a warning on the host, and no kubeadm runs here).

The field tables are in tests/unit/fixtures/kubeadm_schema/fields.yaml, read from the Kubernetes sources named
there (README.md beside it). The documents come from filter_plugins/kubeadm.py in all its variants and from the
kubeadm_join module (the JoinConfiguration file it writes, through the module harness)."""

from __future__ import annotations

import base64
import difflib
import json
import pathlib
import re

import kubeadm
import kubeadm_join
import pytest
import yaml
from ansible.module_utils.kubeadm import join_configuration
from ansible.plugins.filter.core import to_nice_yaml
from fixtures.kubeadm.outputs import CA_HASH, CERTIFICATE_KEY, TOKEN, load
from fixtures.kubeadm.settings import GOOD, kubeadm_settings
from module_harness import TIMEOUT, fake_bin_paths

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCHEMA = yaml.safe_load((ROOT / "tests/unit/fixtures/kubeadm_schema/fields.yaml").read_text())
DOCUMENTS = SCHEMA["documents"]
OPAQUE = SCHEMA["opaque"]
TYPES = SCHEMA["types"]
KEY = base64.b64encode(bytes(range(32))).decode()

# time.ParseDuration's syntax ("0" alone needs no unit)
_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")


# --------------------------------------------------------------------------------------------------
# the tables and the walk


def fields_of(type_name: str) -> dict[str, str]:
    """json field name -> kind of ``type_name``, with the fields of its inline (embedded) types."""
    entry = TYPES[type_name]
    fields = {}
    for inline in entry.get("inline", []):
        fields.update(fields_of(inline))
    fields.update(entry.get("fields") or {})
    return fields


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {value!r}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    return type(value).__name__


def _scalar_problem(value, kind: str) -> str:
    """Why ``value`` does not decode into ``kind`` ('' when it does)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": number and float(value).is_integer(),
        "float": number,
        "duration": isinstance(value, str) and bool(_DURATION.match(value)),
        "time": isinstance(value, str),
        "quantity": isinstance(value, str) or number,
    }[kind]
    if ok:
        return ""
    if kind == "duration" and isinstance(value, str):
        return f"{_describe(value)} is not a Go duration like 240s"
    return f"{_describe(value)} where {'a ' + kind if kind != 'int' else 'an int'} is expected"


SCALARS = ("string", "bool", "int", "float", "duration", "time", "quantity")


def _walk(value, kind: str, path: str, out: list[str]) -> None:
    if kind.startswith("[]"):
        if not isinstance(value, list):
            out.append(f"{path}: {_describe(value)} where a list is expected")
            return
        for i, item in enumerate(value):
            _walk(item, kind[2:], f"{path}[{i}]", out)
    elif kind.startswith("map[string]"):
        if not isinstance(value, dict):
            out.append(f"{path}: {_describe(value)} where a mapping is expected")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(f"{path}: key {key!r} is not a string")
            _walk(item, kind[len("map[string]"):], f"{path}.{key}", out)
    elif kind in SCALARS:
        why = _scalar_problem(value, kind)
        if why:
            out.append(f"{path}: {why}")
    elif kind in OPAQUE:
        if not isinstance(value, dict):
            out.append(f"{path}: {_describe(value)} where a mapping ({kind}) is expected")
    elif kind in TYPES:
        if not isinstance(value, dict):
            out.append(f"{path}: {_describe(value)} where a mapping ({kind}) is expected")
            return
        fields = fields_of(kind)
        for key, item in value.items():
            if key in fields:
                _walk(item, fields[key], f"{path}.{key}", out)
                continue
            if len(fields) <= 12:
                known = f"known: {', '.join(sorted(fields))}" if fields else f"{kind} has no fields"
            else:
                close = difflib.get_close_matches(str(key), fields, n=3)
                known = (f"did you mean {', '.join(close)}? " if close else "") + f"{len(fields)} fields in {kind}"
            out.append(f"{path}.{key}: unknown field ({known})")
    else:  # a kind the tables name but do not define: a mistake in fields.yaml
        out.append(f"{path}: fields.yaml has no type {kind!r}")


def schema_problems(doc: dict) -> list[str]:
    """Every field of ``doc`` (a document as kubeadm reads it) that its upstream type does not have, or whose
    value is of the wrong kind, each naming its path: 'ClusterConfiguration.apiServer.extraArgs[0].nam: ...'."""
    if not isinstance(doc, dict):
        return [f"{_describe(doc)} is not a document"]
    api, kind = doc.get("apiVersion"), doc.get("kind")
    type_name = (DOCUMENTS.get(api) or {}).get(kind)
    if type_name is None:
        return [f"{kind}: no upstream type for apiVersion {api!r}, kind {kind!r}"]
    out: list[str] = []
    _walk(doc, type_name, str(kind), out)
    return out


def as_written_yaml(doc: dict) -> dict:
    """``doc`` as the role's templates write it (Ansible's to_nice_yaml, as in roles/kubeadm/templates) and
    kubeadm reads it back."""
    return yaml.safe_load(to_nice_yaml(doc, indent=2, sort_keys=False))


def assert_upstream(doc: dict) -> None:
    problems = schema_problems(doc)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------
# the tables themselves


def test_every_kind_in_the_tables_is_defined():
    problems = []

    def check(kind: str, where: str):
        base = kind
        while True:
            if base.startswith("[]"):
                base = base[2:]
            elif base.startswith("map[string]"):
                base = base[len("map[string]"):]
            else:
                break
        if base not in SCALARS and base not in OPAQUE and base not in TYPES:
            problems.append(f"{where}: {kind}")

    for name, entry in TYPES.items():
        assert entry["source"] in SCHEMA["sources"], name
        for inline in entry.get("inline", []):
            assert inline in TYPES, f"{name} inlines {inline}"
        for field, kind in (entry.get("fields") or {}).items():
            check(kind, f"{name}.{field}")
    for api, kinds in DOCUMENTS.items():
        for kind, type_name in kinds.items():
            check(type_name, f"{api} {kind}")
    assert not problems


def test_every_source_names_a_repository_path_and_commit():
    for name, source in SCHEMA["sources"].items():
        assert source["repo"], name
        assert source["path"], name
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), name


# --------------------------------------------------------------------------------------------------
# the walk finds what kubeadm would refuse


def test_a_misspelt_field_is_named_with_its_path_and_the_known_fields():
    doc = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
           "apiServer": {"extraArgs": [{"nam": "a", "value": "b"}]}}
    assert schema_problems(doc) == [
        "ClusterConfiguration.apiServer.extraArgs[0].nam: unknown field (known: name, value)"
    ]


def test_a_misspelt_field_of_a_large_type_gets_the_close_names():
    doc = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "cgroupDriverr": "systemd"}
    [problem] = schema_problems(doc)
    assert problem.startswith("KubeletConfiguration.cgroupDriverr: unknown field (did you mean cgroupDriver")


@pytest.mark.parametrize(("doc", "expected"), [
    ({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
      "localAPIEndpoint": {"bindPort": "6443"}},
     "InitConfiguration.localAPIEndpoint.bindPort: string '6443' where an int is expected"),
    ({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
      "apiServer": {"extraArgs": {"audit-log-maxage": "30"}}},
     "ClusterConfiguration.apiServer.extraArgs: dict where a list is expected"),
    ({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
      "scheduler": {"extraArgs": [{"name": "v", "value": 2}]}},
     "ClusterConfiguration.scheduler.extraArgs[0].value: number 2 where a string is expected"),
    ({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
      "timeouts": {"controlPlaneComponentHealthCheck": 240}},
     "InitConfiguration.timeouts.controlPlaneComponentHealthCheck: number 240 where a duration is expected"),
    ({"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
      "ipvs": {"strictARP": "true"}},
     "KubeProxyConfiguration.ipvs.strictARP: string 'true' where a bool is expected"),
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
      "resources": [{"resources": ["secrets"], "providers": [{"identity": {"keys": []}}]}]},
     "EncryptionConfiguration.resources[0].providers[0].identity.keys: unknown field "
     "(IdentityConfiguration has no fields)"),
    ({"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "JoinConfiguration"},
     "JoinConfiguration: no upstream type for apiVersion 'kubeadm.k8s.io/v1beta3', kind 'JoinConfiguration'"),
])
def test_wrong_kinds_and_unknown_documents_are_named(doc, expected):
    assert schema_problems(doc) == [expected]


# --------------------------------------------------------------------------------------------------
# what kubesmith renders

LABELS = {"tier": "frontend", "example.com/disk": "ssd", "example.com/gpu": True}
TAINTS = [{"key": "dedicated", "value": "db", "effect": "NoExecute"},
          {"key": "example.com/spot", "effect": "NoSchedule"}]
WORKER = {"host": "w1", "name": "w1", "address": "192.0.2.21", "control_plane": False, "labels": LABELS,
          "taints": TAINTS}

VARIANTS = {
    "stacked etcd, VIP endpoint, audit and encryption": {},
    "external etcd": {"etcd_mode": "external",
                      "etcd_endpoints": ["https://192.0.2.31:2379", "https://192.0.2.32:2379"]},
    "local endpoint": {"endpoint": "127.0.0.1:6444", "cert_sans": ["192.0.2.11"]},
    "ipvs": {"proxy_mode": "ipvs"},
    "nftables": {"proxy_mode": "nftables"},
    "no audit, no encryption": {"audit": {**GOOD["audit"], "enabled": False}, "encryption": False},
    "labels and taints on a control-plane host": {"node": {**GOOD["node"], "labels": LABELS, "taints": TAINTS}},
    "untainted control-plane host": {"node": {**GOOD["node"], "control_plane_taint": False}},
    "a worker with labels and taints": {"node": WORKER},
    "user flags, as a dict and as a list": {
        "apiserver_extra_args": {"anonymous-auth": False, "audit-log-maxage": 7, "profiling": "false"},
        "controller_manager_extra_args": [{"name": "bind-address", "value": "0.0.0.0"}],
        "scheduler_extra_args": {"v": 2},
    },
    "timeouts given as strings (-e)": {"control_plane_timeout": "300",
                                        "audit": {**GOOD["audit"], "maxage": "30", "maxsize": "50"}},
    "user kubelet and kube-proxy settings": {
        "kubelet_config": {"maxPods": 150, "serializeImagePulls": False, "evictionHard": {"memory.available": "200Mi"},
                           "systemReserved": {"cpu": "500m", "memory": "512Mi"}, "shutdownGracePeriod": "30s"},
        "kube_proxy_config": {"conntrack": {"maxPerCore": 0}, "metricsBindAddress": "0.0.0.0:10249"},
    },
}


def settings(changes: dict) -> dict:
    return kubeadm_settings(changes)


@pytest.mark.parametrize("variant", VARIANTS)
def test_init_config_documents_exist_upstream(variant):
    docs = kubeadm.kubeadm_init_config(settings(VARIANTS[variant]))
    assert [d["kind"] for d in docs] == [
        "InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]
    for doc in docs:
        assert_upstream(as_written_yaml(doc))


@pytest.mark.parametrize("variant", VARIANTS)
def test_join_configuration_of_the_join_module_exists_upstream(variant):
    """The filter's join settings, completed as the module completes them (its default apiVersion)."""
    s = settings(VARIANTS[variant])
    control_plane = s["node"]["control_plane"]
    doc = join_configuration(
        kubeadm_join.argument_spec()["api_version"]["default"],
        kubeadm.kubeadm_join_config(s),
        "192.0.2.10:8443",
        TOKEN,
        [CA_HASH],
        control_plane,
        CERTIFICATE_KEY if control_plane else None,
    )
    assert_upstream(json.loads(json.dumps(doc)))


@pytest.mark.parametrize("control_plane", [False, True], ids=["worker", "control-plane host"])
def test_the_file_kubeadm_join_writes_exists_upstream(module_harness, monkeypatch, tmp_path, listener, control_plane):
    """The module run as the role runs it (config from kubeadm_join_config); the file kubeadm would read."""
    fake_bin_paths(monkeypatch, {"kubeadm": "/usr/bin/kubeadm", "timeout": TIMEOUT})
    etc = tmp_path / "kubernetes"
    (etc / "manifests").mkdir(parents=True)
    (tmp_path / "tmp").mkdir()
    node = GOOD["node"] if control_plane else WORKER
    seen = {}

    def kubeadm_join_reads(argv):
        seen["config"] = json.loads(pathlib.Path(argv[argv.index("--config") + 1]).read_text())
        return load("join_control_plane" if control_plane else "join_worker").result()

    module_args = {
        "api_endpoint": listener,
        "token": TOKEN,
        "ca_cert_hashes": [CA_HASH],
        "config": kubeadm.kubeadm_join_config(settings({"node": node})),
        "kubelet_kubeconfig": str(etc / "kubelet.conf"),
        "_ansible_tmpdir": str(tmp_path / "tmp"),
    }
    if control_plane:
        module_args.update(control_plane=True, certificate_key=CERTIFICATE_KEY)
    module_harness.run_module(kubeadm_join.main, module_args, [kubeadm_join_reads])

    assert seen["config"]["kind"] == "JoinConfiguration"
    assert_upstream(seen["config"])


def _examples_configs() -> list[dict]:
    examples = yaml.safe_load(kubeadm_join.EXAMPLES)
    return [task["kubeadm_join"] for task in examples]


@pytest.mark.parametrize("example", range(len(_examples_configs())))
def test_the_join_modules_examples_exist_upstream(example):
    params = _examples_configs()[example]
    control_plane = bool(params.get("control_plane"))
    doc = join_configuration(
        kubeadm_join.argument_spec()["api_version"]["default"],
        params.get("config") or {},
        "192.0.2.10:6443",
        TOKEN,
        [CA_HASH],
        control_plane,
        CERTIFICATE_KEY if control_plane else None,
    )
    # the examples' Jinja expressions stand where strings go
    assert_upstream(doc)


@pytest.mark.parametrize("provider", ["secretbox", "aescbc"])
def test_encryption_configuration_exists_upstream(provider):
    assert_upstream(as_written_yaml(kubeadm.kubeadm_encryption_config(KEY, provider)))
    assert_upstream(as_written_yaml(kubeadm.kubeadm_encryption_config("", provider, placeholder="<key on the host>")))


def test_audit_policy_exists_upstream():
    assert_upstream(as_written_yaml(kubeadm.kubeadm_audit_policy()))
    rules = [{"level": "RequestResponse", "resources": [{"group": "apps", "resources": ["deployments"],
                                                         "resourceNames": ["web"]}], "omitStages": ["Panic"]},
             {"level": "Metadata", "omitManagedFields": True}]
    assert_upstream(as_written_yaml(kubeadm.kubeadm_audit_policy(rules)))
