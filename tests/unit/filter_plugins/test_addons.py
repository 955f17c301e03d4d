"""filter_plugins/addons.py: variable checks, MetalLB addresses, Fluent Bit outputs, image picking,
manifest splitting and the apply-time adjustments."""

from __future__ import annotations

import addons
import pytest
from ansible.errors import AnsibleFilterError

# -- MetalLB addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [
    "192.0.2.240-192.0.2.250",
    "192.0.2.240 - 192.0.2.250",
    "192.0.2.7-192.0.2.7",
    "192.0.2.0/28",
    "192.0.2.5/32",
    "2001:db8::10-2001:db8::ff",
    "2001:db8:1::/120",
])
def test_good_metallb_entries(entry):
    assert addons.addons_metallb_address_problem(entry) is None


@pytest.mark.parametrize(("entry", "words"), [
    ("192.0.2.250-192.0.2.240", ["starts after it ends", "192.0.2.240-192.0.2.250"]),
    ("192.0.2.240-2001:db8::1", ["mixes IPv4 and IPv6"]),
    ("192.0.2.300-192.0.2.310", ["not a range of two IP addresses"]),
    ("192.0.2.5/24", ["host bits set", "192.0.2.0/24"]),
    ("192.0.2.0/33", ["not a CIDR"]),
    ("192.0.2.9", ["neither a CIDR", "192.0.2.9/32"]),
    ("lb-pool", ["not a range"]),
    ("", ["not a string"]),
    (5, ["not a string", "int"]),
    (None, ["not a string"]),
])
def test_bad_metallb_entries_say_why(entry, words):
    problem = addons.addons_metallb_address_problem(entry)
    for word in words:
        assert word in problem


def test_addresses_are_normalized_and_bad_ones_named_by_index():
    assert addons.addons_metallb_addresses(["192.0.2.240 - 192.0.2.250", " 192.0.2.0/28 "]) == [
        "192.0.2.240-192.0.2.250", "192.0.2.0/28"]
    assert addons.addons_metallb_addresses([]) == []
    with pytest.raises(AnsibleFilterError, match=r"kubesmith_metallb_addresses\[1\].*starts after it ends"):
        addons.addons_metallb_addresses(["192.0.2.0/28", "192.0.2.9-192.0.2.1"])


# -- the variables at once ----------------------------------------------------------------------------


def test_the_defaults_have_no_problem():
    assert addons.addons_problems() == []
    assert addons.addons_problems("kube-logging", [], "/opt/local-path-provisioner", [], 300) == []


def test_every_problem_is_reported_with_its_variable():
    problems = addons.addons_problems("Kube_Logging", [{"Match": "*"}], "relative/dir",
                                      ["192.0.2.9-192.0.2.1"], 0)
    text = "\n".join(problems)
    assert len(problems) == 5
    for variable in ("addons_log_collector_namespace", "addons_log_collector_outputs[0] has no Name",
                     "addons_local_path_dir", "kubesmith_metallb_addresses[0]", "addons_wait_timeout"):
        assert variable in text


@pytest.mark.parametrize("path", ["/", "/data/my volumes", 'C:\\pv', "", None, "/opt/../"])
def test_local_path_dir_must_be_a_plain_absolute_directory(path):
    assert any("addons_local_path_dir" in p for p in addons.addons_problems(local_path_dir=path))


def test_metallb_addresses_must_be_a_list():
    (problem,) = addons.addons_problems(metallb_addresses="192.0.2.0/28")
    assert "give a list" in problem


@pytest.mark.parametrize("timeout", [True, -1, "soon", 0])
def test_wait_timeout_is_a_positive_whole_number(timeout):
    assert any("addons_wait_timeout" in p for p in addons.addons_problems(wait_timeout=timeout))


# -- Fluent Bit outputs ----------------------------------------------------------------------------


def test_no_outputs_means_stdout():
    assert addons.addons_fluent_bit_outputs([]) == "[OUTPUT]\n    Name  stdout\n    Match *\n"
    assert addons.addons_fluent_bit_outputs(None) == addons.addons_fluent_bit_outputs([])


def test_outputs_become_sections_name_and_match_first():
    text = addons.addons_fluent_bit_outputs([
        {"Host": "es.logging", "Port": 9200, "Name": "es", "Match": "kube.*", "Logstash_Format": True,
         "tls.verify": False},
        {"Name": "forward", "Host": "10.0.0.5"},
    ])
    assert text == (
        "[OUTPUT]\n"
        "    Name            es\n"
        "    Match           kube.*\n"
        "    Host            es.logging\n"
        "    Port            9200\n"
        "    Logstash_Format On\n"
        "    tls.verify      Off\n"
        "\n"
        "[OUTPUT]\n"
        "    Name  forward\n"
        "    Match *\n"
        "    Host  10.0.0.5\n")


def test_match_regex_counts_as_a_match():
    text = addons.addons_fluent_bit_outputs([{"Name": "stdout", "Match_Regex": "^kube"}])
    assert "Match *" not in text
    assert "Match_Regex ^kube" in text


@pytest.mark.parametrize(("outputs", "words"), [
    ("stdout", ["give a list"]),
    (["[OUTPUT]\n Name stdout"], ["each output is a mapping"]),
    ([{"Match": "*"}], ["has no Name"]),
    ([{"Name": "es", "Host": ["a", "b"]}], ["outputs[0].Host", "single value"]),
    ([{"Name": "es", "Host": None}], ["outputs[0].Host"]),
    ([{"Name": "es", "Host": "a\n[OUTPUT]"}], ["one line"]),
    ([{"Name": "es", "bad key": 1}], ["not a Fluent Bit key"]),
])
def test_bad_outputs_are_refused(outputs, words):
    problems = addons.addons_problems(outputs=outputs)
    for word in words:
        assert word in "\n".join(problems)
    with pytest.raises(AnsibleFilterError):
        addons.addons_fluent_bit_outputs(outputs)


# -- images -------------------------------------------------------------------------------------


IMAGES = ["quay.io/metallb/controller:v0.13.12", "quay.io/metallb/speaker:v0.13.12",
          "registry.example:5000/mirror/busybox:1.36.1@sha256:" + "a" * 64]


@pytest.mark.parametrize(("name", "ref"), [
    ("controller", IMAGES[0]), ("speaker", IMAGES[1]), ("busybox", IMAGES[2])])
def test_images_are_picked_by_repository_name(name, ref):
    assert addons.addons_image(IMAGES, name) == ref


def test_an_unknown_image_name_fails_naming_the_file():
    with pytest.raises(AnsibleFilterError, match=r"roles/addons/vars/main\.yml"):
        addons.addons_image(IMAGES, "fluent-bit")


@pytest.mark.parametrize(("ref", "tag"), [
    ("registry.k8s.io/metrics-server/metrics-server:v0.7.2", "v0.7.2"),
    ("registry.example:5000/busybox", "latest"),
    ("registry.example:5000/busybox:1.36@sha256:" + "b" * 64, "1.36"),
])
def test_image_tag(ref, tag):
    assert addons.addons_image_tag(ref) == tag


# -- manifests ----------------------------------------------------------------------------------


def test_manifests_are_split_and_empty_documents_dropped():
    text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n# only a comment\n"
    assert addons.addons_manifests(text) == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}]
    assert addons.addons_manifests(None) == []


@pytest.mark.parametrize(("text", "words"), [
    ("a: [b", ["invalid YAML"]),
    ("- just\n- a list\n", ["document 0 is not a Kubernetes object"]),
    ("kind: Namespace\n", ["not a Kubernetes object"]),
])
def test_bad_manifests_are_named(text, words):
    with pytest.raises(AnsibleFilterError) as err:
        addons.addons_manifests(text, "metallb")
    assert "metallb" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_for_apply_leaves_metallbs_ca_bundle_and_null_timestamps_out_without_touching_the_input():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "bgppeers.metallb.io", "creationTimestamp": None},
           "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {
               "caBundle": "Cg==", "service": {"name": "webhook-service", "namespace": "metallb-system"}}}}}}
    other = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "creationTimestamp": "2024-01-01"},
             "data": {"caBundle": "x"}}
    (crd_out, other_out) = addons.addons_for_apply([crd, other])
    client = crd_out["spec"]["conversion"]["webhook"]["clientConfig"]
    assert "caBundle" not in client
    assert client["service"]["name"] == "webhook-service"
    assert "creationTimestamp" not in crd_out["metadata"]
    assert other_out == other
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] == "Cg=="


def test_refs():
    assert addons.addons_refs([{"kind": "Namespace", "metadata": {"name": "a"}},
                               {"kind": "Deployment", "metadata": {"name": "c", "namespace": "b"}}]) == [
        "Namespace a", "Deployment b/c"]


def test_every_filter_is_registered():
    filters = addons.FilterModule().filters()
    assert all(name.startswith("addons_") and callable(f) for name, f in filters.items())
    assert {"addons_problems", "addons_fluent_bit_outputs", "addons_metallb_addresses", "addons_image",
            "addons_manifests", "addons_for_apply"} <= set(filters)
