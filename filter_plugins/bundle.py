"""Filters of the bundle role: pure functions that decide what an offline bundle holds (image
list, Debian package records, file names), what a re-run may keep, the manifest, and the words
of a failed fetch.

Nothing here reads a file or the network: the role's tasks and lookups do, and hand the results in.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ansible.errors import AnsibleFilterError

# kubeadm's own images besides coredns, etcd and pause: tagged v<kubernetes version>
KUBE_IMAGES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
DEFAULT_REPOSITORY = "registry.k8s.io"

_VERSION = re.compile(r"^([0-9]+)[.]([0-9]+)[.]([0-9]+)$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


def _minor(version: str) -> str:
    match = _VERSION.match(str(version or ""))
    if not match:
        raise AnsibleFilterError(
            f"bundle: kubernetes version {version!r} is not a release like 1.31.4 (three numbers, no leading v); "
            "set kubesmith_kubernetes_version (or bundle_kubernetes_version)"
        )
    return f"{match.group(1)}.{match.group(2)}"


def bundle_kubeadm_images(version: str, minors: dict, repository: str = DEFAULT_REPOSITORY) -> list[str]:
    """The images ``kubeadm config images list`` names for ``version``: the four kube-* images at
    v<version>, then coredns, etcd and pause at the tags of ``minors[<major.minor>]``
    (vars/kubernetes.yml, kubesmith_kubernetes_minors).

    Like kubeadm, coredns lives at ``<repository>/coredns/coredns`` in the default registry and at
    ``<repository>/coredns`` in any other (a mirror of registry.k8s.io keeps kubeadm's names).
    """
    minor = _minor(version)
    table = (minors or {}).get(minor)
    if not isinstance(table, dict):
        supported = ", ".join(sorted(minors or {})) or "none"
        raise AnsibleFilterError(
            f"bundle: Kubernetes {version} (minor {minor}) is not in kubesmith_kubernetes_minors of "
            f"vars/kubernetes.yml (supported: {supported}); pick a supported version or add the minor there"
        )
    missing = [key for key in ("coredns", "etcd", "pause") if not table.get(key)]
    if missing:
        raise AnsibleFilterError(
            f"bundle: kubesmith_kubernetes_minors['{minor}'] in vars/kubernetes.yml lacks {', '.join(missing)}"
        )
    patch = int(str(version).split(".")[2])
    tags = {key: _tag_for_patch(table[key], patch, f"kubesmith_kubernetes_minors['{minor}'].{key}")
            for key in ("coredns", "etcd", "pause")}
    repo = str(repository or DEFAULT_REPOSITORY).rstrip("/")
    coredns = f"{repo}/coredns/coredns" if repo == DEFAULT_REPOSITORY else f"{repo}/coredns"
    return [f"{repo}/{name}:v{version}" for name in KUBE_IMAGES] + [
        f"{coredns}:{tags['coredns']}",
        f"{repo}/etcd:{tags['etcd']}",
        f"{repo}/pause:{tags['pause']}",
    ]


def _tag_for_patch(value, patch: int, where: str) -> str:
    """A tag of the minors table: one string for the whole minor, or a mapping from the first patch
    release that uses a tag to that tag (kubeadm's patch releases have moved etcd, e.g.
    ``{0: 3.5.15-0, 14: 3.5.24-0}`` for 1.31)."""
    if not isinstance(value, dict):
        return str(value)
    firsts = sorted((int(first), str(tag)) for first, tag in value.items())
    chosen = [tag for first, tag in firsts if first <= patch]
    if not chosen:
        raise AnsibleFilterError(
            f"bundle: {where} names no tag for patch release {patch} (it starts at {firsts[0][0]})"
        )
    return chosen[-1]


def bundle_normalize_ref(ref: str) -> str:
    """An image reference as containerd names it: ``flannel/flannel:v1`` ->
    ``docker.io/flannel/flannel:v1``, ``busybox:1`` -> ``docker.io/library/busybox:1``."""
    ref = str(ref).strip()
    first, _, rest = ref.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        ref = f"docker.io/{ref}" if rest else f"docker.io/library/{ref}"
    if ref.startswith("docker.io/") and ref.count("/") == 1:
        ref = "docker.io/library/" + ref[len("docker.io/"):]
    return ref


def bundle_image_file(ref: str) -> str:
    """The tarball of an image in a bundle: ``images/<registry>_<path>_<tag>.tar``."""
    ref = bundle_normalize_ref(ref)
    return "images/" + re.sub(r"[/:@]", "_", ref) + ".tar"


def _check_ref(ref, where: str) -> str:
    if not isinstance(ref, str) or not _REF.match(ref) or ":" not in ref.split("@")[0].rpartition("/")[2]:
        raise AnsibleFilterError(
            f"bundle: {where} holds {ref!r}, which is not a full image reference with a tag "
            "(like docker.io/flannel/flannel:v0.26.1)"
        )
    return ref


def bundle_images(kubeadm_images, cni_images, addons_images, extra=(), cni: str = "") -> list[dict]:
    """Every image of the bundle once, in order kubeadm, CNI, add-ons, extra: ``{ref, file, source}``.

    ``cni_images`` is ``cni_images[kubesmith_cni]`` (a list); ``addons_images`` the whole
    ``addons_images`` dict (add-on -> list), or a list.
    """
    groups = [("kubeadm", list(kubeadm_images or []))]
    groups.append((f"cni_images[{cni}]" if cni else "cni_images", list(cni_images or [])))
    if isinstance(addons_images, dict):
        for name in sorted(addons_images):
            groups.append((f"addons_images.{name}", list(addons_images[name] or [])))
    else:
        groups.append(("addons_images", list(addons_images or [])))
    groups.append(("bundle_extra_images", list(extra or [])))
    out, seen = [], set()
    for source, refs in groups:
        for ref in refs:
            ref = _check_ref(ref, source)
            key = bundle_normalize_ref(ref)
            if key in seen:
                continue
            seen.add(key)
            out.append({
                "ref": ref,
                # a docker-archive names its image by tag: a digest, if any, is checked on the copy, then dropped
                "archive_ref": ref.split("@")[0],
                "file": bundle_image_file(ref.split("@")[0]),
                "source": source.split("[")[0].split(".")[0],
            })
    return out


def bundle_checksums(find_result, root: str) -> dict:
    """``{path relative to root: {sha256, size}}`` from an ``ansible.builtin.find`` result run
    with ``get_checksum: true, checksum_algorithm: sha256``."""
    root = str(root).rstrip("/") + "/"
    out = {}
    for entry in (find_result or {}).get("files") or []:
        path = str(entry.get("path", ""))
        rel = path[len(root):] if path.startswith(root) else path
        out[rel] = {"sha256": str(entry.get("checksum", "")).lower(), "size": int(entry.get("size", 0))}
    return out


def bundle_image_plan(images: list[dict], present: dict, previous_manifest=None) -> dict:
    """Which image tarballs a run keeps and which it fetches.

    A tarball is kept when it is present and its SHA-256 is the one the previous manifest.json
    recorded for the same reference; anything else (missing, altered, not recorded) is fetched.
    Returns ``{keep: [image], fetch: [image]}``.
    """
    recorded = {}
    for entry in (previous_manifest or {}).get("files") or []:
        if isinstance(entry, dict) and entry.get("kind") == "image":
            recorded[entry.get("path")] = (entry.get("sha256"), bundle_normalize_ref(entry.get("ref", "")))
    keep, fetch = [], []
    for image in images:
        have = (present or {}).get(image["file"], {}).get("sha256")
        want = recorded.get(image["file"])
        ok = have and want and want[0] == have and want[1] == bundle_normalize_ref(image["ref"])
        (keep if ok else fetch).append(image)
    return {"keep": keep, "fetch": fetch}


def bundle_apt_closure(text: str) -> list[str]:
    """Package names from ``apt-cache depends --recurse`` output: its unindented lines, without
    virtual packages (``<name>``) and foreign-architecture entries (``name:i386``)."""
    names = []
    for line in str(text or "").splitlines():
        if not line or line[0].isspace():
            continue
        name = line.strip()
        if name.startswith("<") or ":" in name or name in names:
            continue
        names.append(name)
    return sorted(names)


def bundle_apt_records(text: str, arch: str = "") -> list[dict]:
    """Candidate records from ``apt-cache show --no-all-versions`` output:
    ``{name, version, arch, sha256, size, file, download}`` where ``file`` is the archive's file
    name (what the flat repository keeps, no epoch in it) and ``download`` the name
    ``apt-get download`` gives it (epoch ``:`` written ``%3a``)."""
    records, seen = [], set()
    for stanza in re.split(r"\n\s*\n", str(text or "")):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        name = fields.get("Package")
        if not name or name in seen or "Filename" not in fields:
            continue
        if arch and fields.get("Architecture") not in (arch, "all"):
            continue
        seen.add(name)
        version, pkg_arch = fields.get("Version", ""), fields.get("Architecture", "")
        records.append({
            "name": name,
            "version": version,
            "arch": pkg_arch,
            "sha256": fields.get("SHA256", "").lower(),
            "size": int(fields.get("Size", "0") or 0),
            "file": "debs/" + fields["Filename"].rsplit("/", 1)[-1],
            "download": f"{name}_{quote(version, safe='+~.-').replace('%3A', '%3a')}_{pkg_arch}.deb",
        })
    return sorted(records, key=lambda r: r["name"])


def bundle_deb_plan(records: list[dict], present: dict) -> dict:
    """``{keep, fetch, remove}``: records whose file is present with the archive's SHA-256 are
    kept, the others fetched; ``remove`` lists .deb files of debs/ no record wants (other versions)."""
    keep, fetch = [], []
    for record in records:
        have = (present or {}).get(record["file"], {}).get("sha256")
        (keep if have and have == record["sha256"] else fetch).append(record)
    wanted = {r["file"] for r in records}
    remove = sorted(p for p in (present or {}) if p.startswith("debs/") and p.endswith(".deb") and p not in wanted)
    return {"keep": keep, "fetch": fetch, "remove": remove}


def bundle_os_release(text: str) -> dict:
    """``/etc/os-release`` as ``{id, version_id, codename}``."""
    values = {}
    for line in str(text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return {
        "id": values.get("ID", ""),
        "version_id": values.get("VERSION_ID", ""),
        "codename": values.get("VERSION_CODENAME", ""),
    }


def bundle_manifest(checksums: dict, images: list[dict], kubernetes: list[dict], meta: dict) -> dict:
    """manifest.json: ``meta`` (kubernetes_version, arch, cni, distro, ...) plus ``files``: every
    file of the bundle with ``path``, ``sha256``, ``size``, ``kind`` (binary, checksum, image,
    deb, index, manifest) and, for images, ``ref``. ``checksums`` is :func:`bundle_checksums` of
    the bundle directory; ``kubernetes`` the kube_packages artifacts (binary names)."""
    refs = {image["file"]: image["ref"] for image in images or []}
    binaries = {f"{a['cache'].rsplit('/kubernetes/', 1)[-1]}" for a in kubernetes or []}
    files = []
    for path in sorted(checksums or {}):
        if path == "manifest.json" or "/." in f"/{path}":
            continue
        entry = {"path": path, **checksums[path]}
        if path.startswith("kubernetes/"):
            entry["kind"] = "checksum" if path.endswith(".sha256") else "binary"
            if entry["kind"] == "binary" and binaries and path[len("kubernetes/"):] not in binaries:
                continue  # another version's binary, not part of this bundle
            if entry["kind"] == "checksum" and binaries and path[len("kubernetes/"):-7] not in binaries:
                continue
        elif path.startswith("images/"):
            if path not in refs:
                continue
            entry.update(kind="image", ref=refs[path])
        elif path.startswith("debs/"):
            entry["kind"] = "deb" if path.endswith(".deb") else "index"
        elif path.startswith("manifests/"):
            entry["kind"] = "manifest"
        else:
            continue
        files.append(entry)
    return {"format": 1, **(meta or {}), "files": files}


def bundle_verify(manifest: dict, checksums: dict, kinds=("binary", "image", "deb", "index")) -> list[str]:
    """Problems of a bundle against its manifest.json: each listed file of ``kinds`` that is
    missing or whose SHA-256 differs (an empty list: the bundle is intact)."""
    problems = []
    for entry in (manifest or {}).get("files") or []:
        if entry.get("kind") not in kinds:
            continue
        have = (checksums or {}).get(entry["path"])
        if have is None:
            problems.append(f"{entry['path']} is missing")
        elif have.get("sha256") != entry.get("sha256"):
            problems.append(
                f"{entry['path']} has SHA-256 {have.get('sha256')}, manifest.json says {entry.get('sha256')}"
            )
    return problems


def bundle_images_to_import(manifest: dict, present_refs) -> list[dict]:
    """The image entries of manifest.json whose reference containerd does not list
    (``ctr -n k8s.io images ls -q`` lines), compared as containerd names them."""
    have = {bundle_normalize_ref(line) for line in present_refs or () if str(line).strip()}
    return [
        entry for entry in (manifest or {}).get("files") or []
        if entry.get("kind") == "image" and bundle_normalize_ref(entry.get("ref", "").split("@")[0]) not in have
    ]


def bundle_distro_problem(bundle_distro: dict, host: dict, hostname: str = "") -> str:
    """'' when a host runs the release the bundle's packages were downloaded for, else why not."""
    want = bundle_distro or {}
    if not want.get("id"):
        return ""
    same = (host or {}).get("id") == want.get("id") and (host or {}).get("codename") == want.get("codename")
    if same:
        return ""
    return (
        f"{hostname or 'the host'} runs {host.get('id') or '?'} {host.get('codename') or '?'} but the bundle's Debian "
        f"packages were downloaded for {want['id']} {want.get('codename')} (the release of the machine that built "
        "it). Build the bundle on a machine of the hosts' release (playbooks/bundle.yml), or give this host "
        "that release."
    )


_SKOPEO_MSG = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')


def bundle_reason(result) -> str:
    """The one line that says why a task failed: skopeo's fatal message, a command's last stderr
    line, or the task's msg (kube_packages' own message without its advice)."""
    result = result or {}
    for item in result.get("results") or []:
        if isinstance(item, dict) and item.get("failed"):
            result = item
            break
    stderr = str(result.get("stderr") or "")
    found = _SKOPEO_MSG.findall(stderr)
    if found:
        return found[-1].replace('\\"', '"')
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    msg = str(result.get("msg") or "").strip()
    if "No such file or directory" in msg and result.get("cmd"):
        cmd = result["cmd"][0] if isinstance(result["cmd"], list) else str(result["cmd"]).split()[0]
        return f"{cmd} is not installed on the controller"
    if lines:
        return lines[-1]
    msg = re.split(r"\. (?:The controller cache|Fix)", msg)[0]
    return msg[len("kube_packages: "):] if msg.startswith("kube_packages: ") else msg


def bundle_fetch_error(failures: list[dict], bundle_dir: str, version: str, cni: str = "") -> str:
    """The message a download stops with when a source did not answer: what could not be
    fetched, from where and why, then how to bring a bundle built elsewhere.

    ``failures``: ``{what, source, reason}`` per part that failed (binaries, images, packages).
    ``bundle_dir`` is the bundle being built; empty when the caller is a cluster run without a
    bundle (e.g. role kube_packages' download in a rescue of cluster.yml), which words it so."""
    parts = []
    for failure in failures or []:
        reason = re.sub(r"\s+", " ", str(failure.get("reason") or "no answer")).strip()
        if len(reason) > 400:
            reason = reason[:400] + "..."
        parts.append(f"{failure.get('what')} from {failure.get('source')}: {reason}")
    listing = "; ".join(f"({n}) {p}" for n, p in enumerate(parts, 1))
    extra = f" -e kubesmith_cni={cni}" if cni else ""
    if bundle_dir:
        head = (f"bundle: could not fetch {len(parts)} part(s) of the offline bundle for Kubernetes {version} "
                f"into {bundle_dir}")
        again = "run again with `-e kubesmith_bundle_dir=/path/to/bundle` (files already present and verified are kept)"
    else:
        head = f"kubesmith: could not fetch {len(parts)} part(s) of what Kubernetes {version} needs"
        again = "run this again with `-e kubesmith_bundle_dir=/path/to/bundle` (nothing is then downloaded)"
    return (
        f"{head}: {listing}. This controller cannot reach the download sources. Either give it access "
        "(or point kube_packages_release_base_url and kubesmith_image_repository at mirrors), or build the "
        "bundle on a machine with internet and the same Debian/Ubuntu release as the hosts: "
        f"`ansible-playbook playbooks/bundle.yml -e kubesmith_kubernetes_version={version}{extra} "
        f"-e kubesmith_bundle_dir=/path/to/bundle`, copy that directory here and {again}."
    )


class FilterModule:
    def filters(self):
        return {
            "bundle_kubeadm_images": bundle_kubeadm_images,
            "bundle_normalize_ref": bundle_normalize_ref,
            "bundle_image_file": bundle_image_file,
            "bundle_images": bundle_images,
            "bundle_checksums": bundle_checksums,
            "bundle_image_plan": bundle_image_plan,
            "bundle_apt_closure": bundle_apt_closure,
            "bundle_apt_records": bundle_apt_records,
            "bundle_deb_plan": bundle_deb_plan,
            "bundle_os_release": bundle_os_release,
            "bundle_manifest": bundle_manifest,
            "bundle_verify": bundle_verify,
            "bundle_images_to_import": bundle_images_to_import,
            "bundle_distro_problem": bundle_distro_problem,
            "bundle_reason": bundle_reason,
            "bundle_fetch_error": bundle_fetch_error,
        }
