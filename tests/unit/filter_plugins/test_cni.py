"""filter_plugins/cni.py: the checks of the cni role's variables, image picking, manifest splitting
and the strict offline validation (with kubernetes-validate's real schemas)."""

from __future__ import annotations

import cni
import pytest
from ansible.errors import AnsibleFilterError

IMAGES = ["docker.io/calico/cni:v3.29.6", "docker.io/calico/node:v3.29.6",
          "docker.io/calico/kube-controllers:v3.29.6", "registry.local:5000/mirror/flannel-cni-plugin:v1.8.0-flannel1"]


@pytest.mark.parametrize(("plugin", "backend"), [
    ("flannel", "vxlan"), ("flannel", "host-gw"), ("calico", "vxlan"), ("calico", "ipip"), ("calico", "bgp")])
def test_every_supported_combination_passes(plugin, backend):
    assert cni.cni_problems(plugin, backend, "10.244.0.0/16", 0, "") == []
    assert cni.cni_problems(plugin, backend, "192.168.0.0/16", "1450", "eth1") == []


@pytest.mark.parametrize(("plugin", "backend", "hint"), [
    ("flannel", "ipip", "use vxlan or host-gw"), ("flannel", "bgp", "use vxlan or host-gw"),
    ("calico", "host-gw", "use vxlan or ipip or bgp"), ("flannel", "wireguard", "use vxlan or host-gw"),
    ("calico", "", "use vxlan or ipip or bgp")])
def test_other_backends_are_rejected_naming_the_variable(plugin, backend, hint):
    (problem,) = cni.cni_problems(plugin, backend, "10.244.0.0/16")
    assert problem.startswith("kubesmith_cni_backend (cni_backend)")
    assert f"not a backend of {plugin}" in problem
    assert hint in problem


def test_an_unknown_plugin_is_rejected_naming_the_variable():
    (problem,) = cni.cni_problems("cilium", "vxlan", "10.244.0.0/16")
    assert problem == "kubesmith_cni (cni_plugin) is 'cilium': set it to flannel or calico"


@pytest.mark.parametrize(("cidr", "why"), [
    ("10.244.0.0/33", "not an IPv4 network"), ("10.244.0.1/16", "has host bits set"), ("", "not an IPv4 network"),
    ("fd00:10::/56", "is IPv6"), ("10.244.0.0/24", "too small for flannel")])
def test_bad_pod_cidrs_are_rejected_naming_the_variable(cidr, why):
    (problem,) = cni.cni_problems("flannel", "vxlan", cidr)
    assert problem.startswith("kubesmith_pod_cidr (cni_pod_cidr)")
    assert why in problem


def test_calico_takes_smaller_pod_networks_than_flannel():
    assert cni.cni_problems("calico", "vxlan", "10.244.0.0/24") == []
    assert "too small for calico" in cni.cni_problems("calico", "vxlan", "10.244.0.0/27")[0]


@pytest.mark.parametrize("mtu", [-1, 1279, 9001, "auto", "1.5", True, None])
def test_bad_mtus_are_rejected_naming_the_variable(mtu):
    (problem,) = cni.cni_problems("calico", "vxlan", "10.244.0.0/16", mtu)
    assert problem.startswith("kubesmith_cni_mtu (cni_mtu)")
    assert "0 (auto)" in problem


@pytest.mark.parametrize("iface", ["eth 1", "a/b", "x" * 16, "eth0:1"])
def test_bad_interface_names_are_rejected(iface):
    (problem,) = cni.cni_problems("flannel", "vxlan", "10.244.0.0/16", 0, iface)
    assert problem.startswith("cni_iface")


def test_all_problems_are_reported_at_once():
    assert len(cni.cni_problems("flannel", "ipip", "nope", 50, "a b")) == 4


def test_images_are_picked_by_repository_name_not_by_substring():
    assert cni.cni_image(IMAGES, "cni") == "docker.io/calico/cni:v3.29.6"
    assert cni.cni_image(IMAGES, "node") == "docker.io/calico/node:v3.29.6"
    assert cni.cni_image(IMAGES, "flannel-cni-plugin") == IMAGES[3]
    with pytest.raises(AnsibleFilterError, match="no image named 'flannel'"):
        cni.cni_image(IMAGES, "flannel")


@pytest.mark.parametrize(("ref", "tag"), [
    ("docker.io/calico/node:v3.29.6", "v3.29.6"), ("registry.local:5000/calico/node", ""),
    ("registry.local:5000/calico/node:v1@sha256:" + "a" * 64, "v1")])
def test_image_tags(ref, tag):
    assert cni.cni_image_tag(ref) == tag


def test_manifests_are_split_in_order_without_empty_documents():
    text = ("# header\n---\nkind: A\nmetadata: {name: a}\n---\n---\n# only a comment\n---\n"
            "kind: B\nmetadata: {name: b}\n")
    assert [o["kind"] for o in cni.cni_manifests(text)] == ["A", "B"]
    with pytest.raises(AnsibleFilterError, match="not valid YAML"):
        cni.cni_manifests("kind: [")
    with pytest.raises(AnsibleFilterError, match="not Kubernetes objects"):
        cni.cni_manifests("- a list\n")


def _daemonset(**container):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}},
                                  "spec": {"initContainers": [{"name": "init", "image": "i:1"}],
                                           "containers": [{"name": "main", "image": "m:1", **container}]}}}}


def test_images_used_lists_init_and_main_containers_once():
    assert cni.cni_images_used([_daemonset(), _daemonset(), {"kind": "ConfigMap"}]) == ["i:1", "m:1"]


def test_strict_validation_accepts_a_valid_object_and_names_a_misspelt_field():
    assert cni.cni_schema_problems([_daemonset()], "1.31.4") == []
    (problem,) = cni.cni_schema_problems([_daemonset(imagePullPolicyy="Always")], "1.31.4")
    assert problem.startswith("DaemonSet kube-system/ds: spec.template.spec.containers.0:")
    assert "imagePullPolicyy" in problem
    assert "strict" in problem


def test_instances_of_the_manifests_own_crds_are_skipped_and_nothing_else():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "ippools.crd.projectcalico.org"},
           "spec": {"group": "crd.projectcalico.org", "scope": "Cluster",
                    "names": {"kind": "IPPool", "plural": "ippools", "singular": "ippool", "listKind": "IPPoolList"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
    pool = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "default"},
            "spec": {"cidr": "10.244.0.0/16"}}
    stranger = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert cni.cni_schema_skipped([crd, pool, stranger]) == [pool]
    (problem,) = cni.cni_schema_problems([crd, pool, stranger], "1.31")
    assert problem.startswith("Widget w:")


def test_an_unknown_kubernetes_version_is_a_problem_naming_the_variable():
    (problem,) = cni.cni_schema_problems([_daemonset()], "1.9")
    assert problem.startswith("cni_kubernetes_version '1.9'")
    assert "kubesmith_kubernetes_version" in problem
