"""Filters of the preflight role: pure functions over host_facts results."""

from __future__ import annotations


def sysctls_to_apply(wanted: dict, current: dict) -> list[str]:
    """Keys of ``wanted`` (sysctl -> value) that are writable in ``current`` (host_facts' sysctls)
    but whose live value differs; sorted."""
    stale = []
    for key, value in wanted.items():
        now = current.get(key) or {}
        if now.get("writable") and str(now.get("value")) != str(value):
            stale.append(key)
    return sorted(stale)


def sysctls_writable(wanted: dict, current: dict) -> dict:
    """The part of ``wanted`` this host may write."""
    return {k: v for k, v in wanted.items() if (current.get(k) or {}).get("writable")}


class FilterModule:
    def filters(self):
        return {"sysctls_to_apply": sysctls_to_apply, "sysctls_writable": sysctls_writable}
