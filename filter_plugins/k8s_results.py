"""Filters shared by the roles that talk to the Kubernetes API (addons, apps, cni): what a failed
task or loop said, one line an item, for the roles' rescue messages.

Filters are global in Ansible, so every role calls these by name. Pure functions, unit-tested in
tests/unit/filter_plugins/test_k8s_results.py.
"""

from __future__ import annotations

import re

# What Ansible puts in front of a module's own message.
_PREFIXES = re.compile(r"^(Task failed: |Module failed: |Action failed: )+")

_IMMUTABLE_HINT = (" (Kubernetes never changes this field of an existing object, such as a Job's template or a "
                   "workload's selector: delete the object, or rename it, and run again)")


def kubesmith_failed_items(result, immutable_hint: bool = False) -> list[str]:
    """'<item label>: <message>' for each failed item of a loop result (or the result itself).

    An item without a message that was retried says after how many checks it gave up. With
    ``immutable_hint``, a "field is immutable" refusal also says what to do about it.
    """
    result = result or {}
    items = [r for r in result.get("results") or [] if isinstance(r, dict) and r.get("failed")] or [result]
    out = []
    for item in items:
        label = item.get("_ansible_item_label")
        default = f"still not ready after {item['attempts']} checks" if item.get("attempts") else "failed"
        msg = _PREFIXES.sub("", " ".join(str(item.get("msg") or default).split()))
        if immutable_hint and "field is immutable" in msg:
            msg += _IMMUTABLE_HINT
        out.append(f"{label}: {msg}" if label else msg)
    return out


class FilterModule:
    def filters(self):
        return {
            "kubesmith_failed_items": kubesmith_failed_items,
        }
