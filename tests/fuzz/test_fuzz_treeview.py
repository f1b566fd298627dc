"""Property: the tree view does not depend on where the user has been.

`TreeViewModel` keeps every view it computed, its trees share unchanged subtrees, and what
it works out for display is stored on the shared nodes. A model that has been navigated
(layers in any order, both compare modes, hidden kinds, filters, sort, collapsing, views
worked out ahead in steps and left half done) must show exactly the rows a fresh model shows
for the same state, rows handed out before a change must still show what they showed, and
`Rows.index_of` must find every row it lists.
(What the rows are is pinned by the dive view-model conformance tests.)
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.core import treeview
from explorer.core.treerow import render_row
from explorer.core.treeview import (
    ADDED,
    AGGREGATED,
    LAYER_CHANGES,
    MODIFIED,
    REMOVED,
    SORT_NAME,
    SORT_SIZE,
    UNMODIFIED,
    Rows,
    TreeViewModel,
)
from tests.fuzz import model
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import images
from tests.fuzz.test_fuzz_indexer import index_bytes

FILTERS = ["", "a", "/", "^/[^/]*$", "x|y", ".*"]
KINDS = [ADDED, REMOVED, MODIFIED, UNMODIFIED]

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("layer"), st.integers(0, 9), st.sampled_from([LAYER_CHANGES, AGGREGATED])
        ),
        st.tuples(st.just("hide"), st.sampled_from(KINDS)),
        st.tuples(st.just("filter"), st.sampled_from(FILTERS)),
        st.tuples(st.just("sort"), st.sampled_from([SORT_NAME, SORT_SIZE])),
        st.tuples(st.just("collapse"), st.integers(0, 50)),
        st.tuples(st.just("collapse_all"), st.booleans()),
        st.tuples(
            st.just("prefetch"),
            st.integers(0, 9),
            st.sampled_from([LAYER_CHANGES, AGGREGATED]),
            st.integers(1, 8),
            st.booleans(),  # then shown
        ),
    ),
    min_size=1,
    max_size=12,
)


def shown(vm: TreeViewModel) -> list[tuple[str, str, int, bool]]:
    return listed(vm.rows())


def listed(rows: Rows) -> list[tuple[str, str, int, bool]]:
    out = [(render_row(r), r.path, r.diff, r.collapsed) for r in rows]
    for i, r in enumerate(rows):
        assert rows.index_of(r.path) == i, f"index_of({r.path!r}) is not row {i}"
    return out


@settings(max_examples=examples(ci=300, long=3000))
@given(plan=images(), steps=ops)
def test_navigated_view_equals_fresh_view(plan, steps) -> None:
    # Steps of a view worked out ahead stop after a directory or two (half-done walks).
    slice_, treeview.MEMO_SLICE = treeview.MEMO_SLICE, 1
    try:
        navigate(plan, steps)
    finally:
        treeview.MEMO_SLICE = slice_


def navigate(plan, steps) -> None:
    layers = [index_bytes(t, True) for t in plan.tars]
    navigated = TreeViewModel(layers)
    navigated.set_layer(0)
    with model.alarm(20):
        for step in steps:
            # Rows handed out before a change must still show what they showed (the UI
            # keeps drawing them while a worker computes the new ones).
            untouched = Rows(navigated, navigated.tree)
            expected_before = shown(navigated)
            kind, *args = step
            if kind == "layer":
                navigated.set_layer(args[0] % len(layers), args[1])
            elif kind == "hide":
                navigated.toggle_hidden(args[0])
            elif kind == "filter":
                navigated.set_filter(args[0])
            elif kind == "sort":
                navigated.set_sort(args[0])
            elif kind == "prefetch":
                layer, mode, count, then_shown = args
                for _ in range(count):
                    if not navigated.prepare_step(layer % len(layers), mode):
                        break
                if then_shown:
                    navigated.set_layer(layer % len(layers), mode)
            elif kind == "collapse":
                rows = navigated.rows()
                if len(rows):
                    navigated.toggle_collapse(rows[args[0] % len(rows)])
            else:
                navigated.collapse_all(args[0])
            fresh = TreeViewModel(layers)
            fresh.set_hidden(navigated.hidden)
            fresh.set_filter(navigated.filter.pattern if navigated.filter else "")
            fresh.set_sort(navigated.sort)
            fresh.collapsed = set(navigated.collapsed)
            fresh.set_layer(navigated.layer, navigated.mode)
            assert shown(navigated) == shown(fresh), f"after {step}:\n{plan.describe()}"
            assert listed(untouched) == expected_before, f"old rows after {step}"
