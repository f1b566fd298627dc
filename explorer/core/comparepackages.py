"""The package diff of two images: the packages B has and A has not (added), A has and B has
not (removed), and those whose version changed (upgraded, or downgraded when B's version is
the older by `pkgversion`), each attributed to the layer of B that made the change.

The packages are those `packages.find_packages` finds in each image's layers (dpkg, apk,
Python, npm): the records were read while the layers were indexed, so comparing them reads
nothing more. A package is the same in both images when its ecosystem, its name and where it
is installed (the site-packages or node_modules holding it; one database for dpkg and apk)
are.

Attribution, as for files (`fsdiff`): an added, upgraded or downgraded package to the layer
of B that installed the version B has; a removed one to the layer of B past the shared ones
that removed it, else — B never had it there — to the first layer where B departs from A
(None when B has no layer past the shared ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer.core.layerindex import LayerIndex
from explorer.core.packages import REMOVED as GONE
from explorer.core.packages import Package, find_packages, where
from explorer.core.pkgversion import compare_versions

ADDED, REMOVED, UPGRADED, DOWNGRADED = "added", "removed", "upgraded", "downgraded"
KINDS = (ADDED, REMOVED, UPGRADED, DOWNGRADED)


@dataclass(frozen=True)
class PackageChange:
    kind: str  # ADDED, REMOVED, UPGRADED or DOWNGRADED
    name: str
    ecosystem: str  # deb, apk, python, npm
    old: str | None  # A's version (None: added)
    new: str | None  # B's version (None: removed)
    layer: int | None  # the layer of B that made the change
    path: str  # the package's record: B's, or A's when removed


def package_diff(
    a: Sequence[LayerIndex], b: Sequence[LayerIndex], diverges_at: int
) -> list[PackageChange]:
    """What changed in the packages from A's layers to B's (B's first `diverges_at` layers are
    A's), ordered by ecosystem, name and path."""
    before = _installed(find_packages(a))
    history = {_key(p): p for p in find_packages(b)}
    after = {key: p for key, p in history.items() if p.removed is None}
    departs = diverges_at if diverges_at < len(b) else None
    out: list[PackageChange] = []
    for key, new in after.items():
        old = before.get(key)
        if old is None:
            out.append(_change(ADDED, new, None, new.version, _installed_at(new)))
            continue
        order = compare_versions(new.ecosystem, old.version, new.version)
        if order:  # 0: the same version (perhaps spelled otherwise: 1.0 and 1.0.0)
            kind = DOWNGRADED if order > 0 else UPGRADED
            out.append(_change(kind, new, old.version, new.version, _installed_at(new)))
    for key, old in before.items():
        if key not in after:
            gone = history.get(key)
            removed = gone.removed if gone is not None else None
            at = removed if removed is not None and removed >= diverges_at else departs
            out.append(_change(REMOVED, old, old.version, None, at))
    out.sort(key=lambda c: (c.ecosystem, c.name.lower(), c.name, c.path, c.kind))
    return out


def _change(
    kind: str, package: Package, old: str | None, new: str | None, layer: int | None
) -> PackageChange:
    return PackageChange(kind, package.name, package.ecosystem, old, new, layer, package.path)


def count_kinds(changes: Sequence[PackageChange]) -> dict[str, int]:
    out = dict.fromkeys(KINDS, 0)
    for change in changes:
        out[change.kind] += 1
    return out


def _key(package: Package) -> tuple[str, str, str]:
    return package.ecosystem, package.name, where(package.ecosystem, package.path)


def _installed(packages: list[Package]) -> dict[tuple[str, str, str], Package]:
    return {_key(p): p for p in packages if p.removed is None}


def _installed_at(package: Package) -> int:
    """The layer that installed the version the image has (its last change, not a removal)."""
    return next(c.layer for c in reversed(package.changes) if c.kind != GONE)
