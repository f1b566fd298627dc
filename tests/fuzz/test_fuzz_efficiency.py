"""Property: dive's numbers do not depend on how a layer reaches the stack.

A layer without whiteouts goes straight onto the analysis's stack and is walked there
(`tree.stack_entries`, `tree.walk_stamped`); one with whiteouts gets a tree of its own that
is walked and then stacked. Both must give the same records, rows and export order: the
second way, applied to every layer, is the reference (it is dive's algorithm as written, and
what the dive conformance tests pin).
"""

from __future__ import annotations

from hypothesis import given, settings

from explorer.core import efficiency
from explorer.core.layerindex import LayerIndex
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


@settings(max_examples=examples(ci=300, long=3000))
@given(plan=images(max_layers=6))
def test_direct_stacking_equals_layer_trees(plan) -> None:
    layers = [index_bytes(t, True) for t in plan.tars]
    direct, direct_visits = analyse(layers)
    original = efficiency.has_whiteouts
    efficiency.has_whiteouts = lambda _layer: True  # every layer through a tree of its own
    try:
        reference, reference_visits = analyse(layers)
    finally:
        efficiency.has_whiteouts = original
    where = plan.describe()
    assert direct_visits == reference_visits, where
    assert list(direct.rows) == list(reference.rows), where
    assert (direct.score, direct.wasted_bytes, direct.size_bytes) == (
        reference.score,
        reference.wasted_bytes,
        reference.size_bytes,
    ), where
