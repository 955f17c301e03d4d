"""The seed's sample application on a real cluster: the `cluster` scenarios' testinfra checks of
roles/apps.

What converge did before `verify` (molecule/cluster/converge.yml): a kubeadm cluster on the lab
hosts (CoreDNS, a CNI, a default StorageClass for the backend's claim), then playbooks/apps.yml with
the sample apps_list (inventory/sample/group_vars/all/apps.yml), or with the vars file named by
KUBESMITH_APPS_VARS (the same apps with images the bundle holds: `make bundle` adds the sample's).
The checks run kubectl on the first kube_control_plane host with /etc/kubernetes/admin.conf; the
rolling-update and scaling checks re-run
playbooks/apps.yml from the controller with that kubeconfig, and put the app back as it was.

The rolling update changes the backend's tag to KUBESMITH_APPS_UPDATE_TAG (default 1.27.4-alpine):
the cluster must be able to pull that image or hold it already. Substitute images must behave like
the sample's (nginx answering as configured, busybox wget and sh in the containers).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import testinfra.utils.ansible_runner
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "filter_plugins"))
import apps  # noqa: E402  (filter_plugins/apps.py: the same names and labels the role renders)

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
testinfra_hosts = sorted(RUNNER.get_hosts("kube_control_plane"))[:1]

VARS_FILE = pathlib.Path(os.environ.get("KUBESMITH_APPS_VARS", ROOT / "inventory/sample/group_vars/all/apps.yml"))
SPECS = yaml.safe_load(VARS_FILE.read_text())["apps_list"]
BACKEND, FRONTEND = (next(a for a in apps.apps_normalize(SPECS) if a["name"] == n) for n in ("backend", "frontend"))
NAMESPACE = BACKEND["namespace"]
UPDATE_TAG = os.environ.get("KUBESMITH_APPS_UPDATE_TAG", "1.27.4-alpine")
ADMIN_CONF = "/etc/kubernetes/admin.conf"
TIMEOUT = 180


def kubectl(host, args: str, check: bool = True) -> str:
    out = host.run(f"kubectl --kubeconfig {ADMIN_CONF} -n {NAMESPACE} {args}")
    if check:
        assert out.rc == 0, f"kubectl {args}: rc={out.rc}\n{out.stderr}\n{out.stdout}"
    return out.stdout


def kubectl_json(host, args: str) -> dict:
    return json.loads(kubectl(host, f"{args} -o json"))


def selector(app: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in app["selector"].items())


def pods(host, app: dict) -> list[dict]:
    return [p for p in kubectl_json(host, f"get pods -l {selector(app)}")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict) -> bool:
    return pod["status"].get("phase") == "Running" and all(
        c.get("ready") for c in pod["status"].get("containerStatuses") or [{}])


def describe(host, app: dict) -> str:
    """What to print when a check fails: the pods, why they are not ready, recent events."""
    return (kubectl(host, f"get pods -o wide -l {selector(app)}", check=False)
            + "\n".join(apps.apps_pod_problems(pods(host, app)))
            + kubectl(host, "get events --sort-by=.lastTimestamp", check=False)[-3000:])


def wait_for(predicate, timeout: int = TIMEOUT, interval: float = 2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def exec_in(host, app: dict, command: str, container: str | None = None) -> str:
    return kubectl(host, f"exec deploy/{app['name']} -c {container or app['name']} -- sh -c '{command}'")


@pytest.fixture(scope="module")
def apply_spec(host, tmp_path_factory):
    """Run playbooks/apps.yml from the controller with a changed apps_list, then put the original back."""
    tmp = tmp_path_factory.mktemp("apps")
    kubeconfig = tmp / "admin.conf"
    kubeconfig.write_text(host.file(ADMIN_CONF).content_string)
    kubeconfig.chmod(0o600)
    server = json.loads(host.run(f"kubectl --kubeconfig {ADMIN_CONF} version -o json").stdout)["serverVersion"]
    version = f"{server['major']}.{server['minor'].rstrip('+')}"

    def _apply(specs: list[dict]) -> subprocess.CompletedProcess:
        path = tmp / "vars.json"
        path.write_text(json.dumps({"apps_list": specs, "apps_kubeconfig": str(kubeconfig),
                                    "apps_kubernetes_version": version}))
        proc = subprocess.run(
            [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), str(ROOT / "playbooks" / "apps.yml"),
             "-e", f"@{path}"],
            capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return proc

    yield _apply
    _apply(SPECS)


@pytest.mark.parametrize("app", [BACKEND, FRONTEND], ids=["backend", "frontend"])
def test_the_pods_of_each_tier_run_and_are_ready(host, app):
    assert app["labels"]["tier"] in ("backend", "frontend")

    def all_ready():
        now = pods(host, app)
        return now if len(now) == app["replicas"] and all(ready(p) for p in now) else None

    running = wait_for(all_ready)
    assert running, describe(host, app)
    for pod in running:  # the seed's labels, e.g. tier=frontend, app=myapp
        assert pod["metadata"]["labels"]["app"] == app["labels"]["app"]
        assert pod["metadata"]["labels"]["tier"] == app["labels"]["tier"]
        assert [c["name"] for c in pod["spec"]["containers"]] == [app["name"], *[s["name"] for s in app["sidecars"]]]


def test_backend_service_selects_the_backend_pods(host):
    name = BACKEND["service"]["name"]
    assert name == "backend-service"
    ips = {p["status"]["podIP"] for p in pods(host, BACKEND) if ready(p)}
    slices = kubectl_json(host, f"get endpointslices -l kubernetes.io/service-name={name}")["items"]
    endpoints = {a for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
                 for a in e["addresses"]}
    assert endpoints == ips, describe(host, BACKEND)


def test_the_frontend_reaches_backend_service_by_name(host):
    """CoreDNS resolves the short name in the frontend's namespace, kube-proxy forwards to a backend pod."""
    port = BACKEND["service"]["ports"][0]["port"]
    answer = exec_in(host, FRONTEND, f"wget -qO- -T 5 http://backend-service:{port}/")
    assert '"service": "backend"' in answer, answer


def test_the_frontend_proxies_to_the_backend_as_configured(host):
    """BACKEND_URL comes from the frontend's ConfigMap into its environment and nginx's config."""
    assert exec_in(host, FRONTEND, "printenv BACKEND_URL").strip() == FRONTEND["config"]["BACKEND_URL"]
    answer = exec_in(host, FRONTEND, "wget -qO- -T 5 http://127.0.0.1:8080/api/")
    assert '"service": "backend"' in answer, answer


def test_backend_service_balances_between_the_backend_pods(host):
    port = BACKEND["service"]["ports"][0]["port"]
    answers = exec_in(host, FRONTEND, f"for i in $(seq 20); do wget -qO- -T 5 http://backend-service:{port}/; done")
    served_by = {json.loads(line)["pod"] for line in answers.splitlines() if line.strip()}
    assert len(served_by) == BACKEND["replicas"], answers


def test_the_secret_reaches_the_backend(host):
    assert exec_in(host, BACKEND, "printenv API_TOKEN").strip() == BACKEND["secret"]["API_TOKEN"]


def test_the_claim_is_bound_and_writable(host):
    claim = next(v for v in BACKEND["volumes"] if v["type"] == "claim")
    phase = wait_for(lambda: kubectl(host, f"get pvc {claim['claim_name']} -o jsonpath={{.status.phase}}") == "Bound")
    assert phase, kubectl(host, f"describe pvc {claim['claim_name']}", check=False)
    assert exec_in(host, BACKEND, f"echo kubesmith > {claim['mount']}/probe && cat {claim['mount']}/probe").strip() \
        == "kubesmith"


def test_the_log_shipper_sidecar_streams_the_access_log(host):
    exec_in(host, FRONTEND, f"wget -qO- -T 5 http://backend-service:{BACKEND['service']['ports'][0]['port']}/healthz")
    shipped = wait_for(lambda: any(
        "GET /" in kubectl(host, f"logs {p['metadata']['name']} -c log-shipper --tail=50")
        for p in pods(host, BACKEND)), timeout=30)
    assert shipped, describe(host, BACKEND)


def test_the_batch_job_succeeded(host):
    job = FRONTEND["jobs"][0]["name"]
    succeeded = wait_for(lambda: kubectl(host, f"get job {job} -o jsonpath={{.status.succeeded}}") == "1")
    assert succeeded, kubectl(host, f"describe job {job}", check=False) + kubectl(host, f"logs job/{job}", check=False)


def test_a_new_tag_rolls_the_backend_out(host, apply_spec):
    specs = copy.deepcopy(SPECS)
    backend = next(a for a in specs if a["name"] == "backend")
    backend["tag"] = UPDATE_TAG
    image = f"{backend['image']}:{UPDATE_TAG}"
    old = {p["metadata"]["name"] for p in pods(host, BACKEND)}
    apply_spec(specs)  # waits for the rollout itself; the checks below say what it did
    now = pods(host, BACKEND)
    assert len(now) == BACKEND["replicas"], describe(host, BACKEND)
    assert all(ready(p) for p in now), describe(host, BACKEND)
    assert all(p["spec"]["containers"][0]["image"] == image for p in now), describe(host, BACKEND)
    assert not old & {p["metadata"]["name"] for p in now}  # every pod replaced
    status = kubectl_json(host, f"get deployment {BACKEND['name']}")["status"]
    assert status["updatedReplicas"] == status["readyReplicas"] == BACKEND["replicas"]
    sets = kubectl_json(host, f"get replicasets -l {selector(BACKEND)}")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in sets)[-1] == BACKEND["replicas"]
    assert len([rs for rs in sets if rs["spec"]["replicas"]]) == 1  # the old ReplicaSet scaled to 0


def test_new_replicas_scale_the_frontend(host, apply_spec):
    specs = copy.deepcopy(SPECS)
    frontend = next(a for a in specs if a["name"] == "frontend")
    frontend["replicas"] = FRONTEND["replicas"] + 1
    apply_spec(specs)
    assert len([p for p in pods(host, FRONTEND) if ready(p)]) == FRONTEND["replicas"] + 1, describe(host, FRONTEND)


def test_a_killed_pod_is_replaced(host):
    victim = sorted(p["metadata"]["name"] for p in pods(host, BACKEND))[0]
    kubectl(host, f"delete pod {victim} --wait=false")

    def replaced():
        now = pods(host, BACKEND)
        names = {p["metadata"]["name"] for p in now}
        return len(now) == BACKEND["replicas"] and all(ready(p) for p in now) and victim not in names

    assert wait_for(replaced), describe(host, BACKEND)


def test_a_killed_container_is_restarted(host):
    pod = sorted(pods(host, BACKEND), key=lambda p: p["metadata"]["name"])[0]
    name = pod["metadata"]["name"]

    def restarts():
        statuses = kubectl_json(host, f"get pod {name}")["status"].get("containerStatuses") or []
        return next(c["restartCount"] for c in statuses if c["name"] == BACKEND["name"])

    before = restarts()
    # PID 1 is nginx's master process, which exits on SIGTERM (an image whose PID 1 ignores it would not)
    kubectl(host, f"exec {name} -c {BACKEND['name']} -- kill 1", check=False)
    again = wait_for(lambda: restarts() > before and ready(kubectl_json(host, f"get pod {name}")))
    assert again, describe(host, BACKEND)
