"""Wasted space, two ways.

`dive_efficiency` reproduces dive 0.13.1's numbers exactly — they are what CI users'
thresholds mean. `reclaimable` is our own accounting: every byte a layer ships that the final
filesystem no longer shows, attributed to the layer that added it and the layer that hid it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from explorer.core.gosort import go_sort
from explorer.core.layerindex import LayerIndex
from explorer.core.tree import NO_INFO, FileTree, Node, layer_tree, stack


@dataclass
class WasteRow:
    path: str
    count: int
    cumulative: int
    minimum: int = -1


@dataclass
class DiveEfficiency:
    score: float
    wasted_bytes: int
    size_bytes: int
    user_size_bytes: int
    rows: list[WasteRow]  # largest first, ties in dive's order

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


def dive_efficiency(layers: list[LayerIndex]) -> DiveEfficiency:
    data: dict[str, WasteRow] = {}
    matches: list[WasteRow] = []
    stacked: FileTree | None = None
    for n in range(len(layers)):
        tree = layer_tree(layers, n)
        lower = stacked if stacked is not None else tree
        for node in tree.root.walk_post():
            if node.children:
                continue
            path = node.path
            if node.is_whiteout:
                previous = lower.get(path)
                if previous is None:
                    break  # dive's visitor errors out and abandons the rest of this layer
                size = _subtree_size(lower, previous) if lower.is_dir(previous) else 0
            else:
                size = tree.size_of(node)
            row = data.get(path)
            if row is None:
                row = data[path] = WasteRow(path, 0, 0, -1)
            row.cumulative += size
            if row.minimum < 0 or size < row.minimum:
                row.minimum = size
            row.count += 1
            if row.count == 2:
                matches.append(row)
        if stacked is None:
            stacked = tree.copy()
        else:
            stack(stacked, tree)
    minimum = sum(r.minimum for r in data.values())
    discovered = sum(r.cumulative for r in data.values())
    score = 1.0 if discovered == 0 else minimum / discovered
    go_sort(matches, lambda a, b: a.cumulative < b.cumulative)
    matches.reverse()
    sizes = [layer.size for layer in layers]
    return DiveEfficiency(
        score=score,
        wasted_bytes=sum(r.cumulative for r in matches),
        size_bytes=sum(sizes),
        user_size_bytes=sum(sizes[1:]),
        rows=matches,
    )


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


@dataclass
class Reclaimable:
    total: int
    rows: list[HiddenBytes] = field(default_factory=list)  # largest first

    def by_layer(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for row in self.rows:
            out[row.added_by] = out.get(row.added_by, 0) + row.size
        return out


def reclaimable(layers: list[LayerIndex]) -> Reclaimable:
    """Bytes shipped but invisible in the final image, with who added and who hid them."""
    rows: list[HiddenBytes] = []
    stacked = FileTree(layers)

    def hide(tree: FileTree, node: Node, by: int, reason: str, prefix: str) -> None:
        todo = [(node, prefix)]
        while todo:
            n, path = todo.pop()
            if n.info != NO_INFO:
                size = tree.size_of(n)
                if size:
                    rows.append(HiddenBytes(path, size, n.info >> 32, by, reason))
            for name, child in n.children.items():
                todo.append((child, f"{path}/{name}"))

    for n in range(len(layers)):
        upper = layer_tree(layers, n)
        for d in upper.opaque:
            target = stacked.get(d)
            if target is not None:
                for name, child in list(target.children.items()):
                    hide(stacked, child, n, OPAQUE, f"/{d}/{name}" if d else f"/{name}")
                target.children.clear()
        for node in upper.root.walk_post():
            path = node.path
            existing = stacked.get(path)
            if node.is_whiteout:
                if existing is not None:
                    hide(stacked, existing, n, DELETED, path)
                continue
            if existing is None or node.info == NO_INFO:
                continue
            if existing.children and not upper.is_dir_info(node.info):
                for name, child in existing.children.items():
                    hide(stacked, child, n, REPLACED, f"{path}/{name}")
            if existing.info != NO_INFO and stacked.size_of(existing):
                rows.append(
                    HiddenBytes(
                        path, stacked.size_of(existing), existing.info >> 32, n, OVERWRITTEN
                    )
                )
        stack(stacked, upper, correct=True)
    rows.sort(key=lambda r: (-r.size, r.path))
    return Reclaimable(sum(r.size for r in rows), rows)
