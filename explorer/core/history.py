"""A path's history across the layers: every layer that added it, changed it (content, mode,
owner, link target, type), deleted it (a whiteout of it or of a directory above it) or hid it
(an opaque directory above it, a directory above it replaced by something else), with the
version the final image shows. OCI's stacking rules apply (not dive's): a layer's whiteouts
and opaque markers hide what the layers below had, never what the layer itself writes.

`Entries` answers "which entry of layer n is at this path" for every layer; find and the
viewer share it (one per image: its tables are built per layer on first use).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from explorer.core import tarscan
from explorer.core.image import ImageMeta, Step, steps
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import DIFF_NAMES, MODIFIED, REMOVED, UNMODIFIED

ADDED_NAME, REMOVED_NAME = "added", DIFF_NAMES[REMOVED]
MODIFIED_NAME, UNMODIFIED_NAME = DIFF_NAMES[MODIFIED], DIFF_NAMES[UNMODIFIED]
HIDDEN = "hidden"  # an opaque directory, or a type change above the path, hid it
WRITES = (ADDED_NAME, MODIFIED_NAME, UNMODIFIED_NAME)  # actions that write a version
IMPLICIT = -1  # the entry of a directory that exists only because something below it does

_KINDS = {
    tarscan.REG: "file",
    tarscan.CONTIG: "file",
    tarscan.DIR: "directory",
    tarscan.SYMLINK: "symlink",
    tarscan.HARDLINK: "hardlink",
    tarscan.CHAR: "character device",
    tarscan.BLOCKDEV: "block device",
    tarscan.FIFO: "fifo",
}


def kind_name(kind: int) -> str:
    return _KINDS.get(kind, f"type {chr(kind) if 32 < kind < 127 else kind}")


def normalize(path: str) -> str:
    """A path as the indexes hold it: relative, no `.`, `..` or doubled slashes."""
    return tarscan.normalize(path.strip().lstrip("/"))


class Entries:
    """Every layer's entries by path. A layer's table is built when first asked for (about
    10 ms per 100k entries) and kept; the last entry of a path in a layer wins, as when the
    tar is extracted."""

    def __init__(self, layers: list[LayerIndex]) -> None:
        self.layers = layers
        self._tables: list[dict[str, int] | None] = [None] * len(layers)
        self._dirs: list[frozenset[str] | None] = [None] * len(layers)

    def table(self, n: int) -> dict[str, int]:
        table = self._tables[n]
        if table is None:
            paths = self.layers[n].paths
            table = self._tables[n] = dict(zip(paths, range(len(paths)), strict=True))
        return table

    def implied(self, n: int) -> frozenset[str]:
        """The directories layer n creates by writing below them (whiteouts create none)."""
        dirs = self._dirs[n]
        if dirs is None:
            found: set[str] = set()
            for path in self.layers[n].paths:
                parent, _, name = path.rpartition("/")
                if name.startswith(WHITEOUT_PREFIX):
                    continue
                while parent and parent not in found:
                    found.add(parent)
                    parent = parent.rpartition("/")[0]
            dirs = self._dirs[n] = frozenset(found)
        return dirs

    def warm(self) -> None:
        """Build every layer's table now (a worker does it before the first search)."""
        for n in range(len(self.layers)):
            self.table(n)

    def removal(self, n: int, path: str) -> str | None:
        """Why layer n hides what the layers below had at `path`, or None: a whiteout of the
        path or of a directory above it, an opaque directory above it, a directory above it
        replaced by something else."""
        table = self.table(n)
        layer = self.layers[n]
        parts = path.split("/")
        prefix = ""
        if OPAQUE_MARKER in table:
            return "opaque /"
        for depth, name in enumerate(parts):
            here = f"{prefix}/{name}" if prefix else name
            wh = f"{prefix}/{WHITEOUT_PREFIX}{name}" if prefix else WHITEOUT_PREFIX + name
            last = depth == len(parts) - 1
            if wh in table:
                return "whiteout" if last else f"whiteout of /{here}"
            if last:
                break
            i = table.get(here)
            if i is not None and layer.types[i] != tarscan.DIR:
                return f"/{here} became a {kind_name(layer.types[i])}"
            if f"{here}/{OPAQUE_MARKER}" in table:
                return f"opaque /{here}"
            prefix = here
        return None


@dataclass(frozen=True)
class Event:
    """What one layer did to a path. `entry` is the version it wrote (an entry of `layer`;
    IMPLICIT for a directory made by writing below it) or, for a removal, -1."""

    layer: int
    action: str  # added, modified, unmodified, removed or hidden
    detail: str  # what changed, or what removed it
    entry: int
    size: int
    kind: str  # file, directory, symlink... ("" for a removal)
    shown: bool = False  # the version the final image shows

    @property
    def writes(self) -> bool:
        return self.action in WRITES


def changes(layers: list[LayerIndex], old: tuple[int, int], new: tuple[int, int]) -> list[str]:
    """What differs between two versions (layer, entry): type, content, mode, owner, link."""
    la, i = layers[old[0]], old[1]
    lb, j = layers[new[0]], new[1]
    out = []
    if la.types[i] != lb.types[j]:
        out.append(f"type ({kind_name(la.types[i])} → {kind_name(lb.types[j])})")
    elif la.hashes[i] != lb.hashes[j] or la.sizes[i] != lb.sizes[j]:
        out.append("content")
    if la.modes[i] & 0o7777 != lb.modes[j] & 0o7777:
        out.append(f"mode ({la.modes[i] & 0o7777:o} → {lb.modes[j] & 0o7777:o})")
    if (la.uids[i], la.gids[i]) != (lb.uids[j], lb.gids[j]):
        out.append(f"owner ({la.uids[i]}:{la.gids[i]} → {lb.uids[j]}:{lb.gids[j]})")
    if la.link(i) != lb.link(j):
        out.append("link target")
    return out


def compare(
    layers: list[LayerIndex], old: tuple[int, int] | None, new: tuple[int, int]
) -> tuple[str, str]:
    """(action, detail) of writing version `new` over `old` (None: nothing was there)."""
    if old is None:
        return ADDED_NAME, ""
    if old[1] == IMPLICIT:
        return MODIFIED_NAME, "its own entry recorded"
    diff = changes(layers, old, new)
    if diff:
        return MODIFIED_NAME, ", ".join(diff)
    return UNMODIFIED_NAME, "written again, unchanged"


def trace(entries: Entries, path: str, upto: int | None = None) -> Iterator[Event]:
    """The events of `path` (normalized) in layers 0..upto-1 (default: every layer), in
    layer order, without `shown` (see `history`)."""
    layers = entries.layers
    end = len(layers) if upto is None else upto
    version: tuple[int, int] | None = None  # what is at the path now; entry IMPLICIT allowed
    for n in range(end):
        removed = entries.removal(n, path) if version is not None else None
        i = entries.table(n).get(path)
        layer = layers[n]
        if i is not None:
            action, detail = compare(layers, version, (n, i))
            if removed:
                detail += f" (over {removed})"
            yield Event(n, action, detail, i, layer.sizes[i], kind_name(layer.types[i]))
            version = (n, i)
        elif removed is not None:
            action = REMOVED_NAME if removed.startswith("whiteout") else HIDDEN
            yield Event(n, action, removed, -1, 0, "")
            version = None
            if path in entries.implied(n):
                yield Event(n, ADDED_NAME, "directory made by what is written below it",
                            IMPLICIT, 0, "directory")  # fmt: skip
                version = (n, IMPLICIT)
        elif version is None and path in entries.implied(n):
            yield Event(n, ADDED_NAME, "directory made by what is written below it",
                        IMPLICIT, 0, "directory")  # fmt: skip
            version = (n, IMPLICIT)


def history(entries: Entries, path: str) -> list[Event]:
    """Every event of `path` (normalized), the version the final image shows marked."""
    events = list(trace(entries, path))
    if events and events[-1].writes:  # a removal after the last write leaves nothing shown
        events[-1] = replace(events[-1], shown=True)
    return events


def visible(entries: Entries, path: str, layer: int) -> tuple[int, int] | None:
    """The version (layer, entry) of `path` the filesystem as of `layer` shows (entry
    IMPLICIT for a directory without an entry), or None when it has none there."""
    version: tuple[int, int] | None = None
    for event in trace(entries, path, layer + 1):
        version = (event.layer, event.entry) if event.writes else None
    return version


def versions(entries: Entries, path: str) -> list[tuple[int, int]]:
    """Every version of `path` a layer wrote (layer, entry), removed or overwritten ones
    included, in layer order (the viewer steps through these)."""
    return [(e.layer, e.entry) for e in trace(entries, path) if e.writes and e.entry >= 0]


def step_of(meta: ImageMeta) -> dict[int, Step]:
    """Each layer's step of the build (its instruction, as the layer list shows it)."""
    return {s.layer: s for s in steps(meta) if s.layer is not None}
