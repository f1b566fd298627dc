"""Packages per layer, headless: which layer installed each package, and which layers
upgraded or removed it.

The records come from the layer indexes (`LayerIndex.packages`, read while each layer
streamed past: dpkg, apk, Python, npm). Layers are replayed bottom up as the filesystem
stacks them: a database file a layer writes replaces the one below it (dpkg rewrites its whole
status file), and whiteouts and opaque directories remove the files they hide (a deleted
`*.dist-info` is an uninstalled package). Between two layers the recorded packages are
compared: one that appears was installed, one whose version changed was upgraded (or
downgraded: any other version), one that disappears was removed.

rpm is not read: no maintained reader of rpm's databases (sqlite, ndb or Berkeley DB holding
rpm's binary headers) under a licence compatible with ours exists for Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer.core import tarscan
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.pkgdb import APK, DEB

INSTALLED = "installed"
UPGRADED = "upgraded"  # another version than the layer below had
REMOVED = "removed"


@dataclass(frozen=True)
class Change:
    layer: int
    kind: str  # INSTALLED, UPGRADED or REMOVED
    version: str  # the version after the change (before it, for REMOVED)
    previous: str = ""  # the version before an upgrade


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # the last version the image records (the one removed, if removed)
    ecosystem: str  # deb, apk, python, npm
    layer: int  # the layer that installed it
    path: str  # its record: "/var/lib/dpkg/status", ".../METADATA", ".../package.json"
    changes: tuple[Change, ...]  # every layer that installed, upgraded or removed it, in order

    @property
    def removed(self) -> int | None:
        """The layer that removed it, when the final image no longer has it."""
        last = self.changes[-1]
        return last.layer if last.kind == REMOVED else None

    @property
    def upgraded(self) -> list[int]:
        return [c.layer for c in self.changes if c.kind == UPGRADED]


_Key = tuple[str, str, str]  # (ecosystem, name, where: "" for dpkg/apk, else the directory)


def where(ecosystem: str, path: str) -> str:
    """What tells two installs of one package apart: nothing for a system's database; the
    directory holding the package for Python (site-packages) and npm (node_modules)."""
    if ecosystem in (DEB, APK):
        return ""
    if path.endswith(("/package.json", "/METADATA", "/PKG-INFO")):
        path = path.rpartition("/")[0]  # the package's directory (or its *.dist-info's)
    return path.rpartition("/")[0]


def find_packages(layers: Sequence[LayerIndex]) -> list[Package]:
    """Every package the layers record, ordered by ecosystem, name and where it is."""
    sources: dict[str, tuple[int, list[tuple[str, str, str]]]] = {}  # db path -> (layer, records)
    state: dict[_Key, tuple[str, str]] = {}  # -> (version, record path)
    history: dict[_Key, list[Change]] = {}
    paths: dict[_Key, str] = {}
    for n, layer in enumerate(layers):
        changed = _remove_hidden(sources, layer, n)
        written: dict[str, list[tuple[str, str, str]]] = {}
        for i, ecosystem, name, version in layer.packages:
            records = written.setdefault(layer.paths[i], [])
            if name:
                records.append((ecosystem, name, version))
        if written:
            changed = True
            for path, records in written.items():
                sources[path] = (n, records)
        if not changed:
            continue
        now: dict[_Key, tuple[str, str]] = {}
        for path, (_, records) in sources.items():
            for ecosystem, name, version in records:
                now.setdefault((ecosystem, name, where(ecosystem, path)), (version, path))
        for key, (version, path) in now.items():
            before = state.get(key)
            if before is None:
                history.setdefault(key, []).append(Change(n, INSTALLED, version))
            elif before[0] != version:
                history[key].append(Change(n, UPGRADED, version, before[0]))
            paths[key] = path
        for key, (version, _) in state.items():
            if key not in now:
                history[key].append(Change(n, REMOVED, version))
        state = now
    out = []
    for key, changes in history.items():
        ecosystem, name, _ = key
        first = next(c.layer for c in changes if c.kind == INSTALLED)
        out.append(
            Package(name, changes[-1].version, ecosystem, first, "/" + paths[key], tuple(changes))
        )
    out.sort(key=lambda p: (p.ecosystem, p.name.lower(), p.name, p.path))
    return out


def _remove_hidden(
    sources: dict[str, tuple[int, list[tuple[str, str, str]]]], layer: LayerIndex, n: int
) -> bool:
    """Drop the database files layer n's whiteouts delete or its opaque directories hide;
    True when it dropped any."""
    if not layer.whiteouts or not sources:
        return False
    deleted: set[str] = set()
    opaque: set[str] = set()
    for path in layer.paths:
        parent, _, base = path.rpartition("/")
        if base == OPAQUE_MARKER:
            opaque.add(parent)
        elif base.startswith(WHITEOUT_PREFIX):
            deleted.add(f"{parent}/{base[len(WHITEOUT_PREFIX) :]}".lstrip("/"))
    gone = [
        path
        for path, (at, _) in sources.items()
        if at < n and _hidden(tarscan.normalize(path), deleted, opaque)
    ]
    for path in gone:
        del sources[path]
    return bool(gone)


def _hidden(path: str, deleted: set[str], opaque: set[str]) -> bool:
    if path in deleted:
        return True
    at = path
    while at:
        at = at.rpartition("/")[0]
        if at in deleted or at in opaque:
            return True
    return "" in opaque


def layer_changes(packages: Sequence[Package], layer: int) -> list[tuple[Package, Change]]:
    """What `layer` did to packages (installed, upgraded, removed), for a per-layer view."""
    return [(p, c) for p in packages for c in p.changes if c.layer == layer]
