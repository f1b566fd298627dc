"""The compare screen's tree: both final filesystems in one tree, each path marked added,
removed, modified or unmodified from A to B, shown by the explorer's own view model (the
same rows, keys, filter, collapsing, sorting and hiding of diff kinds).

The tree's nodes point into B's layers followed by A's (`layers`): a path B has points at
B's entry, a removed one at A's.

The screen shows the changed paths first: their tree (`changed_tree`: the changes and the
directories above them) costs what the changes are, looked up in each image's layers
(`fslookup`) or in the final trees the comparison built. Every path (`merged_tree`: both
final filesystems walked) is worked out when the unchanged paths are first asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from explorer.core import fslookup
from explorer.core.compare import Comparison
from explorer.core.fsdiff import ADDED as ADDED_STATUS
from explorer.core.fsdiff import MODIFIED as MODIFIED_STATUS
from explorer.core.fsdiff import REMOVED as REMOVED_STATUS
from explorer.core.fsdiff import final_tree
from explorer.core.layerindex import LayerIndex
from explorer.core.tree import (
    ADDED,
    MODIFIED,
    NO_INFO,
    REMOVED,
    UNMODIFIED,
    FileTree,
    Node,
    ref,
    ref_entry,
    ref_layer,
)
from explorer.core.treeview import TreeViewModel


def merged_tree(comparison: Comparison) -> FileTree:
    """One tree of every path of A or B, marked from A to B (a directory by its own change
    only, as the comparison counts it)."""
    layers: list[LayerIndex] = [*comparison.b.result.layers, *comparison.a.result.layers]
    offset = len(comparison.b.result.layers)
    modified = {c.path for c in comparison.changes if c.status == MODIFIED_STATUS}
    out = FileTree(layers)
    files = comparison.files
    tree_a = files.tree_a or final_tree(comparison.a.result.layers)
    tree_b = files.tree_b or final_tree(comparison.b.result.layers)
    todo: list[tuple[Node, str, Node | None, Node | None]] = [
        (out.root, "", tree_a.root, tree_b.root)
    ]
    while todo:
        parent, path, na, nb = todo.pop()
        kids_a = na.children if na is not None else {}
        kids_b = nb.children if nb is not None else {}
        for name in kids_a.keys() | kids_b.keys():
            ka, kb = kids_a.get(name), kids_b.get(name)
            child_path = f"{path}/{name}"
            if kb is not None:
                node = Node(name, kb.info)
                if ka is None:
                    node.diff = ADDED
                elif child_path in modified:
                    node.diff = MODIFIED
                else:
                    node.diff = UNMODIFIED
            else:
                assert ka is not None
                info = ka.info
                if info != NO_INFO:
                    info = ref(offset + ref_layer(info), ref_entry(info))
                node = Node(name, info)
                node.diff = REMOVED
            parent.add(node)
            if (ka is not None and ka.children) or (kb is not None and kb.children):
                todo.append((node, child_path, ka, kb))
    return out


_MARKS = {ADDED_STATUS: ADDED, REMOVED_STATUS: REMOVED, MODIFIED_STATUS: MODIFIED}


def changed_tree(comparison: Comparison) -> FileTree:
    """The merged tree's changed paths and the directories above them (unmodified, B's), as
    `merged_tree` has them."""
    layers: list[LayerIndex] = [*comparison.b.result.layers, *comparison.a.result.layers]
    offset = len(comparison.b.result.layers)
    in_a, in_b = _finder(comparison, "a"), _finder(comparison, "b")
    out = FileTree(layers)
    for change in comparison.changes:
        parent = out.root
        parts = change.path.strip("/").split("/")
        for k, name in enumerate(parts):
            node = parent.children.get(name)
            if node is None:
                node = parent.add(Node(name, _ref(in_a, in_b, offset, "/".join(parts[: k + 1]))))
            parent = node
        parent.diff = _MARKS[change.status]
    return out


Finder = Callable[[str], int | None]  # relative path -> the ref of its final entry, if any


def _finder(comparison: Comparison, side: str) -> Finder:
    """Where one image's final entries are looked up: the final tree the comparison built,
    else the image's layers (`fslookup`)."""
    tree = comparison.files.tree_a if side == "a" else comparison.files.tree_b
    if tree is not None:
        known = tree

        def in_tree(path: str) -> int | None:
            node = known.get(path)
            return None if node is None else node.info

        return in_tree
    layers = (comparison.a if side == "a" else comparison.b).result.layers
    return fslookup.Stack([fslookup.Look(layer) for layer in layers]).state


def _ref(in_a: Finder, in_b: Finder, offset: int, path: str) -> int:
    """The merged tree's ref for `path`: B's entry, else A's (past B's layers)."""
    info = in_b(path)
    if info is not None:
        return info
    info = in_a(path)
    if info is None or info == NO_INFO:
        return NO_INFO
    return ref(offset + ref_layer(info), ref_entry(info))


class CompareViewModel(TreeViewModel):
    """The explorer's view model showing one tree of the comparison (its changed paths, or
    every path), whatever layer it is asked for."""

    def __init__(self, comparison: Comparison, *, unchanged: bool) -> None:
        self.unchanged = unchanged  # does the tree hold the unchanged paths too?
        self.merged = merged_tree(comparison) if unchanged else changed_tree(comparison)
        super().__init__(self.merged.layers)

    def view(self, layer: int, mode: str) -> FileTree:
        return self.merged

    def has_view(self, layer: int, mode: str) -> bool:
        return True

    def prepare_step(self, layer: int, mode: str) -> bool:
        return False  # the one view is built already
