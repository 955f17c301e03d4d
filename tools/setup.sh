#!/bin/bash
# Set up everything kubesmith needs on this machine; cheap to re-run (each step checks first).
#   1. Debian packages of the lab (mmdebstrap, systemd-nspawn, ...)       -- skipped when present
#   2. .venv from a working Python (tools/find-python), requirements.txt  -- skipped when unchanged
#   3. the kubesmith command (pip install -e .)                           -- skipped when unchanged
#   4. the Ansible collections of collections.yml into .collections/     -- skipped when unchanged
# Usage: tools/setup.sh [--no-apt]
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PKGS=(mmdebstrap systemd-container zstd dpkg-dev iproute2 openssh-client tar skopeo)
say() { echo "setup: $*" >&2; }

if [[ ${1:-} != --no-apt ]]; then
  missing=()
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || { say "need root to install: ${missing[*]}"; exit 1; }
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
fi

want_hash=$(cat requirements.txt | sha256sum | cut -c1-16)
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  py=$(tools/find-python)
  say "creating .venv with $py"
  rm -rf .venv
  "$py" -m venv .venv
fi
if [[ $(cat .venv/.requirements.sha 2>/dev/null) != "$want_hash" ]]; then
  say "installing Python packages ($(.venv/bin/python -V))"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want_hash" > .venv/.requirements.sha
fi
# the kubesmith command (kubesmith_cli/): editable, so only a changed pyproject.toml needs a reinstall
cli_hash=$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -x .venv/bin/kubesmith || $(cat .venv/.cli.sha 2>/dev/null) != "$cli_hash" ]]; then
  say "installing the kubesmith command"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . >.venv/.cli-install.log 2>&1 \
    || { cat .venv/.cli-install.log >&2; exit 1; }
  echo "$cli_hash" > .venv/.cli.sha
fi
.venv/bin/python tools/install_collections.py 2> >(grep -v "is ignored: it is neither" >&2)
say "ready: $(.venv/bin/ansible --version 2>/dev/null | sed -n 1p), $(.venv/bin/python -V)"
