#!/usr/bin/env python3
"""Measure kubesmith's speed on lab hosts: first converge and no-op re-run, per tier and size.

For each size (hosts) and repetition: fresh lab hosts, converge the tier's playbook once, then
re-run it with nothing to change. Prints medians (wall time, tasks run per host, changed) as a
table and writes everything to .bench/<timestamp>.json and .bench/latest.json.

Usage: tools/bench.py [--sizes 3 10] [--reps 3] [--tier node]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
# tier -> (playbook, extra vars builder); later tiers add themselves here
TIERS = {
    "node": ("playbooks/node.yml",
             lambda state: {"container_runtime_image_tarballs": [state["images_dir"] + "/busybox-oci.tar"]}),
}


def lab(*args: str) -> dict:
    proc = subprocess.run([PY, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench: lab {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout) if "--json" in args else {}


def play(playbook: str, extra: dict) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
           "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    t0 = time.monotonic()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(PY), "ansible-playbook"), "-i", os.path.join(ROOT, ".lab", "inventory.yml"),
         "-e", json.dumps(extra), playbook],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )
    took = time.monotonic() - t0
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        sys.exit(f"bench: {playbook} gave no JSON (rc={proc.returncode}):\n"
                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if proc.returncode != 0:
        sys.exit(f"bench: {playbook} failed (rc={proc.returncode}); stats: {out.get('stats')}")
    tasks: dict[str, int] = {}
    for p in out["plays"]:
        for t in p["tasks"]:
            for host, res in t["hosts"].items():
                if not res.get("skipped"):
                    tasks[host] = tasks.get(host, 0) + 1
    changed = sum(s.get("changed", 0) for s in out["stats"].values())
    return {"seconds": round(took, 2), "tasks_per_host": max(tasks.values(), default=0), "changed": changed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tier", choices=sorted(TIERS), nargs="+", default=sorted(TIERS))
    args = ap.parse_args()
    runs = []
    for tier in args.tier:
        playbook, extra_of = TIERS[tier]
        for size in args.sizes:
            for rep in range(args.reps):
                lab("down")
                state = lab("up", "--control-plane", "1", "--workers", str(size - 1), "--json")
                first = play(playbook, extra_of(state))
                noop = play(playbook, extra_of(state))
                runs.append({"tier": tier, "hosts": size, "rep": rep, "converge": first, "noop": noop})
                print(f"bench: {tier} x{size} #{rep + 1}: converge {first['seconds']}s, "
                      f"no-op {noop['seconds']}s (changed={noop['changed']})", file=sys.stderr)
    lab("down")
    summary = []
    for tier in args.tier:
        for size in args.sizes:
            rs = [r for r in runs if r["tier"] == tier and r["hosts"] == size]
            med = lambda phase, key, rs=rs: statistics.median(r[phase][key] for r in rs)  # noqa: E731
            summary.append({
                "tier": tier, "hosts": size, "reps": len(rs),
                "converge_s": med("converge", "seconds"), "noop_s": med("noop", "seconds"),
                "tasks_per_host": med("converge", "tasks_per_host"),
                "noop_tasks_per_host": med("noop", "tasks_per_host"),
                "converge_changed": med("converge", "changed"), "noop_changed": max(r["noop"]["changed"] for r in rs),
            })
    print(f"{'tier':6} {'hosts':>5} {'reps':>4} {'converge s':>11} {'no-op s':>8} {'tasks/host':>10} "
          f"{'no-op tasks':>11} {'no-op changed':>13}")
    for s in summary:
        print(f"{s['tier']:6} {s['hosts']:>5} {s['reps']:>4} {s['converge_s']:>11.1f} {s['noop_s']:>8.1f} "
              f"{s['tasks_per_host']:>10.0f} {s['noop_tasks_per_host']:>11.0f} {s['noop_changed']:>13}")
    os.makedirs(os.path.join(ROOT, ".bench"), exist_ok=True)
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "summary": summary, "runs": runs}
    for name in (time.strftime("%Y%m%d-%H%M%S") + ".json", "latest.json"):
        with open(os.path.join(ROOT, ".bench", name), "w") as f:
            json.dump(doc, f, indent=2)
    return 1 if any(s["noop_changed"] for s in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
