#!/usr/bin/python
# Ansible module layout: DOCUMENTATION, EXAMPLES and RETURN come before the imports.

DOCUMENTATION = r"""
---
module: node_agent
short_description: Install, configure, run and health-check a node agent as a systemd service
description:
  - In one call, installs an agent (Debian packages and/or checksum-verified binaries), writes its
    configuration files, systemd unit and drop-ins, and brings its systemd service to O(state)
    (enabled, started, restarted when something it depends on changed, stopped or removed), then
    waits until its health check passes.
  - It replaces the package, download, template, systemd and wait_for tasks a role would otherwise
    chain for containerd, kubelet, etcd or haproxy, and their round trips.
  - Every file it writes for an agent is recorded in O(state_dir)/O(name).json, together with the
    sha256 of each binary and file and the agent's O(version), so that O(state=absent) removes
    exactly what the module put there.
  - For Debian hosts with systemd. Needs root.
options:
  name:
    description:
      - Name of the systemd service, without C(.service), for example V(containerd) or V(kubelet).
    type: str
    required: true
  state:
    description:
      - V(present) installs and configures the agent and enables it per O(enabled); whether it runs is left alone.
      - V(started) does the same and makes sure it runs; it is restarted when something it depends on
        changed and O(restart_on_change) is true. The health check runs after that.
      - V(stopped) installs and configures the agent and makes sure it is not running.
      - V(absent) stops and disables the service, and removes the unit file, the drop-ins, files and
        binaries this module manages for O(name) (those recorded and those given in this call) and
        the record. Packages are removed only with O(remove_packages=true).
    type: str
    choices: [present, started, stopped, absent]
    default: started
  enabled:
    description:
      - Whether the service starts at boot.
      - A unit without an C([Install]) section (C(static)) counts as enabled and cannot be disabled.
    type: bool
    default: true
  packages:
    description:
      - Debian packages of the agent, each V(name) or V(name=version) (an exact version, no wildcards).
      - Installed with C(apt-get install --no-install-recommends), keeping existing configuration files,
        only when missing or installed at another version. The apt index must be current.
    type: list
    elements: str
    default: []
  hold_packages:
    description:
      - Hold O(packages) (C(apt-mark hold)), so that a routine upgrade does not move them. A held package
        that needs another version is still installed at the version asked.
    type: bool
    default: false
  remove_packages:
    description:
      - With O(state=absent), also remove O(packages) and the packages recorded (C(apt-get remove),
        configuration files stay).
    type: bool
    default: false
  binaries:
    description:
      - Executables installed from a file on the host or a URL, verified against their sha256 before
        they replace O(binaries[].dest) atomically. Nothing is read or downloaded when O(binaries[].dest)
        already has the expected sha256.
      - A binary dropped from this list stays on disk and is forgotten (a package may own that path now).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path to install to, for example C(/usr/local/bin/kubelet).
        type: path
        required: true
      sha256:
        description: Expected sha256 of the binary (64 hex characters, an optional C(sha256:) prefix is accepted).
        type: str
        required: true
      src:
        description:
          - Path of the binary on the managed host (a staged file, an unpacked offline bundle).
          - Exactly one of O(binaries[].src) and O(binaries[].url).
        type: path
      url:
        description:
          - C(https://) (or C(http://), the checksum protects the content) URL to download the binary from.
            Certificates are validated. Exactly one of O(binaries[].src) and O(binaries[].url).
        type: str
      mode:
        description: Octal mode, as a quoted string with a leading zero.
        type: str
        default: '0755'
  files:
    description:
      - Configuration files of the agent, written atomically (a temporary file in the same directory,
        then a rename) when their content, mode or ownership differ. Parent directories are created.
      - Their content is shown in the diff and logged; put secrets in O(secret_files).
      - A file dropped from this list stays on disk and is forgotten (not removed by O(state=absent)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: Full content of the file.
        type: str
        required: true
      mode:
        description: Octal mode, as a quoted string with a leading zero.
        type: str
        default: '0644'
      owner:
        description: Owner (name or uid). Left alone when not given.
        type: str
      group:
        description: Group (name or gid). Left alone when not given.
        type: str
  secret_files:
    description:
      - Like O(files), for keys, tokens and passwords. Their content is C(no_log), never returned and
        shown in the diff only as C(<secret content changed>).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: Full content of the file (not logged).
        type: str
        required: true
      mode:
        description: Octal mode, as a quoted string with a leading zero.
        type: str
        default: '0600'
      owner:
        description: Owner (name or uid). Left alone when not given.
        type: str
      group:
        description: Group (name or gid). Left alone when not given.
        type: str
  unit:
    description:
      - Full content of C(<systemd_dir>/<name>.service).
      - When omitted, the unit shipped by the package is used, and a unit this module wrote earlier
        is removed.
    type: str
  dropins:
    description:
      - Drop-ins of the service, name (without C(.conf)) to content, written to
        C(<systemd_dir>/<name>.service.d/<name>.conf).
      - Drop-ins of that directory whose names start with C(kubesmith-), or that this module wrote
        earlier, are removed when they are no longer listed. Other drop-ins are left alone.
    type: dict
    default: {}
  environment:
    description:
      - Environment variables of the service, written as C(Environment=) lines (sorted, quoted for
        systemd) to the drop-in C(kubesmith-environment.conf). An empty dict removes that drop-in.
    type: dict
    default: {}
  restart_on_change:
    description:
      - With O(state=started), restart the running service when a package was installed or upgraded,
        or a binary, file, secret file, unit or drop-in changed.
      - A change whose restart did not happen (an interrupted run, or O(state=present) while the
        service ran) is remembered in the record, and the next O(state=started) call restarts.
    type: bool
    default: true
  version:
    description:
      - Version of the agent, recorded with the checksums of its binaries and files and returned as RV(version).
      - When omitted, the version recorded earlier is kept.
    type: str
  health:
    description:
      - How to tell that the agent works. With O(state=started), polled after the service was started
        or restarted, and checked once more (with the same timeout) when nothing changed.
      - On timeout the module fails with the last 30 lines of the service's journal.
      - Not run in check mode, nor with O(wait=false).
    type: dict
    suboptions:
      type:
        description: Kind of check.
        type: str
        required: true
        choices: [unix_socket, tcp, http, command]
      path:
        description: Socket that accepts a connection (O(health.type=unix_socket)).
        type: path
      host:
        description: Host to connect to (O(health.type=tcp)).
        type: str
        default: 127.0.0.1
      port:
        description: TCP port that accepts a connection (O(health.type=tcp)).
        type: int
      url:
        description: URL that answers a GET with O(health.status) (O(health.type=http)).
        type: str
      validate_certs:
        description: Validate the TLS certificate of O(health.url).
        type: bool
        default: true
      status:
        description: Expected HTTP status.
        type: int
        default: 200
      argv:
        description: Command that exits 0 when the agent is healthy (O(health.type=command)).
        type: list
        elements: str
      timeout:
        description: Seconds to wait for the check to pass.
        type: int
        default: 60
      interval:
        description: Seconds between two attempts.
        type: float
        default: 0.5
  wait:
    description:
      - Run the O(health) check. V(false) skips it, for an agent that cannot be healthy yet (kubelet
        before kubeadm wrote its configuration).
    type: bool
    default: true
  state_dir:
    description: Directory of the records, one C(<name>.json) per agent.
    type: path
    default: /var/lib/kubesmith/agents
  systemd_dir:
    description: Directory of the unit and of its drop-in directory.
    type: path
    default: /etc/systemd/system
attributes:
  check_mode:
    support: full
    description:
      - Reports the changes a real run would make, from the host's current state, and changes nothing.
        On a host where the package that ships the unit is not installed yet, the service is taken as
        absent (so a real run may report C(restarted) where check mode said C(started)).
  diff_mode:
    support: full
    description:
      - One entry per file, unit and drop-in that changes (content), the binaries as sha256 lines,
        the packages as name=version lines and the service state (active, enabled).
  platform:
    support: full
    platforms: debian
notes:
  - Runs C(systemctl daemon-reload) at most once per call, when the unit or a drop-in changed (or
    systemd says the unit changed on disk), before the service is enabled, started or restarted.
  - A second call with the same arguments changes nothing and runs only read-only commands
    (C(dpkg-query), C(systemctl show)) and the health check.
author:
  - kubesmith contributors
"""

EXAMPLES = r"""
- name: Install containerd from the Debian package, configure and start it, wait for its socket
  node_agent:
    name: containerd
    packages: [containerd, runc]
    hold_packages: true
    files:
      - path: /etc/containerd/config.toml
        content: "{{ lookup('ansible.builtin.template', 'config.toml.j2') }}"
    environment:
      HTTPS_PROXY: "{{ containerd_https_proxy }}"
    health:
      type: unix_socket
      path: /run/containerd/containerd.sock
      timeout: 30

- name: Install kubelet from a release URL; it cannot be healthy before kubeadm configured it
  node_agent:
    name: kubelet
    version: "{{ kubelet_version }}"
    binaries:
      - dest: /usr/local/bin/kubelet
        url: "https://dl.k8s.io/release/v{{ kubelet_version }}/bin/linux/amd64/kubelet"
        sha256: "{{ kubelet_sha256 }}"
    unit: "{{ lookup('ansible.builtin.template', 'kubelet.service.j2') }}"
    dropins:
      kubesmith-kubeadm: "{{ lookup('ansible.builtin.template', '10-kubeadm.conf.j2') }}"
    health:
      type: http
      url: http://127.0.0.1:10248/healthz
    wait: "{{ kubelet_configured | bool }}"

- name: Install etcd from an offline bundle unpacked on the host, with its key kept out of the logs
  node_agent:
    name: etcd
    version: 3.5.15
    binaries:
      - dest: /usr/local/bin/etcd
        src: /opt/kubesmith/bundle/etcd
        sha256: "{{ etcd_sha256 }}"
    secret_files:
      - path: /etc/etcd/pki/server.key
        content: "{{ etcd_server_key }}"
        owner: etcd
    health:
      type: command
      argv: [/usr/local/bin/etcdctl, endpoint, health]

- name: Remove containerd and everything node_agent put there, including its packages
  node_agent:
    name: containerd
    state: absent
    remove_packages: true
"""

RETURN = r"""
changes:
  description:
    - What changed (or would change in check mode), in order.
    - V(package:<name>), V(hold:<name>), V(binary:<dest>), V(file:<path>), V(unit), V(dropin:<name>),
      V(daemon-reload), V(enabled), V(disabled), V(started), V(restarted), V(stopped), V(record).
  returned: always
  type: list
  elements: str
  sample: [package:containerd, file:/etc/containerd/config.toml, dropin:kubesmith-environment, daemon-reload, restarted]
version:
  description: The version recorded for the agent after this call; null when none (or O(state=absent)).
  returned: always
  type: str
  sample: 1.7.20
active:
  description: Whether the service runs after this call (predicted in check mode).
  returned: always
  type: bool
  sample: true
enabled:
  description: Whether the service starts at boot after this call (predicted in check mode).
  returned: always
  type: bool
  sample: true
paths:
  description: Where the module keeps the agent's files.
  returned: always
  type: dict
  contains:
    unit:
      description: The unit file the module writes when O(unit) is given.
      type: str
      sample: /etc/systemd/system/containerd.service
    dropin_dir:
      description: The drop-in directory.
      type: str
      sample: /etc/systemd/system/containerd.service.d
    record:
      description: The record of the agent.
      type: str
      sample: /var/lib/kubesmith/agents/containerd.json
    binaries:
      description: The binaries managed in this call.
      type: list
      elements: str
      sample: [/usr/local/bin/kubelet]
    files:
      description: The files and secret files managed in this call.
      type: list
      elements: str
      sample: [/etc/containerd/config.toml]
health:
  description: The health check.
  returned: always
  type: dict
  contains:
    checked:
      description: Whether the check ran.
      type: bool
      sample: true
    healthy:
      description: Whether it passed; null when it did not run.
      type: bool
      sample: true
    seconds:
      description: Seconds it took to pass.
      type: float
      sample: 1.5
journal:
  description: Last 30 lines of the service's journal.
  returned: when the health check failed
  type: list
  elements: str
  sample: ["level=info msg=\"starting containerd\""]
"""

import contextlib
import grp
import hashlib
import http.client
import json
import os
import pwd
import socket
import stat
import tempfile
import time
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.node_agent import (
    APT_ENVIRONMENT,
    ENVIRONMENT_DROPIN,
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
    validate_dropin_name,
    validate_service_name,
)
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

C_LOCALE = {"LC_ALL": "C"}
CHUNK = 1 << 20
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is given up
JOURNAL_LINES = 30
SECRET_CHANGED = "<secret content changed>\n"
SECRET_UNCHANGED = "<secret content>\n"
# what a URL request can raise besides a plain OSError
URL_ERRORS = (OSError, urllib.error.URLError, http.client.HTTPException, UrlConnectionError, ValueError)


def argument_spec():
    def file_options(mode, secret):
        return dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True, no_log=secret),
            mode=dict(type="str", default=mode),
            owner=dict(type="str"),
            group=dict(type="str"),
        )

    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="started", choices=["present", "started", "stopped", "absent"]),
        enabled=dict(type="bool", default=True),
        packages=dict(type="list", elements="str", default=[]),
        hold_packages=dict(type="bool", default=False),
        remove_packages=dict(type="bool", default=False),
        binaries=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                dest=dict(type="path", required=True),
                sha256=dict(type="str", required=True),
                src=dict(type="path"),
                url=dict(type="str"),
                mode=dict(type="str", default="0755"),
            ),
            mutually_exclusive=[("src", "url")],
            required_one_of=[("src", "url")],
        ),
        files=dict(type="list", elements="dict", default=[], options=file_options("0644", secret=False)),
        # no_log on the content only: on the whole option, Ansible would also mask each path and
        # mode given there (every '0600' of the output would read '********')
        secret_files=dict(type="list", elements="dict", default=[], options=file_options("0600", secret=True)),
        unit=dict(type="str"),
        dropins=dict(type="dict", default={}),
        environment=dict(type="dict", default={}),
        restart_on_change=dict(type="bool", default=True),
        version=dict(type="str"),
        health=dict(
            type="dict",
            options=dict(
                type=dict(type="str", required=True, choices=["unix_socket", "tcp", "http", "command"]),
                path=dict(type="path"),
                host=dict(type="str", default="127.0.0.1"),
                port=dict(type="int"),
                url=dict(type="str"),
                validate_certs=dict(type="bool", default=True),
                status=dict(type="int", default=200),
                argv=dict(type="list", elements="str"),
                timeout=dict(type="int", default=60),
                interval=dict(type="float", default=0.5),
            ),
            required_if=[
                ("type", "unix_socket", ("path",)),
                ("type", "tcp", ("port",)),
                ("type", "http", ("url",)),
                ("type", "command", ("argv",)),
            ],
        ),
        wait=dict(type="bool", default=True),
        state_dir=dict(type="path", default="/var/lib/kubesmith/agents"),
        systemd_dir=dict(type="path", default="/etc/systemd/system"),
    )


# ---------------------------------------------------------------------------------------------
# file helpers: the only code that writes


def _stat(path):
    """os.stat of a regular file, None when nothing is there; OSError for anything else."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} exists and is not a regular file")
    return st


def _read(path):
    """(content, mode, (uid, gid)) of a regular file, or (None, None, None) when it does not exist."""
    st = _stat(path)
    if st is None:
        return None, None, None
    with open(path, "rb") as f:
        return f.read(), stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)


class _TempBeside:
    """A temporary file in the directory of ``path`` (created), moved over ``path`` by commit();
    removed on any exception, so a failed write leaves ``path`` as it was."""

    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        self.file = os.fdopen(fd, "wb")

    def commit(self, mode, uid=-1, gid=-1):
        if uid != -1 or gid != -1:
            os.fchown(self.file.fileno(), uid, gid)
        os.fchmod(self.file.fileno(), mode)  # after fchown, which clears set-id bits
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.file.close()
        if exc_type is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


def write_atomic(path, data, mode, uid=-1, gid=-1):
    with _TempBeside(path) as temp:
        temp.file.write(data)
        temp.commit(mode, uid, gid)


class ChecksumMismatch(Exception):
    def __init__(self, got):
        super().__init__(got)
        self.got = got


def install_verified(reader, path, sha256, mode):
    """Stream ``reader`` to a temporary file beside ``path``, hashing what is written, and move it
    over ``path`` only when that has ``sha256``; else ChecksumMismatch, with ``path`` untouched."""
    with _TempBeside(path) as temp:
        digest = hashlib.sha256()
        for chunk in iter(lambda: reader.read(CHUNK), b""):
            digest.update(chunk)
            temp.file.write(chunk)
        if digest.hexdigest() != sha256:
            raise ChecksumMismatch(digest.hexdigest())
        temp.commit(mode)


def _resolve_id(name, lookup, what):
    """uid/gid of a name or a number; None when not given; KeyError when unknown."""
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    try:
        return lookup(name)
    except KeyError:
        raise KeyError(f"{what} {name!r} does not exist") from None


def _last_line(*texts):
    for text in texts:
        if text and text.strip():
            return text.strip().splitlines()[-1]
    return "no output"


# ---------------------------------------------------------------------------------------------
# the module's logic


class NodeAgent:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.name = self.p["name"]
        self.check_mode = module.check_mode
        self.changes = []
        self.diff = []
        self.config_changed = False  # something the running service depends on changed
        self.daemon_reload = False  # the unit or a drop-in changed on disk
        self.unit_path = os.path.join(self.p["systemd_dir"], f"{self.name}.service")
        self.dropin_dir = self.unit_path + ".d"
        self.record_path = os.path.join(self.p["state_dir"], f"{self.name}.json")
        self.record = self.original_record = None
        # validated copies of the arguments (module.params stay as given: they are returned)
        self.package_names = []
        self.binaries = []
        self.files = []
        self.dropins = {}
        self.service = ServiceState("not-found", "inactive", "")
        self.health = dict(checked=False, healthy=None, seconds=0.0)

    # -- plumbing ---------------------------------------------------------------------------

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=f"{self.name}: {msg}", changes=self.changes, **kwargs)

    def run(self, argv, what, environ=None, ok=(0,), hint=""):
        rc, out, err = self.module.run_command(argv, environ_update=environ or C_LOCALE)
        if rc not in ok:
            self.fail(
                f"{what} failed: '{' '.join(argv)}' exited with rc={rc}: {_last_line(err, out)}{hint}",
                rc=rc,
                stdout=out,
                stderr=err,
                cmd=argv,
            )
        return out

    def change(self, label, before=None, after=None, header=None, after_header=None):
        """Note a change; with --diff, also what it looks like (before/after text)."""
        self.changes.append(label)
        if self.module._diff and (before is not None or after is not None):
            self.diff.append(
                dict(
                    before_header=header or label,
                    after_header=after_header or header or label,
                    before=before or "",
                    after=after or "",
                )
            )

    # -- validation: everything the arguments alone can tell, before anything changes -------

    def validate(self):
        p = self.p
        seen = {}
        try:
            validate_service_name(self.name)
            self.package_names = [parse_package_spec(spec)[0] for spec in p["packages"]]
            for b in p["binaries"]:
                what = f"binaries {b['dest']}"
                if b["url"] is not None and not b["url"].startswith(("https://", "http://")):
                    raise ValueError(f"{what}: url {b['url']!r} is not an http(s) URL")
                self._claim(seen, b["dest"], "binaries")
                self.binaries.append(
                    dict(b, sha256=normalize_sha256(b["sha256"], what), mode=parse_mode(b["mode"], what))
                )
            for option in ("files", "secret_files"):
                for f in p[option]:
                    self._claim(seen, f["path"], option)
                    mode = parse_mode(f["mode"], f"{option} {f['path']}")
                    self.files.append(dict(f, mode=mode, secret=option == "secret_files"))
            self._claim(seen, self.unit_path, "unit")
            for key, content in p["dropins"].items():
                validate_dropin_name(key)
                if not isinstance(content, str):
                    raise ValueError(f"dropins: the content of {key!r} must be a string")
                self.dropins[key] = content
            environment = render_environment_dropin(p["environment"])
            if environment is not None:
                self.dropins[ENVIRONMENT_DROPIN] = environment
            health = p["health"]
            if health is not None:
                if health["timeout"] < 0 or health["interval"] <= 0:
                    raise ValueError("health: timeout must be >= 0 and interval > 0")
                if health["type"] == "tcp" and not 0 < health["port"] < 65536:
                    raise ValueError(f"health: port {health['port']} is not a TCP port")
        except ValueError as e:
            self.fail(str(e))

    @staticmethod
    def _claim(seen, path, option):
        if not os.path.isabs(path):
            raise ValueError(f"{option}: {path!r} is not an absolute path")
        if path in seen:
            raise ValueError(f"{path} is given twice (in {seen[path]} and in {option})")
        seen[path] = option

    # -- record -----------------------------------------------------------------------------

    def load_record(self):
        try:
            with open(self.record_path, encoding="utf-8") as f:
                record = json.load(f)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            record = None
        except (OSError, ValueError) as e:
            self.module.warn(f"ignoring the unreadable record {self.record_path} ({e}); it is rewritten")
            record = {}
        self.record = self.original_record = record

    def recorded(self, key, default):
        """A value of the record as this call found it, ``default`` when absent or malformed."""
        value = (self.original_record or {}).get(key, default)
        return value if isinstance(value, type(default)) else default

    def desired_record(self, restart_pending):
        p = self.p
        return dict(
            name=self.name,
            version=p["version"] if p["version"] is not None else (self.recorded("version", "") or None),
            packages=sorted(set(self.package_names)),
            binaries={b["dest"]: b["sha256"] for b in self.binaries},
            files={f["path"]: sha256_bytes(to_bytes(f["content"])) for f in self.files if not f["secret"]},
            # paths only: a digest of a short secret is as good as the secret
            secret_files=sorted(f["path"] for f in self.files if f["secret"]),
            unit=sha256_bytes(to_bytes(p["unit"])) if p["unit"] is not None else None,
            dropins={key: sha256_bytes(to_bytes(content)) for key, content in self.dropins.items()},
            restart_pending=restart_pending,
        )

    def write_record(self, record):
        if record == self.record:
            return
        self.record = record
        if not self.check_mode:
            data = to_bytes(json.dumps(record, indent=2, sort_keys=True) + "\n")
            try:
                write_atomic(self.record_path, data, 0o644)
            except OSError as e:
                self.fail(f"cannot write the record {self.record_path}: {e}")

    # -- packages ---------------------------------------------------------------------------

    def package_status(self, names):
        # rc 1: some package is unknown to dpkg, which is an answer too
        out = self.run(dpkg_query_argv(names), "reading the installed packages", ok=(0, 1))
        try:
            return parse_dpkg_query(out)
        except ValueError as e:
            self.fail(str(e))

    def ensure_packages(self):
        specs = self.p["packages"]
        if not specs:
            return
        status = self.package_status(self.package_names)
        todo = packages_to_install(specs, status)
        installing = {parse_package_spec(spec)[0] for spec in todo}
        if todo:
            self.config_changed = True
            for name in sorted(installing):
                self.changes.append(f"package:{name}")
            if self.module._diff:
                before, after = package_diff_lines(todo, status)
                self.diff.append(dict(before_header="packages", after_header="packages", before=before, after=after))
            if not self.check_mode:
                self.run(
                    apt_install_argv(todo, allow_held=any(n in status and status[n].held for n in installing)),
                    "installing packages",
                    environ=APT_ENVIRONMENT,
                    hint=" (check the package names and versions, and that the apt index is current: apt-get update)",
                )
        if self.p["hold_packages"]:
            not_held = sorted({n for n in self.package_names if n not in status or not status[n].held})
            for name in not_held:
                self.change(f"hold:{name}", before=f"{name}\n", after=f"{name} (held)\n", header="package holds")
            # an upgrade of a held package may drop its hold: hold it again (apt-mark does not mind)
            to_hold = sorted(set(not_held) | installing)
            if to_hold and not self.check_mode:
                self.run(["apt-mark", "hold", *to_hold], "holding packages")

    def remove_packages(self):
        names = sorted(set(self.package_names) | set(self.recorded("packages", [])))
        if not names:
            return
        status = self.package_status(names)
        installed = [n for n in names if n in status and status[n].installed]
        for name in installed:
            self.change(f"package:{name}", before=f"{name}={status[name].version}\n", after="", header="packages")
        if installed and not self.check_mode:
            held = any(status[n].held for n in installed)
            self.run(apt_remove_argv(installed, allow_held=held), "removing packages", environ=APT_ENVIRONMENT)

    # -- binaries ---------------------------------------------------------------------------

    def ensure_binary(self, b):
        dest, want, mode = b["dest"], b["sha256"], b["mode"]
        try:
            st = _stat(dest)
            current = sha256_file(dest) if st is not None else None
        except OSError as e:
            self.fail(f"cannot read binary {dest}: {e}")
        current_mode = stat.S_IMODE(st.st_mode) if st is not None else None
        if current == want and current_mode == mode:
            return
        self.config_changed = True
        self.change(
            f"binary:{dest}",
            before=f"{current}  {dest} (mode {current_mode:04o})\n" if current else "",
            after=f"{want}  {dest} (mode {mode:04o})\n",
            header=dest,
        )
        try:
            if current == want:
                if not self.check_mode:
                    os.chmod(dest, mode)
            elif b["src"] is not None:
                self._install_from_src(b)
            elif not self.check_mode:  # never downloaded in check mode
                self._install_from_url(b)
        except OSError as e:
            self.fail(f"cannot install binary {dest}: {e}")

    def _mismatch(self, b, source, got):
        self.fail(
            f"binary {b['dest']}: {source} has sha256 {got}, expected {b['sha256']}: it is not the expected "
            f"file (another version, or damaged), so {b['dest']} was left untouched"
        )

    def _install_from_src(self, b):
        src = b["src"]
        if not os.path.isfile(src):
            if self.check_mode:
                self.module.warn(f"binary {b['dest']}: src {src} does not exist (yet); assuming a real run finds it")
                return
            self.fail(f"binary {b['dest']}: src {src} is not a file on the host; stage it first")
        if self.check_mode:  # reading is harmless, and tells now what a real run would say
            got = sha256_file(src)
            if got != b["sha256"]:
                self._mismatch(b, f"src {src}", got)
            return
        try:
            with open(src, "rb") as reader:
                install_verified(reader, b["dest"], b["sha256"], b["mode"])
        except ChecksumMismatch as e:
            self._mismatch(b, f"src {src}", e.got)

    def _install_from_url(self, b):
        url = b["url"]
        try:
            response = open_url(url, method="GET", timeout=DOWNLOAD_TIMEOUT)
        except urllib.error.HTTPError as e:
            self.fail(f"binary {b['dest']}: downloading {url} failed: HTTP {e.code} {e.reason}")
        except URL_ERRORS as e:
            self.fail(f"binary {b['dest']}: downloading {url} failed: {getattr(e, 'reason', None) or e}")
        try:
            install_verified(response, b["dest"], b["sha256"], b["mode"])
        except ChecksumMismatch as e:
            self._mismatch(b, f"url {url}", e.got)
        except (http.client.HTTPException, urllib.error.URLError) as e:
            self.fail(f"binary {b['dest']}: downloading {url} failed: {e}")
        finally:
            response.close()

    # -- files, unit, drop-ins -------------------------------------------------------------

    def ensure_content(self, path, content, mode, label, owner=None, group=None, secret=False):
        """Write ``content`` to ``path`` when it, the mode or the ownership differ. True when changed."""
        want = to_bytes(content, errors="surrogate_or_strict")
        try:
            current, current_mode, current_ids = _read(path)
        except OSError as e:
            self.fail(f"cannot read {path}: {e}")
        uid, gid = self._ids(path, owner, group)
        reasons = file_needs_write(current, current_mode, want, mode, current_ids, (uid, gid))
        if not reasons:
            return False
        rewrite = "create" in reasons or "content" in reasons
        if secret:
            before = SECRET_UNCHANGED if current is not None else ""
            after = SECRET_CHANGED if rewrite else SECRET_UNCHANGED
        else:
            before = to_text(current, errors="surrogate_or_replace") if current is not None else ""
            after = content
        self.change(
            label,
            before=before,
            after=after,
            header=f"{path} (mode {current_mode:04o})" if current is not None else f"{path} (absent)",
            after_header=f"{path} (mode {mode:04o})",
        )
        if not self.check_mode:
            uid = -1 if uid is None else uid
            gid = -1 if gid is None else gid
            try:
                if rewrite:
                    write_atomic(path, want, mode, uid, gid)
                else:
                    os.chown(path, uid, gid)
                    os.chmod(path, mode)
            except OSError as e:
                self.fail(f"cannot write {path}: {e}")
        return True

    def _ids(self, path, owner, group):
        ids = []
        for name, lookup, what in (
            (owner, lambda n: pwd.getpwnam(n).pw_uid, "user"),
            (group, lambda n: grp.getgrnam(n).gr_gid, "group"),
        ):
            try:
                ids.append(_resolve_id(name, lookup, what))
            except KeyError as e:
                if not self.check_mode:
                    self.fail(f"{path}: {e.args[0]}; create it first (or install the package that does)")
                self.module.warn(f"{path}: {e.args[0]} yet; assuming an earlier task creates it")
                ids.append(-1)  # matches no real id: reported as a change
        return ids

    def remove_file(self, path, label, kind="file"):
        """Remove ``path`` when it is there. True when removed (or would be)."""
        try:
            st = _stat(path)
            if st is None:
                return False
            before = None
            if self.module._diff:
                if kind == "secret":
                    before = SECRET_UNCHANGED
                elif kind == "binary":
                    before = f"{sha256_file(path)}  {path}\n"
                else:
                    before = _read(path)[0].decode("utf-8", errors="replace")
        except OSError as e:
            self.fail(f"cannot read {path}: {e}")
        mode = stat.S_IMODE(st.st_mode)
        self.change(label, before=before, after="", header=f"{path} (mode {mode:04o})", after_header=f"{path} (absent)")
        if not self.check_mode:
            try:
                os.unlink(path)
            except OSError as e:
                self.fail(f"cannot remove {path}: {e}")
        return True

    def existing_dropins(self):
        try:
            return sorted(n[: -len(".conf")] for n in os.listdir(self.dropin_dir) if n.endswith(".conf"))
        except FileNotFoundError:
            return []
        except OSError as e:
            self.fail(f"cannot list {self.dropin_dir}: {e}")

    def remove_dropins(self, keys):
        removed = False
        for key in keys:
            removed |= self.remove_file(os.path.join(self.dropin_dir, f"{key}.conf"), f"dropin:{key}")
        if removed and not self.check_mode:
            with contextlib.suppress(OSError):
                os.rmdir(self.dropin_dir)  # left where something else is in it
        return removed

    def ensure_systemd_files(self):
        changed = False
        if self.p["unit"] is not None:
            changed = self.ensure_content(self.unit_path, self.p["unit"], 0o644, "unit")
        elif self.recorded("unit", ""):
            changed = self.remove_file(self.unit_path, "unit")  # the package's unit takes over
        for key in sorted(self.dropins):
            path = os.path.join(self.dropin_dir, f"{key}.conf")
            changed |= self.ensure_content(path, self.dropins[key], 0o644, f"dropin:{key}")
        changed |= self.remove_dropins(
            stale_dropins(self.existing_dropins(), list(self.dropins), list(self.recorded("dropins", {})))
        )
        if changed:
            self.daemon_reload = self.config_changed = True

    # -- service ---------------------------------------------------------------------------

    def read_service(self):
        out = self.run(systemctl_show_argv(self.name), "reading the service state", hint=" (is this a systemd host?)")
        try:
            return parse_systemctl_show(out)
        except ValueError as e:
            self.fail(str(e))

    def run_service_actions(self, current, actions):
        after = predict_service_state(current, actions)
        self.changes.extend(action_change(argv) for argv in actions)
        if self.module._diff and any(argv[1] != "daemon-reload" for argv in actions):
            restarted = " (restarted)" if any(argv[1] == "restart" for argv in actions) else ""
            self.diff.append(
                dict(
                    before_header=f"service {self.name}",
                    after_header=f"service {self.name}",
                    before=current.line() + "\n",
                    after=after.line() + restarted + "\n",
                )
            )
        if not self.check_mode:
            hint = ""
            if current.load_state == "not-found":
                hint = f" (systemd has no unit {self.name}.service: give its content in unit, or a package with it)"
            for argv in actions:
                self.run(argv, f"systemctl {argv[1]}", hint=hint if argv[1] != "daemon-reload" else "")
        self.service = after

    def converge(self):
        p = self.p
        self.ensure_packages()
        for b in self.binaries:
            self.ensure_binary(b)
        for f in self.files:
            label = f"file:{f['path']}"
            if self.ensure_content(f["path"], f["content"], f["mode"], label, f["owner"], f["group"], f["secret"]):
                self.config_changed = True
        self.ensure_systemd_files()

        current = self.read_service()
        # something changed now, or in an earlier call whose restart did not happen
        changed = self.config_changed or self.recorded("restart_pending", False)
        try:
            actions = plan_service_actions(
                self.name,
                p["state"],
                p["enabled"],
                current,
                changed=changed,
                restart_on_change=p["restart_on_change"],
                daemon_reload=self.daemon_reload,
            )
        except ValueError as e:
            self.fail(str(e))
        pending = p["restart_on_change"] and changed
        # written before the service is touched, so that an interrupted call still restarts next time
        self.write_record(self.desired_record(restart_pending=pending))
        self.run_service_actions(current, actions)
        started = any(argv[1] in ("start", "restart") for argv in actions)
        self.write_record(self.desired_record(restart_pending=pending and self.service.active and not started))
        if self.record != self.original_record:
            self.changes.append("record")

        if p["state"] == "started" and p["health"] and p["wait"] and not self.check_mode:
            self.wait_healthy(p["health"])

    def remove(self):
        p = self.p
        current = self.read_service()
        self.run_service_actions(current, plan_removal_actions(self.name, current))

        existing = self.existing_dropins()
        owned = list(self.recorded("dropins", {})) + list(self.dropins)
        systemd_changed = self.remove_dropins(stale_dropins(existing, [], owned))
        if p["unit"] is not None or self.recorded("unit", ""):
            systemd_changed |= self.remove_file(self.unit_path, "unit")

        secrets = set(self.recorded("secret_files", [])) | {f["path"] for f in self.files if f["secret"]}
        files = set(self.recorded("files", {})) | {f["path"] for f in self.files}
        for path in sorted(files - secrets):
            self.remove_file(path, f"file:{path}")
        for path in sorted(secrets):
            self.remove_file(path, f"file:{path}", kind="secret")
        for path in sorted(set(self.recorded("binaries", {})) | {b["dest"] for b in self.binaries}):
            self.remove_file(path, f"binary:{path}", kind="binary")

        if systemd_changed:
            self.changes.append("daemon-reload")
            if not self.check_mode:
                self.run(["systemctl", "daemon-reload"], "systemctl daemon-reload")
        if p["remove_packages"]:
            self.remove_packages()
        if self.original_record is not None:
            self.changes.append("record")
            if not self.check_mode:
                try:
                    os.unlink(self.record_path)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    self.fail(f"cannot remove the record {self.record_path}: {e}")
        self.record = None

    # -- health ----------------------------------------------------------------------------

    def probe(self, health):
        """One attempt: (healthy, what is wrong)."""
        connect_timeout = max(1.0, min(5.0, float(health["timeout"])))
        kind = health["type"]
        if kind == "command":
            rc, out, err = self.module.run_command(health["argv"], environ_update=C_LOCALE)
            return rc == 0, f"rc={rc}: {_last_line(err, out)}"
        try:
            if kind == "unix_socket":
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(connect_timeout)
                    s.connect(health["path"])
                return True, ""
            if kind == "tcp":
                with socket.create_connection((health["host"], health["port"]), timeout=connect_timeout):
                    return True, ""
            try:
                response = open_url(
                    health["url"], method="GET", timeout=connect_timeout, validate_certs=health["validate_certs"]
                )
                status = response.status
                response.close()
            except urllib.error.HTTPError as e:
                status = e.code
            return status == health["status"], f"HTTP status {status}"
        except URL_ERRORS as e:
            return False, str(getattr(e, "reason", None) or e)

    def wait_healthy(self, health):
        began = time.monotonic()
        deadline = began + health["timeout"]
        while True:
            healthy, error = self.probe(health)
            now = time.monotonic()
            if healthy:
                self.health = dict(checked=True, healthy=True, seconds=round(now - began, 2))
                return
            if now >= deadline:
                break
            time.sleep(min(health["interval"], deadline - now))
        self.health = dict(checked=True, healthy=False, seconds=round(now - began, 2))
        journal = self.journal()
        self.module.fail_json(
            msg=format_health_failure(self.name, describe_health_check(health), health["timeout"], error, journal),
            changes=self.changes,
            journal=journal,
            health=self.health,
        )

    def journal(self):
        argv = ["journalctl", "-u", self.name, "-n", str(JOURNAL_LINES), "--no-pager", "-o", "cat"]
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE)
        if rc != 0:
            return [f"(journalctl failed with rc={rc}: {_last_line(err, out)})"]
        return out.splitlines()[-JOURNAL_LINES:]

    # -- result ----------------------------------------------------------------------------

    def result(self):
        result = dict(
            changed=bool(self.changes),
            changes=self.changes,
            version=(self.record or {}).get("version"),
            active=self.service.active,
            enabled=self.service.enabled,
            paths=dict(
                unit=self.unit_path,
                dropin_dir=self.dropin_dir,
                record=self.record_path,
                binaries=[b["dest"] for b in self.binaries],
                files=[f["path"] for f in self.files],
            ),
            health=self.health,
        )
        if self.module._diff:
            result["diff"] = self.diff
        return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    agent = NodeAgent(module)
    agent.validate()
    agent.load_record()
    if module.params["state"] == "absent":
        agent.remove()
    else:
        agent.converge()
    module.exit_json(**agent.result())


if __name__ == "__main__":
    main()
