"""The file-tree view model: the filesystem as of a layer, marked against the layers below,
flattened into rows for display. Headless: the TUI widget and the plain-text renderer (used
by the dive conformance tests) draw the same rows.

Only what is visible is flattened; collapsing, filtering and hiding diff kinds re-flatten,
moving the cursor does not.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast, overload

from explorer.core import tarscan
from explorer.core.layerindex import LayerIndex, go_file_mode
from explorer.core.tree import (
    ADDED,
    MODIFIED,
    NO_INFO,
    REMOVED,
    UNMODIFIED,
    FileTree,
    Node,
    has_whiteouts,
    layer_tree,
    marked,
    stacked,
    walk_post,
)
from explorer.core.treerow import Row, permission_string

LAYER_CHANGES, AGGREGATED = "layer", "aggregated"
SORT_NAME, SORT_SIZE = "name", "size"
# Entries whose display facts one step of `prepare_step` works out (a few milliseconds).
MEMO_SLICE = 4096

_MIDDLE, _LAST = "├─", "└─"
_BRANCH, _SPACE = "│   ", "    "
_OPEN, _CLOSED = "─ ", "⊕ "


def compare_indexes(layer: int, mode: str, start: int = 0) -> tuple[int, int, int, int]:
    """dive's (bottomStart, bottomStop, topStart, topStop) for a selected layer."""
    if layer == start:
        return start, layer, layer, layer
    if mode == LAYER_CHANGES:
        return start, layer - 1, layer, layer
    return start, start, start + 1, layer


_stamps = itertools.count(1)


class _Dir:
    """What one presentation state shows of a directory node (stored on the node, valid
    while `stamp` is the model's): its visible children in display order and the rows each
    one spans, its displayed size, whether it is hidden or expanded itself."""

    __slots__ = (
        "everything",
        "expanded",
        "hidden",
        "kept",
        "kids",
        "rows",
        "size",
        "stamp",
        "starts",
    )

    def __init__(self, stamp: int) -> None:
        self.stamp = stamp
        self.kids: list[Node] = []
        self.starts: list[int] = []  # row offset of each kid below this directory's own row
        self.rows = 0  # rows below this directory when expanded
        self.everything = 0  # bytes at and below it, removed ones included
        self.kept = 0  # bytes at and below it, removed ones excluded
        self.size = 0  # what the size column shows
        self.hidden = False
        self.expanded = False


@dataclass(frozen=True, slots=True)
class _Presentation:
    """What decides the rows besides the tree, as of one change: rows built under it keep
    it (a worker may change the model's while the UI still draws the old rows)."""

    stamp: int
    hidden: frozenset[int]
    filter: re.Pattern[str] | None
    by_size: bool
    collapsed: frozenset[str]


class TreeViewModel:
    """State of the tree pane: selected layer and mode, hidden kinds, filter, collapse, sort.

    Views are trees that share what they have in common (see `tree.stacked` / `marked`),
    and what is worked out for display is stored on each directory node: moving to another
    layer costs what that layer changed, not the size of the image."""

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
        self._stamp = next(_stamps)
        self._presentation: _Presentation | None = None
        self._layer_trees: dict[int, FileTree] = {}
        self._sizes = FileTree(layers)  # size_of works for a node of any of the trees
        self._stacks: list[FileTree] = []  # layers 0..k stacked, for each k so far
        self._aggregated: list[FileTree] = []  # layer 0 marked with layers 1..k, each k
        self._views: dict[tuple[int, str], FileTree] = {}

    def _layer_tree(self, n: int) -> FileTree:
        tree = self._layer_trees.get(n)
        if tree is None:
            tree = self._layer_trees[n] = layer_tree(self.layers, n)
        return tree

    # -- model ---------------------------------------------------------------------------------
    def set_layer(self, layer: int, mode: str | None = None) -> None:
        """Show a layer's marked tree (run it in a worker: the first view of a big layer
        takes a while; later ones cost what that layer changed, a view seen before nothing)."""
        self.layer = layer
        if mode is not None:
            self.mode = mode
        self.tree = self.view(layer, self.mode)
        self._rows = None

    def has_view(self, layer: int, mode: str) -> bool:
        return (layer, mode) in self._views

    def prepare_step(self, layer: int, mode: str) -> bool:
        """One step of working out a view ahead of time: a tree it is built from, its own
        tree, then what its rows need, a slice at a time (so that a thread doing this can
        give way between steps); False when the view is ready."""
        tree = self._views.get((layer, mode))
        if tree is None:
            if not self._view_step(layer, mode):
                self.view(layer, mode)
            return True
        pres = self.presentation()
        memo = tree.root.memo
        if isinstance(memo, _Dir) and memo.stamp == pres.stamp:
            return False
        self._memo_walk(tree.root, "", pres, MEMO_SLICE)
        return True

    def _view_step(self, layer: int, mode: str) -> bool:
        """Build the next missing tree that view(layer, mode) starts from; False when they
        are all there."""
        if mode == AGGREGATED and layer > 0:
            return self._chain_step(self._aggregated, marked, layer)
        _start, below, top, _stop = compare_indexes(layer, LAYER_CHANGES)
        if self._chain_step(self._stacks, stacked, below):
            return True
        if top not in self._layer_trees:
            self._layer_tree(top)
            return True
        return False

    def view(self, layer: int, mode: str) -> FileTree:
        """The marked tree of a layer in a compare mode."""
        tree = self._views.get((layer, mode))
        if tree is None:
            if mode == AGGREGATED and layer > 0:
                tree = self._aggregated_view(layer)
            elif layer == 0 and not has_whiteouts(self.layers[0]):
                tree = self._stack(0)  # marked onto itself: the same tree, all unmodified
            else:  # dive marks the layer onto the stack below it (layer 0: onto itself)
                _start, below, top, _stop = compare_indexes(layer, LAYER_CHANGES)
                tree = marked(self._stack(below), self._layer_tree(top))
            self._views[(layer, mode)] = tree
        return tree

    def _stack(self, stop: int) -> FileTree:
        """dive's StackTreeRange(0, stop): layers 0..stop stacked."""
        return self._chain(self._stacks, stacked, stop)

    def _aggregated_view(self, layer: int) -> FileTree:
        """Layer 0 marked with each of layers 1..layer in turn, as dive does."""
        return self._chain(self._aggregated, marked, layer)

    def _chain(
        self, trees: list[FileTree], step: Callable[[FileTree, FileTree], FileTree], upto: int
    ) -> FileTree:
        """trees[k] = step(trees[k - 1], layer k's tree), from layer 0's tree, kept for good
        (each shares what it can with the one before)."""
        while self._chain_step(trees, step, upto):
            pass
        return trees[upto]

    def _chain_step(
        self, trees: list[FileTree], step: Callable[[FileTree, FileTree], FileTree], upto: int
    ) -> bool:
        """Build the next missing tree of `_chain` (or the layer tree it needs); False when
        trees[upto] is there."""
        k = len(trees)
        if k > upto:
            return False
        if k not in self._layer_trees:
            self._layer_tree(k)
        elif k == 0:
            trees.append(self._layer_tree(0))
        else:
            trees.append(step(trees[-1], self._layer_tree(k)))
        return True

    # -- presentation state --------------------------------------------------------------------
    def _changed(self) -> None:
        self._stamp = next(_stamps)  # what nodes remember was for the old presentation
        self._presentation = None
        self._rows = None

    def presentation(self) -> _Presentation:
        if self._presentation is None:
            self._presentation = _Presentation(
                self._stamp,
                frozenset(self.hidden),
                self.filter,
                self.sort == SORT_SIZE,
                frozenset(self.collapsed),
            )
        return self._presentation

    def set_hidden(self, kinds: set[int]) -> None:
        self.hidden = set(kinds)
        self._changed()

    def toggle_hidden(self, kind: int) -> None:
        self.hidden ^= {kind}
        self._changed()

    def set_filter(self, pattern: str) -> None:
        """Regex filter on paths; raises re.error for a bad pattern (the UI shows it)."""
        self.filter = re.compile(pattern) if pattern else None
        self._changed()

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._changed()

    def toggle_collapse(self, row: Row) -> None:
        if row.is_dir:
            self.collapsed ^= {row.path}
            self._changed()

    def expand(self, paths: set[str]) -> None:
        """Open these directories, those of them that are collapsed."""
        if self.collapsed & paths:
            self.collapsed -= paths
            self._changed()

    def collapse(self, paths: set[str]) -> None:
        """Close these directories, those of them that are open."""
        if paths - self.collapsed:
            self.collapsed |= paths
            self._changed()

    def collapse_all(self, collapse: bool) -> None:
        """Collapse or expand every directory that has its own entry (as dive does)."""
        self.collapsed = set()
        if collapse and self.tree is not None:
            tree = self.tree
            for node, path in walk_post(tree.root):
                if node.children and tree.is_dir(node):
                    self.collapsed.add(path)
        self._changed()

    # -- rows ----------------------------------------------------------------------------------
    def rows(self) -> Rows:
        if self._rows is None:
            self._rows = Rows(self, self.tree)
        return self._rows

    def dir_memo(self, node: Node, path: str, pres: _Presentation) -> _Dir:
        """The display facts of directory `node` at `path` under `pres`, worked out
        (children first) for the nodes that do not have them for it yet."""
        return cast(_Dir, self._memo_walk(node, path, pres, None))

    def _memo_walk(
        self, node: Node, path: str, pres: _Presentation, budget: int | None
    ) -> _Dir | None:
        """`dir_memo`; with a `budget`, it stops (None) once it has worked out directories
        of that many entries in all (what it did stays: the next walk skips it)."""
        stamp = pres.stamp
        memo = node.memo
        if isinstance(memo, _Dir) and memo.stamp == stamp:
            return memo
        todo: list[tuple[Node, str, bool]] = [(node, path, False)]
        while todo:
            n, p, children_done = todo.pop()
            if children_done:
                if budget is not None:
                    if budget <= 0:
                        return None
                    budget -= len(n.children)
                memo = self._work_out(n, p, pres)
                n.memo = memo
                continue
            todo.append((n, p, True))
            for kid in n.children.values():
                if kid.children:
                    m = kid.memo
                    if not (isinstance(m, _Dir) and m.stamp == stamp):
                        todo.append((kid, f"{p}/{kid.name}", False))
        return cast(_Dir, memo)

    def _work_out(self, node: Node, path: str, pres: _Presentation) -> _Dir:
        """dive's rules: a hidden diff kind hides a node unless a child shows; the filter
        hides what has no visible child and no match (a non-empty one). A directory's size
        counts what is below it that is shown, without removed entries unless the directory
        itself was removed."""
        memo = _Dir(pres.stamp)
        kinds, pattern, size_of = pres.hidden, pres.filter, self._sizes.size_of
        shown: list[tuple[Node, int, int]] = []  # (kid, displayed size, rows it spans)
        everything = kept = 0
        for kid in node.sorted_children():
            if kid.children:
                m = kid.memo
                if not (isinstance(m, _Dir) and m.stamp == pres.stamp):
                    # replaced meanwhile by another thread, for another presentation
                    m = self.dir_memo(kid, f"{path}/{kid.name}", pres)
                if m.hidden:
                    continue
                everything += m.everything
                kept += m.kept
                shown.append((kid, m.size, 1 + m.rows if m.expanded else 1))
                continue
            if kid.diff in kinds:
                continue
            if pattern is not None:
                match = pattern.search(f"{path}/{kid.name}")
                if match is None or match.group() == "":
                    continue
            size = size_of(kid)
            everything += size
            kept += 0 if kid.diff == REMOVED else size
            shown.append((kid, size, 1))
        own = size_of(node)
        memo.everything = everything + own
        memo.kept = kept + (0 if node.diff == REMOVED else own)
        memo.size = memo.everything if node.diff == REMOVED else memo.kept
        if not shown:
            hidden = node.diff in kinds
            if pattern is not None and not hidden:
                match = pattern.search(path)
                hidden = match is None or match.group() == ""
            memo.hidden = hidden
        if pres.by_size:
            shown.sort(key=lambda k: -k[1])  # stable: ties stay in name order
        memo.kids = [k for k, _size, _span in shown]
        starts, at = [], 0
        for _kid, _size, span in shown:
            starts.append(at)
            at += span
        memo.starts = starts
        memo.rows = at
        memo.expanded = bool(shown) and path not in pres.collapsed
        return memo

    def tree_size(self, node: Node) -> int:
        return self._sizes.size_of(node)

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
    """The visible rows of a view, found on demand by walking down from the root (the
    directories know how many rows each child spans): nothing is flattened."""

    def __init__(self, model: TreeViewModel, tree: FileTree | None) -> None:
        self._model = model
        self._pres = model.presentation()
        self._root = tree.root if tree is not None else None
        self._len = model.dir_memo(self._root, "", self._pres).rows if self._root else 0
        self._cache: dict[int, Row] = {}

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        row = self._cache.get(index)
        if row is None:
            row = self._find(index)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[index] = row
        return row

    def _find(self, index: int) -> Row:
        model = self._model
        node, path, branches, depth = self._root, "", "", 0
        assert node is not None
        while True:
            memo = model.dir_memo(node, path, self._pres)
            k = bisect.bisect_right(memo.starts, index) - 1
            kid = memo.kids[k]
            last = k == len(memo.kids) - 1
            kid_path = f"{path}/{kid.name}"
            index -= memo.starts[k]
            kid_memo = model.dir_memo(kid, kid_path, self._pres) if kid.children else None
            if index == 0:
                collapsed = kid_memo is not None and bool(kid_memo.kids) and not kid_memo.expanded
                size = kid_memo.size if kid_memo is not None else model.tree_size(kid)
                return model.make_row(kid, depth, branches, last, collapsed, kid_path, size)
            index -= 1
            node, path, depth = kid, kid_path, depth + 1
            branches += _SPACE if last else _BRANCH

    def index_of(self, path: str) -> int | None:
        """The row showing `path`, if it is shown."""
        model = self._model
        node, at, here = self._root, 0, ""
        if node is None:
            return None
        for name in path.strip("/").split("/"):
            memo = model.dir_memo(node, here, self._pres)
            kid = node.children.get(name)
            if kid is None or (node is not self._root and not memo.expanded):
                return None
            try:
                k = memo.kids.index(kid)
            except ValueError:
                return None  # hidden
            at += memo.starts[k] + (1 if node is not self._root else 0)
            node, here = kid, f"{here}/{name}"
        return at


__all__ = [
    "ADDED",
    "AGGREGATED",
    "LAYER_CHANGES",
    "MODIFIED",
    "REMOVED",
    "SORT_NAME",
    "SORT_SIZE",
    "UNMODIFIED",
    "Rows",
    "TreeViewModel",
    "compare_indexes",
]
