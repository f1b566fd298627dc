"""Wasted space, two ways.

`dive_efficiency` reproduces dive 0.13.1's numbers exactly — they are what CI users'
thresholds mean. Our own accounting (`reclaim.reclaimable`) is beside it.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, overload

from explorer.core.gosort import go_sort
from explorer.core.layerindex import WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import (
    INDEX_MASK,
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


class Columns(Sequence[R]):
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


class WasteRows(Columns[WasteRow]):
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
