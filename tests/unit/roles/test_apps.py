"""Role apps: the real templates rendered in-process (Ansible's own templating) and validated strictly
against the Kubernetes schemas, then playbooks/apps.yml run for real in render-only mode (files,
idempotence, --check --diff, state: absent, Vault values, bad specs) and the apply path up to an API
server that does not answer. No API server is contacted and none is faked.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import apps
import pytest
import yaml
from role_testing import kinds, one, oneline, unreachable_kubeconfig

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "apps"
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
SAMPLE_INVENTORY = ROOT / "inventory" / "sample" / "hosts.yml"
SAMPLE = yaml.safe_load((ROOT / "inventory" / "sample" / "group_vars" / "all" / "apps.yml").read_text())["apps_list"]
VERSIONS = apps.apps_schema_versions()

# Every feature the sample does not use: a ReplicationController with tricky values and tcp/exec
# probes behind a two-port LoadBalancer, a log-collector DaemonSet on every node, an app of Jobs only.
KITCHEN_SINK = [
    {"name": "legacy", "kind": "ReplicationController", "namespace": "default", "replicas": 3,
     "image": "registry.example:5000/team/legacy", "tag": "2.0", "pull_policy": "IfNotPresent",
     "command": ["/bin/legacy"], "args": ["--port", "9000"],
     "ports": [9000, {"name": "metrics", "port": 9100, "protocol": "TCP"}],
     "env": {"MODE": "yes", "RATIO": "1.10", "COLON": "a: b # not a comment", "POD_IP": {"field": "status.podIP"}},
     "liveness": {"tcp": True, "port": 9000}, "readiness": {"exec": ["cat", "/tmp/ready"], "period": 5},
     "service": {"type": "LoadBalancer", "ports": [{"port": 80, "target": 9000}, {"port": 9100, "target": "metrics"}]}},
    {"name": "logs", "kind": "DaemonSet", "namespace": "logging", "labels": {"tier": "logging"},
     "image": "cr.fluentbit.io/fluent/fluent-bit", "tag": "3.1.9",
     "config": {"fluent-bit.conf": "[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n"},
     "volumes": [{"name": "varlog", "type": "host_path", "path": "/var/log", "mount": "/var/log", "read_only": True},
                 {"name": "conf", "type": "config", "mount": "/fluent-bit/etc"}],
     "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
     "node_selector": {"kubernetes.io/os": "linux"}, "resources": {"limits": {"memory": "200Mi", "cpu": 0.5}}},
    {"name": "reports", "kind": "none", "namespace": "batch",
     "secret": {"DB_PASSWORD": "pw"}, "config": {"QUERY": "select 1"},
     "volumes": [{"name": "creds", "type": "secret"},
                 {"name": "out", "type": "claim", "size": "5Gi", "storage_class": "fast",
                  "access_modes": ["ReadWriteMany"]}],
     "jobs": [{"name": "nightly", "image": "docker.io/library/postgres", "tag": "16", "schedule": "0 3 * * *",
               "command": ["psql"], "env": {"PGPASSWORD": {"secret": "DB_PASSWORD"}, "Q": {"config": "QUERY"}},
               "mounts": {"out": "/out", "creds": "/creds"}, "restart_policy": "OnFailure",
               "concurrency_policy": "Replace"},
              {"name": "once", "image": "docker.io/library/postgres", "tag": "16",
               "command": ["psql", "-c", "select 1"], "backoff_limit": 0, "mounts": {"out": "/out"}}]},
]


@pytest.fixture(scope="module")
def render():
    """Render app specs with the role's templates through Ansible's own template lookup."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader()
    templar = Templar(loader=DataLoader())
    expression = trust_as_template(
        "{{ lookup('ansible.builtin.template', 'app.yaml.j2', template_vars={'app': _app}) }}")

    cache = {}

    def _render(specs: list[dict]) -> dict[str, list[dict]]:
        key = json.dumps(specs, sort_keys=True)
        if key not in cache:
            cache[key] = {}
            for app in apps.apps_normalize(specs):
                templar.available_variables = {"ansible_search_path": [str(ROLE)], "_app": app}
                cache[key][app["name"]] = apps.apps_manifests(templar.template(expression), app["name"])
        return copy.deepcopy(cache[key])

    return _render


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def test_the_sample_renders_the_seed_objects(render):
    rendered = render(SAMPLE)
    assert kinds(rendered["backend"]) == [
        ("Namespace", "myapp"), ("ConfigMap", "backend-config"), ("Secret", "backend-secret"),
        ("PersistentVolumeClaim", "backend-data"), ("Service", "backend-service"), ("Deployment", "backend")]
    assert kinds(rendered["frontend"]) == [
        ("Namespace", "myapp"), ("ConfigMap", "frontend-config"), ("Service", "frontend"), ("Deployment", "frontend"),
        ("Job", "frontend-smoke-test")]
    backend = one(rendered["backend"], "Deployment")
    assert [c["name"] for c in backend["spec"]["template"]["spec"]["containers"]] == ["backend", "log-shipper"]
    assert backend["spec"]["template"]["metadata"]["labels"]["tier"] == "backend"
    assert one(rendered["frontend"], "Deployment")["spec"]["template"]["metadata"]["labels"]["tier"] == "frontend"
    assert one(rendered["frontend"], "ConfigMap")["data"]["BACKEND_URL"] == "http://backend-service:8080"


@pytest.fixture(scope="module")
def rendered_sample_and_kitchen_sink(render):
    return {"sample": render(SAMPLE), "kitchen-sink": render(KITCHEN_SINK)}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_sample_validates_strictly_against_every_version(rendered_sample_and_kitchen_sink, version):
    for name, objects in rendered_sample_and_kitchen_sink["sample"].items():
        assert apps.apps_schema_problems(objects, version, name) == []


@pytest.mark.parametrize("version", sorted({VERSIONS[0], "1.31", VERSIONS[-1]}))
def test_every_feature_validates_strictly(rendered_sample_and_kitchen_sink, version):
    for name, objects in rendered_sample_and_kitchen_sink["kitchen-sink"].items():
        assert apps.apps_schema_problems(objects, version, name) == []


def test_services_select_the_workload_pods_and_never_job_pods(render):
    for objects in {**render(SAMPLE), **render(KITCHEN_SINK)}.values():
        services = [o for o in objects if o["kind"] == "Service"]
        workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet", "ReplicationController")]
        jobs = [o for o in objects if o["kind"] in ("Job", "CronJob")]
        for workload in workloads:
            selector = workload["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
            for service in services:
                assert service["spec"]["selector"] == selector
        for job in jobs:
            labels = pod_spec(job)["metadata"]["labels"]
            for service in services:
                assert not service["spec"]["selector"].items() <= labels.items(), job["metadata"]["name"]


def test_every_object_carries_the_app_labels_and_namespace(render):
    for name, objects in render(SAMPLE).items():
        for obj in objects:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "kubesmith"
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == "myapp"
                assert (labels["app"], labels["tier"], labels["app.kubernetes.io/instance"]) == ("myapp", name, name)


def test_a_new_tag_changes_only_the_image(render):
    before = one(render(SAMPLE)["backend"], "Deployment")
    specs = copy.deepcopy(SAMPLE)
    specs[0]["tag"] = "1.27.4-alpine"
    after = one(render(specs)["backend"], "Deployment")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/nginx:1.27.4-alpine"
    after["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/library/nginx:1.27.3-alpine"
    assert after == before  # same selector, replicas and strategy: a rolling update, nothing else


def test_new_replicas_change_only_the_count(render):
    before = render(SAMPLE)["backend"]
    specs = copy.deepcopy(SAMPLE)
    specs[0]["replicas"] = 5
    after = render(specs)["backend"]
    assert one(after, "Deployment")["spec"]["replicas"] == 5
    one(after, "Deployment")["spec"]["replicas"] = 2
    assert after == before


def test_new_config_rolls_the_pods(render):
    before = one(render(SAMPLE)["frontend"], "Deployment")
    specs = copy.deepcopy(SAMPLE)
    specs[1]["config"]["BACKEND_URL"] = "http://backend-service.myapp.svc:8080"
    after = one(render(specs)["frontend"], "Deployment")
    key = "kubesmith.io/config-hash"
    assert after["spec"]["template"]["metadata"]["annotations"][key] != \
        before["spec"]["template"]["metadata"]["annotations"][key]


def test_values_yaml_would_misread_stay_strings(render):
    rc = one(render(KITCHEN_SINK)["legacy"], "ReplicationController")
    env = rc["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e.get("value") for e in env} == {
        "MODE": "yes", "RATIO": "1.10", "COLON": "a: b # not a comment", "POD_IP": None}
    assert env[-1]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_secret_data_is_base64_of_the_values(render):
    secret = one(render(SAMPLE)["backend"], "Secret")
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {"API_TOKEN": "change-me"}


def test_each_pod_gets_only_the_volumes_its_containers_mount(render):
    rendered = render(KITCHEN_SINK)
    nightly, once = one(rendered["reports"], "CronJob"), one(rendered["reports"], "Job")
    assert [v["name"] for v in pod_spec(nightly)["spec"]["volumes"]] == ["creds", "out"]
    assert [v["name"] for v in pod_spec(once)["spec"]["volumes"]] == ["out"]
    assert pod_spec(nightly)["spec"]["volumes"][0] == {"name": "creds", "secret": {"secretName": "reports-secret"}}
    claim = one(rendered["reports"], "PersistentVolumeClaim")
    assert claim["spec"] == {"accessModes": ["ReadWriteMany"], "storageClassName": "fast",
                             "resources": {"requests": {"storage": "5Gi"}}}
    assert "Deployment" not in [k for k, _ in kinds(rendered["reports"])]


def test_workload_kinds_take_their_own_shape(render):
    rendered = render(KITCHEN_SINK)
    rc = one(rendered["legacy"], "ReplicationController")
    assert rc["apiVersion"] == "v1"
    assert rc["spec"]["selector"]["app.kubernetes.io/instance"] == "legacy"  # a plain map, not matchLabels
    assert "Namespace" not in [k for k, _ in kinds(rendered["legacy"])]  # default is never created
    daemonset = one(rendered["logs"], "DaemonSet")
    assert "replicas" not in daemonset["spec"]
    assert daemonset["spec"]["template"]["spec"]["tolerations"][0]["operator"] == "Exists"
    service = one(rendered["legacy"], "Service")
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("port-80", 80, 9000), ("metrics", 9100, "metrics")]


def test_strict_validation_catches_a_misspelt_passthrough_field(render):
    specs = copy.deepcopy(KITCHEN_SINK)
    specs[1]["tolerations"] = [{"key": "node-role.kubernetes.io/control-plane", "operater": "Exists"}]
    (problem,) = apps.apps_schema_problems(render(specs)["logs"], "1.31", "logs")
    assert problem.startswith("app 'logs': DaemonSet logging/logs: spec.template.spec.tolerations.0: Additional "
                              "properties are not allowed ('operater' was unexpected)")


# The role's own variables (vars/main.yml), evaluated as the tasks evaluate them -----------------


@pytest.fixture(scope="module")
def role_vars(render):  # render: the plugin loader is set up
    """Evaluate the role's variables with apps_list and what apply.yml would have registered
    (recorded k8s_info results): the apply path's decisions, without an API server."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import filter_loader
    from ansible.template import Templar, trust_as_template

    filter_loader.add_directory(str(ROOT / "filter_plugins"))
    role = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
            **yaml.safe_load((ROLE / "vars" / "main.yml").read_text())}

    def _evaluate(expression: str, **variables):
        trusted = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in role.items()}
        templar = Templar(loader=DataLoader(), variables={
            **trusted, "ansible_search_path": [str(ROLE)], "apps_list": SAMPLE, **variables})
        return templar.template(trust_as_template(expression))

    return _evaluate


def test_check_mode_lists_what_goes_into_namespaces_that_do_not_exist_yet(role_vars):
    fresh = role_vars("{{ _apps_unpreviewed }}", _apps_namespaces={"resources": [{"metadata": {"name": "default"}}]})
    assert [(o["kind"], o["metadata"]["name"]) for o in fresh] == [
        ("ConfigMap", "backend-config"), ("Secret", "backend-secret"), ("PersistentVolumeClaim", "backend-data"),
        ("Service", "backend-service"), ("Deployment", "backend"), ("ConfigMap", "frontend-config"),
        ("Service", "frontend"), ("Deployment", "frontend"), ("Job", "frontend-smoke-test")]
    assert "data" not in fresh[1]  # references only: no Secret data in the message
    existing = {"resources": [{"metadata": {"name": "default"}}, {"metadata": {"name": "myapp"}}]}
    assert role_vars("{{ _apps_unpreviewed }}", _apps_namespaces=existing) == []


def test_apply_order_and_what_is_waited_for(role_vars):
    objects = role_vars("{{ _apps_apply_objects }}")
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service",
                                            "Deployment", "ConfigMap", "Service", "Deployment", "Job"]
    assert [(app["name"], job["name"]) for app, job in role_vars("{{ _apps_waited_jobs }}")] == [
        ("frontend", "frontend-smoke-test")]
    assert role_vars("{{ _apps_replication_controllers }}") == []
    assert [a["name"] for a in role_vars("{{ _apps_replication_controllers }}", apps_list=KITCHEN_SINK)] == ["legacy"]
    assert role_vars("{{ _apps_wait_retries }}") == 60
    assert role_vars("{{ _apps_wait_retries }}", apps_wait_timeout=7) == 2


def test_absent_apps_are_deleted_workloads_first_by_reference(role_vars):
    refs = role_vars("{{ _apps_delete_objects }}", apps_list=CHANGED)  # the backend is absent
    assert [(r["kind"], r["metadata"]["name"]) for r in refs] == [
        ("Deployment", "backend"), ("Service", "backend-service"), ("PersistentVolumeClaim", "backend-data"),
        ("Secret", "backend-secret"), ("ConfigMap", "backend-config")]
    assert all(set(r) == {"apiVersion", "kind", "metadata"} for r in refs)
    assert role_vars("{{ _apps_public | apps_orphan_namespaces }}", apps_list=CHANGED) == []  # the frontend stays
    everything_absent = [{**a, "state": "absent"} for a in SAMPLE]
    assert role_vars("{{ _apps_public | apps_orphan_namespaces }}", apps_list=everything_absent) == ["myapp"]


def test_loop_items_carry_no_secret_values(role_vars):
    public = role_vars("{{ _apps_public }}")
    assert public[0]["secret"] == {"API_TOKEN": "(hidden)"}
    assert "change-me" not in json.dumps(public)


def test_a_failed_rollout_is_explained_from_the_pods(role_vars):
    pods = {"results": [
        {"resources": [
            {"metadata": {"name": "backend-7c9-x2"}, "status": {"phase": "Pending", "containerStatuses": [
                {"name": "backend", "ready": False, "state": {"waiting": {"reason": "ErrImagePull"}}}]}},
            {"metadata": {"name": "frontend-smoke-test-9k"}, "status": {"phase": "Succeeded"}}]},
        {"skipped": True, "item": "other"},
    ]}
    assert role_vars("{{ _apps_pod_problems }}", _apps_pods=pods) == [
        "pod backend-7c9-x2 (Pending): container backend waiting: ErrImagePull"]
    jobs = {"results": [{"resources": [{"metadata": {"name": "frontend-smoke-test", "namespace": "myapp"},
                                        "status": {"conditions": [{"type": "Failed", "status": "True",
                                                                   "reason": "BackoffLimitExceeded"}]}}]}]}
    assert role_vars("{{ _apps_jobs_failed }}", _apps_job_state=jobs) == [
        "myapp/frontend-smoke-test: BackoffLimitExceeded"]


def test_kubeconfig_is_an_absolute_controller_path(role_vars):
    assert role_vars("{{ _apps_kubeconfig }}", apps_kubeconfig="~/.kube/config") == \
        str(pathlib.Path("~/.kube/config").expanduser().resolve())
    assert role_vars("{{ _apps_kubeconfig }}") == ""


# playbooks/apps.yml for real, render only ------------------------------------------------------


def run(tmp_path: pathlib.Path, *args: str, variables: dict | str | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook playbooks/apps.yml with the sample inventory (and its group_vars)."""
    cmd = [str(PLAYBOOK), "-i", str(SAMPLE_INVENTORY), str(ROOT / "playbooks" / "apps.yml"), *args]
    if variables is not None:
        path = tmp_path / f"vars-{len(list(tmp_path.glob('vars-*')))}.yml"
        path.write_text(variables if isinstance(variables, str) else json.dumps(variables))
        cmd += ["-e", f"@{path}"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".ansible-tmp")}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path)


def changed(proc) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


def _vault(plaintext: str) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(b"test-vault-password"))]).encrypt(plaintext).decode()


VAULTED = "vaulted-s3cr3t-token"
# the sample, changed: the frontend gets a new tag, the backend is absent, a third app holds a Vault value
CHANGED = copy.deepcopy(SAMPLE)
CHANGED[0]["state"] = "absent"
CHANGED[1]["tag"] = "1.27.4-alpine"
BAD = copy.deepcopy(SAMPLE)
BAD[0]["replicas"] = "two"
BAD[1]["service"]["type"] = "Nodeport"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every playbook run of this module, started together where they do not depend on each other
    (ansible-playbook spends most of its time starting up): name -> (directory, CompletedProcess).

    - render, rerender: the sample rendered into out/, twice;
    - check: --check --diff of CHANGED on a copy of that out/;
    - change: CHANGED with the Vault app for real, with --diff and -v, on another copy;
    - bad: a spec with two problems; apply: the apply path with an unreachable API server.
    """
    dirs = {name: tmp_path_factory.mktemp(f"apps-{name}") for name in
            ("render", "check", "change", "bad", "apply")}
    (dirs["change"] / "vault-pass").write_text("test-vault-password\n")
    vaulted_app = {"name": "vaulted", "namespace": "myapp", "kind": "none", "secret": {"TOKEN": "VAULT"}}
    change_vars = yaml.safe_dump({"apps_list": [*CHANGED, vaulted_app]}).replace(
        "TOKEN: VAULT", "TOKEN: !vault |\n" + "".join(f"        {line}\n" for line in _vault(VAULTED).splitlines()))
    render_args = ("-e", "apps_render_dir=out")  # relative: to the directory ansible-playbook runs in
    results = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        bad = pool.submit(run, dirs["bad"], *render_args, variables={"apps_list": BAD})
        apply = pool.submit(run, dirs["apply"], "-e", f"apps_kubeconfig={unreachable_kubeconfig(dirs['apply'])}")
        results["render"] = run(dirs["render"], *render_args)
        for name in ("check", "change"):
            shutil.copytree(dirs["render"] / "out", dirs[name] / "out")
        rerender = pool.submit(run, dirs["render"], *render_args)
        check = pool.submit(run, dirs["check"], "--check", "--diff", *render_args, variables={"apps_list": CHANGED})
        change = pool.submit(run, dirs["change"], "--diff", "-v", "--vault-password-file",
                             str(dirs["change"] / "vault-pass"), *render_args, variables=change_vars)
        results.update(rerender=rerender.result(), check=check.result(), change=change.result(), bad=bad.result(),
                       apply=apply.result())
    return {name: (dirs[name.replace("rerender", "render")], proc) for name, proc in results.items()}


def test_render_only_writes_one_file_per_app(runs):
    tmp, proc = runs["render"]
    out = tmp / "out"
    assert proc.returncode == 0, oneline(proc)
    assert sorted(p.name for p in out.iterdir()) == ["backend.yaml", "frontend.yaml"]
    assert stat.S_IMODE((out / "backend.yaml").stat().st_mode) == 0o600  # holds a Secret
    assert stat.S_IMODE((out / "frontend.yaml").stat().st_mode) == 0o644
    assert f"Rendered 10 objects of 2 app(s) into {out.resolve()}" in oneline(proc)
    assert "No API server was contacted" in oneline(proc)


def test_rendered_files_pass_strict_validation(runs):
    tmp, _ = runs["render"]
    for path in (tmp / "out").iterdir():
        text = path.read_text()
        assert text.startswith(f"# Rendered by kubesmith (roles/apps) from apps_list: app {path.stem}, "
                               "namespace myapp.")
        objects = list(yaml.safe_load_all(text))
        assert len(objects) == {"backend.yaml": 6, "frontend.yaml": 5}[path.name]
        assert apps.apps_schema_problems(objects, "1.31.4", path.stem) == []


def test_a_second_render_changes_nothing(runs):
    _, proc = runs["rerender"]
    assert proc.returncode == 0, oneline(proc)
    assert changed(proc) == 0, proc.stdout


def test_check_diff_shows_a_new_tag_and_an_absent_app_and_writes_nothing(runs):
    tmp, proc = runs["check"]
    assert proc.returncode == 0, oneline(proc)
    assert re.search(r"^-\s+image: docker.io/library/nginx:1.27.3-alpine$", proc.stdout, re.MULTILINE)
    assert re.search(r"^\+\s+image: docker.io/library/nginx:1.27.4-alpine$", proc.stdout, re.MULTILINE)
    assert re.search(r"changed: \[localhost\] => \(item=\S+/out/backend.yaml\)", proc.stdout)  # would be removed
    assert "Would render 5 objects of 1 app(s)" in oneline(proc)
    render_dir = runs["render"][0] / "out"
    assert {p.name: p.read_text() for p in (tmp / "out").iterdir()} == \
        {p.name: p.read_text() for p in render_dir.iterdir()}


def test_a_new_tag_is_written_and_an_absent_app_removed(runs):
    tmp, proc = runs["change"]
    assert proc.returncode == 0, oneline(proc)
    assert sorted(p.name for p in (tmp / "out").iterdir()) == ["frontend.yaml", "vaulted.yaml"]
    objects = list(yaml.safe_load_all((tmp / "out" / "frontend.yaml").read_text()))
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.27.4-alpine")
    assert re.search(r"^\+\s+image: docker.io/library/nginx:1.27.4-alpine$", proc.stdout, re.MULTILINE)


def test_vault_values_are_rendered_and_never_printed(runs):
    tmp, proc = runs["change"]
    assert proc.returncode == 0, oneline(proc)
    path = tmp / "out" / "vaulted.yaml"
    assert base64.b64decode(one(yaml.safe_load_all(path.read_text()), "Secret")["data"]["TOKEN"]).decode() == VAULTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "-v" in proc.args  # verbose output prints loop items and results
    assert VAULTED not in proc.stdout + proc.stderr
    assert base64.b64encode(VAULTED.encode()).decode() not in proc.stdout + proc.stderr


def test_a_bad_spec_stops_before_anything_is_written(runs):
    tmp, proc = runs["bad"]
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert "2 problem(s) in the app specs" in out
    assert "apps_list[0] (app 'backend'): replicas: must be an integer >= 0, got 'two'" in out
    assert "apps_list[1] (app 'frontend'): service.type: must be one of ClusterIP, NodePort, LoadBalancer" in out
    assert not (tmp / "out").exists()


def test_apply_without_a_reachable_api_server_says_what_to_set(runs):
    tmp, proc = runs["apply"]
    out = oneline(proc)
    assert proc.returncode != 0, out
    assert f"apps: cannot talk to the Kubernetes API (kubeconfig: {tmp / 'kubeconfig'})" in out
    assert "Connection refused" in out
    assert "-e apps_render_dir=DIR" in out
    assert "TASK [apps : Apply each object" not in proc.stdout
