import pytest
from ansible.module_utils import host_facts as hf

SS = """\
LISTEN 0      4096         0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=61,fd=3))
LISTEN 0      4096       127.0.0.1:10248     0.0.0.0:*    users:(("kubelet",pid=900,fd=20))
LISTEN 0      4096               *:10250           *:*    users:(("kubelet",pid=900,fd=21))
LISTEN 0      128           [::1]:6443          [::]:*
"""


def test_ss_listeners_with_processes():
    got = hf.parse_ss_listen(SS)
    assert got[0] == {"port": 22, "address": "0.0.0.0", "process": "sshd"}
    assert got[2] == {"port": 10250, "address": "*", "process": "kubelet"}
    assert got[3] == {"port": 6443, "address": "::1", "process": ""}


def test_ports_in_use_ignores_expected_owners():
    listening = hf.parse_ss_listen(SS)
    busy = hf.ports_in_use(listening, [6443, 10250, 2379], ["kubelet", "kube-apiserver"])
    assert busy == [{"port": 6443, "address": "::1", "process": ""}]


def test_os_release():
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n# c\nVERSION_CODENAME=bookworm\n'
    assert hf.parse_os_release(text) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12",
        "VERSION_CODENAME": "bookworm",
    }


@pytest.mark.parametrize(("text", "mb"), [("MemTotal:       24579076 kB\nMemFree: 1 kB\n", 24003), ("", 0)])
def test_meminfo(text, mb):
    assert hf.parse_meminfo_mb(text) == mb


def test_swaps():
    text = "Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition\t1048572\t0\t-2\n"
    assert hf.parse_swaps(text) == [{"device": "/dev/vda2", "type": "partition", "size_kb": 1048572}]
    assert hf.parse_swaps("Filename\tType\tSize\tUsed\tPriority\n") == []


def test_cpu_count_and_sysctl_path():
    assert hf.parse_cpu_count("processor\t: 0\nx: y\nprocessor\t: 1\n") == 2
    assert hf.sysctl_path("net.bridge.bridge-nf-call-iptables") == "/proc/sys/net/bridge/bridge-nf-call-iptables"
