"""Property: the numbers do not depend on how a layer reaches the stack.

A layer without whiteouts goes straight onto the analysis's stack and is walked there
(`tree.stack_entries`, `tree.walk_stamped`); one with whiteouts gets a tree of its own that
is walked and then stacked. Both must give the same records, rows and export order: the
second way, applied to every layer, is the reference (it is dive's algorithm as written, and
what the dive conformance tests pin).

The same holds for our reclaimable accounting: a layer without whiteouts is looked up entry
by entry in the stack below it, the reference walks a tree of the layer beside the stack.
Both must hide the same bytes for the same reasons and leave the same final filesystem, on
sensible images and on hostile layer indexes (a path written twice, a child listed before
its directory, a file with entries below it, a directory replaced by a file).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.core import efficiency, tarscan
from explorer.core import reclaim as reclaim_mod
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import Node
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import images
from tests.fuzz.test_fuzz_indexer import index_bytes


class Visits:
    """What the export sees of each layer: its nodes in order, as (name, info)."""

    def __init__(self) -> None:
        self.layers: list[list[tuple[str, int]]] = []

    def layer(self, n: int, layer: LayerIndex, nodes: list[Node]) -> None:
        self.layers.append([(node.name, node.info) for node in nodes])


def analyse(layers: list[LayerIndex]) -> tuple[efficiency.DiveEfficiency, list]:
    visits = Visits()
    result = efficiency.dive_efficiency(layers, visits)
    return result, visits.layers


@contextmanager
def layer_trees_only() -> Iterator[None]:
    """Every layer through a tree of its own (the reference way)."""
    modules = (efficiency, reclaim_mod)
    originals = [m.has_whiteouts for m in modules]
    for m in modules:
        m.has_whiteouts = lambda _layer: True  # type: ignore[assignment]
    try:
        yield
    finally:
        for m, original in zip(modules, originals, strict=True):
            m.has_whiteouts = original


@settings(max_examples=examples(ci=300, long=3000))
@given(plan=images(max_layers=6))
def test_direct_stacking_equals_layer_trees(plan) -> None:
    layers = [index_bytes(t, True) for t in plan.tars]
    direct, direct_visits = analyse(layers)
    with layer_trees_only():
        reference, reference_visits = analyse(layers)
    where = plan.describe()
    assert direct_visits == reference_visits, where
    assert list(direct.rows) == list(reference.rows), where
    assert (direct.score, direct.wasted_bytes, direct.size_bytes) == (
        reference.score,
        reference.wasted_bytes,
        reference.size_bytes,
    ), where


# -- our reclaimable accounting ---------------------------------------------------------------


def final_tree(tree) -> dict[str, int]:
    """Every path of a stacked tree with its entry (`info`)."""
    out: dict[str, int] = {}
    todo = [(tree.root, "")]
    while todo:
        node, path = todo.pop()
        for name, child in node.children.items():
            out[f"{path}/{name}"] = child.info
            todo.append((child, f"{path}/{name}"))
    return out


def reclaim(layers: list[LayerIndex]) -> tuple[reclaim_mod.Reclaimable, dict[str, int]]:
    builder = reclaim_mod.ReclaimableBuilder()
    for layer in layers:
        builder.add(layer)
    return builder.result(), final_tree(builder.stacked)


def assert_reclaim_same_both_ways(layers: list[LayerIndex], where: str) -> None:
    direct, direct_final = reclaim(layers)
    with layer_trees_only():
        reference, reference_final = reclaim(layers)
    assert list(direct.rows) == list(reference.rows), where
    assert direct.total == reference.total, where
    assert direct_final == reference_final, where


@settings(max_examples=examples(ci=300, long=3000))
@given(plan=images(max_layers=6))
def test_reclaimable_from_entries_equals_layer_trees(plan) -> None:
    layers = [index_bytes(t, True) for t in plan.tars]
    assert_reclaim_same_both_ways(layers, plan.describe())


NAMES = ["a", "b", "c"]
KINDS = [tarscan.REG] * 3 + [tarscan.DIR] * 3 + [tarscan.SYMLINK, tarscan.HARDLINK]


@st.composite
def hostile_layer(draw) -> LayerIndex:
    """Entries in any order over a few names: paths written twice (one a directory, one a
    file), children before their directory, entries below a file, now and then whiteouts
    and opaque markers."""
    index = LayerIndex()
    for _ in range(draw(st.integers(0, 10))):
        parts = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
        kind = draw(st.sampled_from(KINDS))
        special = draw(st.sampled_from(["none"] * 8 + ["whiteout", "opaque"]))
        if special == "whiteout":
            parts[-1] = WHITEOUT_PREFIX + parts[-1]
            kind = tarscan.REG
        elif special == "opaque":
            parts.append(OPAQUE_MARKER)
            kind = tarscan.REG
        path = "/".join(parts)
        if special != "none":
            index.whiteouts += 1
        if kind == tarscan.HARDLINK:
            target = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
            index.links[len(index.paths)] = "/".join(target)
        index.paths.append(path)
        index.types.append(kind)
        index.sizes.append(draw(st.sampled_from([0, 1, 10, 100])) if kind == tarscan.REG else 0)
        for column in (index.modes, index.uids, index.gids, index.mtimes, index.offsets):
            column.append(0)
        index.hashes.append(draw(st.integers(0, 3)))
    return index


@settings(max_examples=examples(ci=500, long=5000))
@given(layers=st.lists(hostile_layer(), min_size=1, max_size=5))
def test_reclaimable_from_entries_equals_layer_trees_on_hostile_indexes(layers) -> None:
    where = "\n".join(
        f"layer {n}: {list(zip(x.paths, x.types, strict=True))}" for n, x in enumerate(layers)
    )
    assert_reclaim_same_both_ways(layers, where)
