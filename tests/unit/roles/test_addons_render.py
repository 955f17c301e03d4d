"""Role addons: the role run for real by ansible-playbook in render-only mode (all add-ons on with
every variable changed, then the defaults), every rendered object validated strictly against the
Kubernetes 1.31.4 schemas (kubernetes-validate; only MetalLB's custom resources, whose schema is a
CRD, are skipped), the templated values checked, idempotence and --check, bad settings, and the
apply path up to an API server that does not answer. No API server is contacted and none is faked.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils
from role_testing import one, oneline, unreachable_kubeconfig

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "addons"
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
KUBERNETES_VERSION = "1.31.4"
IMAGES = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["addons_images"]

# Kinds defined by a CustomResourceDefinition of the manifests (MetalLB's): kubernetes-validate has
# no schema for them, so they are the only objects not validated.
CR_KINDS = {("metallb.io/v1beta1", "IPAddressPool"), ("metallb.io/v1beta1", "L2Advertisement")}

# sha256 of the rendered metallb.yaml: upstream's metallb-native.yaml v0.13.12 with its own images,
# unchanged (76185 characters). A different value means the copy was edited.
METALLB_NATIVE_SHA256 = "a5e3b65e073ba8236cc36c283fb33260e764977c7e460d6a462347ccaa91683d"

FILES = ["metrics-server.yaml", "log-collector.yaml", "local-path.yaml", "metallb.yaml", "metallb-config.yaml"]

CUSTOM = {
    "kubesmith_metallb_addresses": ["192.0.2.240 - 192.0.2.250", "198.51.100.0/28", "2001:db8::/124"],
    "addons_log_collector_namespace": "logs",
    "addons_log_collector_outputs": [
        {"Name": "es", "Match": "kube.*", "Host": "elasticsearch.logging", "Port": 9200, "Logstash_Format": True},
        {"Name": "forward", "Host": "10.0.0.5", "Port": 24224},
    ],
    "addons_local_path_dir": "/data/local-pv",
    "addons_local_path_default_class": False,
    "addons_metrics_server_kubelet_insecure_tls": False,
}
BAD = {
    "kubesmith_metallb_addresses": ["192.0.2.250-192.0.2.240", "192.0.2.5/24"],
    "addons_log_collector_outputs": [{"Match": "*"}],
    "addons_local_path_dir": "data",
}

PLAY = "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: addons\n"


def run(tmp: pathlib.Path, *args: str, variables: dict | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook of a one-role play on localhost (the role delegates to the controller anyway)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "play.yml").write_text(PLAY)
    cmd = [str(PLAYBOOK), "-i", "localhost,", "-c", "local", str(tmp / "play.yml"), *args]
    if variables is not None:
        path = tmp / f"vars-{len(list(tmp.glob('vars-*')))}.json"
        path.write_text(json.dumps(variables))
        cmd += ["-e", f"@{path}"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-tmp"), "HOME": str(tmp)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp)


def changed(proc) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Five runs, four of them side by side: every variable changed; --check of the same (idempotence);
    the defaults over the files of a run with MetalLB; bad settings; apply to nowhere."""
    base = tmp_path_factory.mktemp("addons")
    dirs = {name: base / name for name in ("custom", "defaults", "bad", "unreachable")}
    (dirs["defaults"] / "out").mkdir(parents=True)
    (dirs["defaults"] / "out" / "metallb-config.yaml").write_text("stale\n")
    render = ("-e", "addons_render_dir=out")  # relative: to the directory ansible-playbook runs in
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            "defaults": pool.submit(run, dirs["defaults"], *render),
            "bad": pool.submit(run, dirs["bad"], *render, variables=BAD),
            "unreachable": pool.submit(run, dirs["unreachable"], "-e",
                                       f"kubesmith_kubeconfig={unreachable_kubeconfig(dirs['unreachable'])}"),
        }
        results = {"custom": run(dirs["custom"], *render, variables=CUSTOM)}
        results["check"] = run(dirs["custom"], "--check", "--diff", *render, variables=CUSTOM)
        results.update({name: future.result() for name, future in futures.items()})
    return {name: (dirs.get(name, dirs["custom"]), proc) for name, proc in results.items()}


def objects(directory: pathlib.Path, name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((directory / "out" / name).read_text()) if doc]


@pytest.fixture(scope="module")
def custom(runs):
    directory, proc = runs["custom"]
    assert proc.returncode == 0, oneline(proc)
    return {name: objects(directory, name) for name in FILES}


@pytest.fixture(scope="module")
def defaults(runs):
    directory, proc = runs["defaults"]
    assert proc.returncode == 0, oneline(proc)
    return {p.name: objects(directory, p.name) for p in sorted((directory / "out").iterdir())}


# -- the runs ---------------------------------------------------------------------------------------


def test_all_addons_render_and_a_check_run_then_changes_nothing(runs, custom):
    assert sorted(p.name for p in (runs["custom"][0] / "out").iterdir()) == sorted(FILES)
    assert "No API server was contacted" in oneline(runs["custom"][1])
    check = runs["check"][1]
    assert check.returncode == 0, oneline(check)
    assert changed(check) == 0
    assert "Would render" in oneline(check)


def test_the_defaults_leave_metallb_out_say_so_and_remove_its_old_files(runs, defaults):
    assert sorted(defaults) == ["local-path.yaml", "log-collector.yaml", "metrics-server.yaml"]
    text = oneline(runs["defaults"][1])
    assert "MetalLB is not deployed: kubesmith_metallb_addresses is empty" in text
    assert "Not deployed: metallb, metallb-config" in text
    assert "Fluent Bit has no addons_log_collector_outputs" in text


def test_bad_settings_fail_naming_every_variable_and_render_nothing(runs):
    directory, proc = runs["bad"]
    assert proc.returncode != 0
    text = oneline(proc)
    assert "4 problem(s) in the addons settings" in text
    for words in ("kubesmith_metallb_addresses[0] (addons_metallb_addresses): '192.0.2.250-192.0.2.240' starts "
                  "after it ends: write it as 192.0.2.240-192.0.2.250",
                  "kubesmith_metallb_addresses[1] (addons_metallb_addresses): '192.0.2.5/24' has host bits set",
                  "addons_log_collector_outputs[0] has no Name", "addons_local_path_dir 'data'"):
        assert words in text
    assert not (directory / "out").exists()


def test_apply_stops_at_an_api_server_that_does_not_answer(runs):
    directory, proc = runs["unreachable"]
    assert proc.returncode != 0
    text = oneline(proc)
    assert f"addons: cannot talk to the Kubernetes API with {directory / 'kubeconfig'}" in text
    assert "Apply each add-on" not in text


# -- schemas ----------------------------------------------------------------------------------------


def test_every_object_validates_strictly_except_the_custom_resources(custom, defaults):
    skipped = set()
    for rendered in (custom, defaults):
        for name, objs in rendered.items():
            for obj in objs:
                if (obj["apiVersion"], obj["kind"]) in CR_KINDS:
                    skipped.add((obj["apiVersion"], obj["kind"]))
                    continue
                try:
                    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
                except kv_utils.ValidationError as exc:
                    pytest.fail(f"{name}: {obj['kind']} {obj['metadata'].get('name')}: "
                                f"{'.'.join(map(str, exc.path))}: {exc.message}")
    assert skipped == CR_KINDS


def test_the_custom_resource_kinds_are_defined_by_the_metallb_crds(custom):
    crds = [o for o in custom["metallb.yaml"] if o["kind"] == "CustomResourceDefinition"]
    defined = {(f"{c['spec']['group']}/{v['name']}", c["spec"]["names"]["kind"])
               for c in crds for v in c["spec"]["versions"]}
    assert defined >= CR_KINDS


# -- the templated values -------------------------------------------------------------------------------


def _containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def test_every_image_comes_from_addons_images_and_each_is_used(custom):
    used = set()
    for objs in custom.values():
        for obj in objs:
            if obj["kind"] in ("Deployment", "DaemonSet"):
                used.update(c["image"] for c in _containers(obj))
    helper = yaml.safe_load(one(custom["local-path.yaml"], "ConfigMap")["data"]["helperPod.yaml"])
    used.update(c["image"] for c in helper["spec"]["containers"])
    listed = {ref for refs in IMAGES.values() for ref in refs}
    assert used == listed
    assert all(re.search(r":[\w.-]+$", ref) and ref.count("/") >= 2 for ref in listed), "full references with tag"


def test_metrics_server_kubelet_tls(custom, defaults):
    verified = _containers(one(custom["metrics-server.yaml"], "Deployment"))[0]
    insecure = _containers(one(defaults["metrics-server.yaml"], "Deployment"))[0]
    assert "--kubelet-insecure-tls" not in verified["args"]
    assert insecure["args"] == verified["args"] + ["--kubelet-insecure-tls"]
    assert verified["image"] == IMAGES["metrics_server"][0]
    service = one(custom["metrics-server.yaml"], "APIService")
    assert service["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system"}


def test_fluent_bit_tails_the_container_logs_into_the_given_outputs(custom, defaults):
    objs = custom["log-collector.yaml"]
    assert {o["metadata"].get("namespace", "logs") for o in objs} == {"logs"}
    assert one(objs, "Namespace")["metadata"]["name"] == "logs"
    assert one(objs, "ClusterRoleBinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "fluent-bit", "namespace": "logs"}]
    assert one(objs, "ClusterRole")["rules"][0]["resources"] == ["namespaces", "pods"]
    conf = one(objs, "ConfigMap")["data"]["fluent-bit.conf"]
    assert "    Name tail\n    Path /var/log/containers/*.log\n" in conf
    assert "[FILTER]\n    Name kubernetes\n    Match kube.*\n" in conf
    assert ("[OUTPUT]\n    Name            es\n    Match           kube.*\n    Host            elasticsearch.logging\n"
            "    Port            9200\n    Logstash_Format On\n") in conf
    assert "[OUTPUT]\n    Name  forward\n    Match *\n    Host  10.0.0.5\n    Port  24224\n" in conf
    assert "stdout" not in conf
    default_conf = one(defaults["log-collector.yaml"], "ConfigMap")["data"]["fluent-bit.conf"]
    assert default_conf.endswith("[OUTPUT]\n    Name  stdout\n    Match *\n")
    ds = one(objs, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(objs, "ServiceAccount")["metadata"]["name"]
    assert {"name": "varlog", "hostPath": {"path": "/var/log"}} in pod["volumes"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    # a changed configuration rolls the pods
    hashes = {one(r["log-collector.yaml"], "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
              ["kubesmith.io/config-hash"] for r in (custom, defaults)}
    assert len(hashes) == 2


def test_local_path_storage_class_and_directory(custom, defaults):
    default_class = one(defaults["local-path.yaml"], "StorageClass")
    assert default_class["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert default_class["provisioner"] == "rancher.io/local-path"
    assert default_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert "annotations" not in one(custom["local-path.yaml"], "StorageClass")["metadata"]
    for rendered, path in ((custom, "/data/local-pv"), (defaults, "/opt/local-path-provisioner")):
        config = json.loads(one(rendered["local-path.yaml"], "ConfigMap")["data"]["config.json"])
        assert config == {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [path]}]}


def test_metallb_is_upstreams_manifest_and_its_pool_holds_the_addresses(runs, custom):
    text = (runs["custom"][0] / "out" / "metallb.yaml").read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == METALLB_NATIVE_SHA256
    native = custom["metallb.yaml"]
    assert {c["image"] for o in native if o["kind"] in ("Deployment", "DaemonSet") for c in _containers(o)} == set(
        IMAGES["metallb"])
    speaker = _containers(one(native, "DaemonSet", "speaker"))[0]
    assert {(p["containerPort"], p.get("protocol", "TCP")) for p in speaker["ports"]} >= {(7946, "TCP"), (7946, "UDP")}
    pool = one(custom["metallb-config.yaml"], "IPAddressPool")
    assert pool["metadata"]["namespace"] == "metallb-system"
    assert pool["spec"]["addresses"] == ["192.0.2.240-192.0.2.250", "198.51.100.0/28", "2001:db8::/124"]
    advertisement = one(custom["metallb-config.yaml"], "L2Advertisement")
    assert advertisement["spec"]["ipAddressPools"] == [pool["metadata"]["name"]]
