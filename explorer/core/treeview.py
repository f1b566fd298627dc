"""The file-tree view model: the filesystem as of a layer, marked against the layers below,
flattened into rows for display. Headless: the TUI widget and the plain-text renderer (used
by the dive conformance tests) draw the same rows.

Only what is visible is flattened; collapsing, filtering and hiding diff kinds re-flatten,
moving the cursor does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from explorer.core import tarscan
from explorer.core.humanize_go import go_bytes
from explorer.core.layerindex import LayerIndex, go_file_mode
from explorer.core.tree import (
    ADDED,
    MODIFIED,
    NO_INFO,
    REMOVED,
    UNMODIFIED,
    FileTree,
    Node,
    compare_and_mark,
    layer_tree,
    stack,
)

LAYER_CHANGES, AGGREGATED = "layer", "aggregated"
SORT_NAME, SORT_SIZE = "name", "size"

_MIDDLE, _LAST = "├─", "└─"
_BRANCH, _SPACE = "│   ", "    "
_OPEN, _CLOSED = "─ ", "⊕ "


@dataclass(frozen=True, slots=True)
class Row:
    node: Node
    depth: int
    prefix: str  # tree glyphs before the name, e.g. "│   ├── "
    name: str
    diff: int
    is_dir: bool
    collapsed: bool
    mode: str  # e.g. "drwxr-xr-x"
    owner: str  # "uid:gid"
    size: int  # directories: everything below that is not removed
    link: str  # symlink / hardlink target, "" otherwise
    path: str


def compare_indexes(layer: int, mode: str, start: int = 0) -> tuple[int, int, int, int]:
    """dive's (bottomStart, bottomStop, topStart, topStop) for a selected layer."""
    if layer == start:
        return start, layer, layer, layer
    if mode == LAYER_CHANGES:
        return start, layer - 1, layer, layer
    return start, start, start + 1, layer


def permission_string(go_mode: int, is_dir: bool) -> str:
    """dive's attribute column: type char plus rwx bits with setuid/setgid/sticky."""
    chars = []
    for shift, letters in ((6, "rwx"), (3, "rwx"), (0, "rwx")):
        for bit, letter in zip((4, 2, 1), letters, strict=True):
            chars.append(letter if go_mode >> shift & bit else "-")
    if go_mode & (1 << 23):
        chars[2] = "s" if chars[2] == "x" else "S"
    if go_mode & (1 << 22):
        chars[5] = "s" if chars[5] == "x" else "S"
    if go_mode & (1 << 20):
        chars[8] = "t" if chars[8] == "x" else "T"
    return ("d" if is_dir else "-") + "".join(chars)


class TreeViewModel:
    """State of the tree pane: selected layer and mode, hidden kinds, filter, collapse, sort."""

    def __init__(self, layers: list[LayerIndex]) -> None:
        self.layers = layers
        self.layer = 0
        self.mode = LAYER_CHANGES
        self.hidden: set[int] = set()
        self.filter: re.Pattern[str] | None = None
        self.sort = SORT_NAME
        self.collapsed: set[str] = set()  # paths of collapsed directories
        self.tree: FileTree | None = None
        self._rows: list[Row] | None = None
        self._layer_tree = lru_cache(maxsize=None)(self._build_layer_tree)

    def _build_layer_tree(self, n: int) -> FileTree:
        return layer_tree(self.layers, n)

    # -- model ---------------------------------------------------------------------------------
    def set_layer(self, layer: int, mode: str | None = None) -> None:
        """Compute the marked tree for a layer (the expensive step: run it in a worker)."""
        self.layer = layer
        if mode is not None:
            self.mode = mode
        b0, b1, t0, t1 = compare_indexes(layer, self.mode)
        bottom = self._stack(b0, b1)
        top = self._stack(t0, t1)
        compare_and_mark(bottom, top)
        self.tree = bottom
        self._rows = None

    def _stack(self, start: int, stop: int) -> FileTree:
        tree = self._layer_tree(0).copy()
        for n in range(start, stop + 1):
            stack(tree, self._layer_tree(n))
        return tree

    # -- presentation state --------------------------------------------------------------------
    def set_hidden(self, kinds: set[int]) -> None:
        self.hidden = set(kinds)
        self._rows = None

    def toggle_hidden(self, kind: int) -> None:
        self.hidden ^= {kind}
        self._rows = None

    def set_filter(self, pattern: str) -> None:
        """Regex filter on paths; raises re.error for a bad pattern (the UI shows it)."""
        self.filter = re.compile(pattern) if pattern else None
        self._rows = None

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._rows = None

    def toggle_collapse(self, row: Row) -> None:
        if row.is_dir:
            self.collapsed ^= {row.path}
            self._rows = None

    def collapse_all(self, collapse: bool) -> None:
        self.collapsed = set()
        if collapse and self.tree is not None:
            todo = [(self.tree.root, "")]
            while todo:
                node, path = todo.pop()
                for name, child in node.children.items():
                    child_path = f"{path}/{name}"
                    if child.children:
                        self.collapsed.add(child_path)
                        todo.append((child, child_path))
        self._rows = None

    # -- rows ----------------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        if self._rows is None:
            self._rows = self._flatten()
        return self._rows

    def _visible(self) -> dict[int, bool]:
        """Node id -> visible, following dive: hidden kinds hide a node unless a child shows;
        a filter hides what neither matches nor has a visible child."""
        assert self.tree is not None
        visible: dict[int, bool] = {}
        tree = self.tree
        for node in tree.root.walk_post():
            shown = node.diff not in self.hidden
            child_shown = any(visible[id(c)] for c in node.children.values())
            if child_shown:
                shown = True
            if self.filter is not None and not child_shown and shown:
                shown = self.filter.search(node.path) is not None
            visible[id(node)] = shown
        return visible

    def _flatten(self) -> list[Row]:
        if self.tree is None:
            return []
        tree = self.tree
        visible = self._visible() if self.hidden or self.filter is not None else None
        rows: list[Row] = []

        def children(node: Node) -> list[Node]:
            kids = node.sorted_children()
            if visible is not None:
                kids = [k for k in kids if visible[id(k)]]
            if self.sort == SORT_SIZE:
                kids.sort(key=lambda k: -self._size(k))
            return kids

        stack_: list[tuple[Node, int, str, str, list[Node], int]] = []
        top = children(tree.root)
        stack_.append((tree.root, 0, "", "", top, 0))
        while stack_:
            node, depth, path, branches, kids, pos = stack_.pop()
            if pos >= len(kids):
                continue
            stack_.append((node, depth, path, branches, kids, pos + 1))
            child = kids[pos]
            last = pos == len(kids) - 1
            child_path = f"{path}/{child.name}"
            collapsed = child_path in self.collapsed
            rows.append(self._row(child, depth, branches, last, collapsed, child_path))
            if child.children and not collapsed:
                sub = children(child)
                if sub:
                    stack_.append(
                        (
                            child,
                            depth + 1,
                            child_path,
                            branches + (_SPACE if last else _BRANCH),
                            sub,
                            0,
                        )
                    )
        return rows

    def _size(self, node: Node) -> int:
        assert self.tree is not None
        if not node.children:
            return self.tree.size_of(node)
        count_removed = node.diff == REMOVED
        total = 0
        todo = [node]
        while todo:
            n = todo.pop()
            if count_removed or n.diff != REMOVED:
                total += self.tree.size_of(n)
            todo.extend(n.children.values())
        return total

    def _row(
        self, node: Node, depth: int, branches: str, last: bool, collapsed: bool, path: str
    ) -> Row:
        assert self.tree is not None
        prefix = branches + (_LAST if last else _MIDDLE) + (_CLOSED if collapsed else _OPEN)
        if node.info == NO_INFO:
            go_mode, uid, gid, link, kind = 0, 0, 0, "", 0
        else:
            layer = self.layers[node.info >> 32]
            i = node.info & 0xFFFFFFFF
            kind = layer.types[i]
            go_mode = go_file_mode(layer.modes[i], kind)
            uid, gid = layer.uids[i], layer.gids[i]
            link = layer.link(i) if kind in (tarscan.SYMLINK, tarscan.HARDLINK) else ""
        is_dir = bool(go_mode & (1 << 31))
        return Row(
            node=node,
            depth=depth,
            prefix=prefix,
            name=node.name,
            diff=node.diff,
            is_dir=is_dir or bool(node.children),
            collapsed=collapsed,
            mode=permission_string(go_mode, is_dir),
            owner=f"{uid}:{gid}",
            size=self._size(node),
            link=link,
            path=path,
        )


def render_row(row: Row, attributes: bool = True) -> str:
    """One row as dive's text view prints it (no colour)."""
    name = row.name + (f" → {row.link}" if row.link else "")
    tree = row.prefix + name
    if not attributes:
        return tree
    return f"{row.mode} {row.owner:>11} {go_bytes(row.size):>10}  {tree}"


__all__ = [
    "ADDED",
    "AGGREGATED",
    "LAYER_CHANGES",
    "MODIFIED",
    "REMOVED",
    "SORT_NAME",
    "SORT_SIZE",
    "UNMODIFIED",
    "Row",
    "TreeViewModel",
    "compare_indexes",
    "render_row",
]
