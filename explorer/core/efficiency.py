"""Wasted space, two ways.

`dive_efficiency` reproduces dive 0.13.1's numbers exactly — they are what CI users'
thresholds mean. `reclaimable` is our own accounting: every byte a layer ships that the final
filesystem no longer shows, attributed to the layer that added it and the layer that hid it.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, overload

from explorer.core import tarscan
from explorer.core.gosort import go_sort
from explorer.core.layerindex import WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import (
    INDEX_MASK,
    NO_CHILDREN,
    NO_INFO,
    FileTree,
    Node,
    has_whiteouts,
    layer_tree,
    stack,
    stack_entries,
    walk_post,
    walk_stamped,
)

R = TypeVar("R")


@dataclass(slots=True)
class WasteRow:
    path: str
    count: int
    cumulative: int
    minimum: int = -1


class _Columns(Sequence[R]):
    """Rows kept as columns (lists and arrays of one length, `paths` among them), a row
    object made on access: after a `chmod -R` every file of the image is a row, and an
    object each would cost ~200 bytes."""

    __slots__ = ()
    paths: list[str]

    def _row(self, i: int) -> R:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, i: int) -> R: ...
    @overload
    def __getitem__(self, i: slice) -> list[R]: ...
    def __getitem__(self, i: int | slice) -> R | list[R]:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        return self._row(i)

    def __iter__(self) -> Iterator[R]:
        return map(self._row, range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class WasteRows(_Columns[WasteRow]):
    """dive's inefficient files as columns."""

    __slots__ = ("counts", "cumulative", "minimum", "paths")

    def __init__(self, paths: list[str], counts: array, cumulative: array, minimum: array):
        self.paths, self.counts, self.cumulative, self.minimum = paths, counts, cumulative, minimum

    def _row(self, i: int) -> WasteRow:
        return WasteRow(self.paths[i], self.counts[i], self.cumulative[i], self.minimum[i])


@dataclass
class DiveEfficiency:
    score: float
    wasted_bytes: int
    size_bytes: int
    user_size_bytes: int
    rows: Sequence[WasteRow]  # largest first, ties in dive's order

    @property
    def user_wasted_percent(self) -> float:
        if self.user_size_bytes == 0:
            return math.nan if self.wasted_bytes == 0 else math.inf
        return self.wasted_bytes / self.user_size_bytes


def _subtree_size(tree: FileTree, node: Node) -> int:
    total = 0
    todo = [node]
    while todo:
        n = todo.pop()
        total += tree.size_of(n)
        todo.extend(n.children.values())
    return total


class DiveEfficiencyBuilder:
    """dive's Efficiency(), fed one layer at a time (so callers can stream the layers).

    dive keeps a record (count, bytes, smallest copy) for every path of every layer. Most
    paths are seen once: those are only `seen[path] = ref` (the path string and the int are
    the index's and the node's own), their bytes summed in `once_bytes`; a path seen again
    becomes a row of the columns."""

    def __init__(self, layers: list[LayerIndex]) -> None:
        self.layers = layers
        # path (no leading "/") -> the ref of its one sighting (>= 0), or -1 - its row
        self.seen: dict[str, int] = {}
        self.once_bytes = 0
        self.paths: list[str] = []
        self.counts = array("q")
        self.cumulative = array("q")
        self.minimum = array("q")
        self.matches = array("q")  # rows in the order they were seen a second time
        self.stacked: FileTree | None = None

    def _row(self, path: str, count: int, size: int, minimum: int) -> int:
        self.paths.append(path)
        self.counts.append(count)
        self.cumulative.append(size)
        self.minimum.append(minimum)
        return len(self.paths) - 1

    def add(self, n: int, visited: list[Node] | None = None) -> None:
        """Account layer n (`self.layers[n]`) and stack it. Its own nodes, in dive's visiting
        order, are appended to `visited`.

        A layer without whiteouts goes straight onto the stack and is walked there (its nodes
        stamped): it cannot see itself in a lookup of the stack, and the image is never held
        twice over (a chmod -R layer would otherwise be a second tree of every file). One
        with whiteouts looks the stack up as it was below it: it gets a tree of its own."""
        layers = self.layers
        if self.stacked is None:
            self.stacked = FileTree(layers)
        if has_whiteouts(layers[n]):
            tree = layer_tree(layers, n)
            nodes = ((node, path, not node.children) for node, path in walk_post(tree.root))
            self._count(n, nodes, visited)
            stack(self.stacked, tree)
        else:
            stack_entries(self.stacked, n, stamp=n + 1)
            self._count(n, walk_stamped(self.stacked.root, n + 1), visited)

    def _count(
        self, n: int, nodes: Iterable[tuple[Node, str, bool]], visited: list[Node] | None
    ) -> None:
        """dive's records for layer n's `nodes` (node, dive path, is a leaf of the layer);
        the stack holds the layers below n."""
        seen, layers, lower = self.seen, self.layers, self.stacked
        assert lower is not None
        counts, cumulative, minimum = self.counts, self.cumulative, self.minimum
        matches = self.matches
        paths, sizes = layers[n].paths, layers[n].sizes  # the nodes are all of layer n
        counting = True
        for node, path, leaf in nodes:
            if visited is not None:
                visited.append(node)
            if not leaf or not counting:
                continue
            info = node.info
            if node.name.startswith(WHITEOUT_PREFIX):
                key = path[1:]
                previous = lower.get(path)
                if previous is None:
                    # dive has already created the entry (minimum -1, no copies) when its
                    # lookup fails; the error then abandons the rest of this layer's walk.
                    if key not in seen:
                        seen[key] = -1 - self._row(key, 0, 0, -1)
                    counting = False
                    continue
                size = _subtree_size(lower, previous) if lower.is_dir(previous) else 0
            elif info != NO_INFO:
                key = paths[info & INDEX_MASK]
                size = sizes[info & INDEX_MASK]
                if key not in seen:
                    seen[key] = info
                    self.once_bytes += size
                    continue
            else:
                key, size = path[1:], 0
            at = seen.get(key)
            if at is None:
                seen[key] = -1 - self._row(key, 1, size, size)
            elif at >= 0:  # its second sighting: now a row, and a match
                first = layers[at >> 32].sizes[at & INDEX_MASK]
                self.once_bytes -= first
                row = self._row(key, 2, first + size, first if first < size else size)
                seen[key] = -1 - row
                matches.append(row)
            else:
                row = -1 - at
                cumulative[row] += size
                if minimum[row] < 0 or size < minimum[row]:
                    minimum[row] = size
                counts[row] += 1
                if counts[row] == 2:
                    matches.append(row)

    def result(self) -> DiveEfficiency:
        minimum = self.once_bytes + sum(self.minimum)
        discovered = self.once_bytes + sum(self.cumulative)
        score = 1.0 if discovered == 0 else minimum / discovered
        cumulative = self.cumulative
        order = self.matches.tolist()
        go_sort(order, lambda a, b: cumulative[a] < cumulative[b])
        order.reverse()
        pick = operator.itemgetter(*order) if len(order) > 1 else lambda c: [c[r] for r in order]
        rows = WasteRows(
            ["/" + path for path in pick(self.paths)],
            array("q", pick(self.counts)),
            array("q", pick(cumulative)),
            array("q", pick(self.minimum)),
        )
        sizes = [layer.size for layer in self.layers]
        return DiveEfficiency(
            score=score,
            wasted_bytes=sum(rows.cumulative),
            size_bytes=sum(sizes),
            user_size_bytes=sum(sizes[1:]),
            rows=rows,
        )


class LayerVisitor(Protocol):
    """Sees every layer's own tree, its nodes in dive's order, before it is stacked."""

    def layer(self, n: int, layer: LayerIndex, nodes: list[Node]) -> None: ...


def dive_efficiency(
    layers: Iterable[LayerIndex], visitor: LayerVisitor | None = None
) -> DiveEfficiency:
    """dive's numbers, building each layer's tree once (the export rides along). `layers`
    may be an iterator still being indexed: each layer is consumed as soon as it arrives."""
    seen: list[LayerIndex] = []  # the trees look lower layers up in it, so it grows in place
    builder = DiveEfficiencyBuilder(seen)
    for n, layer in enumerate(layers):
        seen.append(layer)
        visited: list[Node] | None = [] if visitor is not None else None
        builder.add(n, visited)
        if visitor is not None and visited is not None:
            visitor.layer(n, layer, visited)
    return builder.result()


# -- our own accounting ---------------------------------------------------------------------

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


class HiddenRows(_Columns[HiddenBytes]):
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
