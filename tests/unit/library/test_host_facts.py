import host_facts


def test_one_call_reads_everything_and_changes_nothing(module_harness, monkeypatch):
    monkeypatch.setattr(host_facts.shutil, "which", lambda name: f"/usr/bin/{name}")
    rc = module_harness.run_command([
        (0, "systemd-nspawn\n", ""),
        (0, 'LISTEN 0 4096 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))\n'
            'LISTEN 0 4096 *:6443 *:* users:(("nc",pid=2,fd=3))\n', ""),
        (0, "yes\n", ""),
    ])
    with module_harness.args({"ports": [6443], "sysctls": ["net.ipv4.ip_forward", "no.such.key"]}):
        result = module_harness.run(host_facts.main)
    assert rc.calls == [
        ["systemd-detect-virt", "--container"],
        ["ss", "-Htlnp"],
        ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
    ]
    assert result["changed"] is False
    assert result["ansible_facts"]["kubesmith_host"]["container"] == "systemd-nspawn"
    assert result["container"] == "systemd-nspawn"
    assert result["listening"] == [{"port": 6443, "address": "*", "process": "nc"}]
    assert result["time_synchronized"] is True
    assert result["sysctls"]["no.such.key"] == {"value": None, "writable": False}
    assert result["sysctls"]["net.ipv4.ip_forward"]["value"] in ("0", "1")
    assert result["cpus"] >= 1
    assert result["memory_mb"] > 0


def test_not_in_a_container_and_unknown_time_sync(module_harness, monkeypatch):
    monkeypatch.setattr(host_facts.shutil, "which", lambda name: f"/usr/bin/{name}")
    module_harness.run_command([(1, "none\n", ""), (0, "", ""), (1, "", "Failed to connect to bus")])
    with module_harness.args({}):
        result = module_harness.run(host_facts.main)
    assert result["container"] == "none"
    assert result["time_synchronized"] is None
