"""Role `base` on the lab hosts: packages present, every host resolves every other by name."""

import os

import pytest
import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
HOSTS = sorted(RUNNER.get_hosts("all"))
testinfra_hosts = HOSTS
PACKAGES = ["conntrack", "curl", "ebtables", "ethtool", "socat"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_installed(host, name):
    assert host.package(name).is_installed, f"{name} is not installed"


@pytest.mark.parametrize("other", HOSTS)
def test_resolves_host_by_name(host, other):
    want = RUNNER.get_variables(other)["ansible_host"]
    got = host.run("getent hosts %s", other)
    assert got.rc == 0, f"{other} does not resolve: {got.stderr}"
    assert got.stdout.split()[0] == want


def test_etc_hosts_block_written_once(host):
    content = host.file("/etc/hosts").content_string
    assert content.count("# BEGIN kubesmith cluster hosts") == 1
    assert content.count("# END kubesmith cluster hosts") == 1
