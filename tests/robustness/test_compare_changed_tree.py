"""The compare screen's first tree (the changed paths and the directories above them) is the
full merged tree cut down to those paths — the same refs and marks — whether the comparison
looked the changes up in the layers or walked both final trees; random image pairs
(tests/robustness/compare_pairs.py)."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest

from explorer.core import cachesettings
from explorer.core.compare import compare, load_pair
from explorer.core.comparetree import changed_tree, merged_tree
from explorer.core.fsdiff import diff_layers
from explorer.core.sources import open_source
from explorer.core.tree import Node
from tests.robustness import compare_pairs as cp


def nodes(root: Node) -> dict[str, tuple[int, int]]:
    """path -> (info, diff) of every node below `root`."""
    out: dict[str, tuple[int, int]] = {}
    todo = [("", root)]
    while todo:
        path, node = todo.pop()
        for name, child in node.children.items():
            out[f"{path}/{name}"] = (child.info, child.diff)
            todo.append((f"{path}/{name}", child))
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scenario", sorted(cp.SCENARIOS))
def test_changed_tree_is_the_merged_tree_cut_down(tmp_path: Path, scenario: str, seed: int):
    a_layers, b_layers = cp.pair(scenario, seed)
    path_a = cp.archive(tmp_path / "a.tar", a_layers)
    path_b = cp.archive(tmp_path / "b.tar", b_layers)
    with cachesettings.configured(root=tmp_path / "cache"):
        a, b = load_pair(
            partial(open_source, str(path_a), None, None),
            partial(open_source, str(path_b), None, None),
            lambda _side, _event: None,
            threading.Event(),
        )
    cmp = compare(a, b)
    assert cmp.changes, f"{scenario}/{seed}: no change to show"
    every = nodes(merged_tree(cmp).root)
    wanted = {c.path for c in cmp.changes}
    wanted |= {p[:i] for p in wanted for i in range(1, len(p)) if p[i] == "/"}
    for lookups in (True, False):
        cmp.files = diff_layers(a.layers, b.layers, cmp.diverges_at, lookups=lookups)
        got = nodes(changed_tree(cmp).root)
        assert got == {p: every[p] for p in wanted}, f"{scenario}/{seed} lookups={lookups}"
