"""filter_plugins/k8s_results.py: what failed tasks and loops of the addons, apps and cni roles said."""

from __future__ import annotations

import k8s_results
from k8s_results import kubesmith_failed_items


def test_failed_items_of_a_loop_say_which_object_failed():
    result = {"failed": True, "results": [
        {"failed": False, "_ansible_item_label": "ConfigMap shop/web-config"},
        {"failed": True, "_ansible_item_label": "Deployment shop/web",
         "msg": "Task failed: Module failed: \"Deployment\" \"web\": Timed out\n waiting on resource"},
        {"failed": True, "_ansible_item_label": "DaemonSet kube-system/calico-node",
         "msg": "Action failed: Resource apply timed out"},
    ]}
    assert kubesmith_failed_items(result) == [
        'Deployment shop/web: "Deployment" "web": Timed out waiting on resource',
        "DaemonSet kube-system/calico-node: Resource apply timed out"]


def test_a_single_result_is_its_own_message():
    assert kubesmith_failed_items({"failed": True, "msg": "Connection refused"}) == ["Connection refused"]
    assert kubesmith_failed_items({"msg": "Failed to load kubeconfig"}) == ["Failed to load kubeconfig"]
    assert kubesmith_failed_items({"failed": True}) == ["failed"]
    assert kubesmith_failed_items(None) == ["failed"]


def test_a_retried_item_without_a_message_says_how_often_it_was_checked():
    result = {"results": [{"failed": False}, {"failed": True, "attempts": 3}]}
    assert kubesmith_failed_items(result) == ["still not ready after 3 checks"]
    assert kubesmith_failed_items({"failed": True, "attempts": 60, "_ansible_item_label": "shop/legacy"}) == [
        "shop/legacy: still not ready after 60 checks"]


def test_the_immutable_field_hint_only_when_asked():
    refused = {"failed": True, "msg": 'Job.batch "x" is invalid: spec.template: Invalid value: ...: field is immutable'}
    (plain,) = kubesmith_failed_items(refused)
    assert plain.endswith("field is immutable")
    (hinted,) = kubesmith_failed_items(refused, immutable_hint=True)
    assert hinted.startswith(plain)
    assert hinted.endswith("delete the object, or rename it, and run again)")
    assert kubesmith_failed_items({"failed": True, "msg": "Timed out"}, immutable_hint=True) == ["Timed out"]


def test_registered_as_a_filter():
    assert k8s_results.FilterModule().filters() == {"kubesmith_failed_items": kubesmith_failed_items}
