"""The file-tree view model: the filesystem as of a layer, marked against the layers below,
flattened into rows for display. Headless: the TUI widget and the plain-text renderer (used
by the dive conformance tests) draw the same rows.

Only what is visible is flattened; collapsing, filtering and hiding diff kinds re-flatten,
moving the cursor does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

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
    dispose,
    layer_tree,
    node_path,
    stack,
    walk_post,
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
        self._rows: Rows | None = None
        self._layer_tree = lru_cache(maxsize=None)(self._build_layer_tree)
        self._pristine: tuple[tuple[int, int], FileTree] | None = None

    def _build_layer_tree(self, n: int) -> FileTree:
        return layer_tree(self.layers, n)

    # -- model ---------------------------------------------------------------------------------
    def set_layer(self, layer: int, mode: str | None = None) -> None:
        """Compute the marked tree for a layer (the expensive step: run it in a worker)."""
        self.layer = layer
        if mode is not None:
            self.mode = mode
        b0, b1, t0, t1 = compare_indexes(layer, self.mode)
        tree = self._stack(b0, b1)
        for n in range(t0, t1 + 1):  # dive marks each upper layer in turn, unstacked
            compare_and_mark(tree, self._layer_tree(n))
        self.tree = tree  # the old tree lives on while rows handed out earlier point into it
        self._rows = None

    def _stack(self, start: int, stop: int) -> FileTree:
        """dive's StackTreeRange (a copy of layer 0, then layers start..stop stacked on it),
        as a fresh copy the caller may mark. The unmarked stack is kept and extended when the
        next request reaches further up, so stepping down the layer list stacks one layer."""
        key, base = self._pristine if self._pristine is not None else ((-1, -1), None)
        if base is None or key[0] != start or key[1] > stop:
            if base is not None:
                dispose(base)
            base = self._layer_tree(0).copy()
            key = (start, start - 1)
        for n in range(key[1] + 1, stop + 1):
            stack(base, self._layer_tree(n))
        self._pristine = ((start, stop), base)
        return base.copy()

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
        """Collapse or expand every directory that has its own entry (as dive does)."""
        self.collapsed = set()
        if collapse and self.tree is not None:
            tree = self.tree
            for node, path in walk_post(tree.root):
                if node.children and tree.is_dir(node):
                    self.collapsed.add(path)
        self._rows = None

    # -- rows ----------------------------------------------------------------------------------
    def rows(self) -> Rows:
        if self._rows is None:
            self._rows = self._flatten()
        return self._rows

    def _hidden(self) -> set[int]:
        """ids of hidden nodes, as dive decides: a hidden diff kind hides a node unless a child
        shows; the filter hides what has no visible child and no match (a non-empty one)."""
        assert self.tree is not None
        hidden: set[int] = set()
        kinds, pattern = self.hidden, self.filter
        for node, path in walk_post(self.tree.root):
            shown_child = any(id(c) not in hidden for c in node.children.values())
            is_hidden = node.diff in kinds and not shown_child
            if pattern is not None and not shown_child and not is_hidden:
                match = pattern.search(path)
                is_hidden = match is None or match.group() == ""
            if is_hidden:
                hidden.add(id(node))
        return hidden

    def _sizes(self, hidden: set[int]) -> dict[int, int]:
        """Displayed size of every visible node: a directory counts itself and what is below
        it, without removed entries unless the directory itself was removed."""
        assert self.tree is not None
        tree = self.tree
        order: list[Node] = []  # parents before children; walked backwards below
        todo = [tree.root]
        while todo:
            node = todo.pop()
            order.append(node)
            for child in node.children.values():
                if child.children:
                    todo.append(child)
        totals: dict[int, tuple[int, int]] = {}  # id -> (all, not removed)
        sizes: dict[int, int] = {}
        size_of = tree.size_of
        for node in reversed(order):
            everything = kept = 0
            for child in node.children.values():
                key = id(child)
                if key in hidden:
                    continue
                if child.children:
                    sub_all, sub_kept = totals[key]
                else:
                    sub_all = sizes[key] = size_of(child)
                    sub_kept = 0 if child.diff == REMOVED else sub_all
                everything += sub_all
                kept += sub_kept
            own = size_of(node)
            everything += own
            kept += 0 if node.diff == REMOVED else own
            totals[id(node)] = (everything, kept)
            sizes[id(node)] = everything if node.diff == REMOVED else kept
        return sizes

    def _flatten(self) -> Rows:
        if self.tree is None:
            return Rows(self, [], {})
        hidden = self._hidden() if self.hidden or self.filter is not None else set()
        sizes = self._sizes(hidden)
        by_size = self.sort == SORT_SIZE

        def children(node: Node) -> list[Node]:
            kids = [k for k in node.sorted_children() if id(k) not in hidden]
            if by_size:
                kids.sort(key=lambda k: -sizes[id(k)])  # stable: ties stay in name order
            return kids

        flat: list[tuple[Node, int, str, bool, bool, str | None]] = []
        collapsed_paths = self.collapsed
        todo: list[tuple[list[Node], int, str, str, int]] = [
            (children(self.tree.root), 0, "", "", 0)
        ]
        while todo:
            kids, depth, path, branches, pos = todo.pop()
            count = len(kids)
            while pos < count:
                child = kids[pos]
                last = pos == count - 1
                pos += 1
                if not child.children:  # a leaf: its path is worked out only if shown
                    flat.append((child, depth, branches, last, False, None))
                    continue
                child_path = f"{path}/{child.name}"
                sub = children(child)
                collapsed = bool(sub) and child_path in collapsed_paths
                flat.append((child, depth, branches, last, collapsed, child_path))
                if sub and not collapsed:
                    todo.append((kids, depth, path, branches, pos))
                    todo.append(
                        (sub, depth + 1, child_path, branches + (_SPACE if last else _BRANCH), 0)
                    )
                    break
        return Rows(self, flat, sizes)

    def make_row(
        self,
        node: Node,
        depth: int,
        branches: str,
        last: bool,
        collapsed: bool,
        path: str,
        size: int,
    ) -> Row:
        assert self.tree is not None
        prefix = branches + (_LAST if last else _MIDDLE) + (_CLOSED if collapsed else _OPEN)
        if node.info == NO_INFO:
            go_mode, uid, gid, link = 0, 0, 0, ""
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
            size=size,
            link=link,
            path=path,
        )


class Rows(Sequence[Row]):
    """The visible rows, built on demand (a 100k-file tree is flattened, not rendered)."""

    def __init__(
        self,
        model: TreeViewModel,
        flat: list[tuple[Node, int, str, bool, bool, str | None]],
        sizes: dict[int, int],
    ) -> None:
        self._model = model
        self._flat = flat
        self._sizes = sizes
        self._cache: dict[int, Row] = {}

    def __len__(self) -> int:
        return len(self._flat)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._flat)))]
        if index < 0:
            index += len(self._flat)
        row = self._cache.get(index)
        if row is None:
            node, depth, branches, last, collapsed, path = self._flat[index]
            if path is None:
                path = node_path(node)
            row = self._model.make_row(
                node, depth, branches, last, collapsed, path, self._sizes.get(id(node), 0)
            )
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[index] = row
        return row

    def index_of(self, path: str) -> int | None:
        for i, item in enumerate(self._flat):
            if (item[5] if item[5] is not None else node_path(item[0])) == path:
                return i
        return None


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
    "Rows",
    "TreeViewModel",
    "compare_indexes",
    "render_row",
]
