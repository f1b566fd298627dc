"""Trees from layer indexes: building them costs what the paths hold, not the square of a
path's depth (a deep path used to keep a string for each of its prefixes)."""

from __future__ import annotations

import io
import tracemalloc

from explorer.core.layerindex import index_layer
from explorer.core.tree import (
    DIFF_KINDS,
    DIFF_NAMES,
    NO_INFO,
    FileTree,
    layer_tree,
    ref,
    ref_entry,
    ref_layer,
    stack,
    stack_entries,
)
from tests.robustness import builders as b

# 2,000 levels of 8 bytes: a 16,000-byte path. Its prefixes would hold 16 MB.
DEEP = "/".join(["aaaaaaa"] * 2000)


def deep_layers(*paths: str):
    return [index_layer(io.BytesIO(b.tar_bytes([b.file(p, b"x") for p in paths])), "test")]


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def depth_of(tree: FileTree, path: str) -> int:
    node, depth = tree.root, 0
    for name in path.split("/"):
        node = node.children[name]
        depth += 1
    return depth


def test_a_deep_path_builds_its_layer_tree_in_linear_memory():
    layers = deep_layers(DEEP, DEEP + "/b/c")
    trees: list[FileTree] = []
    assert peak(lambda: trees.append(layer_tree(layers, 0))) < 2 << 20
    tree = trees[0]
    assert depth_of(tree, DEEP + "/b/c") == 2002
    assert tree.get(DEEP).info == ref(0, 0)
    assert tree.get(DEEP + "/b").info == NO_INFO  # implicit
    assert tree.get(DEEP + "/b/c").info == ref(0, 1)


def test_a_deep_path_stacks_in_linear_memory():
    layers = deep_layers(DEEP + "/b", DEEP + "/c")
    tree = FileTree(layers)
    assert peak(lambda: stack_entries(tree, 0, stamp=1)) < 2 << 20
    assert tree.get(DEEP + "/c").info == ref(0, 1)
    assert tree.get(DEEP).info == NO_INFO


def test_implicit_directories_holding_only_whiteouts_are_not_created():
    """OCI stacking: a directory that only whites things out is not made (each level used
    to walk everything below it: a deep path cost the square of its depth)."""
    layers = deep_layers(DEEP + "/.wh.gone", "d/e/f")
    tree = FileTree(layers)
    stack(tree, layer_tree(layers, 0), correct=True)
    assert sorted(tree.root.children) == ["d"]
    assert tree.get("d/e/f").info == ref(0, 1)


def test_diff_vocabulary_and_refs():
    assert DIFF_NAMES == {2: "added", 3: "removed", 1: "modified", 0: "unmodified"}
    assert list(DIFF_KINDS) == ["added", "removed", "modified", "unmodified"]  # dive's order
    info = ref(7, 123456)
    assert (ref_layer(info), ref_entry(info)) == (7, 123456)
