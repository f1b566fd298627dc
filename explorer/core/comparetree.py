"""The compare screen's tree: both final filesystems in one tree, each path marked added,
removed, modified or unmodified from A to B, shown by the explorer's own view model (the
same rows, keys, filter, collapsing, sorting and hiding of diff kinds).

The tree's nodes point into B's layers followed by A's (`layers`): a path B has points at
B's entry, a removed one at A's.
"""

from __future__ import annotations

from explorer.core.compare import Comparison
from explorer.core.fsdiff import MODIFIED as MODIFIED_STATUS
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


class CompareViewModel(TreeViewModel):
    """The explorer's view model showing the merged tree, whatever layer it is asked for."""

    def __init__(self, comparison: Comparison) -> None:
        self.merged = merged_tree(comparison)
        super().__init__(self.merged.layers)

    def view(self, layer: int, mode: str) -> FileTree:
        return self.merged

    def has_view(self, layer: int, mode: str) -> bool:
        return True

    def prepare_step(self, layer: int, mode: str) -> bool:
        return False  # the one view is built already
