#!/usr/bin/env python3
"""Unpack the collections named in collections.yml from the pinned PyPI `ansible` wheel.

Idempotent: does nothing when .collections/ already holds exactly what collections.yml asks for.
Usage: tools/install_collections.py [--dest .collections] [--wheel-cache .cache/wheels]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=os.path.join(ROOT, "collections.yml"))
    ap.add_argument("--dest", default=os.path.join(ROOT, ".collections"))
    ap.add_argument("--wheel-cache", default=os.path.join(ROOT, ".cache", "wheels"))
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    package, wanted = cfg["source_package"], sorted(cfg["collections"])
    stamp_path = os.path.join(args.dest, ".installed.json")
    stamp = {"source_package": package, "collections": wanted}
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                return 0
    except (OSError, ValueError):
        pass

    name, _, version = package.partition("==")
    os.makedirs(args.wheel_cache, exist_ok=True)
    pattern = os.path.join(args.wheel_cache, f"{name}-{version}-*.whl")
    if not glob.glob(pattern):
        print(f"install_collections: downloading {package} (collections only are kept)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", "--dest", args.wheel_cache, package],
            check=True,
        )
    wheel = sorted(glob.glob(pattern))[-1]
    tmp = args.dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        for coll in wanted:
            ns, cname = coll.split(".")
            prefix = f"ansible_collections/{ns}/{cname}/"
            members = [m for m in z.namelist() if m.startswith(prefix)]
            if not members:
                print(f"install_collections: {coll} is not in {os.path.basename(wheel)}", file=sys.stderr)
                return 1
            z.extractall(tmp, members)
    with open(os.path.join(tmp, ".installed.json"), "w") as f:
        json.dump(stamp, f)
    shutil.rmtree(args.dest, ignore_errors=True)
    os.rename(tmp, args.dest)
    with open(wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    print(f"install_collections: {', '.join(wanted)} from {os.path.basename(wheel)} (sha256 {digest}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
