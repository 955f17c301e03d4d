"""The node tier on lab hosts: kernel settings, swap, containerd, a real container on a CNI network,
and exactly one containerd restart after one setting changed (the side_effect step)."""

import json
import os

import pytest
import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
testinfra_hosts = sorted(RUNNER.get_hosts("all"))
SOCKET = "/run/containerd/containerd.sock"
CTR = f"ctr --address {SOCKET} -n k8s.io"
TEST_NET = "172.31.250"  # test-only CNI network, outside the lab and the default pod/service CIDRs


def journal(host, unit="containerd", lines=40):
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager -o cat").stdout


@pytest.mark.parametrize(
    ("key", "value"),
    [("net.ipv4.ip_forward", "1"), ("net.bridge.bridge-nf-call-iptables", "1"),
     ("net.bridge.bridge-nf-call-ip6tables", "1")],
)
def test_sysctl(host, key, value):
    assert host.file("/proc/sys/" + key.replace(".", "/")).content_string.strip() == value
    assert f"{key} = {value}" in host.file("/etc/sysctl.d/99-kubesmith.conf").content_string


def test_kernel_modules_configured_for_boot(host):
    assert host.file("/etc/modules-load.d/kubesmith.conf").content_string.split() == ["overlay", "br_netfilter"]


def test_swap_off_or_container_host(host):
    swaps = host.file("/proc/swaps").content_string.splitlines()[1:]
    in_container = host.run("systemd-detect-virt --container").stdout.strip() not in ("", "none")
    assert not swaps or in_container, f"swap is on: {swaps}"


def test_containerd_running_and_enabled(host):
    svc = host.service("containerd")
    assert svc.is_running, journal(host)
    assert svc.is_enabled


def test_containerd_socket_answers(host):
    out = host.run(f"{CTR} version")
    assert out.rc == 0, out.stderr + journal(host)
    assert "Server:" in out.stdout


def test_cgroup_driver_matches_the_host(host):
    v2 = host.file("/sys/fs/cgroup/cgroup.controllers").exists
    systemd = host.file("/run/systemd/system").is_directory
    want = "true" if v2 and systemd else "false"
    assert f"SystemdCgroup = {want}" in host.file("/etc/containerd/config.toml").content_string


def test_preloaded_image_present(host):
    assert "localhost/busybox:latest" in host.run(f"{CTR} images ls -q").stdout.split()


@pytest.fixture
def test_cni_network(host):
    conf = "/etc/cni/net.d/10-kubesmith-test.conflist"
    spec = {
        "cniVersion": "0.4.0", "name": "kubesmith-test",
        "plugins": [{"type": "bridge", "bridge": "kstestbr0", "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": f"{TEST_NET}.0/24"}]]}}],
    }
    host.run(f"mkdir -p /etc/cni/net.d && printf '%s' '{json.dumps(spec)}' > {conf}")
    yield
    host.run(f"rm -f {conf}; ip link del kstestbr0 2>/dev/null; rm -rf /var/lib/cni/networks/kubesmith-test")


def test_container_runs_on_a_cni_network(host, test_cni_network):
    name = f"kubesmith-test-{host.backend.get_hostname()}"
    host.run(f"{CTR} tasks kill -s KILL {name}; {CTR} containers rm {name}")
    out = host.run(f"timeout 60 {CTR} run --rm --cni localhost/busybox:latest {name} ip -4 -o addr show eth0")
    assert out.rc == 0, out.stdout + out.stderr + journal(host)
    assert f"inet {TEST_NET}." in out.stdout


def test_one_setting_change_restarted_containerd_exactly_once(host):
    record = json.loads(host.file("/root/kubesmith-side-effect.json").content_string)
    assert "localhost/pause:side-effect" in host.file("/etc/containerd/config.toml").content_string
    now = host.run("systemctl show containerd --property=InvocationID --value").stdout.strip()
    assert now != record["invocation_before"], "containerd was not restarted"
    log = host.run(f"journalctl -u containerd --since '{record['since']}' --no-pager -o cat").stdout
    starts = [ln for ln in log.splitlines() if ln.startswith("Started containerd")]
    assert len(starts) == 1, log
