"""Filters of the kube_packages role: pure functions that lay out the download cache (the same
layout as an offline bundle), parse published ``.sha256`` files and word a failed fetch.

Nothing here reads a file or the network: the role's tasks and lookups do, and hand the results in.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from ansible.errors import AnsibleFilterError

BINARIES = ("kubeadm", "kubectl", "kubelet")

_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_MISMATCH = re.compile(r"did not match ([0-9a-fA-F]+); it was ([0-9a-fA-F]+)")
_URL_LOOKUP = "The lookup plugin 'ansible.builtin.url' failed:"
# how ansible.builtin.url words a failed lookup: "<what> for <url>: <cause>"
_LOOKUP_FAILED = re.compile(
    r"(?:Failed lookup url|Received HTTP error|Error validating the server's certificate|Error connecting to)"
    r"(?: for)? (\S+?):? (.*)",
    re.DOTALL,
)


def kube_packages_layout(version: str, arch: str, name: str | None = None) -> str:
    """Relative path of a binary (or of the directory, without ``name``) in a bundle or the cache:
    ``kubernetes/v1.31.4/linux/amd64/kubeadm``."""
    path = f"kubernetes/v{version}/linux/{arch}"
    return f"{path}/{name}" if name else path


def kube_packages_sha256(text) -> str:
    """The lowercase SHA-256 digest a ``.sha256`` file holds, or '' when it holds none.

    Reads the bare digest dl.k8s.io publishes and ``sha256sum`` output (``<digest>  <file>``).
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for line in str(text).splitlines():
        words = line.split()
        if words:
            return words[0].lower() if _DIGEST.match(words[0]) else ""
    return ""


def _file_url(path: str) -> str:
    return "file://" + quote(path)


def kube_packages_artifacts(
    platforms,
    cache_dir: str,
    source: str,
    release_base_url: str,
    bundle_dir: str,
    cached=(),
    binaries=BINARIES,
) -> list[dict]:
    """One entry per binary and (version, arch) in ``platforms``: where it comes from and where the
    cache keeps it.

    - ``src`` / ``src_sha256``: the binary and its ``.sha256`` at the source (a URL for
      ``release``, a path in the bundle for ``bundle``);
    - ``url``: ``src`` as a URL (``file://`` for a bundle);
    - ``cache`` / ``cache_sha256``: the verified copy in the controller cache;
    - ``sha256_url``: where the expected digest is read: the cache's ``.sha256`` when ``cached``
      (the existing cache ``.sha256`` paths) holds it and the source is ``release`` (a published
      digest never changes, so a complete cache needs no network), else the source's.
    """
    if source not in ("release", "bundle"):
        raise AnsibleFilterError(f"kube_packages_artifacts: source {source!r} has no files to fetch")
    cached = set(cached or ())
    base = str(release_base_url).rstrip("/")
    out = []
    for version, arch in sorted({(str(v), str(a)) for v, a in platforms}):
        for name in binaries:
            rel = kube_packages_layout(version, arch, name)
            cache = f"{str(cache_dir).rstrip('/')}/{rel}"
            if source == "release":
                src = f"{base}/v{version}/bin/linux/{arch}/{name}"
                url = src
            else:
                src = f"{str(bundle_dir).rstrip('/')}/{rel}"
                url = _file_url(src)
            use_cache = source == "release" and f"{cache}.sha256" in cached
            out.append({
                "name": name,
                "version": version,
                "arch": arch,
                "src": src,
                "src_sha256": f"{src}.sha256",
                "url": url,
                "cache": cache,
                "cache_sha256": f"{cache}.sha256",
                "sha256_url": _file_url(f"{cache}.sha256") if use_cache else f"{url}.sha256",
            })
    return out


def kube_packages_with_sha256(artifacts: list[dict], contents: list) -> list[dict]:
    """``artifacts`` with ``sha256`` set from ``contents`` (what each ``sha256_url`` returned, in
    order). Fails, naming the file, when one of them holds no SHA-256 digest."""
    contents = list(contents or [])
    if len(contents) != len(artifacts):
        raise AnsibleFilterError(
            f"kube_packages: read {len(contents)} checksum files for {len(artifacts)} binaries"
        )
    out = []
    for artifact, text in zip(artifacts, contents, strict=True):
        digest = kube_packages_sha256(text)
        if not digest:
            shown = str(text or "").strip()[:80]
            raise AnsibleFilterError(
                f"kube_packages: {artifact['sha256_url']} holds no SHA-256 digest (it reads {shown!r}); "
                "a .sha256 file holds the 64 hexadecimal characters of the binary's digest"
            )
        out.append({**artifact, "sha256": digest})
    return out


def _shown(url: str) -> str:
    """A file:// URL as the path a person typed; other URLs as they are."""
    return unquote(url[len("file://"):]) if url.startswith("file://") else url


def _failed_part(result: dict) -> dict:
    for item in (result or {}).get("results") or []:
        if isinstance(item, dict) and item.get("failed"):
            return item
    return result or {}


def _fix(source: str, release_base_url: str, bundle_dir: str) -> str:
    if source == "bundle":
        return (
            f"Fix: put the file into kube_packages_bundle_dir ({bundle_dir}) at "
            "kubernetes/v<version>/linux/<arch>/<binary> with <binary>.sha256 beside it "
            "(roles/kube_packages/README.md, 'Offline bundle'), or set kube_packages_source: release."
        )
    return (
        f"Fix one of: let the controller reach kube_packages_release_base_url ({release_base_url}) or point "
        "it at a mirror laid out like dl.k8s.io/release; set kubesmith_bundle_dir to an offline bundle made by "
        "playbooks/bundle.yml (make bundle) on a machine with internet (README, 'Offline bundle'); "
        "or set kube_packages_source: package to install from the apt repository on the hosts."
    )


def kube_packages_fetch_error(
    result: dict,
    source: str,
    release_base_url: str,
    bundle_dir: str,
    cache_dir: str,
    timeout,
    urls=(),
) -> str:
    """The message a failed controller fetch stops with: what was tried, why it failed, which
    variable to set. ``result`` is ``ansible_failed_result`` (a loop result or a single one);
    ``urls``, the checksum URLs the failed read went through, in order, name what was tried when
    the error itself does not (a timeout)."""
    failed = _failed_part(result)
    msg = str(failed.get("msg") or "unknown error").strip()
    if "evaluated_to" in failed or "assertion" in failed:
        return msg  # the role's own assertions already say what to fix
    item = failed.get("item") if isinstance(failed.get("item"), dict) else {}
    fix = _fix(source, release_base_url, bundle_dir)
    mismatch = _MISMATCH.search(msg)
    if mismatch:
        expected, actual = mismatch.group(1).lower(), mismatch.group(2).lower()
        where = item.get("src", "the file")
        if source == "bundle":
            why = "the bundle's binary or its .sha256 is wrong; rebuild that part of the bundle"
        elif _shown(item.get("sha256_url", "")) == item.get("cache_sha256"):
            why = "the digest kept in the cache disagrees with the download; delete it to re-read the published one"
        else:
            why = (
                "the download was corrupted or altered on the way (proxy, mirror); retry, or check the "
                "mirror behind kube_packages_release_base_url"
            )
        return (
            f"kube_packages: checksum mismatch for {where}: expected {expected} "
            f"(from {_shown(item.get('sha256_url', 'its .sha256'))}), got {actual}. "
            f"Nothing was written to the cache ({item.get('cache', cache_dir)}): {why}. {fix}"
        )
    if "kube_packages:" in msg:  # a filter of this file explained it
        reason = msg[msg.index("kube_packages:") + len("kube_packages:"):].strip()
        return f"kube_packages: {reason}. {fix}"
    tried = item.get("url")
    if _URL_LOOKUP in msg:
        msg = msg[msg.index(_URL_LOOKUP) + len(_URL_LOOKUP):].strip()
    lookup = _LOOKUP_FAILED.search(msg)
    if lookup:
        tried, msg = lookup.group(1), lookup.group(2).strip()
    remote = [u for u in urls or () if not str(u).startswith("file://")]
    if not tried and remote:
        tried = remote[0] + (f" (the first of {len(remote)} checksum files to fetch)" if len(remote) > 1 else "")
    tried = _shown(tried) if tried else "the source"
    return (
        f"kube_packages: could not fetch {tried} on the controller (timeout {timeout} s): {msg}. "
        f"The controller cache {cache_dir} does not hold it either. {fix}"
    )


class FilterModule:
    def filters(self):
        return {
            "kube_packages_layout": kube_packages_layout,
            "kube_packages_sha256": kube_packages_sha256,
            "kube_packages_artifacts": kube_packages_artifacts,
            "kube_packages_with_sha256": kube_packages_with_sha256,
            "kube_packages_fetch_error": kube_packages_fetch_error,
        }
