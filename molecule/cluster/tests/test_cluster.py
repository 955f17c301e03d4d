"""The cluster and cluster-ha scenarios' checks on a REAL kubeadm cluster (they only run when an
offline bundle of Kubernetes artifacts is given, see molecule/cluster/converge.yml).

kubectl runs on the first kube_control_plane host with /etc/kubernetes/admin.conf. Test pods use
agnhost (registry.k8s.io/e2e-test-images, in the bundle as a test image): `netexec` answers
/hostname and /dial, so one pod resolves and calls another pod or a Service by name, through the
cluster's DNS, and reports who answered. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import urllib.request

import pytest
import testinfra.utils.ansible_runner
import yaml

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
CONTROL_PLANE = sorted(RUNNER.get_hosts("kube_control_plane"))
ALL_NODES = sorted(RUNNER.get_hosts("k8s_cluster"))
testinfra_hosts = CONTROL_PLANE[:1]

NS = "kubesmith-e2e"
AGNHOST = os.environ.get("KUBESMITH_TEST_IMAGE", "registry.k8s.io/e2e-test-images/agnhost:2.52")
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf "


def kubectl(host, args: str, stdin: str | None = None, check: bool = True):
    cmd = KUBECTL + args
    if stdin is not None:
        cmd = f"printf '%s' {shlex.quote(stdin)} | {cmd}"
    out = host.run(cmd)
    if check:
        assert out.rc == 0, f"{cmd}: {out.stderr or out.stdout}"
    return out


def kget(host, args: str):
    return json.loads(kubectl(host, f"get {args} -o json").stdout)


def wait_for(what: str, probe, timeout: float = 180, every: float = 3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not after {timeout:.0f} s (last: {last!r})")


def apply(host, *docs):
    kubectl(host, "apply -f -", stdin=yaml.safe_dump_all(docs))


def netexec_pod(name: str, node: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels or {"app": name}},
        "spec": {"nodeName": node, "containers": [{"name": "netexec", "image": AGNHOST,
                                                     "imagePullPolicy": "IfNotPresent",
                                                     "args": ["netexec", "--http-port=8080"]}]},
    }


def dial(host, via_pod_ip: str, target: str, port: int, tries: int = 1) -> list[str]:
    """Ask the netexec pod at via_pod_ip to call http://target:port/hostname `tries` times."""
    url = f"http://{via_pod_ip}:8080/dial?request=hostname&protocol=http&host={target}&port={port}&tries={tries}"
    script = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=30).read().decode())"
    out = host.run(f"python3 -c {shlex.quote(script)}")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout).get("responses") or []


@pytest.fixture(scope="module")
def e2e(host):
    """Namespace with two netexec servers on different nodes behind a Service, and a client pod."""
    kubectl(host, f"create namespace {NS} --dry-run=client -o yaml | " + KUBECTL + "apply -f -")
    nodes = ALL_NODES[-2:] if len(ALL_NODES) >= 2 else ALL_NODES * 2
    apply(host,
          netexec_pod("server-a", nodes[0], {"app": "server"}),
          netexec_pod("server-b", nodes[1], {"app": "server"}),
          netexec_pod("client", nodes[0]),
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": NS},
           "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    kubectl(host, f"-n {NS} wait --for=condition=Ready pod --all --timeout=180s")
    pods = {p["metadata"]["name"]: p for p in kget(host, f"-n {NS} pods")["items"]}
    yield pods
    kubectl(host, f"delete namespace {NS} --wait=false", check=False)


def test_every_node_is_ready(host):
    def ready():
        items = kget(host, "nodes")["items"]
        names = sorted(n["metadata"]["name"] for n in items)
        ok = [n for n in items
              if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
        return names == ALL_NODES and len(ok) == len(items) and names
    wait_for("all nodes Ready", ready)


def test_system_pods_are_running(host):
    def running():
        pods = kget(host, "pods -A")["items"]
        bad = [f"{p['metadata']['namespace']}/{p['metadata']['name']}={p['status'].get('phase')}" for p in pods
               if p["metadata"]["namespace"] in ("kube-system", "kube-flannel", "calico-system", "metallb-system",
                                                 "local-path-storage", "kube-logging")
               and p["status"].get("phase") not in ("Running", "Succeeded")]
        return not bad and pods
    wait_for("system pods Running", running)


def test_control_plane_pods_on_every_control_plane_host(host):
    pods = kget(host, "-n kube-system pods -l tier=control-plane")["items"]
    for cp in CONTROL_PLANE:
        names = {p["metadata"]["name"] for p in pods}
        assert {f"kube-apiserver-{cp}", f"kube-controller-manager-{cp}", f"kube-scheduler-{cp}"} <= names


def test_pod_reaches_pod_on_another_node(host, e2e):
    assert e2e["client"]["spec"]["nodeName"] != e2e["server-b"]["spec"]["nodeName"]
    assert dial(host, e2e["client"]["status"]["podIP"], e2e["server-b"]["status"]["podIP"], 8080) == ["server-b"]


def test_service_name_resolves_through_coredns_and_balances(host, e2e):
    answers = dial(host, e2e["client"]["status"]["podIP"], f"server.{NS}.svc.cluster.local", 80, tries=30)
    assert len(answers) == 30
    assert set(answers) == {"server-a", "server-b"}, answers


def test_a_deleted_pod_is_replaced(host):
    apply(host, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "replaced", "namespace": NS},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "replaced"}},
                          "template": {"metadata": {"labels": {"app": "replaced"}},
                                       "spec": {"containers": [{"name": "netexec", "image": AGNHOST,
                                                                "args": ["netexec", "--http-port=8080"]}]}}}})
    kubectl(host, f"-n {NS} rollout status deployment/replaced --timeout=180s")
    before = {p["metadata"]["name"] for p in kget(host, f"-n {NS} pods -l app=replaced")["items"]}
    victim = sorted(before)[0]
    kubectl(host, f"-n {NS} delete pod {victim} --wait=true --timeout=60s")

    def replaced():
        pods = kget(host, f"-n {NS} pods -l app=replaced")["items"]
        ready = {p["metadata"]["name"] for p in pods
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))}
        return len(ready) == 2 and victim not in ready and ready
    wait_for("the deleted pod replaced", replaced, timeout=120)


def test_a_claim_binds_on_the_default_storage_class(host):
    classes = kget(host, "storageclass")["items"]
    assert [c["metadata"]["name"] for c in classes
            if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    apply(host,
          {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}},
          {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer", "namespace": NS},
           "spec": {"containers": [{"name": "w", "image": AGNHOST, "args": ["pause"],
                                    "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
    wait_for("claim Bound", lambda: kget(host, f"-n {NS} pvc data")["status"].get("phase") == "Bound")


def test_a_load_balancer_service_gets_an_address_that_answers(host, e2e):
    apply(host, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server-lb", "namespace": NS},
                 "spec": {"type": "LoadBalancer", "selector": {"app": "server"},
                          "ports": [{"port": 80, "targetPort": 8080}]}})
    ip = wait_for("LoadBalancer address", lambda: (kget(host, f"-n {NS} service server-lb")["status"]
                                                    .get("loadBalancer", {}).get("ingress") or [{}])[0].get("ip"))
    # from the controller, on the lab bridge: MetalLB answers ARP for the address
    body = wait_for("answer on the LoadBalancer address",
                    lambda: _get(f"http://{ip}/hostname"), timeout=60)
    assert body in ("server-a", "server-b")


def _get(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return None


def test_metrics_server_reports_node_usage(host):
    wait_for("kubectl top nodes", lambda: kubectl(host, "top nodes", check=False).rc == 0, timeout=240, every=10)


def test_log_collector_runs_on_every_node(host):
    daemonsets = [d for d in kget(host, "daemonsets -A")["items"] if "fluent" in d["metadata"]["name"]]
    assert daemonsets, "no log collector DaemonSet"
    status = daemonsets[0]["status"]
    assert status["numberReady"] == status["desiredNumberScheduled"] == len(ALL_NODES)


@pytest.mark.skipif(not os.environ.get("KUBESMITH_SCENARIO_HA"), reason="cluster-ha only")
def test_api_answers_through_the_vip(host):
    # kubeadm writes controlPlaneEndpoint (the VIP, haproxy's 8443 beside the API servers) into admin.conf
    config = yaml.safe_load(host.file("/etc/kubernetes/admin.conf").content_string)
    server = config["clusters"][0]["cluster"]["server"]
    assert server.endswith(".5:8443"), server
    out = kubectl(host, "get --raw=/readyz")
    assert out.stdout.strip() == "ok"
