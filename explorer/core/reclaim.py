"""Our own accounting of wasted space: every byte a layer ships that the final filesystem no
longer shows, attributed to the layer that added it and the layer that hid it, with a remedy
(dive's numbers, which CI thresholds mean, are in `efficiency`)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from explorer.core import tarscan
from explorer.core.efficiency import Columns, DiveEfficiency, DiveEfficiencyBuilder
from explorer.core.layerindex import WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import (
    NO_CHILDREN,
    NO_INFO,
    FileTree,
    Node,
    has_whiteouts,
    layer_tree,
    stack,
    stack_entries,
)

OVERWRITTEN = "overwritten"  # a later layer wrote the same path again
DELETED = "deleted"  # a whiteout removed it
OPAQUE = "opaque"  # an opaque directory hid it
REPLACED = "replaced"  # its parent changed type (directory became a file)

REMEDY = {
    OVERWRITTEN: "write it once: merge the two steps, or do the chmod/chown in the step that "
    "creates the file (COPY --chmod / --chown)",
    DELETED: "delete it in the same RUN that creates it, or build it in another stage",
    OPAQUE: "avoid replacing the directory in a later step; build it once",
    REPLACED: "avoid changing a path's type in a later step",
}


@dataclass
class HiddenBytes:
    path: str
    size: int
    added_by: int
    hidden_by: int
    reason: str


class HiddenRows(Columns[HiddenBytes]):
    """Reclaimable rows as columns (as read from the cache: a re-open builds no object per
    row)."""

    __slots__ = ("added_by", "codes", "hidden_by", "paths", "reasons", "sizes")

    def __init__(
        self,
        paths: list[str],
        sizes: array,
        added_by: array,
        hidden_by: array,
        reasons: list[str],
        codes: array,  # row -> index in reasons
    ) -> None:
        self.paths, self.sizes, self.added_by, self.hidden_by = paths, sizes, added_by, hidden_by
        self.reasons, self.codes = reasons, codes

    def _row(self, i: int) -> HiddenBytes:
        path, size, reason = self.paths[i], self.sizes[i], self.reasons[self.codes[i]]
        return HiddenBytes(path, size, self.added_by[i], self.hidden_by[i], reason)


@dataclass
class Reclaimable:
    total: int
    rows: Sequence[HiddenBytes] = field(default_factory=list)  # largest first

    def by_layer(self) -> dict[int, int]:
        rows = self.rows
        pairs: Iterable[tuple[int, int]]
        if isinstance(rows, HiddenRows):
            pairs = zip(rows.added_by, rows.sizes, strict=True)
        else:
            pairs = ((row.added_by, row.size) for row in rows)
        out: dict[int, int] = {}
        for added_by, size in pairs:
            out[added_by] = out.get(added_by, 0) + size
        return out


class ReclaimableBuilder:
    """Bytes shipped but invisible in the final image, with who added and who hid them; fed
    one layer at a time, bottom up (so callers can stream the layers).

    Each shipped entry counts at most once, when it is first hidden: overwritten by a later
    layer (a chmod or chown copies the whole file), deleted by a whiteout (alone or with its
    directory), hidden by an opaque directory, or lost when its directory became a file. A
    file that a hardlink still shows in the final image is not lost."""

    def __init__(self) -> None:
        self.layers: list[LayerIndex] = []  # the trees look lower layers up in it
        self.rows: list[HiddenBytes] = []
        self.hidden: set[int] = set()
        self.stacked = FileTree(self.layers)

    def _hide_one(self, node: Node, path: str, by: int, reason: str) -> None:
        info = node.info
        if info != NO_INFO and info not in self.hidden:
            self.hidden.add(info)
            size = self.stacked.size_of(node)
            if size:
                self.rows.append(HiddenBytes(path, size, info >> 32, by, reason))

    def _hide(self, node: Node, by: int, reason: str, prefix: str) -> None:
        todo = [(node, prefix)]
        while todo:
            n, path = todo.pop()
            self._hide_one(n, path, by, reason)
            todo.extend((child, f"{path}/{name}") for name, child in n.children.items())

    def add(self, layer: LayerIndex) -> None:
        n = len(self.layers)
        self.layers.append(layer)
        if has_whiteouts(layer):
            self._add_tree(n)
        else:
            self._add_entries(n)

    def _add_tree(self, n: int) -> None:
        """Layer n through a tree of its own, walked beside the stack, then stacked: what a
        layer with whiteouts or opaque markers needs."""
        stacked = self.stacked
        upper = layer_tree(self.layers, n)
        for d_path in upper.opaque.values():
            target = stacked.get(d_path)
            if target is not None:
                for name, child in target.children.items():
                    self._hide(child, n, OPAQUE, f"{d_path.rstrip('/')}/{name}")
        for node, path, existing in _walk_post_beside(upper.root, stacked.root):
            if existing is None:
                continue
            if node.name.startswith(WHITEOUT_PREFIX):
                self._hide(existing, n, DELETED, path)
            elif node.info != NO_INFO:
                if existing.children and not upper.is_dir_info(node.info):
                    for name, child in existing.children.items():
                        self._hide(child, n, REPLACED, f"{path}/{name}")
                self._hide_one(existing, path, n, OVERWRITTEN)
        stack(stacked, upper, correct=True)

    def _add_entries(self, n: int) -> None:
        """Layer n, which deletes nothing, straight from its entries onto the stack (no tree
        of its own: a chmod -R layer would be a second tree of every file).

        What `_add_tree` finds walking the layer's tree beside the stack, found by looking
        each entry up in the stack as it was below the layer: every lower node an entry
        writes over is overwritten (the last entry for a path decides its type); a lower
        directory that a non-directory replaces loses what was below it (replaced, unless
        an entry of the layer overwrote it first: the walk visits children first)."""
        layer, stacked = self.layers[n], self.stacked
        types = layer.types
        below: dict[str, Node | None] = {"": stacked.root}  # lower directories by path
        overwritten: list[tuple[Node, str]] = []
        replaced: dict[str, tuple[Node, int]] = {}  # path -> (lower directory, last entry)
        for i, path in enumerate(layer.paths):
            parent_path, _, name = path.rpartition("/")
            parent = below.get(parent_path, _UNSEEN)
            if parent is _UNSEEN:
                parent = _lower(below, parent_path)
            if parent is None:
                continue
            lower = parent.children.get(name)
            if lower is None:
                continue
            overwritten.append((lower, path))
            if lower.children:
                replaced[path] = (lower, i)
        for lower, path in overwritten:
            self._hide_one(lower, "/" + path, n, OVERWRITTEN)
        for path, (lower, i) in replaced.items():
            if types[i] != tarscan.DIR:
                for name, child in lower.children.items():
                    self._hide(child, n, REPLACED, f"/{path}/{name}")
                lower.children = NO_CHILDREN
        stack_entries(stacked, n, stamp=n + 1)

    def result(self) -> Reclaimable:
        rows = _drop_kept_by_hardlinks(self.rows, self.layers, self.stacked)
        rows.sort(key=lambda r: (-r.size, r.path))
        return Reclaimable(sum(r.size for r in rows), rows)


def reclaimable(layers: Iterable[LayerIndex]) -> Reclaimable:
    """Our reclaimable-bytes account of an image (see `ReclaimableBuilder`)."""
    builder = ReclaimableBuilder()
    for layer in layers:
        builder.add(layer)
    return builder.result()


def analyse_layers(layers: Iterable[LayerIndex]) -> tuple[DiveEfficiency, Reclaimable]:
    """Both accounts in one pass over `layers`, which may still be arriving (each layer is
    taken as soon as it and those below it are there)."""
    dive = DiveEfficiencyBuilder([])
    ours = ReclaimableBuilder()
    for n, layer in enumerate(layers):
        dive.layers.append(layer)
        dive.add(n)
        ours.add(layer)
    return dive.result(), ours.result()


_UNSEEN = Node("")  # not looked up yet (None: looked up, not there)


def _lower(below: dict[str, Node | None], path: str) -> Node | None:
    """The node at `path` in the stack whose root is `below[""]`, remembered in `below`
    with the directories on the way."""
    missing = [path]
    while (at := missing[-1].rpartition("/")[0]) not in below:
        missing.append(at)
    node = below[at]
    for at in reversed(missing):
        node = node.children.get(at.rpartition("/")[2]) if node is not None else None
        below[at] = node
    return node


def _walk_post_beside(root: Node, other: Node) -> Iterator[tuple[Node, str, Node | None]]:
    """`walk_post(root)` with, for each node, the node at its path in the tree of `other`
    (found while descending both: no lookups from the root)."""
    todo: list[tuple[Node, str, Node | None, Iterator[Node]]] = [
        (root, "", other, iter(root.sorted_children()))
    ]
    while todo:
        node, path, twin, it = todo[-1]
        child = next(it, None)
        if child is None:
            todo.pop()
            if node is not root:
                yield node, path, twin
            continue
        name = child.name
        if child.children:
            below = twin.children.get(name) if twin is not None else None
            todo.append((child, f"{path}/{name}", below, iter(child.sorted_children())))
            continue
        if name.startswith(WHITEOUT_PREFIX):
            name = name[len(WHITEOUT_PREFIX) :]  # a whiteout's path names what it deletes
        yield child, f"{path}/{name}", twin.children.get(name) if twin is not None else None


def _drop_kept_by_hardlinks(
    rows: list[HiddenBytes], layers: list[LayerIndex], final: FileTree
) -> list[HiddenBytes]:
    """Rows minus files whose data a hardlink of their own layer still shows at the end."""
    links: dict[int, dict[str, list[int]]] = {}
    for n, layer in enumerate(layers):
        for i, target in layer.links.items():
            if layer.types[i] == tarscan.HARDLINK:
                links.setdefault(n, {}).setdefault(tarscan.normalize(target), []).append(i)
    if not links:
        return rows

    def kept(row: HiddenBytes) -> bool:
        layer = layers[row.added_by]
        for i in links.get(row.added_by, {}).get(row.path.lstrip("/"), ()):
            node = final.get(layer.paths[i])
            if node is not None and node.info == (row.added_by << 32 | i):
                return True
        return False

    return [r for r in rows if not kept(r)]
