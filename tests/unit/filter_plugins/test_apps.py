"""filter_plugins/apps.py: spec checks (good and bad specs), normalization, offline validation and
the helpers of the apps role's tasks."""

import copy
import pathlib

import apps
import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLE = yaml.safe_load((ROOT / "inventory" / "sample" / "group_vars" / "all" / "apps.yml").read_text())["apps_list"]

MINIMAL = {"name": "web", "image": "docker.io/library/nginx", "tag": "1.27.3", "ports": [{"name": "http", "port": 80}]}


def problems_of(**fields):
    """The problems of one app: MINIMAL with ``fields`` set (None removes a field)."""
    app = {**copy.deepcopy(MINIMAL), **fields}
    return apps.apps_problems([{k: v for k, v in app.items() if v is not None}])


def test_the_sample_app_has_no_problems():
    assert apps.apps_problems(SAMPLE, "1.31.4") == []


def test_the_sample_app_normalized():
    backend, frontend = apps.apps_normalize(SAMPLE)
    assert backend["image"] == "docker.io/library/nginx:1.27.3-alpine"
    assert backend["service"]["name"] == "backend-service"
    assert backend["selector"] == {"app": "myapp", "tier": "backend", "app.kubernetes.io/instance": "backend",
                                   "app.kubernetes.io/component": "main"}
    assert backend["labels"]["tier"] == "backend"
    assert backend["labels"]["app.kubernetes.io/managed-by"] == "kubesmith"
    assert [v["claim_name"] for v in backend["volumes"] if v["type"] == "claim"] == ["backend-data"]
    assert backend["secret_name"] == "backend-secret"
    assert [s["name"] for s in backend["sidecars"]] == ["log-shipper"]
    assert frontend["service"] == {"name": "frontend", "type": "NodePort", "ports": [
        {"name": None, "port": 80, "target": "http", "node_port": 30080, "protocol": "TCP"}]}
    assert frontend["readiness"]["port"] == "http"  # defaulted to the first port
    assert [(j["kind"], j["name"], j["image"]) for j in frontend["jobs"]] == [
        ("Job", "frontend-smoke-test", "docker.io/library/busybox:1.36.1")]
    assert {backend["namespace"], frontend["namespace"]} == {"myapp"}


def test_defaults_of_a_minimal_app():
    (app,) = apps.apps_normalize([MINIMAL])
    assert (app["namespace"], app["kind"], app["replicas"]) == ("web", "Deployment", 1)
    assert app["strategy"] == "RollingUpdate"
    assert app["labels"]["app"] == "web"
    assert app["service"] is None
    assert app["config_hash"] is None
    assert app["create_namespace"] is True


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": None}, "apps_list[0]: name: required"),
        ({"name": "Web"}, "apps_list[0] (app 'Web'): name: must be 63 characters at most"),
        ({"name": "9web"}, "starting with a lowercase letter"),
        ({"replica": 2}, "(app 'web'): replica: unknown field (did you mean 'replicas'?)"),
        ({"tag": None}, "(app 'web'): tag: required for image 'docker.io/library/nginx'"),
        ({"tag": 1.1}, "(app 'web'): tag: 1.1 is a number, and YAML may have changed it (1.10 reads as 1.1): quote it"),
        ({"image": "nginx:1.27"}, "(app 'web'): image: 'nginx:1.27' carries a tag: put it in tag instead"),
        ({"image": "nginx@sha256:" + "a" * 64}, "(app 'web'): tag: not allowed when the image is pinned by digest"),
        ({"replicas": "two"}, "(app 'web'): replicas: must be an integer >= 0, got 'two'"),
        ({"replicas": True}, "replicas: must be an integer >= 0, got true (a boolean)"),
        ({"kind": "Deploymnet"}, "kind: must be one of Deployment, ReplicationController, DaemonSet, none, "
                                 "got 'Deploymnet' (did you mean 'Deployment'?)"),
        ({"kind": "DaemonSet", "replicas": 3}, "(app 'web'): replicas: a DaemonSet runs one pod per node"),
        ({"kind": "DaemonSet", "strategy": "Recreate"}, "(app 'web'): strategy: only a Deployment"),
        ({"ports": [{"port": 70000}]}, "(app 'web'): ports[0].port: must be an integer from 1 to 65535, got 70000"),
        ({"ports": [{"name": "http-for-the-frontend", "port": 80}]}, "ports[0].name: 'http-for-the-frontend' is not a "
                                                                     "port name"),
        ({"ports": "80"}, "(app 'web'): ports: must be a list, got '80'"),
        ({"env": {"TOKEN": {"secret": "token"}}, "secret": {"TOKEN": "x"}},
         "(app 'web'): env.TOKEN.secret: 'token' is not a key of the app's secret (keys: TOKEN) "
         "(did you mean 'TOKEN'?)"),
        ({"env": {"URL": {"config": "url"}}}, "env.URL.config: 'url' is not a key of the app's config (keys: none)"),
        ({"env": {"X": None}}, "(app 'web'): env.X: has no value"),
        ({"env": {"X": {"value": 1, "config": "a"}}}, "env.X: give exactly one of value, config"),
        ({"env": {"NODE": {"field": "spec.node"}}}, "env.NODE.field: must be one of metadata.name"),
        ({"env": {"1X": "a"}}, "env: '1X' is not an environment variable name"),
        ({"config": {"a b": "x"}}, "(app 'web'): config: 'a b' is not a valid key"),
        ({"volumes": [{"name": "data", "type": "claim", "mount": "/data"}]},
         "(app 'web'): volumes.data.size: required for a claim (like 1Gi)"),
        ({"volumes": [{"name": "data", "type": "claim", "size": "1 GB", "mount": "/data"}]},
         "volumes.data.size: '1 GB' is not a Kubernetes quantity"),
        ({"volumes": [{"name": "data", "type": "claim", "size": "1Gi"}]},
         "(app 'web'): volumes.data: mounted nowhere"),
        ({"volumes": [{"name": "data", "type": "nfs", "mount": "/d"}]},
         "volumes.data.type: must be one of claim, empty_dir, config, secret, host_path"),
        ({"volumes": [{"name": "conf", "type": "config", "mount": "/etc/x"}]},
         "volumes.conf.type: config mounts the app's ConfigMap, but the app has no config"),
        ({"volumes": [{"name": "logs", "type": "empty_dir", "mount": "var/log"}]},
         "volumes.logs.mount: must be an absolute path"),
        ({"volumes": [{"name": "logs", "type": "empty_dir", "mount": "/l", "size": "1Gi"}]},
         "volumes.logs.size: not used by a volume of type empty_dir"),
        ({"kind": "DaemonSet", "volumes": [{"name": "d", "type": "claim", "size": "1Gi", "mount": "/d"}]},
         "volumes.d.access_modes: a DaemonSet's pods run on every node and cannot share a ReadWriteOnce claim"),
        ({"sidecars": [{"name": "ship", "image": "busybox", "tag": "1", "mounts": {"log": "/l"}}],
          "volumes": [{"name": "logs", "type": "empty_dir", "mount": "/l"}]},
         "(app 'web'): sidecars.ship.mounts.log: no volume of this name in volumes (did you mean 'logs'?)"),
        ({"sidecars": [{"name": "web", "image": "busybox", "tag": "1"}]},
         "sidecars.web.name: container names must be unique in the pod"),
        ({"sidecars": [{"name": "ship", "image": "busybox"}]}, "(app 'web'): sidecars.ship.tag: required"),
        ({"sidecars": [{"name": "ship", "image": "busybox", "tag": "1", "ports": [{"name": "http", "port": 81}]}]},
         "ports: port name 'http' is used twice in the pod"),
        ({"liveness": {"http": "/", "tcp": True}}, "(app 'web'): liveness: give exactly one of http"),
        ({"readiness": {"http": "/", "port": "htp"}},
         "readiness.port: 'htp' is not the name of a port of the main container (did you mean 'http'?)"),
        ({"readiness": {"http": "healthz"}}, "readiness.http: must be a URL path starting with '/'"),
        ({"readiness": {"exec": ["true"]}, "ports": None, "liveness": {"tcp": True}},
         "liveness.port: required: the app has no ports to default to"),
        ({"resources": {"requests": {"cpu": "lots"}}},
         "(app 'web'): resources.requests.cpu: 'lots' is not a Kubernetes quantity"),
        ({"resources": {"request": {"cpu": "1"}}}, "resources.request: unknown field (did you mean 'requests'?)"),
        ({"labels": {"tier": "front end"}}, "(app 'web'): labels: label tier: value 'front end' is not a valid label"),
        ({"labels": {"app.kubernetes.io/instance": "x"}}, "labels: app.kubernetes.io/instance is set by kubesmith"),
        ({"service": {"type": "Nodeport"}}, "service.type: must be one of ClusterIP, NodePort, LoadBalancer, got "
                                            "'Nodeport' (did you mean 'NodePort'?)"),
        ({"service": {"type": "NodePort", "ports": [{"port": 80, "node_port": 8080}]}},
         "(app 'web'): service.ports[0].node_port: must be an integer from 30000 to 32767, got 8080"),
        ({"service": {"ports": [{"port": 80, "node_port": 30080}]}},
         "service.ports[0].node_port: only a NodePort or LoadBalancer Service has node ports"),
        ({"service": {"ports": [{"port": 80, "target": "web"}]}},
         "service.ports[0].target: 'web' is not the name of a container port of the app"),
        ({"service": {"name": "Backend"}}, "service.name: must be 63 characters at most"),
        ({"service": {}, "ports": None}, "service.ports: required: the main container has no ports to default to"),
        ({"jobs": [{"name": "nightly", "command": ["x"], "schedule": "every night"}]},
         "(app 'web'): jobs.nightly.schedule: 'every night' is not a cron schedule"),
        ({"jobs": [{"name": "nightly", "command": ["x"], "schedule": "@daily", "wait": True}]},
         "jobs.nightly.wait: a CronJob runs on its schedule: there is nothing to wait for"),
        ({"jobs": [{"name": "once", "concurrency_policy": "Forbid"}]},
         "jobs.once.concurrency_policy: only a CronJob (a job with schedule) has one"),
        ({"jobs": [{"name": "x", "command": "migrate --all"}]}, "jobs.x.command: must be a list of strings (argv form"),
        ({"jobs": [{"name": "a" * 50, "schedule": "@daily"}]},
         "the CronJob 'web-" + "a" * 50 + "' would be longer than 52 characters"),
        ({"kind": "none", "replicas": 2, "image": None, "tag": None, "ports": None},
         "(app 'web'): replicas: an app of kind none has no workload pods"),
        ({"kind": "none", "image": None, "tag": None, "ports": None, "jobs": [{"name": "x"}]},
         "jobs.x.image: required: the app has no image to default to"),
        ({"tolerations": ["control-plane"]}, "tolerations: must be a list of mappings in Kubernetes' form"),
        ({"state": "deleted"}, "state: must be one of present, absent"),
        ({"namespace": "My_NS"}, "(app 'web'): namespace: must be 63 characters at most"),
    ],
)
def test_a_bad_spec_names_the_app_and_the_field(fields, expected):
    found = problems_of(**fields)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once():
    found = apps.apps_problems([{**MINIMAL, "replicas": -1}, {**MINIMAL, "name": "api", "tag": None}, "oops"])
    assert len(found) == 3, found
    assert found[0].startswith("apps_list[0] (app 'web'): replicas:")
    assert found[1].startswith("apps_list[1] (app 'api'): tag:")
    assert found[2].startswith("apps_list[2]: app: must be a mapping")


def test_apps_list_must_be_a_list():
    assert apps.apps_problems({"name": "web"}) == ["apps_list must be a list of app specs, got {'name': 'web'}"]
    assert apps.apps_problems(None) == []


def test_app_names_are_unique():
    found = apps.apps_problems([MINIMAL, {**MINIMAL, "namespace": "other"}])
    assert found == ["apps_list[1] (app 'web'): name: also the name of apps_list[0]; app names must be unique "
                     "(one file and workload each)"]


def test_two_apps_rendering_the_same_object_are_rejected():
    found = apps.apps_problems([{**MINIMAL, "namespace": "shop", "service": {"name": "front"}},
                                {**MINIMAL, "name": "web2", "namespace": "shop", "service": {"name": "front"}}])
    assert found == ["apps_list[1] (app 'web2'): its Service shop/front is also rendered by app 'web': rename one "
                     "of them"]


def test_the_same_service_name_in_two_namespaces_is_fine():
    assert apps.apps_problems([{**MINIMAL, "service": {"name": "front"}},
                               {**MINIMAL, "name": "web2", "service": {"name": "front"}}]) == []


def test_secret_values_never_appear_in_messages():
    found = problems_of(secret={"TOKEN": {"nested": "hunter2"}, "ok": "s3cr3t-value"}, env={"T": {"secret": "tok"}})
    assert found
    assert not any("hunter2" in p or "s3cr3t-value" in p for p in found), found


def test_kubernetes_version_is_checked():
    assert apps.apps_problems([], "1.31.4") == []
    assert apps.apps_problems([], "v1.37") == []
    (problem,) = apps.apps_problems([], "1.24")
    assert problem.startswith("apps_kubernetes_version '1.24' is not a Kubernetes version the offline schemas cover "
                              "(1.25 to 1.37)")
    assert apps.apps_problems([], "latest")


def test_schema_versions():
    versions = apps.apps_schema_versions()
    assert versions[0] == "1.25"
    assert "1.31" in versions
    assert versions[-1] == "1.37"


def test_normalize_raises_with_every_problem():
    with pytest.raises(AnsibleFilterError, match=r"apps_list has problems:\n- .*replicas.*\n- .*tag"):
        apps.apps_normalize([{**MINIMAL, "replicas": -1}, {**MINIMAL, "name": "api", "tag": None}])


def test_values_are_kept_as_strings():
    (app,) = apps.apps_normalize([{**MINIMAL, "env": {"ON": True, "N": 10, "V": "1.10"}, "config": {"flag": False},
                                   "labels": {"version": 2}}])
    assert app["env"] == [{"name": "ON", "value": "true"}, {"name": "N", "value": "10"}, {"name": "V", "value": "1.10"}]
    assert app["config"] == {"flag": "false"}
    assert app["labels"]["version"] == "2"


def test_config_hash_follows_config_and_secret_only():
    base = {**MINIMAL, "config": {"a": "1"}, "secret": {"s": "x"}}
    (one,) = apps.apps_normalize([base])
    (scaled,) = apps.apps_normalize([{**base, "replicas": 5, "tag": "1.27.4"}])
    (reconfigured,) = apps.apps_normalize([{**base, "config": {"a": "2"}}])
    (new_secret,) = apps.apps_normalize([{**base, "secret": {"s": "y"}}])
    assert one["config_hash"] == scaled["config_hash"]
    assert len({one["config_hash"], reconfigured["config_hash"], new_secret["config_hash"]}) == 3


def test_system_namespaces_are_not_created():
    (app,) = apps.apps_normalize([{**MINIMAL, "namespace": "default"}])
    assert app["create_namespace"] is False


def test_public_hides_secret_values_only():
    (app,) = apps.apps_public(apps.apps_normalize([{**MINIMAL, "secret": {"TOKEN": "s3cr3t"}, "config": {"a": "b"}}]))
    assert app["secret"] == {"TOKEN": "(hidden)"}
    assert app["config"] == {"a": "b"}


def test_orphan_namespaces():
    specs = apps.apps_normalize([
        {**MINIMAL, "name": "a", "namespace": "shop", "state": "absent"},
        {**MINIMAL, "name": "b", "namespace": "shop"},
        {**MINIMAL, "name": "c", "namespace": "old", "state": "absent"},
        {**MINIMAL, "name": "d", "namespace": "default", "state": "absent"},
    ])
    assert apps.apps_orphan_namespaces(specs) == ["old"]


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"},
      "data": {"a": "b"}}


def test_manifests_parse_and_keep_a_shared_namespace_once():
    text = "\n".join(f"---\n{yaml.safe_dump(o)}" for o in (NS, CM, NS)) + "---\n"
    assert apps.apps_manifests(text) == [NS, CM]
    assert apps.apps_manifests(None) == []


def test_manifests_reject_a_different_object_of_the_same_name():
    other = {**CM, "data": {"a": "c"}}
    with pytest.raises(AnsibleFilterError, match="ConfigMap shop/web-config is rendered twice"):
        apps.apps_manifests(f"---\n{yaml.safe_dump(CM)}---\n{yaml.safe_dump(other)}")


@pytest.mark.parametrize("text", ["a: [1", "---\n- a\n- b\n"])
def test_manifests_reject_what_is_not_an_object(text):
    with pytest.raises(AnsibleFilterError, match="app 'web'"):
        apps.apps_manifests(text, "web")


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
}


def test_schema_accepts_a_valid_object():
    assert apps.apps_schema_problems([NS, CM, DEPLOYMENT], "1.31", "web") == []


def test_schema_is_strict_about_unknown_fields():
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    (problem,) = apps.apps_schema_problems([bad], "1.31", "web")
    assert problem.startswith("app 'web': Deployment shop/web: spec.template.spec.containers.0: Additional "
                              "properties are not allowed ('imagePullPolcy' was unexpected)")
    assert problem.endswith("(Kubernetes 1.31 schema, strict)")


def test_schema_names_the_path_of_a_wrong_type():
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "two"
    (problem,) = apps.apps_schema_problems([bad], "1.31")
    assert "Deployment shop/web: spec.replicas: 'two' is not of type 'integer'" in problem


def test_schema_hides_secret_values():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
              "data": {"TOKEN": {"value": "hunter2"}}}
    (problem,) = apps.apps_schema_problems([secret], "1.31", "web")
    assert "Secret shop/s: data.TOKEN: invalid value (not shown: Secret data)" in problem
    assert "hunter2" not in problem


def test_schema_reports_an_unknown_kind_and_an_unsupported_version():
    (problem,) = apps.apps_schema_problems([{**CM, "apiVersion": "v9"}], "1.31")
    assert "Couldn't find schema for kind ConfigMap with api version v9" in problem
    (problem,) = apps.apps_schema_problems([CM], "1.9")
    assert problem.startswith("apps_kubernetes_version '1.9'")


def test_refs_carry_no_data():
    assert apps.apps_refs([NS, CM]) == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"}},
    ]


def test_to_yaml_round_trips_with_readable_files():
    conf = {**CM, "data": {"nginx.conf": "server {\n  listen 80;\n}\n", "yes": "yes", "v": "1.10"}}
    text = apps.apps_to_yaml([NS, conf], "first line\nsecond line")
    assert text.startswith("# first line\n# second line\n---\napiVersion: v1\nkind: Namespace\n")
    assert "  nginx.conf: |\n    server {\n      listen 80;\n    }\n" in text
    assert list(yaml.safe_load_all(text)) == [NS, conf]


def _pod(name, phase, containers, conditions=()):
    return {"metadata": {"name": name}, "status": {"phase": phase, "containerStatuses": containers,
                                                   "conditions": list(conditions)}}


def test_pod_problems_say_why_pods_are_not_ready():
    pods = [
        _pod("web-1", "Running", [{"name": "web", "ready": True, "state": {"running": {}}}]),
        _pod("web-2", "Pending", [{"name": "web", "ready": False, "state": {"waiting": {
            "reason": "ImagePullBackOff", "message": "Back-off pulling image \"nginx:9\""}}}]),
        _pod("web-3", "Running", [{"name": "web", "ready": False, "restartCount": 4, "state": {"running": {}},
                                   "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]),
        _pod("web-4", "Pending", [], [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": "0/3 nodes are available: 3 Insufficient memory."}]),
        {"metadata": {"name": "web-5"}, "status": {"phase": "Pending"}},
    ]
    assert apps.apps_pod_problems(pods) == [
        'pod web-2 (Pending): container web waiting: ImagePullBackOff (Back-off pulling image "nginx:9")',
        "pod web-3 (Running): container web running but not ready (4 restarts, last exit Error (code 1))",
        "pod web-4 (Pending): not scheduled: Unschedulable (0/3 nodes are available: 3 Insufficient memory.)",
        "pod web-5: Pending",
    ]


def test_a_succeeded_job_pod_is_no_problem():
    done = _pod("job-1", "Succeeded", [{"name": "job", "ready": False,
                                         "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}])
    failed = _pod("job-2", "Failed", [{"name": "job", "ready": False,
                                        "state": {"terminated": {"reason": "Error", "exitCode": 1}}}])
    assert apps.apps_pod_problems([done, failed]) == [
        "pod job-2 (Failed): container job terminated: Error (exit code 1)"]


def test_failed_jobs():
    def job(name, *conditions):
        return {"metadata": {"name": name, "namespace": "shop"}, "status": {"conditions": list(conditions)}}

    results = [
        {"resources": [job("ok", {"type": "Complete", "status": "True"})]},
        {"resources": [job("bad", {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit"})]},
        {"skipped": True},
    ]
    assert apps.apps_failed_jobs(results) == [
        "shop/bad: BackoffLimitExceeded (Job has reached the specified backoff limit)"]


def test_registered_as_filters():
    assert set(apps.FilterModule().filters()) == {
        "apps_problems", "apps_normalize", "apps_public", "apps_orphan_namespaces", "apps_manifests", "apps_refs",
        "apps_failed_jobs", "apps_schema_problems", "apps_schema_versions", "apps_to_yaml",
        "apps_pod_problems",
    }
