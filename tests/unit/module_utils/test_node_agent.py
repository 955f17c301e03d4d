"""module_utils/node_agent.py: parsing, validation, rendering and planning, without a host."""

import hashlib

import pytest
from ansible.module_utils.node_agent import (
    ServiceState,
    action_change,
    apt_install_argv,
    apt_remove_argv,
    describe_health_check,
    dpkg_query_argv,
    file_needs_write,
    format_health_failure,
    normalize_sha256,
    package_diff_lines,
    packages_to_install,
    parse_dpkg_query,
    parse_mode,
    parse_package_spec,
    parse_systemctl_show,
    plan_removal_actions,
    plan_service_actions,
    predict_service_state,
    render_environment_dropin,
    sha256_bytes,
    sha256_file,
    stale_dropins,
    systemctl_show_argv,
    systemd_quote,
    validate_dropin_name,
    validate_service_name,
)

# --- systemctl show, as systemd 252 (bookworm) prints it: its own property order, not the one asked

SHOW_RUNNING = "LoadState=loaded\nActiveState=active\nNeedDaemonReload=no\nUnitFileState=enabled\n"
SHOW_STOPPED = "LoadState=loaded\nActiveState=inactive\nNeedDaemonReload=no\nUnitFileState=disabled\n"
SHOW_FAILED = "LoadState=loaded\nActiveState=failed\nNeedDaemonReload=no\nUnitFileState=enabled\n"
SHOW_NOT_FOUND = "LoadState=not-found\nActiveState=inactive\nNeedDaemonReload=no\nUnitFileState=\n"
SHOW_MASKED = "LoadState=masked\nActiveState=inactive\nNeedDaemonReload=no\nUnitFileState=masked\n"
SHOW_STALE = "LoadState=loaded\nActiveState=active\nNeedDaemonReload=yes\nUnitFileState=enabled\n"
SHOW_STATIC = "LoadState=loaded\nActiveState=activating\nNeedDaemonReload=no\nUnitFileState=static\n"


@pytest.mark.parametrize(
    ("text", "expected", "active", "enabled", "masked"),
    [
        (SHOW_RUNNING, ServiceState("loaded", "active", "enabled", False), True, True, False),
        (SHOW_STOPPED, ServiceState("loaded", "inactive", "disabled", False), False, False, False),
        (SHOW_FAILED, ServiceState("loaded", "failed", "enabled", False), False, True, False),
        (SHOW_NOT_FOUND, ServiceState("not-found", "inactive", "", False), False, False, False),
        (SHOW_MASKED, ServiceState("masked", "inactive", "masked", False), False, False, True),
        (SHOW_STALE, ServiceState("loaded", "active", "enabled", True), True, True, False),
        (SHOW_STATIC, ServiceState("loaded", "activating", "static", False), True, True, False),
        # older systemd without NeedDaemonReload asked, keys in the order asked
        (
            "ActiveState=reloading\nUnitFileState=enabled-runtime\nLoadState=loaded\n",
            ServiceState("loaded", "reloading", "enabled-runtime", False),
            True,
            True,
            False,
        ),
    ],
)
def test_parse_systemctl_show(text, expected, active, enabled, masked):
    state = parse_systemctl_show(text)
    assert state == expected
    assert (state.active, state.enabled, state.masked) == (active, enabled, masked)


@pytest.mark.parametrize("text", ["", "Failed to connect to bus: Host is down\n", "LoadState=loaded\n"])
def test_parse_systemctl_show_rejects_output_without_the_states(text):
    with pytest.raises(ValueError, match="systemctl show printed no"):
        parse_systemctl_show(text)


def test_systemctl_show_argv_is_one_read_only_call():
    assert systemctl_show_argv("containerd") == [
        "systemctl",
        "show",
        "containerd.service",
        "--property=ActiveState,UnitFileState,LoadState,NeedDaemonReload",
        "--no-pager",
    ]


def test_service_state_line_for_the_diff():
    assert parse_systemctl_show(SHOW_STOPPED).line() == "active=inactive enabled=disabled"
    assert parse_systemctl_show(SHOW_NOT_FOUND).line() == "active=inactive enabled=not-found"


# --- planning the service actions

RUNNING = parse_systemctl_show(SHOW_RUNNING)
STOPPED = parse_systemctl_show(SHOW_STOPPED)
FAILED = parse_systemctl_show(SHOW_FAILED)
NOT_FOUND = parse_systemctl_show(SHOW_NOT_FOUND)
MASKED = parse_systemctl_show(SHOW_MASKED)
STALE = parse_systemctl_show(SHOW_STALE)
STATIC = parse_systemctl_show(SHOW_STATIC)


def verbs(actions):
    return [argv[1] for argv in actions]


@pytest.mark.parametrize(
    ("state", "enabled", "current", "changed", "restart_on_change", "daemon_reload", "expected"),
    [
        # nothing to do
        ("started", True, RUNNING, False, True, False, []),
        ("present", True, RUNNING, True, True, False, []),
        ("present", True, STOPPED._replace(unit_file_state="enabled"), True, True, False, []),
        ("stopped", False, STOPPED, False, True, False, []),
        ("stopped", True, FAILED, True, True, False, []),
        # fresh install: unit just written
        ("started", True, NOT_FOUND, True, True, True, ["daemon-reload", "enable", "start"]),
        ("started", True, STOPPED, False, True, False, ["enable", "start"]),
        ("started", True, FAILED, True, True, False, ["start"]),
        # something changed under a running service
        ("started", True, RUNNING, True, True, False, ["restart"]),
        ("started", True, RUNNING, True, True, True, ["daemon-reload", "restart"]),
        ("started", True, RUNNING, True, False, True, ["daemon-reload"]),
        # systemd says the unit changed on disk (an earlier call did not reload)
        ("started", True, STALE, False, True, False, ["daemon-reload"]),
        # enabled and state are independent
        ("present", False, RUNNING, False, True, False, ["disable"]),
        ("stopped", True, RUNNING, False, True, False, ["stop"]),
        ("stopped", False, RUNNING, True, True, True, ["daemon-reload", "disable", "stop"]),
        # a static unit counts as enabled and is never disabled
        ("started", True, STATIC, False, True, False, []),
        ("started", False, STATIC, False, True, False, []),
        # masked: fine as long as it is neither started nor enabled
        ("stopped", False, MASKED, False, True, False, []),
    ],
)
def test_plan_service_actions(state, enabled, current, changed, restart_on_change, daemon_reload, expected):
    actions = plan_service_actions(
        "containerd",
        state,
        enabled,
        current,
        changed=changed,
        restart_on_change=restart_on_change,
        daemon_reload=daemon_reload,
    )
    assert verbs(actions) == expected
    for argv in actions:
        assert argv[0] == "systemctl"
        assert argv[2:] == ([] if argv[1] == "daemon-reload" else ["containerd.service"])


@pytest.mark.parametrize(("state", "enabled"), [("started", False), ("present", True), ("stopped", True)])
def test_plan_service_actions_refuses_a_masked_unit(state, enabled):
    with pytest.raises(ValueError, match=r"containerd.service is masked.*systemctl unmask containerd.service"):
        plan_service_actions("containerd", state, enabled, MASKED)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (RUNNING, ["stop", "disable"]),
        (STOPPED, []),
        (FAILED, ["disable"]),
        (NOT_FOUND, []),
        (MASKED, []),
        (STATIC, ["stop"]),
    ],
)
def test_plan_removal_actions(current, expected):
    assert verbs(plan_removal_actions("kubelet", current)) == expected


@pytest.mark.parametrize(
    ("current", "actions", "line"),
    [
        (NOT_FOUND, ["daemon-reload", "enable", "start"], "active=active enabled=enabled"),
        (RUNNING, ["restart"], "active=active enabled=enabled"),
        (RUNNING, ["disable", "stop"], "active=inactive enabled=disabled"),
        (STALE, ["daemon-reload"], "active=active enabled=enabled"),
    ],
)
def test_predict_service_state(current, actions, line):
    after = predict_service_state(current, [["systemctl", verb, "x.service"] for verb in actions])
    assert after.line() == line
    assert after.need_daemon_reload is False


@pytest.mark.parametrize(
    ("verb", "change"),
    [
        ("daemon-reload", "daemon-reload"),
        ("enable", "enabled"),
        ("disable", "disabled"),
        ("start", "started"),
        ("restart", "restarted"),
        ("stop", "stopped"),
    ],
)
def test_action_change(verb, change):
    assert action_change(["systemctl", verb, "x.service"]) == change


# --- dpkg-query, as dpkg 1.21 prints it with the module's format

DPKG_OUTPUT = (
    "containerd\tinstall ok installed\t1.6.20~ds1-1+b1\n"
    "runc\thold ok installed\t1.1.5+ds1-1+deb12u1\n"
    "kubelet\tdeinstall ok config-files\t1.29.3-1.1\n"
    "cri-tools\tunknown ok not-installed\t\n"
    "ethtool\tinstall ok half-configured\t1:6.1-1\n"
    "libseccomp2\tinstall ok triggers-pending\t2.5.4-1+b3\n"
)


def test_parse_dpkg_query():
    status = parse_dpkg_query(DPKG_OUTPUT)
    assert status["containerd"] == ("1.6.20~ds1-1+b1", True, False)
    assert status["runc"] == ("1.1.5+ds1-1+deb12u1", True, True)
    assert status["kubelet"].installed is False  # removed, configuration left
    assert status["cri-tools"] == ("", False, False)
    assert status["ethtool"].installed is False  # a broken install is not an install
    assert status["libseccomp2"].installed is True
    assert "socat" not in status  # unknown to dpkg: only on stderr


def test_parse_dpkg_query_keeps_the_installed_architecture():
    text = "libc6\tdeinstall ok config-files\t2.36-9\nlibc6\tinstall ok installed\t2.36-9+deb12u4\n"
    assert parse_dpkg_query(text)["libc6"] == ("2.36-9+deb12u4", True, False)


@pytest.mark.parametrize("line", ["containerd install ok installed 1.6.20", "containerd\tinstalled\t1.6.20"])
def test_parse_dpkg_query_rejects_other_formats(line):
    with pytest.raises(ValueError, match="unexpected dpkg"):
        parse_dpkg_query(line + "\n")


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["containerd", "runc"], []),
        (["containerd=1.6.20~ds1-1+b1"], []),
        (["containerd=1.7.20-1"], ["containerd=1.7.20-1"]),  # another version
        (["kubelet=1.29.3-1.1"], ["kubelet=1.29.3-1.1"]),  # config-files only
        (["cri-tools", "socat", "runc"], ["cri-tools", "socat"]),  # not installed, unknown
        (["ethtool"], ["ethtool"]),
    ],
)
def test_packages_to_install(specs, expected):
    assert packages_to_install(specs, parse_dpkg_query(DPKG_OUTPUT)) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("containerd", ("containerd", None)),
        ("kubelet=1.30.2-1.1", ("kubelet", "1.30.2-1.1")),
        ("ethtool=1:6.1-1", ("ethtool", "1:6.1-1")),
        ("libstdc++6", ("libstdc++6", None)),
    ],
)
def test_parse_package_spec(spec, expected):
    assert parse_package_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("Containerd", "not a Debian package name"),
        ("kubelet>=1.30", "not a Debian package name"),
        ("kubelet=1.30.*", "not an exact Debian version"),
        ("kubelet=", "not an exact Debian version"),
        ("c", "not a Debian package name"),
    ],
)
def test_parse_package_spec_rejects(spec, error):
    with pytest.raises(ValueError, match=error):
        parse_package_spec(spec)


def test_dpkg_query_argv_names_each_line():
    assert dpkg_query_argv(["runc", "containerd"]) == [
        "dpkg-query",
        "-W",
        "-f=${Package}\\t${Status}\\t${Version}\\n",
        "runc",
        "containerd",
    ]


def test_apt_argv():
    assert apt_install_argv(["containerd", "runc=1.1.5"]) == [
        "apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold",
        "containerd", "runc=1.1.5",
    ]  # fmt: skip
    assert "--allow-change-held-packages" in apt_install_argv(["kubelet=1.30.2-1.1"], allow_held=True)
    assert apt_remove_argv(["containerd"]) == ["apt-get", "remove", "-y", "containerd"]
    assert apt_remove_argv(["kubelet"], allow_held=True) == [
        "apt-get", "remove", "-y", "--allow-change-held-packages", "kubelet",
    ]  # fmt: skip


def test_package_diff_lines():
    before, after = package_diff_lines(["containerd=1.7.20-1", "socat"], parse_dpkg_query(DPKG_OUTPUT))
    assert before == "containerd=1.6.20~ds1-1+b1\nsocat (not installed)\n"
    assert after == "containerd=1.7.20-1\nsocat (candidate version)\n"


# --- environment drop-in


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("A=plain", '"A=plain"'),
        ("A=with space", '"A=with space"'),
        ('A=say "hi"', '"A=say \\"hi\\""'),
        ("A=C:\\path", '"A=C:\\\\path"'),
        ("A=100%", '"A=100%%"'),  # % starts a systemd specifier
        ("A=$HOME", '"A=$HOME"'),  # no variable expansion in Environment=
        ("A=two\nlines\ttab", '"A=two\\nlines\\ttab"'),
        ("A=bell\x07", '"A=bell\\x07"'),
        ("A=ünïcode", '"A=ünïcode"'),
    ],
)
def test_systemd_quote(value, quoted):
    assert systemd_quote(value) == quoted


def test_render_environment_dropin_is_sorted_and_quoted():
    text = render_environment_dropin({"NO_PROXY": "10.96.0.0/12,.svc", "HTTPS_PROXY": "http://p:3128", "PORT": 8080})
    assert text.splitlines()[1:] == [
        "[Service]",
        'Environment="HTTPS_PROXY=http://p:3128"',
        'Environment="NO_PROXY=10.96.0.0/12,.svc"',
        'Environment="PORT=8080"',
    ]
    assert text.startswith("# Managed by kubesmith")
    assert text.endswith("\n")


def test_render_environment_dropin_empty_means_no_dropin():
    assert render_environment_dropin({}) is None


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"1ST": "x"}, "not a variable name"),
        ({"A-B": "x"}, "not a variable name"),
        ({"A B": "x"}, "not a variable name"),
        ({"DEBUG": True}, "must be a string, got bool"),
        ({"LIST": ["a"]}, "must be a string, got list"),
        ({"NONE": None}, "must be a string, got NoneType"),
    ],
)
def test_render_environment_dropin_rejects(env, error):
    with pytest.raises(ValueError, match=error):
        render_environment_dropin(env)


# --- names, modes, checksums


@pytest.mark.parametrize("name", ["containerd", "kubelet", "etcd", "getty@tty1", "systemd-networkd"])
def test_validate_service_name(name):
    assert validate_service_name(name) == name


@pytest.mark.parametrize(
    ("name", "error"),
    [("kubelet.service", "without '.service'"), ("../etc", "not a systemd service name"), ("a b", "not a systemd")],
)
def test_validate_service_name_rejects(name, error):
    with pytest.raises(ValueError, match=error):
        validate_service_name(name)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("kubesmith-environment", "set environment instead"),
        ("10-kubeadm.conf", "without '.conf'"),
        ("../x", "not a usable drop-in name"),
        ("", "not a usable drop-in name"),
    ],
)
def test_validate_dropin_name(key, error):
    assert validate_dropin_name("10-kubeadm") == "10-kubeadm"
    with pytest.raises(ValueError, match=error):
        validate_dropin_name(key)


@pytest.mark.parametrize(("value", "mode"), [("0644", 0o644), ("0755", 0o755), ("0600", 0o600), ("01755", 0o1755)])
def test_parse_mode(value, mode):
    assert parse_mode(value, "files /x") == mode


@pytest.mark.parametrize("value", ["644", "420", "0o644", "0888", "u+rwx", "", "000644"])
def test_parse_mode_rejects(value):
    with pytest.raises(ValueError, match=r"files /x: mode .* leading zero"):
        parse_mode(value, "files /x")


DIGEST = hashlib.sha256(b"kubelet").hexdigest()


@pytest.mark.parametrize("value", [DIGEST, DIGEST.upper(), f"sha256:{DIGEST}", f" {DIGEST}\n"])
def test_normalize_sha256(value):
    assert normalize_sha256(value, "binaries /usr/bin/kubelet") == DIGEST


@pytest.mark.parametrize("value", [DIGEST[:-1], DIGEST + "0", "md5:" + DIGEST, "z" * 64])
def test_normalize_sha256_rejects(value):
    with pytest.raises(ValueError, match=r"binaries /usr/bin/kubelet: sha256 .* is not 64 hexadecimal"):
        normalize_sha256(value, "binaries /usr/bin/kubelet")


def test_sha256_file_and_bytes_agree(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 3_000_000)  # several chunks
    assert sha256_file(str(path), chunk_size=1 << 20) == sha256_bytes(b"x" * 3_000_000)


# --- files


@pytest.mark.parametrize(
    ("current", "mode", "owner", "want_owner", "expected"),
    [
        (None, None, None, (None, None), ("create",)),
        (b"a\n", 0o644, (0, 0), (None, None), ()),
        (b"b\n", 0o644, (0, 0), (None, None), ("content",)),
        (b"a", 0o644, (0, 0), (None, None), ("content",)),  # a trailing newline is content
        (b"a\n", 0o600, (0, 0), (None, None), ("mode",)),
        (b"a\n", 0o644, (0, 0), (0, 0), ()),
        (b"a\n", 0o644, (0, 0), (999, None), ("owner",)),
        (b"a\n", 0o644, (0, 0), (None, 999), ("owner",)),
        (b"a\n", 0o644, (0, 0), (-1, None), ("owner",)),  # a user that does not exist yet
        (b"b\n", 0o600, (1, 1), (0, 0), ("content", "mode", "owner")),
    ],
)
def test_file_needs_write(current, mode, owner, want_owner, expected):
    assert file_needs_write(current, mode, b"a\n", 0o644, owner, want_owner) == expected


@pytest.mark.parametrize(
    ("existing", "wanted", "recorded", "expected"),
    [
        (["kubesmith-environment", "kubesmith-old", "10-user"], ["kubesmith-environment"], [], ["kubesmith-old"]),
        (["kubesmith-environment"], [], [], ["kubesmith-environment"]),
        (["10-kubeadm", "20-user"], [], ["10-kubeadm"], ["10-kubeadm"]),  # ours by the record
        (["20-user"], [], ["10-kubeadm"], []),  # recorded, already gone
        (["kubesmith-a"], ["kubesmith-a"], ["kubesmith-a"], []),
    ],
)
def test_stale_dropins(existing, wanted, recorded, expected):
    assert stale_dropins(existing, wanted, recorded) == expected


# --- health checks


@pytest.mark.parametrize(
    ("health", "text"),
    [
        ({"type": "unix_socket", "path": "/run/containerd.sock"}, "unix socket /run/containerd.sock"),
        ({"type": "tcp", "host": "127.0.0.1", "port": 2379}, "tcp 127.0.0.1:2379"),
        (
            {"type": "http", "url": "http://127.0.0.1:10248/healthz", "status": 200},
            "http GET http://127.0.0.1:10248/healthz (status 200)",
        ),
        ({"type": "command", "argv": ["etcdctl", "endpoint", "health"]}, "command 'etcdctl endpoint health'"),
    ],
)
def test_describe_health_check(health, text):
    assert describe_health_check(health) == text


def test_format_health_failure_names_agent_check_timeout_and_journal():
    msg = format_health_failure(
        "containerd",
        "unix socket /run/containerd/containerd.sock",
        30,
        "[Errno 2] No such file or directory",
        ["level=info msg=starting", 'level=fatal msg="failed to load plugin"'],
    )
    first, *rest = msg.splitlines()
    assert first.startswith("containerd did not become healthy within 30s: unix socket /run/containerd/containerd.sock")
    assert "[Errno 2] No such file or directory" in first
    assert "journalctl -u containerd" in first
    assert rest == ["Last 2 journal lines of containerd:", "  level=info msg=starting",
                    '  level=fatal msg="failed to load plugin"']  # fmt: skip


def test_format_health_failure_without_journal():
    msg = format_health_failure("kubelet", "tcp 127.0.0.1:10248", 0.5, "", [])
    assert "within 0.5s" in msg
    assert "no answer" in msg
    assert msg.endswith("The journal of kubelet is empty.")
