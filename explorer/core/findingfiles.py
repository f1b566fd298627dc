"""The findings rules over every layer's entries: secrets (from what the indexer found in
file contents, and by file name), setuid/setgid and world-writable modes, version-control
metadata, package managers' caches, and duplicate files by content hash."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from explorer.core import contentscan, tarscan
from explorer.core.findings import Finding, Stack, finding, plural
from explorer.core.layerindex import WHITEOUT_PREFIX, LayerIndex

_KEY_NAMES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_KEY_ENDINGS = (*_KEY_NAMES, ".p12", ".pfx", ".jks", ".keystore")
_LABELS = {
    "aws-access-key-id": "AWS access key id",
    "aws-secret-access-key": "AWS secret access key",
    "github-token": "GitHub token",
    "gitlab-token": "GitLab token",
    "npm-token": "npm token",
    "pypi-token": "PyPI token",
    "slack-token": "Slack token",
    "slack-webhook": "Slack webhook",
    "stripe-key": "Stripe key",
    "google-api-key": "Google API key",
    "npmrc-auth": ".npmrc credential",
    "docker-auth": "registry credential",
    "git-credentials": "git credential",
    "netrc-password": ".netrc password",
    "kubeconfig-credential": "Kubernetes credential",
    "secret-assignment": "secret value",
}


def secret_findings(layers: Sequence[LayerIndex], stack: Stack) -> Iterator[Finding]:
    for n, layer in enumerate(layers):
        by_entry: dict[int, list[tuple[str, str]]] = {}
        for i, detector, shown in layer.secrets:
            by_entry.setdefault(i, []).append((detector, shown))
        for i, hits in by_entry.items():
            path = "/" + layer.paths[i]
            visible, where = stack.where(n, path)
            what = "; ".join(
                shown if d == "private-key" else f"{_LABELS.get(d, d)} {shown}"
                for d, shown in hits[:3]
            )
            more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
            message = f"{what}{more} ({where})"
            yield finding("secret-in-file", n, path, message, visible=visible)
        for i, (path, size) in enumerate(zip(layer.paths, layer.sizes, strict=True)):
            if path.endswith(_KEY_ENDINGS):
                if path.rpartition("/")[2] not in _KEY_NAMES and path.endswith(_KEY_NAMES):
                    continue  # "my_id_rsa" is not "id_rsa"
                why = "a private key or keystore by its name"
            elif size > contentscan.TEXT_CAP and _credential(path):  # smaller ones were read
                why = f"a credentials file, too large to scan ({size:,} bytes)"
            else:
                continue
            if not size or i in by_entry or layer.types[i] != tarscan.REG:
                continue
            if _vendored(path):
                continue
            visible, where = stack.where(n, path)
            yield finding("secret-file-name", n, "/" + path, f"{why} ({where})", visible=visible)


def _credential(path: str) -> bool:
    base = path.rpartition("/")[2]
    return (
        base in contentscan.CREDENTIAL_NAMES
        or base.startswith(".env")
        or path.endswith(contentscan.CREDENTIAL_PATHS)
    )


_VENDORED = re.compile(r"(?:^|/)(?:node_modules|site-packages|dist-packages|test|tests)/")


def _vendored(path: str) -> bool:
    """A package's own test fixture (libraries ship test keys): not the image's secret."""
    return path.startswith(("usr/share/", "usr/lib/")) or _VENDORED.search(path) is not None


# -- modes -----------------------------------------------------------------------------------

_SETID = 0o6000
_STICKY = 0o1000
_OTHERS_WRITE = 0o002


def mode_findings(layers: Sequence[LayerIndex], stack: Stack) -> Iterator[Finding]:
    """setuid/setgid files, one finding each; world-writable entries without the sticky
    bit, one finding per topmost such entry (a `chmod -R 777` is one finding, with a count)."""
    for n, layer in enumerate(layers):
        writable: dict[str, int] = {}
        types, modes = layer.types, layer.modes
        for i, mode in enumerate(modes):
            if not mode & (_SETID | _OTHERS_WRITE):
                continue
            kind = types[i]
            if kind not in (tarscan.REG, tarscan.DIR) or layer.paths[i].rpartition("/")[
                2
            ].startswith(WHITEOUT_PREFIX):
                continue
            path = layer.paths[i]
            if mode & _SETID and kind == tarscan.REG:
                bits = " and ".join(
                    b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if mode & m
                )
                visible, where = stack.where(n, path)
                message = f"{bits}, mode {mode & 0o7777:04o}, owner {layer.uids[i]} ({where})"
                yield finding("setuid-setgid", n, "/" + path, message, visible=visible)
            if mode & _OTHERS_WRITE and not mode & _STICKY:
                writable[path] = i
        yield from _writable(layer, n, writable, stack)


def _writable(
    layer: LayerIndex, n: int, writable: dict[str, int], stack: Stack
) -> Iterator[Finding]:
    below: dict[str, int] = {}  # topmost world-writable entry -> entries below it
    for path in writable:
        top, at = path, path
        while (at := at.rpartition("/")[0]) and at in writable:
            top = at
        below[top] = below.get(top, 0) + (top != path)
    for top, count in below.items():
        i = writable[top]
        is_dir = layer.types[i] == tarscan.DIR
        visible, where = stack.where(n, top, directory=is_dir)
        kind = "directory" if is_dir else "file"
        noun = "entry" if count == 1 else "entries"
        more = f", and {count:,} {noun} below it" if count else ""
        message = f"world-writable {kind}, mode {layer.modes[i] & 0o7777:04o}{more} ({where})"
        yield finding("world-writable", n, "/" + top, message, visible=visible)


# -- version control, caches -----------------------------------------------------------------

_VCS = re.compile(r"^(.*?(?:^|/)(?:\.git|\.svn|\.hg))(?:/|$)")
_CACHES = re.compile(
    r"^(var/lib/apt/lists|var/cache/apt|var/cache/apk"
    r"|(?:.*/)?(?:\.cache/pip|\.cache/yarn|\.cache/go-build|\.cache/pypoetry|\.npm/_cacache"
    r"|\.local/share/pnpm/store|\.pnpm-store|go/pkg/mod/cache|\.m2/repository"
    r"|\.gradle/caches|\.yarn/cache))/"
)
_CACHE_NAMES = {
    "var/lib/apt/lists": "apt package lists",
    "var/cache/apt": "apt package archives",
    "var/cache/apk": "apk cache",
    ".cache/pip": "pip cache",
    ".cache/yarn": "yarn cache",
    ".yarn/cache": "yarn cache",
    ".cache/go-build": "Go build cache",
    ".cache/pypoetry": "Poetry cache",
    ".npm/_cacache": "npm cache",
    ".local/share/pnpm/store": "pnpm store",
    ".pnpm-store": "pnpm store",
    "go/pkg/mod/cache": "Go module cache",
    ".m2/repository": "Maven repository",
    ".gradle/caches": "Gradle cache",
}
_NOT_CACHE = ("/lock", "/partial")  # apt's lock file and partial directory are always there


def vcs_findings(layers: Sequence[LayerIndex], stack: Stack) -> Iterator[Finding]:
    """One finding per repository directory per layer, with its files and bytes."""
    for n, layer in enumerate(layers):
        roots: dict[str, list[int]] = {}  # root -> [files, bytes]
        for i, path in enumerate(layer.paths):
            if (".git" not in path and ".svn" not in path and ".hg" not in path) or "/.wh." in path:
                continue
            m = _VCS.match(path)
            if m is None or _vendored(path):
                continue
            total = roots.setdefault(m.group(1), [0, 0])
            if layer.types[i] == tarscan.REG:
                total[0] += 1
                total[1] += layer.sizes[i]
        for root, (files, size) in roots.items():
            visible, where = stack.where(n, root, directory=True)
            message = f"{plural(files, 'file')}, {size:,} bytes ({where})"
            yield finding("vcs-metadata", n, "/" + root, message, bytes=size, visible=visible)


def cache_findings(layers: Sequence[LayerIndex], stack: Stack) -> Iterator[Finding]:
    """One finding per cache directory per layer that put files in it, with their bytes."""
    for n, layer in enumerate(layers):
        roots: dict[str, list[int]] = {}
        for i, path in enumerate(layer.paths):
            if not ("cache" in path or "apt/lists/" in path or "pnpm" in path or ".m2/" in path):
                continue
            if "/.wh." in path:
                continue
            if layer.types[i] != tarscan.REG:
                continue
            m = _CACHES.match(path)
            if m is None or path.endswith(_NOT_CACHE) or "/partial/" in path:
                continue
            total = roots.setdefault(m.group(1), [0, 0])
            total[0] += 1
            total[1] += layer.sizes[i]
        for root, (files, size) in roots.items():
            if not size:
                continue
            name = next(v for k, v in _CACHE_NAMES.items() if root == k or root.endswith("/" + k))
            visible, where = stack.where(n, root, directory=True)
            message = f"{name}: {plural(files, 'file')}, {size:,} bytes ({where})"
            yield finding("package-cache", n, "/" + root, message, bytes=size, visible=visible)


# -- duplicates ------------------------------------------------------------------------------

DUPLICATE_MIN = 4096  # smaller files are not worth a finding
DUPLICATE_WASTE = 16 << 10  # nor are groups wasting less than this
DUPLICATE_GROUPS = 50  # the largest groups get a finding each; the rest one in all


def duplicate_findings(layers: Sequence[LayerIndex], stack: Stack) -> Iterator[Finding]:
    """Files with the same content (hash and size) at different paths, in any layers."""
    groups: dict[tuple[int, int], dict[str, int]] = {}  # (hash, size) -> path -> first layer
    for n, layer in enumerate(layers):
        paths, types, hashes = layer.paths, layer.types, layer.hashes
        for i, size in enumerate(layer.sizes):
            if size >= DUPLICATE_MIN and types[i] == tarscan.REG:
                groups.setdefault((hashes[i], size), {}).setdefault(paths[i], n)
    dups = [(size * (len(g) - 1), size, g) for (_, size), g in groups.items() if len(g) > 1]
    dups = [d for d in dups if d[0] >= DUPLICATE_WASTE]
    dups.sort(key=lambda d: (-d[0], min(d[2])))
    for wasted, size, group in dups[:DUPLICATE_GROUPS]:
        copies = sorted(group.items(), key=lambda pl: (pl[1], pl[0]))
        (first, _), (path, n) = copies[0], copies[1]
        visible, where = stack.where(n, path)
        others = ", ".join(f"/{p} (layer {at})" for p, at in copies[2:5])
        more = f"; also {others}" if others else ""
        if len(copies) > 5:
            more += f" and {len(copies) - 5} more"
        message = (
            f"{len(copies)} copies of {size:,} bytes: same content as /{first}{more} ({where})"
        )
        yield finding("duplicate-files", n, "/" + path, message, bytes=wasted, visible=visible)
    rest = dups[DUPLICATE_GROUPS:]
    if rest:
        total = sum(d[0] for d in rest)
        message = f"{len(rest):,} more groups of duplicate files, {total:,} bytes in all"
        yield finding("duplicate-files", None, "", message, bytes=total)
