"""File trees built from layer indexes: one layer's own tree, stacks of layers, and the
diff marking (added / modified / removed / unmodified) that the views show.

Two stacking rules exist. `dive` reproduces dive 0.13.1 exactly (opaque markers ignored,
a directory replaced by a file keeps its old children), which the dive-compatible numbers
need. `correct` applies OCI whiteout semantics: opaque directories hide everything below
them, and a path that changes type loses what it had underneath.

The analysis stacks in place (`stack`): it needs each stack once. The views need many
(every layer, both modes) and keep them: `stacked` and `marked` make new trees that share
every untouched subtree with the tree they start from, which stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import cast

from explorer.core import tarscan
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex

# The diff kinds, and their names (in dive's order: its keys are Ctrl+A, R, M, U).
UNMODIFIED, MODIFIED, ADDED, REMOVED = 0, 1, 2, 3
DIFF_KINDS: dict[str, int] = {
    "added": ADDED,
    "removed": REMOVED,
    "modified": MODIFIED,
    "unmodified": UNMODIFIED,
}
DIFF_NAMES: dict[int, str] = {kind: name for name, kind in DIFF_KINDS.items()}

# A node's `info` is a ref: its layer and its entry number there, packed in one int.
NO_INFO = -1  # a directory that exists only because something below it does
_SHIFT = 32
INDEX_MASK = (1 << _SHIFT) - 1  # a ref's entry number in its layer


def ref(layer: int, entry: int) -> int:
    return (layer << _SHIFT) | entry


def ref_layer(info: int) -> int:
    return info >> _SHIFT


def ref_entry(info: int) -> int:
    return info & INDEX_MASK


# Leaves share one read-only empty mapping: most nodes are leaves, and an empty dict each
# would cost 64 bytes apiece on a 100k-file layer.
NO_CHILDREN: dict[str, Node] = cast("dict[str, Node]", MappingProxyType({}))


class Node:
    """A tree node. No parent pointer: the trees are plain (acyclic) data, freed by reference
    counting the moment they are dropped, and views can share subtrees."""

    __slots__ = ("children", "diff", "info", "memo", "name")

    def __init__(self, name: str, info: int = NO_INFO) -> None:
        self.name = name
        self.children: dict[str, Node] = NO_CHILDREN
        self.info = info
        self.diff = UNMODIFIED
        # What a view computed about this directory (see treeview): trees share unchanged
        # subtrees, so one computation serves every view that shows the node.
        self.memo: object = None

    def add(self, child: Node) -> Node:
        if self.children is NO_CHILDREN:
            self.children = {}
        self.children[child.name] = child
        return child

    def sorted_children(self) -> list[Node]:
        children = self.children
        if not children:
            return []
        names = sorted(children)
        if not "".join(names).isascii():
            names.sort(key=_go_order)
        return [children[k] for k in names]


def _go_order(name: str) -> bytes:
    # Go sorts strings by bytes; Python's str order matches that for valid UTF-8 only.
    return name.encode("utf-8", "surrogateescape")


class FileTree:
    """A tree whose nodes point (by `ref`) into the image's layer indexes."""

    def __init__(self, layers: list[LayerIndex]) -> None:
        self.layers = layers
        self.root = Node("")
        # Directories this layer made opaque, with their dive paths (`/`-rooted).
        self.opaque: dict[Node, str] = {}

    # -- info access -------------------------------------------------------------------------
    def _entry(self, info: int) -> tuple[LayerIndex, int]:
        return self.layers[info >> _SHIFT], info & INDEX_MASK

    def type_of(self, node: Node) -> int:
        if node.info == NO_INFO:
            return tarscan.DIR if node.children else 0
        layer, i = self._entry(node.info)
        return layer.types[i]

    def size_of(self, node: Node) -> int:
        info = node.info
        if info == NO_INFO:
            return 0
        return self.layers[info >> _SHIFT].sizes[info & INDEX_MASK]

    def is_dir(self, node: Node) -> bool:
        if node.info == NO_INFO:
            return False
        layer, i = self._entry(node.info)
        return layer.types[i] == tarscan.DIR

    def same_content(self, a: int, b: int) -> bool:
        """dive's FileInfo.Compare: type, content hash, mode, uid and gid."""
        if a == NO_INFO or b == NO_INFO:
            return a == b
        la, i = self.layers[a >> _SHIFT], a & INDEX_MASK
        lb, j = self.layers[b >> _SHIFT], b & INDEX_MASK
        return (
            la.types[i] == lb.types[j]
            and la.hashes[i] == lb.hashes[j]
            and la.modes[i] == lb.modes[j]
            and la.uids[i] == lb.uids[j]
            and la.gids[i] == lb.gids[j]
        )

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

    def is_dir_info(self, info: int) -> bool:
        if info == NO_INFO:
            return True
        layer, i = self._entry(info)
        return layer.types[i] == tarscan.DIR


def layer_tree(layers: list[LayerIndex], n: int) -> FileTree:
    """Layer n's own tree, as dive builds it: every entry, whiteout files included; an
    opaque marker (never a node in dive) marks its directory in `tree.opaque`.

    Work and memory grow with the bytes of the layer's paths, never with the square of a
    path's depth: the only paths remembered are the index's own and its entries' parents."""
    tree = FileTree(layers)
    idx = layers[n]
    by_path: dict[str, Node] = {"": tree.root}
    base = n << _SHIFT
    for i, path in enumerate(idx.paths):
        node = by_path.get(path)
        if node is None:
            parent_path, _, name = path.rpartition("/")
            parent = by_path.get(parent_path)
            if parent is None:  # an implicit directory: found or made from the root
                parent = _make_dirs(tree, parent_path)
                if parent is None:
                    continue  # below a `.wh..wh.` meta name
                by_path[parent_path] = parent
            node = parent.children.get(name)
            if node is None:
                if name.startswith(".wh..wh."):  # dive never adds these; OCI: opaque marker
                    if name == OPAQUE_MARKER:
                        tree.opaque[parent] = "/" + parent_path
                    continue
                node = parent.add(Node(name))
            by_path[path] = node
        node.info = base | i
    return tree


def _make_dirs(tree: FileTree, path: str) -> Node | None:
    """The node at `path`, made with its missing parents (implicit directories); None when
    a component is a `.wh..wh.` meta name, which is never a node (an opaque marker there
    still marks its directory)."""
    node, start = tree.root, 0
    while True:
        end = path.find("/", start)
        name = path[start:] if end < 0 else path[start:end]
        child = node.children.get(name)
        if child is None:
            if name.startswith(".wh..wh."):
                if name == OPAQUE_MARKER:
                    tree.opaque[node] = "/" + path[: max(start - 1, 0)]
                return None
            child = node.add(Node(name))
        if end < 0:
            return child
        node, start = child, end + 1


def walk_post(root: Node) -> Iterator[tuple[Node, str]]:
    """(node, dive path) depth first, children before parents, siblings in byte order;
    a whiteout's path names what it deletes."""
    stack_: list[tuple[Node, str, Iterator[Node]]] = [(root, "", iter(root.sorted_children()))]
    while stack_:
        node, path, it = stack_[-1]
        child = next(it, None)
        if child is None:
            stack_.pop()
            if node is not root:
                yield node, path
            continue
        name = child.name
        if child.children:
            stack_.append((child, f"{path}/{name}", iter(child.sorted_children())))
        elif name.startswith(WHITEOUT_PREFIX):
            yield child, f"{path}/{name[4:]}"
        else:
            yield child, f"{path}/{name}"


def has_whiteouts(layer: LayerIndex) -> bool:
    """Does the layer hold a whiteout or an opaque marker (any `.wh.` name)?"""
    return layer.whiteouts > 0


def stack_entries(tree: FileTree, n: int, stamp: int) -> None:
    """dive's Stack of layer n straight onto `tree`, without a tree of the layer's own: for a
    layer without whiteouts, where nothing is deleted and the order its entries apply in
    cannot matter. Every node the layer touches, and its ancestors, get `diff = stamp` (in the
    analysis's stack, which is never shown, `diff` says which layer touched a node last: see
    `walk_stamped`); the layer's implicit directories lose their info, as in Stack."""
    layer = tree.layers[n]
    base = n << _SHIFT
    dirs: dict[str, Node] = {"": tree.root}  # the directories this layer touched, by path
    for i, path in enumerate(layer.paths):
        parent_path, _, name = path.rpartition("/")
        parent = dirs.get(parent_path)
        if parent is None:  # remembered: its path is one of the layer's, or its parent's
            parent = dirs[parent_path] = _touch_dirs(tree.root, parent_path, stamp)
        node = parent.children.get(name)
        if node is None:
            node = Node(name)
            if parent.children is NO_CHILDREN:
                parent.children = {}
            parent.children[name] = node
        node.info = base | i
        node.diff = stamp
        if layer.types[i] == tarscan.DIR:
            dirs[path] = node


def _touch_dirs(root: Node, path: str, stamp: int) -> Node:
    """The node at `path`, created or stamped with its ancestors: a parent this layer never
    listed is implicit (no info), one it listed keeps the info it gave."""
    node = root
    for name in path.split("/"):
        child = node.children.get(name)
        if child is None:
            child = node.add(Node(name))
        if child.diff != stamp:
            child.diff = stamp
            child.info = NO_INFO
        node = child
    return node


def walk_stamped(root: Node, stamp: int) -> Iterator[tuple[Node, str, bool]]:
    """(node, "", is a leaf) over the nodes stamped by `stack_entries`: the layer's own tree,
    in `walk_post`'s order (no paths: a layer without whiteouts needs none)."""
    todo: list[tuple[Node, Iterator[Node]]] = [(root, iter(_stamped_children(root, stamp)))]
    while todo:
        node, it = todo[-1]
        child = next(it, None)
        if child is None:
            todo.pop()
            if todo:
                yield node, "", False
            continue
        below = _stamped_children(child, stamp) if child.children else []
        if below:
            todo.append((child, iter(below)))
        else:
            yield child, "", True


def _stamped_children(node: Node, stamp: int) -> list[Node]:
    children = node.children
    names = sorted([name for name, child in children.items() if child.diff == stamp])
    if names and not "".join(names).isascii():
        names.sort(key=_go_order)
    return [children[name] for name in names]


def stack(lower: FileTree, upper: FileTree, *, correct: bool = False) -> None:
    """Apply `upper` on top of `lower`, in place.

    dive's Stack applies siblings in byte order, so a whiteout can delete an entry its own
    layer just wrote. With `correct` (OCI semantics) a layer's whiteouts and opaque markers
    hide only what lower layers had, a directory replaced by a non-directory loses its
    contents, and a directory that holds nothing but whiteouts is not created."""
    opaque = upper.opaque if correct else ()
    if upper.root in opaque:
        lower.root.children = NO_CHILDREN
    content: set[int] | None = None  # see _with_content, worked out when first needed
    todo = [(lower.root, upper.root)]
    while todo:
        low, up = todo.pop()
        children = up.sorted_children()
        if correct:  # whiteouts first: they hide lower layers, never this one
            for child in children:
                if child.name.startswith(WHITEOUT_PREFIX) and child.name[4:] in low.children:
                    del low.children[child.name[4:]]
        for child in children:
            name = child.name
            if name.startswith(WHITEOUT_PREFIX):
                if not correct and name[4:] in low.children:
                    del low.children[name[4:]]
                continue
            target = low.children.get(name)
            if target is None:
                if correct and child.info == NO_INFO:
                    if content is None:
                        content = _with_content(upper.root)
                    if id(child) not in content:
                        continue  # only whiteouts below: nothing to create
                target = low.add(Node(name))
            elif correct and target.children and not lower.is_dir_info(child.info):
                target.children = NO_CHILDREN  # a directory replaced by something else
            if child in opaque:
                target.children = NO_CHILDREN
            target.info = child.info
            if child.children:
                todo.append((target, child))


def _with_content(root: Node) -> set[int]:
    """The ids of the nodes with something but whiteouts at or below them, in one pass
    (asking it of each node in turn would walk a deep path once per level)."""
    order, todo = [], [root]
    while todo:
        node = todo.pop()
        order.append(node)
        todo.extend(node.children.values())
    found: set[int] = set()
    for node in reversed(order):  # children before their parents
        if (node.info != NO_INFO and not node.name.startswith(WHITEOUT_PREFIX)) or any(
            id(child) in found for child in node.children.values()
        ):
            found.add(id(node))
    return found


def stacked(lower: FileTree, upper: FileTree) -> FileTree:
    """dive's Stack as a new tree: `lower` is left as it was, and every subtree `upper` does
    not touch is shared with it (stepping down the layer list costs the size of one layer,
    not of the image)."""
    out = FileTree(lower.layers)
    out.root = _own(lower.root)
    todo = [(out.root, upper.root)]
    while todo:
        low, up = todo.pop()  # `low` is this tree's own copy: its children can change
        for child in up.sorted_children():
            name = child.name
            if name.startswith(WHITEOUT_PREFIX):
                if name[4:] in low.children:
                    del low.children[name[4:]]
                continue
            target = low.children.get(name)
            target = Node(name) if target is None else _own(target)
            _put(low, target)
            target.info = child.info
            if child.children:
                todo.append((target, child))
    return out


def marked(lower: FileTree, upper: FileTree) -> FileTree:
    """dive's CompareAndMark as a new tree: `upper` grafted onto `lower`, marking what it
    adds, changes and removes (removed nodes stay, marked). `lower` is left as it was; what
    `upper` does not touch is shared with it.

    Walks both trees together (no path lookups); marks are applied in dive's order:
    children before parents, siblings in byte order."""
    out = FileTree(lower.layers)
    out.root = _own(lower.root)
    own = {id(out.root)}  # nodes of this tree only (the others are shared: read-only)
    marks: list[tuple[Node, int, int]] = []  # (node, upper info, tentative or -1 if added)
    todo: list[tuple[Node, Node, Iterator[Node]]] = [
        (out.root, upper.root, iter(upper.root.sorted_children()))
    ]
    same_content = lower.same_content
    while todo:
        low, up, it = todo[-1]
        child = next(it, None)
        if child is None:
            todo.pop()
            if todo:  # not the root
                tentative = -1
                if low.diff != ADDED:
                    tentative = UNMODIFIED if same_content(low.info, up.info) else MODIFIED
                marks.append((low, up.info, tentative))
            continue
        name = child.name
        if name.startswith(WHITEOUT_PREFIX):
            target = low.children.get(name[4:])
            if target is not None:
                _put(low, _removed_copy(target))
            continue
        target = low.children.get(name)
        if target is None:
            target = Node(name, child.info)
            target.diff = ADDED
            own.add(id(target))
            _put(low, target)
        elif id(target) not in own:
            target = _own(target)
            own.add(id(target))
            _put(low, target)
        if child.children:
            todo.append((target, child, iter(child.sorted_children())))
        else:  # a leaf is marked at once: the same order as pushing and popping it
            tentative = -1
            if target.diff != ADDED:
                tentative = UNMODIFIED if same_content(target.info, child.info) else MODIFIED
            marks.append((target, child.info, tentative))
    for node, info, tentative in marks:
        if tentative >= 0 and node.diff == UNMODIFIED:
            _derive(node, tentative)
        node.info = info
    return out


def _own(node: Node) -> Node:
    """A copy of `node` whose children (still shared) can be replaced."""
    clone = Node(node.name, node.info)
    clone.diff = node.diff
    if node.children:
        clone.children = dict(node.children)
    return clone


def _put(parent: Node, child: Node) -> None:
    if parent.children is NO_CHILDREN:
        parent.children = {}
    parent.children[child.name] = child


def _removed_copy(node: Node) -> Node:
    """A copy of the subtree at `node`, every node of it marked removed."""
    top = _own(node)
    top.diff = REMOVED
    todo = [top]
    while todo:
        copy = todo.pop()
        for name, child in copy.children.items():
            c = _own(child)
            c.diff = REMOVED
            copy.children[name] = c
            if c.children:
                todo.append(c)
    return top


def _derive(node: Node, diff: int) -> None:
    """dive's derived mark: a leaf takes `diff`; a directory is modified when a child's mark
    differs from it."""
    if node.children:
        for child in node.children.values():
            if child.diff != diff:
                diff = MODIFIED
                break
    node.diff = diff
