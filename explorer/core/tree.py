"""File trees built from layer indexes: one layer's own tree, stacks of layers, and the
diff marking (added / modified / removed / unmodified) that the views show.

Two stacking rules exist. `dive` reproduces dive 0.13.1 exactly (opaque markers ignored,
a directory replaced by a file keeps its old children), which the dive-compatible numbers
need. `correct` applies OCI whiteout semantics: opaque directories hide everything below
them, and a path that changes type loses what it had underneath.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from explorer.core import tarscan
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex

UNMODIFIED, MODIFIED, ADDED, REMOVED = 0, 1, 2, 3
DIFF_NAMES = ("unmodified", "modified", "added", "removed")

NO_INFO = -1  # a directory that exists only because something below it does
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


def ref(layer: int, entry: int) -> int:
    return (layer << _SHIFT) | entry


class Node:
    __slots__ = ("children", "diff", "info", "name", "parent")

    def __init__(self, name: str, parent: Node | None, info: int = NO_INFO) -> None:
        self.name = name
        self.parent = parent
        self.children: dict[str, Node] = {}
        self.info = info
        self.diff = UNMODIFIED

    @property
    def is_whiteout(self) -> bool:
        return self.name.startswith(WHITEOUT_PREFIX)

    @property
    def path(self) -> str:
        """dive's node path: `/`-rooted, whiteout prefix stripped from the leaf."""
        parts = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            name = node.name
            if node is self and name.startswith(WHITEOUT_PREFIX):
                name = name[len(WHITEOUT_PREFIX) :]
            parts.append(name)
            node = node.parent
        return "/" + "/".join(reversed(parts))

    def sorted_children(self) -> list[Node]:
        names = sorted(self.children)
        if not all(name.isascii() for name in names):
            names.sort(key=_go_order)
        return [self.children[k] for k in names]

    def walk_post(self) -> Iterator[Node]:
        """Depth first, children before their parent, children in byte order (dive's
        VisitDepthChildFirst); the root itself is not yielded."""
        stack: list[tuple[Node, Iterator[Node] | None]] = [(self, None)]
        while stack:
            node, it = stack[-1]
            if it is None:
                it = iter(node.sorted_children())
                stack[-1] = (node, it)
            child = next(it, None)
            if child is not None:
                stack.append((child, None))
                continue
            stack.pop()
            if node.parent is not None:
                yield node


def _go_order(name: str) -> bytes:
    # Go sorts strings by bytes; Python's str order matches that for valid UTF-8 only.
    return name.encode("utf-8", "surrogateescape")


class FileTree:
    """A tree whose nodes point (by `ref`) into the image's layer indexes."""

    def __init__(self, layers: list[LayerIndex]) -> None:
        self.layers = layers
        self.root = Node("", None)
        self.opaque: set[str] = set()  # paths (no leading /) made opaque by this layer

    # -- info access -------------------------------------------------------------------------
    def _entry(self, info: int) -> tuple[LayerIndex, int]:
        return self.layers[info >> _SHIFT], info & _MASK

    def type_of(self, node: Node) -> int:
        if node.info == NO_INFO:
            return tarscan.DIR if node.children else 0
        layer, i = self._entry(node.info)
        return layer.types[i]

    def size_of(self, node: Node) -> int:
        if node.info == NO_INFO:
            return 0
        layer, i = self._entry(node.info)
        return layer.sizes[i]

    def is_dir(self, node: Node) -> bool:
        if node.info == NO_INFO:
            return False
        layer, i = self._entry(node.info)
        return layer.types[i] == tarscan.DIR

    def same_content(self, a: int, b: int, *, compare_links: bool) -> bool:
        """dive's FileInfo.Compare: type, content hash, mode, uid and gid."""
        if a == NO_INFO or b == NO_INFO:
            return a == b
        la, i = self._entry(a)
        lb, j = self._entry(b)
        same = (
            la.types[i] == lb.types[j]
            and la.hashes[i] == lb.hashes[j]
            and la.modes[i] == lb.modes[j]
            and la.uids[i] == lb.uids[j]
            and la.gids[i] == lb.gids[j]
        )
        if same and compare_links:
            same = la.links.get(i, "") == lb.links.get(j, "")
        return same

    # -- building ------------------------------------------------------------------------------
    def get(self, path: str) -> Node | None:
        node = self.root
        for part in path.strip("/").split("/"):
            if not part:
                continue
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def add_path(
        self, path: str, info: int, *, correct: bool = False
    ) -> tuple[Node | None, list[Node]]:
        """dive's AddPath: create missing parents without info, put `info` on the leaf."""
        node = self.root
        added: list[Node] = []
        parts = [p for p in path.strip("/").split("/") if p]
        for n, part in enumerate(parts):
            child = node.children.get(part)
            if child is None:
                if part.startswith(".wh..wh."):  # dive never adds these (opaque markers)
                    return None, added
                child = Node(part, node)
                node.children[part] = child
                added.append(child)
            node = child
            if n == len(parts) - 1:
                if correct and node.children and not self.is_dir_info(info):
                    node.children.clear()  # a directory replaced by a non-directory
                node.info = info
        return node, added

    def is_dir_info(self, info: int) -> bool:
        if info == NO_INFO:
            return True
        layer, i = self._entry(info)
        return layer.types[i] == tarscan.DIR

    def remove_path(self, path: str) -> bool:
        node = self.get(path)
        if node is None or node.parent is None:
            return False
        del node.parent.children[node.name]
        return True

    def copy(self) -> FileTree:
        clone = FileTree(self.layers)
        clone.root = _copy_node(self.root, None)
        return clone


def _copy_node(node: Node, parent: Node | None) -> Node:
    clone = Node(node.name, parent, node.info)
    clone.diff = node.diff
    # iterative for deep trees
    stack = [(node, clone)]
    while stack:
        src, dst = stack.pop()
        for name, child in src.children.items():
            c = Node(name, dst, child.info)
            c.diff = child.diff
            dst.children[name] = c
            if child.children:
                stack.append((child, c))
    return clone


def layer_tree(layers: list[LayerIndex], n: int) -> FileTree:
    """Layer n's own tree, as dive builds it: every entry, whiteout files included."""
    tree = FileTree(layers)
    idx = layers[n]
    for i, path in enumerate(idx.paths):
        base = path.rsplit("/", 1)[-1]
        if base == OPAQUE_MARKER:
            tree.opaque.add(path.rsplit("/", 1)[0] if "/" in path else "")
        tree.add_path(path, ref(n, i))
    return tree


def stack(lower: FileTree, upper: FileTree, *, correct: bool = False) -> None:
    """Apply `upper` on top of `lower`, in place (dive's Stack, or OCI semantics)."""
    if correct:
        for d in upper.opaque:
            node = lower.get(d)
            if node is not None:
                node.children.clear()
    for node in upper.root.walk_post():
        if node.is_whiteout:
            lower.remove_path(node.path)
        else:
            lower.add_path(node.path, node.info, correct=correct)


def stack_range(
    layers: list[LayerIndex],
    trees: Callable[[int], FileTree],
    start: int,
    stop: int,
    *,
    correct: bool = False,
) -> FileTree:
    """Layers start..stop (inclusive) stacked into a new tree."""
    result = trees(start).copy()
    for n in range(start + 1, stop + 1):
        stack(result, trees(n), correct=correct)
    return result


def compare_and_mark(lower: FileTree, upper: FileTree, *, correct: bool = False) -> None:
    """dive's CompareAndMark: graft `upper` onto `lower`, marking what it adds, changes and
    removes. Removed nodes stay in the tree, marked."""
    marks: list[tuple[Node, Node, int, int]] = []  # (lower node, upper node, tentative, final)
    if correct:
        for d in upper.opaque:
            node = lower.get(d)
            if node is not None:
                for child in node.children.values():
                    _assign(child, REMOVED)
    for up in upper.root.walk_post():
        if up.is_whiteout:
            target = lower.get(up.path)
            if target is not None:
                _assign(target, REMOVED)
            continue
        low = lower.get(up.path)
        if low is None:
            _, new_nodes = lower.add_path(up.path, up.info)
            for new in reversed(new_nodes):
                marks.append((new, up, -1, ADDED))
        else:
            if correct and low.children and not lower.is_dir_info(up.info):
                for child in low.children.values():
                    _assign(child, REMOVED)
            same = lower.same_content(low.info, up.info, compare_links=correct)
            marks.append((low, up, -1, UNMODIFIED if same else MODIFIED))
    for low, up, tentative, final in marks:
        if final > 0:
            _assign(low, final)
        elif low.diff == UNMODIFIED:
            _derive(low, tentative)
        low.info = up.info


def _assign(node: Node, diff: int) -> None:
    node.diff = diff
    if diff == REMOVED:
        stack = list(node.children.values())
        while stack:
            n = stack.pop()
            n.diff = REMOVED
            stack.extend(n.children.values())


def _derive(node: Node, diff: int) -> None:
    if not node.children:
        _assign(node, diff)
        return
    mine = diff
    for child in node.children.values():
        if child.diff != mine:
            mine = MODIFIED
    _assign(node, mine)


def cumulative_size(tree: FileTree, node: Node, *, skip_removed: bool = True) -> int:
    """Size of a node and everything under it; removed children don't count unless the
    node itself was removed (as dive displays directory sizes)."""
    total = 0
    count_removed = not skip_removed or node.diff == REMOVED
    stack = [node]
    while stack:
        n = stack.pop()
        if count_removed or n.diff != REMOVED:
            total += tree.size_of(n)
        stack.extend(n.children.values())
    return total
