"""The file-level difference of two images' final filesystems.

Each image's final filesystem is its layers stacked with OCI semantics (`tree.stack(...,
correct=True)`: whiteouts, opaque directories, a directory replaced by a file loses what was
below it). Both are walked together — or, when the layers the images do not share are few,
only the paths those can change are looked up (`fslookup`) — and every path is compared by
what it is — type, content hash, mode, owner, link target; its mtime only when asked — never
by where it came from. A directory is modified only when its own type, mode or owner
changes (not when its children do); a path whose type changes is modified (what was below a
directory that became a file is removed, what is below a file that became a directory is
added).

Each change is attributed to the layer of B that made it: for an added or modified path, the
layer whose entry B shows; for a removed one, the layer of B past the shared ones that
deleted it (a whiteout of it or of a parent, an opaque parent, a parent that became something
else: the last layer after which B no longer had it), else — B never had it — the first layer
where B departs from A (None when B has no layer past the shared ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from explorer.core import fslookup, tarscan
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import NO_INFO, FileTree, Node, layer_tree, ref_entry, ref_layer, stack

ADDED, REMOVED, MODIFIED = "added", "removed", "modified"

_KINDS = {
    tarscan.REG: "file",
    tarscan.CONTIG: "file",
    0: "file",
    ord("S"): "file",
    tarscan.HARDLINK: "hardlink",
    tarscan.SYMLINK: "symlink",
    tarscan.CHAR: "char",
    tarscan.BLOCKDEV: "block",
    tarscan.DIR: "dir",
    tarscan.FIFO: "fifo",
}
# A directory no entry lists (only paths below it): what the engines create for it.
IMPLICIT_MODE = 0o755


@dataclass(frozen=True, slots=True)
class Version:
    """One image's version of a path."""

    kind: str  # file, dir, symlink, hardlink, char, block, fifo, other
    size: int
    mode: int  # permission bits (setuid, setgid, sticky included)
    uid: int
    gid: int
    mtime: int | None  # None: an implicit directory (no entry says)
    digest: int  # xxh3 of a regular file's content, else 0
    link: str  # symlink or hardlink target
    layer: int | None  # the layer whose entry this is; None: an implicit directory


@dataclass(slots=True)
class Change:
    path: str  # `/`-rooted
    status: str  # ADDED, REMOVED or MODIFIED
    layer: int | None  # the layer of B that made the change
    a: Version | None
    b: Version | None
    what: tuple[str, ...] = ()  # MODIFIED: type, content, mode, owner, link, mtime

    @property
    def size_a(self) -> int:
        return self.a.size if self.a is not None else 0

    @property
    def size_b(self) -> int:
        return self.b.size if self.b is not None else 0

    @property
    def delta(self) -> int:
        return self.size_b - self.size_a


@dataclass
class FsDiff:
    tree_a: FileTree | None  # the final filesystems, when they were built (not by lookups)
    tree_b: FileTree | None
    changes: list[Change] = field(default_factory=list)  # in tree order
    # Directory path -> bytes its subtree grew by (negative: shrank), where it changed.
    directories: dict[str, int] = field(default_factory=dict)


def final_tree(layers: list[LayerIndex]) -> FileTree:
    """An image's final filesystem: its layers stacked with OCI semantics. A directory a
    layer only implies (it lists paths below it, not the directory) keeps the entry of the
    layer below, as on disk (`stack` takes the layer's info, dive's way)."""
    final = FileTree(layers)
    for n in range(len(layers)):
        upper = layer_tree(layers, n)
        _keep_implied(final, upper)
        stack(final, upper, correct=True)
    return final


def _keep_implied(lower: FileTree, upper: FileTree) -> None:
    """Give each directory `upper` implies the info of the directory below it, if any."""
    todo = [(lower.root, upper.root)]
    while todo:
        low, up = todo.pop()
        for name, child in up.children.items():
            if not child.children:
                continue
            below = low.children.get(name)
            if below is None:
                continue
            if child.info == NO_INFO and below.info != NO_INFO and lower.is_dir(below):
                child.info = below.info
            todo.append((below, child))


def version(layers: list[LayerIndex], info: int) -> Version:
    """What the entry `info` (a ref into `layers`) is; NO_INFO: an implicit directory."""
    if info == NO_INFO:
        return Version("dir", 0, IMPLICIT_MODE, 0, 0, None, 0, "", None)
    n, i = ref_layer(info), ref_entry(info)
    layer = layers[n]
    kind = _KINDS.get(layer.types[i], "other")
    link = layer.link(i) if kind in ("symlink", "hardlink") else ""
    if kind == "hardlink":
        link = tarscan.normalize(link)
    return Version(
        kind,
        layer.sizes[i],
        layer.modes[i] & 0o7777,
        layer.uids[i],
        layer.gids[i],
        layer.mtimes[i],
        layer.hashes[i],
        link,
        n,
    )


def differences(a: Version, b: Version, mtime: bool) -> tuple[str, ...]:
    """Which aspects of a path differ between two versions (empty: the same)."""
    if a.kind != b.kind:
        return ("type",)
    out = []
    if a.kind == "file" and (a.digest != b.digest or a.size != b.size):
        out.append("content")
    if a.kind == "hardlink":  # its mode and owner are its target's
        return ("link",) if a.link != b.link else ()
    if a.mode != b.mode and a.kind != "symlink":  # Linux ignores a symlink's mode
        out.append("mode")
    if a.uid != b.uid or a.gid != b.gid:
        out.append("owner")
    if a.link != b.link:
        out.append("link")
    if mtime and a.mtime is not None and b.mtime is not None and a.mtime != b.mtime:
        out.append("mtime")
    return tuple(out)


# Below this share of all entries in the layers the images do not share, the paths those
# layers touch are looked up (fslookup); above it, both final trees are built and walked.
LOOKUP_SHARE = 0.25


def diff_layers(
    a: list[LayerIndex],
    b: list[LayerIndex],
    shared: int,
    *,
    mtime: bool = False,
    lookups: bool | None = None,
) -> FsDiff:
    """The difference of the final filesystems of two images whose first `shared` layers
    are the same: by lookups of the paths the other layers touch, or by walking both final
    trees (`lookups` forces one way; by default the cheaper one)."""
    if lookups is None:
        own = sum(len(x) for x in a[shared:]) + sum(len(x) for x in b[shared:])
        total = own + sum(len(x) for x in a[:shared]) * 2
        lookups = own <= LOOKUP_SHARE * total and not any(map(fslookup.odd, a + b[shared:]))
    if lookups:
        _stack_a, stack_b, found = fslookup.pairs(a, b, shared)
        result = FsDiff(None, None)

        def in_base(path: str) -> bool:
            return stack_b.state(path, shared) is not None

    else:
        tree_a, tree_b = final_tree(a), final_tree(b)
        result = FsDiff(tree_a, tree_b)
        found = _walk_pair(tree_a.root, tree_b.root)
        base: list[FileTree] = []

        def in_base(path: str) -> bool:
            if not base:
                base.append(final_tree(b[:shared]))
            return base[0].get(path) is not None

    result.changes = _changes(found, a, b, shared, mtime, _Deleters(b, shared, in_base))
    result.directories = directory_deltas(result.changes)
    return result


def _changes(
    found: Iterator[tuple[str, int | None, int | None]],
    a: list[LayerIndex],
    b: list[LayerIndex],
    shared: int,
    mtime: bool,
    deleters: _Deleters,
) -> list[Change]:
    """The changes at the paths `found` ((path, A's ref, B's ref), None where an image has
    nothing), in their order."""
    changes: list[Change] = []
    implied: list[int] = []  # added directories no entry lists: made by what is below
    for path, info_a, info_b in found:
        if info_b is None:
            if info_a is None:
                continue
            va = version(a, info_a)
            from_shared = va.layer is not None and va.layer < shared
            layer = deleters.layer(path[1:], from_shared)
            changes.append(Change(path, REMOVED, layer, va, None))
        elif info_a is None:
            vb = version(b, info_b)
            changes.append(Change(path, ADDED, vb.layer, None, vb))
            if vb.layer is None:
                implied.append(len(changes) - 1)
        else:
            va, vb = version(a, info_a), version(b, info_b)
            what = differences(va, vb, mtime)
            if what:
                layer = vb.layer if vb.layer is not None else deleters.departure
                changes.append(Change(path, MODIFIED, layer, va, vb, what))
    if implied:
        _first_layers(implied, changes)
    return changes


def _walk_pair(root_a: Node, root_b: Node) -> Iterator[tuple[str, int | None, int | None]]:
    """(path, A's ref, B's ref) for every path of either tree, parents before their
    children, siblings in byte order; None where a tree has no such path."""
    todo: list[tuple[str, Node | None, Node | None]] = [("", root_a, root_b)]
    while todo:
        path, na, nb = todo.pop()
        if path:
            yield path, na.info if na is not None else None, nb.info if nb is not None else None
        kids_a = na.children if na is not None else {}
        kids_b = nb.children if nb is not None else {}
        if not kids_a and not kids_b:
            continue
        names = sorted(kids_a.keys() | kids_b.keys(), reverse=True)
        if not "".join(names).isascii():
            names.sort(key=lambda s: s.encode("utf-8", "surrogateescape"), reverse=True)
        todo.extend((f"{path}/{name}", kids_a.get(name), kids_b.get(name)) for name in names)


def _first_layers(implied: list[int], changes: list[Change]) -> None:
    """An added directory no entry lists was made by the lowest layer of what is added
    below it (which follows it: the changes are in tree order)."""
    for j in implied:
        prefix = changes[j].path + "/"
        low: int | None = None
        k = j + 1
        while k < len(changes) and changes[k].path.startswith(prefix):
            layer = changes[k].layer
            if changes[k].status == ADDED and layer is not None:
                low = layer if low is None else min(low, layer)
            k += 1
        changes[j].layer = low


def directory_deltas(changes: list[Change]) -> dict[str, int]:
    """Bytes each directory's subtree grew by, summed over the changes below it (the root is
    `/`); directories whose changes cancel out are left out."""
    out: dict[str, int] = {}
    for change in changes:
        delta = change.delta
        if not delta:
            continue
        path = change.path
        while path:
            path = path.rpartition("/")[0]
            key = path or "/"
            out[key] = out.get(key, 0) + delta
    return {k: v for k, v in out.items() if v}


class _Deleters:
    """Which layer of B deleted a path A has and B has not: the last layer past the shared
    ones after which B no longer had it (it is the lowest layer deleting the path above the
    last one that wrote it); where B departs from A when B never had it.

    Per layer, worked out when first asked: the paths it writes (and their parents), the
    paths its whiteouts delete, the directories its opaque markers empty and the paths it
    makes something other than a directory (what was below them goes)."""

    def __init__(
        self, layers: list[LayerIndex], shared: int, in_base: Callable[[str], bool]
    ) -> None:
        self.layers = layers
        self.shared = shared
        self.departure = shared if shared < len(layers) else None
        self._sets: dict[int, tuple[set[str], set[str], set[str], set[str]]] = {}
        self._in_base = in_base

    def _of(self, n: int) -> tuple[set[str], set[str], set[str], set[str]]:
        sets = self._sets.get(n)
        if sets is None:
            written: set[str] = set()
            whiteouts: set[str] = set()
            opaque: set[str] = set()
            others: set[str] = set()
            layer = self.layers[n]
            for i, path in enumerate(layer.paths):
                head, _, name = path.rpartition("/")
                if name == OPAQUE_MARKER:
                    opaque.add(head)
                elif name.startswith(WHITEOUT_PREFIX):
                    whiteouts.add(f"{head}/{name[4:]}" if head else name[4:])
                else:
                    written.add(path)
                    written.add(head)
                    if layer.types[i] != tarscan.DIR:
                        others.add(path)
            sets = self._sets[n] = (written, whiteouts, opaque, others)
        return sets

    def _deletes(self, n: int, path: str, parents: list[str]) -> bool:
        _, whiteouts, opaque, others = self._of(n)
        if path in whiteouts:
            return True
        return any(p in opaque or (p and (p in whiteouts or p in others)) for p in parents)

    def layer(self, path: str, from_shared: bool) -> int | None:
        """The layer of B that deleted `path` (relative); `from_shared`: A's version of it
        comes from a shared layer (so B had it too)."""
        top = len(self.layers)
        low = self.shared
        for n in range(top - 1, self.shared - 1, -1):
            if path in self._of(n)[0]:
                low = n + 1
                break
        else:
            if not from_shared and not self._in_base(path):
                return self.departure
        parents = []
        head = path
        while head:
            head = head.rpartition("/")[0]
            parents.append(head)
        for n in range(low, top):
            if self._deletes(n, path, parents):
                return n
        return self.departure
