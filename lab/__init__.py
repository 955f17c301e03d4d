"""kubesmith lab: real local test hosts (systemd-nspawn on a private bridge).

Run it as ``python -m lab up|down|status|image|repo`` from the repository root.
See lab/README.md.
"""
