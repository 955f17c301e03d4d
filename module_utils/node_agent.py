"""Pure logic of the node_agent module: parsing, validating, rendering and planning.

The functions here take what the module read (command output, file contents, its arguments) and
return what it should do; none of them runs a command or writes a file, so each is unit-tested
without a host (tests/unit/module_utils/test_node_agent.py). ``sha256_file`` is the one reader.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

# ---------------------------------------------------------------------------------------------
# names, modes, checksums

DROPIN_PREFIX = "kubesmith-"
ENVIRONMENT_DROPIN = "kubesmith-environment"
MANAGED_HEADER = "# Managed by kubesmith (node_agent); local changes are overwritten.\n"

_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@\\-]*$")
_DROPIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@+-]*$")
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_PACKAGE_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MODE = re.compile(r"^0[0-7]{3,4}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_service_name(name: str) -> str:
    """Return ``name`` when it is a systemd service name given without ``.service``."""
    if name.endswith(".service"):
        raise ValueError(f"name: give the service name without '.service' ({name[: -len('.service')]!r})")
    if not _SERVICE_NAME.match(name):
        raise ValueError(f"name: {name!r} is not a systemd service name (letters, digits, ':_.@-')")
    return name


def validate_dropin_name(key: str) -> str:
    """Return ``key`` when it can name ``<key>.conf`` in a drop-in directory."""
    if key == ENVIRONMENT_DROPIN:
        raise ValueError(f"dropins: {key!r} is written from the environment option; set environment instead")
    if key.endswith(".conf"):
        raise ValueError(f"dropins: give the drop-in name without '.conf' ({key[: -len('.conf')]!r})")
    if not _DROPIN_NAME.match(key):
        raise ValueError(f"dropins: {key!r} is not a usable drop-in name (letters, digits, ':_.@+-', no '/')")
    return key


def parse_mode(value: str, what: str) -> int:
    """'0644' -> 0o644. A leading zero is required, so a YAML integer (420) is not taken for a mode."""
    if not _MODE.match(str(value)):
        raise ValueError(f"{what}: mode {value!r} is not an octal string with a leading zero, like '0644' (quote it)")
    return int(value, 8)


def normalize_sha256(value: str, what: str) -> str:
    """Return the lowercase hex digest; accepts an optional 'sha256:' prefix."""
    digest = value.strip().lower().removeprefix("sha256:")
    if not _SHA256.match(digest):
        raise ValueError(f"{what}: sha256 {value!r} is not 64 hexadecimal characters")
    return digest


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# files


def file_needs_write(
    current_content: bytes | None,
    current_mode: int | None,
    want_content: bytes,
    want_mode: int,
    current_owner: tuple[int, int] | None = None,
    want_owner: tuple[int | None, int | None] = (None, None),
) -> tuple[str, ...]:
    """What differs between a file on disk and what it should be; () when it is up to date.

    ``current_content`` is None when the file does not exist (-> ('create',)). ``want_owner`` holds
    a uid and a gid, None where the caller does not manage it; -1 stands for a name that does not
    resolve yet (check mode before the package that creates the user is installed).
    """
    if current_content is None:
        return ("create",)
    reasons = []
    if current_content != want_content:
        reasons.append("content")
    if current_mode is not None and current_mode != want_mode:
        reasons.append("mode")
    if current_owner is not None and any(
        want is not None and want != have for want, have in zip(want_owner, current_owner, strict=True)
    ):
        reasons.append("owner")
    return tuple(reasons)


def stale_dropins(existing: list[str], wanted: list[str], recorded: list[str]) -> list[str]:
    """Drop-ins (names without .conf) to remove: ours (kubesmith-* or recorded) that are not wanted."""
    ours = {n for n in existing if n.startswith(DROPIN_PREFIX)} | (set(recorded) & set(existing))
    return sorted(ours - set(wanted))


# ---------------------------------------------------------------------------------------------
# systemd environment drop-in

_SYSTEMD_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "%": "%%"}


def systemd_quote(value: str) -> str:
    """Quote one value for an Environment= line: C escapes inside double quotes, % doubled."""
    out = []
    for ch in value:
        if ch in _SYSTEMD_ESCAPES:
            out.append(_SYSTEMD_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_environment_dropin(env: dict) -> str | None:
    """The content of kubesmith-environment.conf for ``env``, or None when env is empty."""
    if not env:
        return None
    lines = [MANAGED_HEADER, "[Service]\n"]
    for key in sorted(env):
        value = env[key]
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ValueError(f"environment: {key!r} is not a variable name (letters, digits, _; not a digit first)")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"environment: {key} must be a string, got {type(value).__name__} {value!r} (quote it)")
        lines.append(f"Environment={systemd_quote(f'{key}={value}')}\n")
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# Debian packages


class PackageStatus(NamedTuple):
    version: str
    installed: bool
    held: bool


# dpkg's package states in which the package's files are on disk and configured
_INSTALLED_STATES = frozenset({"installed", "triggers-pending", "triggers-awaited"})
APT_ENVIRONMENT = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


def parse_package_spec(spec: str) -> tuple[str, str | None]:
    """'containerd' -> ('containerd', None); 'kubelet=1.30.2-1.1' -> ('kubelet', '1.30.2-1.1')."""
    name, sep, version = spec.strip().partition("=")
    if not _PACKAGE_NAME.match(name):
        raise ValueError(
            f"packages: {spec!r}: {name!r} is not a Debian package name (lowercase letters, digits, '+-.'); "
            "give 'name' or 'name=version'"
        )
    if sep and not _PACKAGE_VERSION.match(version):
        raise ValueError(f"packages: {spec!r}: {version!r} is not an exact Debian version (no wildcards)")
    return name, (version if sep else None)


def dpkg_query_argv(names: list[str]) -> list[str]:
    # ${Package} first: dpkg-query prints in its database order, not in the order asked
    return ["dpkg-query", "-W", "-f=${Package}\\t${Status}\\t${Version}\\n", *names]


def parse_dpkg_query(text: str) -> dict[str, PackageStatus]:
    """Parse ``dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n'`` output.

    Packages that dpkg does not know are simply absent (dpkg-query says so on stderr, rc 1).
    'deinstall ok config-files' (removed, configuration left) counts as not installed.
    """
    result: dict[str, PackageStatus] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"unexpected dpkg-query line: {line!r}")
        name, status, version = (f.strip() for f in fields)
        words = status.split()
        if len(words) != 3:
            raise ValueError(f"unexpected dpkg status {status!r} for {name}")
        entry = PackageStatus(version=version, installed=words[2] in _INSTALLED_STATES, held=words[0] == "hold")
        # a multi-arch package can be listed once per architecture: keep an installed one
        if name not in result or (entry.installed and not result[name].installed):
            result[name] = entry
    return result


def packages_to_install(specs: list[str], status: dict[str, PackageStatus]) -> list[str]:
    """The specs (as given) whose package is missing or installed at another version."""
    todo = []
    for spec in specs:
        name, version = parse_package_spec(spec)
        have = status.get(name)
        if have is None or not have.installed or (version is not None and have.version != version):
            todo.append(spec.strip())
    return todo


def apt_install_argv(specs: list[str], allow_held: bool = False) -> list[str]:
    argv = ["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold"]
    if allow_held:
        argv.append("--allow-change-held-packages")
    return [*argv, *specs]


def apt_remove_argv(names: list[str], allow_held: bool = False) -> list[str]:
    argv = ["apt-get", "remove", "-y"]
    if allow_held:
        argv.append("--allow-change-held-packages")
    return [*argv, *names]


def package_diff_lines(specs: list[str], status: dict[str, PackageStatus]) -> tuple[str, str]:
    """before/after text for the packages in ``specs`` (name=version lines)."""
    before, after = [], []
    for spec in specs:
        name, version = parse_package_spec(spec)
        have = status.get(name)
        before.append(f"{name}={have.version}" if have and have.installed else f"{name} (not installed)")
        after.append(f"{name}={version}" if version else f"{name} (candidate version)")
    return "".join(f"{line}\n" for line in before), "".join(f"{line}\n" for line in after)


# ---------------------------------------------------------------------------------------------
# systemd service state

SYSTEMCTL_SHOW_PROPERTIES = ("ActiveState", "UnitFileState", "LoadState", "NeedDaemonReload")
# running, or on its way there
ACTIVE_STATES = frozenset({"active", "activating", "reloading"})
# the states for which `systemctl is-enabled` exits 0
ENABLED_STATES = frozenset({"enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "transient"})
_VERB_CHANGE = {
    "daemon-reload": "daemon-reload",
    "enable": "enabled",
    "disable": "disabled",
    "start": "started",
    "restart": "restarted",
    "stop": "stopped",
}


class ServiceState(NamedTuple):
    load_state: str
    active_state: str
    unit_file_state: str
    need_daemon_reload: bool = False

    @property
    def active(self) -> bool:
        return self.active_state in ACTIVE_STATES

    @property
    def enabled(self) -> bool:
        return self.unit_file_state in ENABLED_STATES

    @property
    def masked(self) -> bool:
        return self.load_state == "masked" or self.unit_file_state.startswith("masked")

    def line(self) -> str:
        """'active=inactive enabled=disabled', as shown in the diff."""
        return f"active={self.active_state} enabled={self.unit_file_state or 'not-found'}"


def service_unit(name: str) -> str:
    return f"{name}.service"


def systemctl_show_argv(name: str) -> list[str]:
    return ["systemctl", "show", service_unit(name), f"--property={','.join(SYSTEMCTL_SHOW_PROPERTIES)}", "--no-pager"]


def parse_systemctl_show(text: str) -> ServiceState:
    """Parse ``systemctl show --property=...`` output (Key=value lines, in systemd's own order).

    A unit systemd does not know still prints LoadState=not-found, ActiveState=inactive and an
    empty UnitFileState, with rc 0.
    """
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    missing = [key for key in ("LoadState", "ActiveState") if key not in values]
    if missing:
        raise ValueError(f"systemctl show printed no {' or '.join(missing)}: {text.strip()[:200]!r}")
    return ServiceState(
        load_state=values["LoadState"],
        active_state=values["ActiveState"],
        unit_file_state=values.get("UnitFileState", ""),
        need_daemon_reload=values.get("NeedDaemonReload") == "yes",
    )


def plan_service_actions(
    name: str,
    state: str,
    enabled: bool,
    current: ServiceState,
    changed: bool = False,
    restart_on_change: bool = True,
    daemon_reload: bool = False,
) -> list[list[str]]:
    """The systemctl commands, in order, that take the service from ``current`` to what is asked.

    ``state`` is present, started or stopped (absent: see plan_removal_actions). ``changed``: something
    the running service depends on changed (it is restarted under started with restart_on_change).
    ``daemon_reload``: the unit or a drop-in changed on disk. Nothing needed -> [].
    """
    unit = service_unit(name)
    if current.masked and (state == "started" or enabled):
        raise ValueError(
            f"{unit} is masked, so it cannot be {'started' if state == 'started' else 'enabled'}; "
            f"unmask it first (systemctl unmask {unit}) if that is intended"
        )
    actions = []
    if daemon_reload or current.need_daemon_reload:
        actions.append(["systemctl", "daemon-reload"])
    if enabled and not current.enabled:
        actions.append(["systemctl", "enable", unit])
    elif not enabled and current.unit_file_state == "enabled":
        actions.append(["systemctl", "disable", unit])
    if state == "started":
        if not current.active:
            actions.append(["systemctl", "start", unit])
        elif changed and restart_on_change:
            actions.append(["systemctl", "restart", unit])
    elif state == "stopped" and current.active:
        actions.append(["systemctl", "stop", unit])
    return actions


def plan_removal_actions(name: str, current: ServiceState) -> list[list[str]]:
    """Stop and disable the service before its files go (disable needs the unit file)."""
    unit = service_unit(name)
    actions = []
    if current.active:
        actions.append(["systemctl", "stop", unit])
    if current.unit_file_state == "enabled":
        actions.append(["systemctl", "disable", unit])
    return actions


def action_change(argv: list[str]) -> str:
    """['systemctl', 'restart', 'x.service'] -> 'restarted' (the entry in the module's changes)."""
    return _VERB_CHANGE[argv[1]]


def predict_service_state(current: ServiceState, actions: list[list[str]]) -> ServiceState:
    """The state the service is in after ``actions`` succeeded (what check mode reports)."""
    active_state, unit_file_state = current.active_state, current.unit_file_state
    for argv in actions:
        verb = argv[1]
        if verb in ("start", "restart"):
            active_state = "active"
        elif verb == "stop":
            active_state = "inactive"
        elif verb == "enable":
            unit_file_state = "enabled"
        elif verb == "disable":
            unit_file_state = "disabled"
    return current._replace(active_state=active_state, unit_file_state=unit_file_state, need_daemon_reload=False)


# ---------------------------------------------------------------------------------------------
# health checks


def describe_health_check(health: dict) -> str:
    """A short human description of a health check, used in messages."""
    kind = health["type"]
    if kind == "unix_socket":
        return f"unix socket {health['path']}"
    if kind == "tcp":
        return f"tcp {health.get('host') or '127.0.0.1'}:{health['port']}"
    if kind == "http":
        return f"http GET {health['url']} (status {health.get('status', 200)})"
    if kind == "command":
        return f"command {' '.join(health['argv'])!r}"
    raise ValueError(f"unknown health check type {kind!r}")


def format_health_failure(name: str, check: str, timeout: float, last_error: str, journal: list[str]) -> str:
    """The failure message of a health check that did not pass in time."""
    msg = (
        f"{name} did not become healthy within {timeout:g}s: {check}: {last_error or 'no answer'}. "
        f"Look at why it does not start or answer (systemctl status {name}; journalctl -u {name})."
    )
    if journal:
        msg += f"\nLast {len(journal)} journal lines of {name}:\n" + "\n".join(f"  {line}" for line in journal)
    else:
        msg += f"\nThe journal of {name} is empty."
    return msg
