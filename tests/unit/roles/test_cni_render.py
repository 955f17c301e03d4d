"""Role cni: the real templates rendered in-process (Ansible's own templating, the role's defaults and
vars) for both plugins and every backend, every object validated strictly against Kubernetes 1.31.4
with kubernetes-validate, the templated values checked where the plugins read them; then the role run
for real by ansible-playbook in render-only mode (files checked with the kubernetes-validate CLI), with
a rejected backend, and on the apply path up to an API server that does not answer. No API server is
contacted and none is faked.

Skipped by the schema validation: instances of kinds the manifests' own CRDs define. The manifests
contain none (Calico creates its IPPool at start), so every rendered object is validated, the
CustomResourceDefinitions themselves included (apiextensions.k8s.io/v1 has a published schema).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cni
import pytest
import yaml
from role_testing import kinds, one, oneline, unreachable_kubeconfig

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "cni"
BIN = pathlib.Path(sys.executable).parent
VERSION = "1.31.4"
COMBOS = [("flannel", "vxlan"), ("flannel", "host-gw"), ("calico", "vxlan"), ("calico", "ipip"), ("calico", "bgp")]
IMAGES = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["cni_images"]

# What upstream's manifests create, in their order (flannel v0.27.4 kube-flannel.yml; Calico v3.29.6
# calico.yaml: 19 crd.projectcalico.org CRDs and AdminNetworkPolicy).
FLANNEL_OBJECTS = [("Namespace", "kube-flannel"), ("ClusterRole", "flannel"), ("ClusterRoleBinding", "flannel"),
                   ("ServiceAccount", "flannel"), ("ConfigMap", "kube-flannel-cfg"), ("DaemonSet", "kube-flannel-ds")]
CALICO_CRDS = ["bgpconfigurations", "bgpfilters", "bgppeers", "blockaffinities", "caliconodestatuses",
               "clusterinformations", "felixconfigurations", "globalnetworkpolicies", "globalnetworksets",
               "hostendpoints", "ipamblocks", "ipamconfigs", "ipamhandles", "ippools", "ipreservations",
               "kubecontrollersconfigurations", "networkpolicies", "networksets", "tiers"]
CALICO_OBJECTS = (
    [("PodDisruptionBudget", "calico-kube-controllers"), ("ServiceAccount", "calico-kube-controllers"),
     ("ServiceAccount", "calico-node"), ("ServiceAccount", "calico-cni-plugin"), ("ConfigMap", "calico-config")]
    + [("CustomResourceDefinition", f"{plural}.crd.projectcalico.org") for plural in CALICO_CRDS]
    + [("CustomResourceDefinition", "adminnetworkpolicies.policy.networking.k8s.io"),
       ("ClusterRole", "calico-kube-controllers"), ("ClusterRole", "calico-node"), ("ClusterRole", "calico-cni-plugin"),
       ("ClusterRole", "calico-tier-getter"), ("ClusterRoleBinding", "calico-kube-controllers"),
       ("ClusterRoleBinding", "calico-node"), ("ClusterRoleBinding", "calico-cni-plugin"),
       ("ClusterRoleBinding", "calico-tier-getter"), ("DaemonSet", "calico-node"),
       ("Deployment", "calico-kube-controllers")])


@pytest.fixture(scope="module")
def render():
    """Render the role's manifest with its defaults and vars through Ansible's own templating:
    render(**variables) -> (text, objects)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader()
    loader = DataLoader()
    role_vars = {**loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True),
                 **loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True)}
    templar = Templar(loader=loader)

    def _render(**variables):
        templar.available_variables = {**role_vars, "ansible_search_path": [str(ROLE)], **variables}
        problems = templar.template(trust_as_template("{{ _cni_problems }}"))
        assert list(problems) == [], problems
        text = str(templar.template(trust_as_template("{{ _cni_manifest }}")))
        return text, cni.cni_manifests(text)

    return _render


def container(objects, kind, name):
    (found,) = [c for o in objects if o["kind"] == kind for c in o["spec"]["template"]["spec"]["containers"]
                if c["name"] == name]
    return found


def env(c):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


@pytest.fixture(scope="module")
def combos(render):
    return {(plugin, backend): render(kubesmith_cni=plugin, kubesmith_cni_backend=backend,
                                      kubesmith_pod_cidr="10.32.0.0/16", kubesmith_cni_mtu=1400, cni_iface="ens4")
            for plugin, backend in COMBOS}


@pytest.mark.parametrize(("plugin", "backend"), COMBOS)
def test_every_object_validates_strictly_and_none_is_skipped(combos, plugin, backend):
    _, objects = combos[(plugin, backend)]
    assert cni.cni_schema_skipped(objects) == []
    assert cni.cni_schema_problems(objects, VERSION) == []


@pytest.mark.parametrize(("plugin", "backend"), COMBOS)
def test_the_upstream_objects_are_all_there_in_upstream_order(combos, plugin, backend):
    _, objects = combos[(plugin, backend)]
    assert kinds(objects) == (FLANNEL_OBJECTS if plugin == "flannel" else CALICO_OBJECTS)


@pytest.mark.parametrize(("plugin", "backend"), COMBOS)
def test_the_images_are_exactly_those_of_cni_images(combos, plugin, backend):
    _, objects = combos[(plugin, backend)]
    assert sorted(cni.cni_images_used(objects)) == sorted(IMAGES[plugin])


@pytest.mark.parametrize("backend", ["vxlan", "host-gw"])
def test_flannel_reads_the_pod_cidr_backend_mtu_and_interface(combos, backend):
    _, objects = combos[("flannel", backend)]
    data = one(objects, "ConfigMap")["data"]
    assert json.loads(data["net-conf.json"]) == {"Network": "10.32.0.0/16", "EnableNFTables": False,
                                                 "Backend": {"Type": backend}}
    delegate = json.loads(data["cni-conf.json"])["plugins"][0]["delegate"]
    assert delegate == {"mtu": 1400, "hairpinMode": True, "isDefaultGateway": True}
    assert container(objects, "DaemonSet", "kube-flannel")["args"] == ["--ip-masq", "--kube-subnet-mgr", "--iface=ens4"]


@pytest.mark.parametrize(("backend", "calico_backend", "ipip", "vxlan", "bird_checks"), [
    ("vxlan", "vxlan", "Never", "Always", False),
    ("ipip", "bird", "Always", "Never", True),
    ("bgp", "bird", "Never", "Never", True)])
def test_calico_reads_the_pod_cidr_backend_mtu_and_interface(combos, backend, calico_backend, ipip, vxlan,
                                                             bird_checks):
    _, objects = combos[("calico", backend)]
    config = one(objects, "ConfigMap", "calico-config")["data"]
    assert (config["calico_backend"], config["veth_mtu"]) == (calico_backend, "1400")
    node = container(objects, "DaemonSet", "calico-node")
    variables = env(node)
    assert variables["CALICO_IPV4POOL_CIDR"] == "10.32.0.0/16"
    assert (variables["CALICO_IPV4POOL_IPIP"], variables["CALICO_IPV4POOL_VXLAN"]) == (ipip, vxlan)
    assert variables["IP_AUTODETECTION_METHOD"] == "interface=ens4"
    for felix in ("FELIX_IPINIPMTU", "FELIX_VXLANMTU", "FELIX_WIREGUARDMTU"):
        assert variables[felix] == {"configMapKeyRef": {"name": "calico-config", "key": "veth_mtu"}}
    assert ("-bird-live" in node["livenessProbe"]["exec"]["command"]) is bird_checks
    assert ("-bird-ready" in node["readinessProbe"]["exec"]["command"]) is bird_checks


def test_defaults_are_flannel_vxlan_on_10_244_with_the_plugins_own_mtu(render):
    text, objects = render()
    data = one(objects, "ConfigMap")["data"]
    assert json.loads(data["net-conf.json"])["Network"] == "10.244.0.0/16"
    assert json.loads(data["net-conf.json"])["Backend"] == {"Type": "vxlan"}
    assert "mtu" not in json.loads(data["cni-conf.json"])["plugins"][0]["delegate"]
    assert "--iface" not in " ".join(container(objects, "DaemonSet", "kube-flannel")["args"])
    assert "MTU auto" in text.splitlines()[1]


def test_calico_mtu_0_leaves_auto_detection_and_no_interface_leaves_autodetect(render):
    _, objects = render(kubesmith_cni="calico")
    assert one(objects, "ConfigMap", "calico-config")["data"]["veth_mtu"] == "0"
    assert "IP_AUTODETECTION_METHOD" not in env(container(objects, "DaemonSet", "calico-node"))


def test_calico_crds_keep_upstream_names_and_scopes(combos):
    _, objects = combos[("calico", "vxlan")]
    crds = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    namespaced = sorted(name.split(".")[0] for name, spec in crds.items() if spec["scope"] == "Namespaced")
    assert namespaced == ["networkpolicies", "networksets"]
    assert crds["ippools.crd.projectcalico.org"]["names"]["kind"] == "IPPool"
    assert crds["ipamconfigs.crd.projectcalico.org"]["names"]["kind"] == "IPAMConfig"


def test_the_manifest_keeps_upstream_comments(combos):
    text, _ = combos[("calico", "ipip")]
    assert "# Source: calico/templates/calico-node.yaml" in text
    assert "# The default IPv4 pool to create on startup if none exists." in text


# the role for real, with ansible-playbook -----------------------------------------------------------

PLAY = """
- name: The cni role
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Each plugin and backend
      ansible.builtin.include_role:
        name: cni
      vars:
        kubesmith_cni: "{{ item.0 }}"
        kubesmith_cni_backend: "{{ item.1 }}"
      loop: %s
"""


def run(tmp: pathlib.Path, combos, *args: str) -> subprocess.CompletedProcess:
    (tmp / "play.yml").write_text(PLAY % json.dumps(combos))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-tmp")}
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(tmp / "play.yml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """render: flannel vxlan and calico ipip into out/; rerender: calico ipip again; bad: calico host-gw;
    apply: calico vxlan with a kubeconfig whose server refuses connections (no API server started or faked)."""
    dirs = {name: tmp_path_factory.mktemp(f"cni-{name}") for name in ("render", "bad", "apply")}
    kubeconfig = unreachable_kubeconfig(dirs["apply"])

    def render_twice():
        args = ("-e", "cni_render_dir=out/{{ item.0 }}")
        first = run(dirs["render"], [["flannel", "vxlan"], ["calico", "ipip"]], *args)
        return first, run(dirs["render"], [["calico", "ipip"]], *args)

    with ThreadPoolExecutor(max_workers=3) as pool:
        render = pool.submit(render_twice)
        bad = pool.submit(run, dirs["bad"], [["calico", "host-gw"]], "-e", "cni_render_dir=out")
        apply = pool.submit(run, dirs["apply"], [["calico", "vxlan"]], "-e", f"kubesmith_kubeconfig={kubeconfig}")
        first, second = render.result()
        return {"render": (dirs["render"], first), "rerender": (dirs["render"], second),
                "bad": (dirs["bad"], bad.result()), "apply": (dirs["apply"], apply.result())}


def test_render_only_writes_the_manifests_that_pass_the_strict_cli(runs):
    tmp, proc = runs["render"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = [tmp / "out" / "flannel" / "flannel.yaml", tmp / "out" / "calico" / "calico.yaml"]
    assert all(f.is_file() for f in files)
    assert "backend ipip (calico_backend bird)" in files[1].read_text()
    check = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", VERSION, *map(str, files)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No API server was contacted" in oneline(proc)


def test_a_second_render_changes_nothing(runs):
    _, proc = runs["rerender"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"changed=0\s", proc.stdout)


def test_an_unsupported_backend_is_rejected_by_name_and_nothing_is_written(runs):
    tmp, proc = runs["bad"]
    assert proc.returncode != 0
    assert "kubesmith_cni_backend (cni_backend) 'host-gw' is not a backend of calico: use vxlan or ipip or bgp" \
        in oneline(proc)
    assert not (tmp / "out").exists()


def test_apply_without_a_reachable_api_server_says_what_to_set(runs):
    tmp, proc = runs["apply"]
    assert proc.returncode != 0
    out = oneline(proc)
    assert f"Kubeconfig: {tmp / 'kubeconfig'}" in out
    assert "cni_kubeconfig / kubesmith_kubeconfig" in out
    assert "Connection refused" in out  # the API was really tried
    assert "Apply each object" not in out  # stopped at the first API call, before applying anything
