"""library/node_agent.py, built for real through the harness: every command's argv is asserted,
files live under tmp_path (systemd_dir, state_dir, binaries, config files)."""

import hashlib
import io
import json
import os
import socket

import node_agent
import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from module_harness import FakeClock

NAME = "containerd"
UNIT = f"{NAME}.service"
SHOW = ["systemctl", "show", UNIT, "--property=ActiveState,UnitFileState,LoadState,NeedDaemonReload", "--no-pager"]
DPKG = ["dpkg-query", "-W", "-f=${Package}\\t${Status}\\t${Version}\\n", "containerd", "runc"]
APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold"]
RELOAD = ["systemctl", "daemon-reload"]
OK = (0, "", "")
CONFIG = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n'
UNIT_TEXT = (
    "[Unit]\nDescription=containerd\n[Service]\nExecStart=/usr/bin/containerd\n[Install]\nWantedBy=multi-user.target\n"
)
KUBELET = b"\x7fELF kubelet v1.30.2"
KUBELET_SHA = hashlib.sha256(KUBELET).hexdigest()
SECRET = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKs3cr3tk3yMaterial\n-----END EC PRIVATE KEY-----\n"


def show(active="active", enabled="enabled", load="loaded", reload="no"):
    """systemctl show output (systemd 252 prints the properties in its own order)."""
    return (0, f"LoadState={load}\nActiveState={active}\nNeedDaemonReload={reload}\nUnitFileState={enabled}\n", "")


def dpkg(*lines):
    return (0, "".join(f"{line}\n" for line in lines), "")


INSTALLED = dpkg("containerd\tinstall ok installed\t1.6.20~ds1-1+b1", "runc\tinstall ok installed\t1.1.5+ds1-1")
NOTHING_INSTALLED = (
    1,
    "",
    "dpkg-query: no packages found matching containerd\ndpkg-query: no packages found matching runc\n",
)


@pytest.fixture
def paths(tmp_path):
    class Paths:
        systemd = tmp_path / "systemd"
        state = tmp_path / "state"
        etc = tmp_path / "etc"
        bin = tmp_path / "bin"
        unit = tmp_path / "systemd" / UNIT
        dropins = tmp_path / "systemd" / f"{UNIT}.d"
        record = tmp_path / "state" / f"{NAME}.json"
        config = tmp_path / "etc" / "containerd" / "config.toml"
        key = tmp_path / "etc" / "containerd" / "registry.key"
        kubelet = tmp_path / "bin" / "kubelet"

    return Paths


def args(paths, **extra):
    base = {"name": NAME, "systemd_dir": str(paths.systemd), "state_dir": str(paths.state)}
    return {**base, **extra}


def full_args(paths, **extra):
    """A containerd with everything: packages, a file, a unit, a drop-in and an environment."""
    everything = {
        "version": "1.6.20",
        "packages": ["containerd", "runc"],
        "files": [{"path": str(paths.config), "content": CONFIG}],
        "unit": UNIT_TEXT,
        "dropins": {"kubesmith-limits": "[Service]\nLimitNOFILE=1048576\n"},
        "environment": {"HTTPS_PROXY": "http://proxy:3128"},
    }
    return args(paths, **{**everything, **extra})


def run(harness, module_args, results, failed=False):
    mock = harness.run_command(results)
    with harness.args(module_args):
        result = harness.run(node_agent.main, failed=failed)
    if not failed:
        mock.assert_all_used()
    return result, mock


def tree(root):
    """Every file under root, relative, to prove what was (not) written."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


FRESH = [NOTHING_INSTALLED, OK, show("inactive", "disabled"), OK, OK, OK]


def converge_fresh(harness, paths, **extra):
    result, _ = run(harness, full_args(paths, **extra), FRESH)
    return result


# --- a fresh install, then the same call again ------------------------------------------------


def test_fresh_install_runs_each_step_once_in_order(module_harness, paths):
    result, rc = run(module_harness, full_args(paths), FRESH)

    assert rc.calls == [
        DPKG,
        [*APT_INSTALL, "containerd", "runc"],
        SHOW,
        RELOAD,
        ["systemctl", "enable", UNIT],
        ["systemctl", "start", UNIT],
    ]
    assert rc.kwargs[1]["environ_update"] == {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    assert all(kw["environ_update"]["LC_ALL"] == "C" for kw in rc.kwargs)
    assert result["changes"] == [
        "package:containerd",
        "package:runc",
        f"file:{paths.config}",
        "unit",
        "dropin:kubesmith-environment",
        "dropin:kubesmith-limits",
        "daemon-reload",
        "enabled",
        "started",
        "record",
    ]
    assert result["changed"] is True
    assert (result["active"], result["enabled"], result["version"]) == (True, True, "1.6.20")
    assert result["health"] == {"checked": False, "healthy": None, "seconds": 0.0}
    assert result["paths"] == {
        "unit": str(paths.unit),
        "dropin_dir": str(paths.dropins),
        "record": str(paths.record),
        "binaries": [],
        "files": [str(paths.config)],
    }
    assert paths.config.read_text() == CONFIG
    assert oct(paths.config.stat().st_mode & 0o7777) == "0o644"
    assert paths.unit.read_text() == UNIT_TEXT
    assert (
        (paths.dropins / "kubesmith-environment.conf")
        .read_text()
        .endswith('[Service]\nEnvironment="HTTPS_PROXY=http://proxy:3128"\n')
    )
    record = json.loads(paths.record.read_text())
    assert record["version"] == "1.6.20"
    assert record["packages"] == ["containerd", "runc"]
    assert record["files"] == {str(paths.config): hashlib.sha256(CONFIG.encode()).hexdigest()}
    assert record["restart_pending"] is False
    assert not [p for p in tree(paths.systemd.parent) if ".tmp" in p]  # no temporary file left


def test_second_identical_call_runs_only_read_only_commands(module_harness, paths):
    converge_fresh(module_harness, paths)
    record_before = paths.record.stat().st_mtime_ns

    result, rc = run(module_harness, full_args(paths), [INSTALLED, show()])

    assert rc.calls == [DPKG, SHOW]
    assert result["changed"] is False
    assert result["changes"] == []
    assert (result["active"], result["enabled"], result["version"]) == (True, True, "1.6.20")
    assert paths.record.stat().st_mtime_ns == record_before


@pytest.mark.parametrize(
    ("change", "expected_changes", "reload"),
    [
        ({"files": [{"path": "CONFIG", "content": CONFIG + "# tuned\n"}]}, ["file:CONFIG"], False),
        ({"unit": UNIT_TEXT + "# edited\n"}, ["unit"], True),
        ({"dropins": {"kubesmith-limits": "[Service]\nLimitNOFILE=65536\n"}}, ["dropin:kubesmith-limits"], True),
        ({"environment": {"HTTPS_PROXY": "http://other:3128"}}, ["dropin:kubesmith-environment"], True),
    ],
)
def test_a_change_restarts_a_running_service_exactly_once(module_harness, paths, change, expected_changes, reload):
    converge_fresh(module_harness, paths)
    if "files" in change:
        change["files"][0]["path"] = str(paths.config)
    expected_changes = [c.replace("CONFIG", str(paths.config)) for c in expected_changes]

    result, rc = run(module_harness, {**full_args(paths), **change}, [INSTALLED, show(), *([OK] if reload else []), OK])

    assert rc.calls == [DPKG, SHOW, *([RELOAD] if reload else []), ["systemctl", "restart", UNIT]]
    assert result["changes"] == [*expected_changes, *(["daemon-reload"] if reload else []), "restarted", "record"]
    assert json.loads(paths.record.read_text())["restart_pending"] is False


def test_restart_on_change_false_only_reloads(module_harness, paths):
    converge_fresh(module_harness, paths)
    result, rc = run(
        module_harness, full_args(paths, unit=UNIT_TEXT + "#\n", restart_on_change=False), [INSTALLED, show(), OK]
    )
    assert rc.calls == [DPKG, SHOW, RELOAD]
    assert result["changes"] == ["unit", "daemon-reload", "record"]


def test_an_upgraded_package_restarts(module_harness, paths):
    converge_fresh(module_harness, paths)
    result, rc = run(
        module_harness,
        full_args(paths, packages=["containerd=1.7.20-1", "runc"]),
        [INSTALLED, OK, show(), OK],
    )
    assert rc.calls == [DPKG, [*APT_INSTALL, "containerd=1.7.20-1"], SHOW, ["systemctl", "restart", UNIT]]
    assert result["changes"] == ["package:containerd", "restarted"]


# --- present, stopped, and a restart that did not happen ------------------------------------


def test_present_leaves_the_running_state_and_a_later_started_call_restarts(module_harness, paths):
    converge_fresh(module_harness, paths)
    changed_config = [{"path": str(paths.config), "content": "version = 3\n"}]

    result, rc = run(module_harness, full_args(paths, state="present", files=changed_config), [INSTALLED, show()])
    assert rc.calls == [DPKG, SHOW]  # no restart under present
    assert result["changes"] == [f"file:{paths.config}", "record"]
    assert json.loads(paths.record.read_text())["restart_pending"] is True

    result, rc = run(module_harness, full_args(paths, files=changed_config), [INSTALLED, show(), OK])
    assert rc.calls == [DPKG, SHOW, ["systemctl", "restart", UNIT]]
    assert result["changes"] == ["restarted", "record"]
    assert json.loads(paths.record.read_text())["restart_pending"] is False

    result, rc = run(module_harness, full_args(paths, files=changed_config), [INSTALLED, show()])
    assert result["changes"] == []


def test_a_failed_restart_is_retried_by_the_next_call(module_harness, paths):
    converge_fresh(module_harness, paths)
    changed = full_args(paths, files=[{"path": str(paths.config), "content": "version = 3\n"}])

    result, _ = run(
        module_harness, changed, [INSTALLED, show(), (1, "", "Job for containerd.service failed.\n")], failed=True
    )
    assert result["msg"].startswith("containerd: systemctl restart failed: 'systemctl restart containerd.service'")
    assert "Job for containerd.service failed." in result["msg"]
    assert result["changes"] == [f"file:{paths.config}", "restarted"]

    # the file is in place now, but the service still runs the old one
    result, rc = run(module_harness, changed, [INSTALLED, show(), OK])
    assert rc.calls == [DPKG, SHOW, ["systemctl", "restart", UNIT]]
    assert result["changes"] == ["restarted", "record"]


def test_stale_unit_on_disk_is_reloaded(module_harness, paths):
    converge_fresh(module_harness, paths)
    result, rc = run(module_harness, full_args(paths), [INSTALLED, show(reload="yes"), OK])
    assert rc.calls == [DPKG, SHOW, RELOAD]
    assert result["changes"] == ["daemon-reload"]


def test_stopped_and_disabled(module_harness, paths):
    result, rc = run(module_harness, args(paths, state="stopped", enabled=False), [show(), OK, OK])
    assert rc.calls == [SHOW, ["systemctl", "disable", UNIT], ["systemctl", "stop", UNIT]]
    assert result["changes"] == ["disabled", "stopped", "record"]
    assert (result["active"], result["enabled"]) == (False, False)


def test_a_masked_unit_is_not_started_behind_the_users_back(module_harness, paths):
    result, rc = run(module_harness, args(paths), [show("inactive", "masked", load="masked")], failed=True)
    assert rc.calls == [SHOW]
    assert "containerd.service is masked" in result["msg"]
    assert "systemctl unmask containerd.service" in result["msg"]


def test_a_missing_unit_fails_with_a_hint(module_harness, paths):
    result, _ = run(
        module_harness,
        args(paths),
        [
            show("inactive", "", load="not-found"),
            (1, "", "Failed to enable unit: Unit file containerd.service does not exist.\n"),
        ],
        failed=True,
    )
    assert "Unit file containerd.service does not exist." in result["msg"]
    assert "give its content in unit, or a package with it" in result["msg"]
    assert result["rc"] == 1
    assert result["cmd"] == ["systemctl", "enable", UNIT]


def test_a_unit_given_earlier_and_now_omitted_is_removed(module_harness, paths):
    converge_fresh(module_harness, paths)
    result, rc = run(module_harness, full_args(paths, unit=None), [INSTALLED, show(), OK, OK])
    assert rc.calls == [DPKG, SHOW, RELOAD, ["systemctl", "restart", UNIT]]
    assert result["changes"] == ["unit", "daemon-reload", "restarted", "record"]
    assert not paths.unit.exists()


# --- drop-ins and environment ------------------------------------------------------------------


def test_only_the_modules_own_dropins_are_removed(module_harness, paths):
    converge_fresh(module_harness, paths)
    (paths.dropins / "kubesmith-old.conf").write_text("[Service]\n")
    (paths.dropins / "20-admin.conf").write_text("[Service]\nNice=5\n")

    result, rc = run(module_harness, full_args(paths, dropins={}, environment={}), [INSTALLED, show(), OK, OK])

    assert rc.calls == [DPKG, SHOW, RELOAD, ["systemctl", "restart", UNIT]]
    assert result["changes"] == [
        "dropin:kubesmith-environment",
        "dropin:kubesmith-limits",
        "dropin:kubesmith-old",
        "daemon-reload",
        "restarted",
        "record",
    ]
    assert sorted(os.listdir(paths.dropins)) == ["20-admin.conf"]


def test_a_dropin_without_the_prefix_is_removed_when_the_record_says_it_is_ours(module_harness, paths):
    run(module_harness, args(paths, dropins={"10-kubeadm": "[Service]\n"}), [show("inactive", "disabled"), OK, OK, OK])
    assert (paths.dropins / "10-kubeadm.conf").exists()

    result, rc = run(module_harness, args(paths), [show(), OK, OK])
    assert rc.calls == [SHOW, RELOAD, ["systemctl", "restart", UNIT]]
    assert result["changes"] == ["dropin:10-kubeadm", "daemon-reload", "restarted", "record"]
    assert not paths.dropins.exists()  # emptied, so removed


# --- packages ---------------------------------------------------------------------------------


def test_packages_are_held_once(module_harness, paths):
    status = dpkg("containerd\tinstall ok installed\t1.6.20", "runc\thold ok installed\t1.1.5")
    result, rc = run(
        module_harness, args(paths, packages=["containerd", "runc"], hold_packages=True), [status, OK, show()]
    )
    assert rc.calls == [DPKG, ["apt-mark", "hold", "containerd"], SHOW]
    assert result["changes"] == ["hold:containerd", "record"]

    held = dpkg("containerd\thold ok installed\t1.6.20", "runc\thold ok installed\t1.1.5")
    result, rc = run(module_harness, args(paths, packages=["containerd", "runc"], hold_packages=True), [held, show()])
    assert rc.calls == [DPKG, SHOW]
    assert result["changed"] is False


def test_a_held_package_is_upgraded_and_held_again(module_harness, paths):
    held = dpkg("containerd\thold ok installed\t1.6.20", "runc\thold ok installed\t1.1.5")
    result, rc = run(
        module_harness,
        args(paths, packages=["containerd=1.7.20", "runc"], hold_packages=True),
        [held, OK, OK, show(), OK],
    )
    assert rc.calls == [
        DPKG,
        [*APT_INSTALL, "--allow-change-held-packages", "containerd=1.7.20"],
        ["apt-mark", "hold", "containerd"],
        SHOW,
        ["systemctl", "restart", UNIT],
    ]
    assert result["changes"] == ["package:containerd", "restarted", "record"]


def test_a_failed_install_says_what_apt_said_and_what_to_check(module_harness, paths):
    result, rc = run(
        module_harness,
        args(paths, packages=["containerd", "runc"]),
        [NOTHING_INSTALLED, (100, "Reading package lists...\n", "E: Unable to locate package runc\n")],
        failed=True,
    )
    assert len(rc.calls) == 2
    assert result["msg"] == (
        "containerd: installing packages failed: 'apt-get install -y --no-install-recommends -o "
        "Dpkg::Options::=--force-confold containerd runc' exited with rc=100: E: Unable to locate package runc "
        "(check the package names and versions, and that the apt index is current: apt-get update)"
    )
    assert (result["rc"], result["stdout"], result["stderr"]) == (
        100,
        "Reading package lists...\n",
        "E: Unable to locate package runc\n",
    )
    assert result["changes"] == ["package:containerd", "package:runc"]


def test_dpkg_query_errors_are_not_taken_for_missing_packages(module_harness, paths):
    result, _ = run(
        module_harness,
        args(paths, packages=["containerd"]),
        [(2, "", "dpkg-query: error: parsing file\n")],
        failed=True,
    )
    assert "reading the installed packages failed" in result["msg"]
    assert "dpkg-query: error: parsing file" in result["msg"]


# --- binaries ---------------------------------------------------------------------------------


def binary(paths, **extra):
    return {"dest": str(paths.kubelet), "sha256": KUBELET_SHA, **extra}


def test_binary_from_src_is_installed_verified(module_harness, paths, tmp_path):
    src = tmp_path / "bundle" / "kubelet"
    src.parent.mkdir()
    src.write_bytes(KUBELET)
    result, rc = run(module_harness, args(paths, binaries=[binary(paths, src=str(src))]), [show(), OK])
    assert rc.calls == [SHOW, ["systemctl", "restart", UNIT]]
    assert result["changes"] == [f"binary:{paths.kubelet}", "restarted", "record"]
    assert paths.kubelet.read_bytes() == KUBELET
    assert oct(paths.kubelet.stat().st_mode & 0o7777) == "0o755"
    assert json.loads(paths.record.read_text())["binaries"] == {str(paths.kubelet): KUBELET_SHA}


def test_binary_download_happens_only_when_the_checksum_differs(module_harness, paths, monkeypatch):
    fetched = []

    def open_url(url, **kwargs):
        fetched.append(url)
        return io.BytesIO(KUBELET)

    monkeypatch.setattr(node_agent, "open_url", open_url)
    url = "https://dl.k8s.io/release/v1.30.2/bin/linux/amd64/kubelet"
    module_args = args(paths, binaries=[binary(paths, url=url)], state="present")

    result, _ = run(module_harness, module_args, [show()])
    assert fetched == [url]
    assert paths.kubelet.read_bytes() == KUBELET
    assert result["changes"] == [f"binary:{paths.kubelet}", "record"]

    result, _ = run(module_harness, module_args, [show()])
    assert fetched == [url]  # not again
    assert result["changed"] is False


def test_binary_mode_only_is_fixed_without_reading_the_source(module_harness, paths, monkeypatch):
    paths.kubelet.parent.mkdir()
    paths.kubelet.write_bytes(KUBELET)
    paths.kubelet.chmod(0o700)
    monkeypatch.setattr(node_agent, "open_url", lambda *a, **k: pytest.fail("downloaded"))
    result, _ = run(
        module_harness, args(paths, state="present", binaries=[binary(paths, url="https://x/kubelet")]), [show()]
    )
    assert result["changes"] == [f"binary:{paths.kubelet}", "record"]
    assert oct(paths.kubelet.stat().st_mode & 0o7777) == "0o755"


@pytest.mark.parametrize("source", ["src", "url"])
def test_a_checksum_mismatch_fails_before_dest_is_touched(module_harness, paths, tmp_path, monkeypatch, source):
    paths.kubelet.parent.mkdir()
    paths.kubelet.write_bytes(b"old kubelet")
    wrong = b"\x7fELF kubelet v1.29.0"
    src = tmp_path / "kubelet.staged"
    src.write_bytes(wrong)
    monkeypatch.setattr(node_agent, "open_url", lambda url, **kw: io.BytesIO(wrong))
    location = str(src) if source == "src" else "https://mirror.example/kubelet"

    result, rc = run(module_harness, args(paths, binaries=[binary(paths, **{source: location})]), [], failed=True)

    assert rc.calls == []
    assert hashlib.sha256(wrong).hexdigest() in result["msg"]
    assert f"expected {KUBELET_SHA}" in result["msg"]
    assert f"{source} {location}" in result["msg"]
    assert paths.kubelet.read_bytes() == b"old kubelet"
    assert os.listdir(paths.kubelet.parent) == ["kubelet"]  # the temporary file is gone
    assert not paths.record.exists()


def test_a_failed_download_names_the_url(module_harness, paths, monkeypatch):
    import urllib.error

    def open_url(url, **kwargs):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(node_agent, "open_url", open_url)
    result, _ = run(
        module_harness, args(paths, binaries=[binary(paths, url="https://dl.k8s.io/v9/kubelet")]), [], failed=True
    )
    assert (
        result["msg"]
        == f"containerd: binary {paths.kubelet}: downloading https://dl.k8s.io/v9/kubelet failed: HTTP 404 Not Found"
    )


# --- check mode and diff ----------------------------------------------------------------------


def everything(paths, src):
    return full_args(
        paths,
        binaries=[binary(paths, src=str(src))],
        secret_files=[{"path": str(paths.key), "content": SECRET}],
    )


def test_check_mode_changes_nothing_and_predicts_the_real_run(module_harness, paths, tmp_path):
    src = tmp_path / "kubelet.staged"
    src.write_bytes(KUBELET)
    before = tree(tmp_path)

    predicted, rc = run(
        module_harness,
        {**everything(paths, src), "_ansible_check_mode": True},
        [NOTHING_INSTALLED, show("inactive", "disabled")],
    )
    assert rc.calls == [DPKG, SHOW]  # read-only commands only
    assert tree(tmp_path) == before

    real, _ = run(module_harness, everything(paths, src), FRESH)
    assert predicted["changes"] == real["changes"]
    assert (predicted["active"], predicted["enabled"], predicted["version"]) == (True, True, "1.6.20")

    again, rc = run(module_harness, {**everything(paths, src), "_ansible_check_mode": True}, [INSTALLED, show()])
    assert again["changed"] is False


def test_check_mode_does_not_download(module_harness, paths, monkeypatch):
    monkeypatch.setattr(node_agent, "open_url", lambda *a, **k: pytest.fail("downloaded in check mode"))
    result, _ = run(
        module_harness,
        {**args(paths, binaries=[binary(paths, url="https://x/kubelet")]), "_ansible_check_mode": True},
        [show("inactive", "disabled")],
    )
    assert result["changes"][:1] == [f"binary:{paths.kubelet}"]
    assert not paths.kubelet.exists()


def test_diff_shows_files_binaries_packages_and_service_state(module_harness, paths, tmp_path):
    src = tmp_path / "kubelet.staged"
    src.write_bytes(KUBELET)
    paths.config.parent.mkdir(parents=True)
    paths.config.write_text("version = 1\n")
    paths.config.chmod(0o600)

    result, _ = run(
        module_harness,
        {**everything(paths, src), "_ansible_diff": True, "_ansible_check_mode": True},
        [NOTHING_INSTALLED, show("inactive", "disabled")],
    )
    diff = {d["before_header"]: d for d in result["diff"]}
    assert diff["packages"]["before"] == "containerd (not installed)\nrunc (not installed)\n"
    assert diff["packages"]["after"] == "containerd (candidate version)\nrunc (candidate version)\n"
    assert diff[str(paths.kubelet)] == {
        "before_header": str(paths.kubelet),
        "after_header": str(paths.kubelet),
        "before": "",
        "after": f"{KUBELET_SHA}  {paths.kubelet} (mode 0755)\n",
    }
    config = diff[f"{paths.config} (mode 0600)"]
    assert (config["before"], config["after"], config["after_header"]) == (
        "version = 1\n",
        CONFIG,
        f"{paths.config} (mode 0644)",
    )
    assert diff[f"{paths.unit} (absent)"]["after"] == UNIT_TEXT
    assert diff[f"{paths.dropins}/kubesmith-environment.conf (absent)"]["after"].endswith(
        'Environment="HTTPS_PROXY=http://proxy:3128"\n'
    )
    assert diff[f"service {NAME}"]["before"] == "active=inactive enabled=disabled\n"
    assert diff[f"service {NAME}"]["after"] == "active=active enabled=enabled\n"


def test_no_diff_entry_when_nothing_changes(module_harness, paths):
    converge_fresh(module_harness, paths)
    result, _ = run(module_harness, {**full_args(paths), "_ansible_diff": True}, [INSTALLED, show()])
    assert result["diff"] == []


# --- secrets ----------------------------------------------------------------------------------


def test_secret_content_is_written_but_never_returned(module_harness, paths):
    module_args = args(
        paths, secret_files=[{"path": str(paths.key), "content": SECRET}], _ansible_diff=True, state="present"
    )
    for check_mode in (True, False):
        result, _ = run(module_harness, {**module_args, "_ansible_check_mode": check_mode}, [show()])
        assert "k3yMaterial" not in json.dumps(result)
        assert result["changes"] == [f"file:{paths.key}", "record"]
        entry = result["diff"][0]
        assert (entry["before"], entry["after"]) == ("", "<secret content changed>\n")
    assert paths.key.read_text() == SECRET
    assert oct(paths.key.stat().st_mode & 0o7777) == "0o600"
    record = paths.record.read_text()
    assert "k3yMaterial" not in record
    assert hashlib.sha256(SECRET.encode()).hexdigest() not in record  # not even a digest
    assert json.loads(record)["secret_files"] == [str(paths.key)]


def test_only_the_secret_content_is_no_log(module_harness, paths):
    """Ansible masks every no_log value wherever it appears in the output: the secret's path and
    mode must not be among them, or every '0600' and the path would read '********'."""
    module_args = args(paths, secret_files=[{"path": str(paths.key), "content": SECRET}])
    with module_harness.args(module_args):
        module = AnsibleModule(argument_spec=node_agent.argument_spec(), supports_check_mode=True)
    assert SECRET in module.no_log_values
    assert str(paths.key) not in module.no_log_values
    assert "0600" not in module.no_log_values


# --- health -----------------------------------------------------------------------------------



@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(node_agent, "time", fake)
    return fake


JOURNAL = ["containerd: starting", "containerd: failed to load plugin io.containerd.grpc.v1.cri"]


def test_health_timeout_fails_with_the_journal(module_harness, paths, clock):
    health = {"type": "unix_socket", "path": str(paths.state / "missing.sock"), "timeout": 2, "interval": 0.5}
    result, rc = run(
        module_harness,
        args(paths, health=health),
        [show("inactive", "disabled"), OK, OK, (0, "\n".join(JOURNAL), "")],
        failed=True,
    )
    assert rc.calls == [
        SHOW,
        ["systemctl", "enable", UNIT],
        ["systemctl", "start", UNIT],
        ["journalctl", "-u", NAME, "-n", "30", "--no-pager", "-o", "cat"],
    ]
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5]  # 5 attempts in 2 s
    assert result["msg"].startswith(
        f"containerd did not become healthy within 2s: unix socket {paths.state / 'missing.sock'}: "
    )
    assert result["msg"].endswith("\n".join(f"  {line}" for line in JOURNAL))
    assert result["journal"] == JOURNAL
    assert result["health"] == {"checked": True, "healthy": False, "seconds": 2.0}
    assert result["changes"] == ["enabled", "started", "record"]


def test_health_is_checked_when_nothing_changed_too(module_harness, paths):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once closed
    health = {"type": "tcp", "port": port, "timeout": 0}
    result, rc = run(module_harness, args(paths, health=health), [show(), (0, "last line\n", "")], failed=True)
    assert rc.calls[0] == SHOW
    assert rc.calls[1][0] == "journalctl"
    assert f"within 0s: tcp 127.0.0.1:{port}" in result["msg"]
    assert result["journal"] == ["last line"]


def test_tcp_health_passes(module_harness, paths):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        health = {"type": "tcp", "port": listening.getsockname()[1], "timeout": 5}
        result, _ = run(module_harness, args(paths, health=health), [show()])
    assert result["health"]["checked"] is True
    assert result["health"]["healthy"] is True


def test_command_health_is_polled_until_it_passes(module_harness, paths, clock):
    health = {"type": "command", "argv": ["/usr/bin/etcdctl", "endpoint", "health"], "timeout": 10, "interval": 1}
    result, rc = run(
        module_harness,
        args(paths, health=health),
        [show(), (1, "", "connection refused\n"), (1, "", "connection refused\n"), (0, "healthy\n", "")],
    )
    assert rc.calls[1:] == [["/usr/bin/etcdctl", "endpoint", "health"]] * 3
    assert result["health"] == {"checked": True, "healthy": True, "seconds": 2.0}


def test_http_health_wants_the_status(module_harness, paths, monkeypatch, clock):
    class Response:
        def __init__(self, status):
            self.status = status

        def close(self):
            pass

    answers = [Response(503), Response(200)]
    seen = []

    def open_url(url, **kwargs):
        seen.append((url, kwargs["validate_certs"]))
        return answers.pop(0)

    monkeypatch.setattr(node_agent, "open_url", open_url)
    health = {"type": "http", "url": "https://127.0.0.1:6443/readyz", "validate_certs": False}
    result, _ = run(module_harness, args(paths, health=health), [show()])
    assert seen == [("https://127.0.0.1:6443/readyz", False)] * 2
    assert result["health"]["healthy"] is True


@pytest.mark.parametrize(
    "extra",
    [{"wait": False}, {"state": "present"}, {"_ansible_check_mode": True}],
    ids=["wait-false", "present", "check-mode"],
)
def test_health_is_skipped(module_harness, paths, extra):
    health = {"type": "unix_socket", "path": "/nonexistent.sock", "timeout": 0}
    result, rc = run(module_harness, args(paths, health=health, **extra), [show()])
    assert rc.calls == [SHOW]
    assert result["health"]["checked"] is False


# --- absent -----------------------------------------------------------------------------------


def test_absent_removes_what_the_module_owns_and_nothing_else(module_harness, paths, tmp_path):
    src = tmp_path / "kubelet.staged"
    src.write_bytes(KUBELET)
    run(module_harness, everything(paths, src), FRESH)
    (paths.dropins / "20-admin.conf").write_text("[Service]\nNice=5\n")
    (paths.config.parent / "other.toml").write_text("not ours\n")

    result, rc = run(module_harness, args(paths, state="absent", _ansible_diff=True), [show(), OK, OK, OK])

    assert rc.calls == [SHOW, ["systemctl", "stop", UNIT], ["systemctl", "disable", UNIT], RELOAD]
    assert result["changes"] == [
        "stopped",
        "disabled",
        "dropin:kubesmith-environment",
        "dropin:kubesmith-limits",
        "unit",
        f"file:{paths.config}",
        f"file:{paths.key}",
        f"binary:{paths.kubelet}",
        "daemon-reload",
        "record",
    ]
    assert (result["active"], result["enabled"], result["version"]) == (False, False, None)
    assert tree(tmp_path) == ["etc/containerd/other.toml", "kubelet.staged", f"systemd/{UNIT}.d/20-admin.conf"]
    assert "k3yMaterial" not in json.dumps(result)

    result, rc = run(module_harness, args(paths, state="absent"), [show("inactive", "disabled")])
    assert rc.calls == [SHOW]
    assert result["changed"] is False


def test_absent_removes_packages_only_when_asked(module_harness, paths):
    converge_fresh(module_harness, paths)
    status = dpkg("containerd\tinstall ok installed\t1.6.20", "runc\tdeinstall ok config-files\t1.1.5")

    result, rc = run(module_harness, args(paths, state="absent"), [show("inactive", "disabled"), OK])
    assert [c[0] for c in rc.calls] == ["systemctl", "systemctl"]  # show, daemon-reload: no apt-get
    assert "package:containerd" not in result["changes"]

    converge_fresh(module_harness, paths)
    result, rc = run(
        module_harness,
        args(paths, state="absent", remove_packages=True),
        [show("inactive", "disabled"), OK, status, OK],
    )
    assert rc.calls[2:] == [DPKG, ["apt-get", "remove", "-y", "containerd"]]
    assert rc.kwargs[3]["environ_update"]["DEBIAN_FRONTEND"] == "noninteractive"
    assert result["changes"][-2:] == ["package:containerd", "record"]


def test_absent_in_check_mode_removes_nothing(module_harness, paths):
    converge_fresh(module_harness, paths)
    before = tree(paths.systemd.parent)
    result, rc = run(module_harness, args(paths, state="absent", _ansible_check_mode=True), [show()])
    assert rc.calls == [SHOW]
    assert "record" in result["changes"]
    assert tree(paths.systemd.parent) == before


# --- version ----------------------------------------------------------------------------------


def test_version_is_kept_when_omitted_and_recorded_when_changed(module_harness, paths):
    run(module_harness, args(paths, version="1.6.20"), [show()])
    result, _ = run(module_harness, args(paths), [show()])
    assert (result["changed"], result["version"]) == (False, "1.6.20")
    result, rc = run(module_harness, args(paths, version="1.7.20"), [show()])
    assert rc.calls == [SHOW]  # a new version alone restarts nothing
    assert (result["changes"], result["version"]) == (["record"], "1.7.20")


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"name": "containerd.service"}, "without '.service'"),
        ({"packages": ["kubelet=1.30.*"]}, "not an exact Debian version"),
        ({"files": [{"path": "/etc/x", "content": "", "mode": "644"}]}, "leading zero"),
        ({"files": [{"path": "etc/x", "content": ""}]}, "not an absolute path"),
        (
            {"files": [{"path": "/etc/x", "content": ""}], "secret_files": [{"path": "/etc/x", "content": ""}]},
            "/etc/x is given twice",
        ),
        ({"binaries": [{"dest": "/b", "sha256": "abc", "src": "/s"}]}, "is not 64 hexadecimal"),
        ({"binaries": [{"dest": "/b", "sha256": KUBELET_SHA, "url": "ftp://x/b"}]}, "not an http(s) URL"),
        ({"binaries": [{"dest": "/b", "sha256": KUBELET_SHA}]}, "one of the following is required: src, url"),
        (
            {"binaries": [{"dest": "/b", "sha256": KUBELET_SHA, "src": "/s", "url": "https://x"}]},
            "mutually exclusive: src|url",
        ),
        ({"dropins": {"kubesmith-environment": ""}}, "set environment instead"),
        ({"dropins": {"x": 1}}, "content of 'x' must be a string"),
        ({"environment": {"DEBUG": True}}, "must be a string, got bool"),
        ({"health": {"type": "tcp"}}, "type is tcp but all of the following are missing: port"),
        ({"health": {"type": "tcp", "port": 70000}}, "not a TCP port"),
    ],
)
def test_bad_arguments_fail_before_anything_runs(module_harness, paths, extra, error):
    result, rc = run(module_harness, args(paths, **extra), [], failed=True)
    assert error in result["msg"]
    assert rc.calls == []
    assert not paths.state.exists()


def test_unknown_owner_fails_with_a_fix(module_harness, paths, monkeypatch):
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg, **kw: warnings.append(msg))
    files = [{"path": str(paths.config), "content": CONFIG, "owner": "no-such-user-ks"}]
    result, _ = run(module_harness, args(paths, files=files), [], failed=True)
    assert "user 'no-such-user-ks' does not exist; create it first" in result["msg"]
    assert not paths.config.exists()

    # in check mode the package that creates the user may not be installed yet
    result, _ = run(module_harness, args(paths, files=files, _ansible_check_mode=True), [show()])
    assert result["changes"][0] == f"file:{paths.config}"
    assert warnings == [
        f"{paths.config}: user 'no-such-user-ks' does not exist yet; assuming an earlier task creates it"
    ]


def test_mode_only_change_keeps_the_file(module_harness, paths):
    files = [{"path": str(paths.config), "content": CONFIG, "owner": str(os.getuid()), "mode": "0640"}]
    run(module_harness, args(paths, files=files, state="present"), [show()])
    inode = paths.config.stat().st_ino
    paths.config.chmod(0o666)
    result, _ = run(module_harness, args(paths, files=files, state="present"), [show()])
    assert result["changes"] == [f"file:{paths.config}"]
    assert paths.config.stat().st_ino == inode
    assert oct(paths.config.stat().st_mode & 0o7777) == "0o640"


# --- documentation ----------------------------------------------------------------------------


def _compare(doc_options, spec, where):
    assert set(doc_options) == set(spec), f"{where}: documented options differ from the spec"
    for name, doc in doc_options.items():
        opt = spec[name]
        for key in ("type", "elements", "choices"):
            assert doc.get(key, "str" if key == "type" else None) == opt.get(key, "str" if key == "type" else None), (
                f"{where}.{name}: {key} differs"
            )
        assert doc.get("default") == opt.get("default"), f"{where}.{name}: default differs"
        assert bool(doc.get("required")) == bool(opt.get("required")), f"{where}.{name}: required differs"
        if "options" in opt or "suboptions" in doc:
            _compare(doc.get("suboptions", {}), opt.get("options", {}), f"{where}.{name}")


def test_documentation_matches_the_spec_down_to_suboptions():
    doc = yaml.safe_load(node_agent.DOCUMENTATION)
    _compare(doc["options"], node_agent.argument_spec(), "node_agent")
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"


def test_examples_use_only_documented_options():
    spec = node_agent.argument_spec()
    for task in yaml.safe_load(node_agent.EXAMPLES):
        assert set(task["node_agent"]) <= set(spec), task["name"]
