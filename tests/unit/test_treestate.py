"""`TreeState`: the file tree's queue of presentation changes, its versions, its cache of
views and its prefetch, driven the way the UI and its workers drive it (the computations on
real layer indexes built from tars made here)."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from explorer.core import treeview
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.treerow import render_row
from explorer.core.treeview import (
    ADDED,
    LAYER_CHANGES,
    MODIFIED,
    REMOVED,
    SORT_SIZE,
    UNMODIFIED,
    TreeViewModel,
)
from explorer.tui import treestate
from explorer.tui.messages import ViewReady
from explorer.tui.treestate import TreeState, short_switches
from tests.robustness.builders import directory, file, tar_bytes, whiteout

LAYERS = [
    [directory("etc"), file("etc/a", b"1"), file("etc/b", b"22"), file("usr/x", b"333")],
    [directory("etc"), file("etc/a", b"one"), file("etc/c", b"4444"), whiteout("usr/x")],
    [file("d", b"55555")],
    [directory("etc"), file("etc/b", b"22", mode=0o600)],
]


def indexes() -> list[LayerIndex]:
    return [
        index_layer(io.BytesIO(tar_bytes(entries)), f"layer {n}")
        for n, entries in enumerate(LAYERS)
    ]


def loaded(layers: list[LayerIndex] | None = None) -> TreeState:
    layers = indexes() if layers is None else layers
    state = TreeState()
    state.reset(len(layers))
    for n, index in enumerate(layers):
        state.add_layer(n, index)
    return state


def model_of(state: TreeState) -> TreeViewModel:
    model = state._model
    assert model is not None
    return model


def paths(view: ViewReady | None) -> dict[str, int]:
    assert view is not None
    return {row.path: row.diff for row in view.rows}


def test_compute_shows_the_wanted_layer_marked_against_those_below() -> None:
    state = loaded()
    state.show(1)
    view = state.compute()
    assert view is not None and (view.layer, view.mode) == (1, LAYER_CHANGES)
    shown = paths(view)
    assert shown["/etc/c"] == ADDED
    assert shown["/usr/x"] == REMOVED


def test_nothing_is_computed_until_the_layers_below_are_indexed() -> None:
    layers = indexes()
    state = TreeState()
    state.reset(len(layers))
    state.add_layer(1, layers[1])
    state.add_layer(2, layers[2])
    state.show(2)
    assert not state.ready()
    assert state.compute() is None
    state.add_layer(0, layers[0])
    assert state.ready()
    assert paths(state.compute())["/d"] == ADDED


def test_changes_are_applied_in_the_order_they_were_made() -> None:
    state = loaded()
    state.show(1)
    state.toggle_kind(ADDED)
    state.set_filter("etc")
    state.toggle_kind(ADDED)  # shown again: only the order of the two toggles says so
    assert state.version == 3
    shown = paths(state.compute())
    assert set(shown) == {"/etc", "/etc/a", "/etc/b", "/etc/c"}
    assert shown["/etc/c"] == ADDED
    assert not state._ops


def test_a_change_made_during_a_computation_is_in_the_view_it_reports() -> None:
    """A key pressed while the rows are computed is never lost: the same run applies it
    and computes again before it reports."""
    state = loaded()
    model = model_of(state)
    rows = model.rows
    calls = []

    def rows_then_a_key():
        calls.append(1)
        if len(calls) == 1:
            state.set_filter("usr")
        return rows()

    model.rows = rows_then_a_key  # type: ignore[method-assign]
    view = state.compute()
    assert len(calls) == 2
    assert set(paths(view)) == {"/usr", "/usr/x"}
    assert state.cached() is view  # remembered as the view of the latest version


def test_a_layer_chosen_during_a_computation_is_the_one_reported() -> None:
    state = loaded()
    model = model_of(state)
    rows = model.rows
    calls = []

    def rows_then_down():
        calls.append(1)
        if len(calls) == 1:
            state.show(2)
        return rows()

    model.rows = rows_then_down  # type: ignore[method-assign]
    view = state.compute()
    assert view is not None and view.layer == 2


def test_a_second_worker_never_reports_older_rows_than_the_first() -> None:
    """Worker A computes; a change comes, and worker B is started for it and waits for A.
    A applies the change before it reports; B then has nothing new to report."""
    state = loaded()
    model = model_of(state)
    rows = model.rows
    computing, release = threading.Event(), threading.Event()

    def slow_rows():
        if not computing.is_set():
            computing.set()
            assert release.wait(10)
        return rows()

    model.rows = slow_rows  # type: ignore[method-assign]
    results: dict[str, ViewReady | None] = {}

    def run(name: str) -> None:
        results[name] = state.compute()

    a = threading.Thread(target=run, args=("a",))
    a.start()
    assert computing.wait(10)
    state.set_filter("etc/b")
    b = threading.Thread(target=run, args=("b",))
    b.start()
    assert state._wanted.wait(10)  # B asks for the lock (the prefetch would give way)
    release.set()
    a.join(10)
    b.join(10)
    assert set(paths(results["a"])) == {"/etc", "/etc/b"}
    assert results["b"] is None


def test_a_view_is_reported_once() -> None:
    state = loaded()
    assert state.compute() is not None
    assert state.compute() is None  # another worker already reported it


def test_views_of_the_current_version_are_cached() -> None:
    state = loaded()
    state.show(1)
    first = state.compute()
    state.show(2)
    second = state.compute()
    state.show(1)
    assert state.cached() is first
    state.keep_path = "/etc/c"
    assert state.compute() is first  # reported again, from the cache
    assert first is not None and first.rows[first.cursor].path == "/etc/c"
    state.show(2)
    assert state.cached() is second


def test_a_change_makes_every_cached_view_stale() -> None:
    state = loaded()
    state.show(1)
    old = state.compute()
    state.show(2)
    state.compute()
    state.toggle_sort()
    assert state.cached() is None
    new = state.compute()
    assert new is not None and new is not old and new.layer == 2
    assert state.cached() is new
    state.show(1)
    assert state.cached() is None  # computed at the old version: dropped
    assert set(state._cache) == {(2, LAYER_CHANGES, state.version)}


def test_hiding_unmodified_hides_unmodified_entries() -> None:
    state = loaded()
    state.show(3)
    assert paths(state.compute())["/etc/a"] == UNMODIFIED
    state.toggle_kind(UNMODIFIED)
    shown = paths(state.compute())
    assert "/etc/a" not in shown and "/d" not in shown
    assert model_of(state).hidden == {UNMODIFIED}


# -- the prefetch ------------------------------------------------------------------------------


def prefetched(state: TreeState) -> list[int]:
    """Run the prefetch to its end; the layers of its steps, in order."""
    model = model_of(state)
    step = model.prepare_step
    layers: list[int] = []

    def recorded(layer: int, mode: str) -> bool:
        worked = step(layer, mode)
        if worked:
            layers.append(layer)
        return worked

    model.prepare_step = recorded  # type: ignore[method-assign]
    while state.prefetch():
        pass
    model.prepare_step = step  # type: ignore[method-assign]
    return layers


def test_prefetch_works_out_the_layers_below_the_wanted_one_then_those_above() -> None:
    state = loaded()
    state.show(1)
    state.compute()
    order = prefetched(state)
    assert list(dict.fromkeys(order)) == [2, 3, 0]
    assert order.count(3) > 1  # in steps: the trees it starts from, its own, its rows
    model = model_of(state)
    assert {n for n, _mode in model._views} == {0, 1, 2, 3}
    assert not any(model.prepare_step(n, LAYER_CHANGES) for n in range(4))  # all done
    built = dict(model._views)
    state.show(3)
    assert paths(state.compute())["/etc/b"] == MODIFIED  # a chmod
    assert model._views == built  # the prefetched view was shown, none built


def drawn(rows) -> list[tuple[str, str, int]]:
    return [(render_row(row), row.path, row.diff) for row in rows]


def test_prefetch_works_out_each_view_once() -> None:
    """A presentation change leaves the views already worked out as they are (their rows
    are worked out when they are shown)."""
    state = loaded()
    state.compute()
    assert prefetched(state)
    state.toggle_sort()
    state.compute()
    assert prefetched(state) == []


def test_a_view_half_worked_out_is_finished_for_the_new_presentation(monkeypatch) -> None:
    monkeypatch.setattr(treeview, "MEMO_SLICE", 1)  # a step per directory
    state = loaded()
    state.compute()
    while state._preparing != (1, LAYER_CHANGES) or not model_of(state).has_view(1, "layer"):
        assert state.prefetch()
    state.toggle_sort()
    state.compute()
    assert prefetched(state)[:1] == [1]
    state.show(1)
    rows = state.compute()
    fresh = TreeViewModel(indexes())
    fresh.set_sort(SORT_SIZE)
    fresh.set_layer(1)
    assert rows is not None and drawn(rows.rows) == drawn(fresh.rows())


def test_prefetch_waits_for_the_first_view() -> None:
    state = loaded()
    assert not state.prefetch()
    assert not model_of(state)._views


@pytest.mark.parametrize("busy", ["a change is queued", "a view is wanted", "a worker computes"])
def test_prefetch_gives_way(busy: str) -> None:
    state = loaded()
    state.compute()
    if busy == "a change is queued":
        state.toggle_sort()
    elif busy == "a view is wanted":
        state._wanted.set()
    else:
        assert state._lock.acquire(blocking=False)
    views = dict(model_of(state)._views)
    assert not state.prefetch()
    assert model_of(state)._views == views


def test_prefetch_stops_for_another_layer_until_it_is_shown() -> None:
    state = loaded()
    state.compute()
    state.show(2)  # wanted, not computed yet: the prefetch would work for the old layer
    assert not state.prefetch()


def test_the_interpreter_switches_quickly_only_while_a_prefetch_step_runs() -> None:
    state = loaded()
    state.compute()
    model = model_of(state)
    step = model.prepare_step
    seen: list[float] = []

    def recorded(layer: int, mode: str) -> bool:
        seen.append(sys.getswitchinterval())
        return step(layer, mode)

    model.prepare_step = recorded  # type: ignore[method-assign]
    before = sys.getswitchinterval()
    assert state.prefetch()
    assert seen == [treestate.SWITCH_INTERVAL]
    assert sys.getswitchinterval() == before


def test_overlapping_prefetch_steps_restore_the_switch_interval_once_all_end() -> None:
    before = sys.getswitchinterval()
    with short_switches():
        with short_switches():
            assert sys.getswitchinterval() == treestate.SWITCH_INTERVAL
        assert sys.getswitchinterval() == treestate.SWITCH_INTERVAL
    assert sys.getswitchinterval() == before


class Pauses(threading.Event):
    """The prefetch's "wanted" event, recording the pauses instead of waiting them out."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        return self.is_set()


@pytest.mark.parametrize("shared", [True, False])
def test_prefetch_pauses_after_a_step_that_shared_the_interpreter(monkeypatch, shared) -> None:
    state = loaded()
    state.compute()
    state._wanted = pauses = Pauses()
    if shared:  # the step's thread got no processor time at all: it waited throughout
        monkeypatch.setattr(treestate.time, "thread_time", lambda: 0.0)
    else:
        monkeypatch.setattr(treestate.time, "thread_time", treestate.time.perf_counter)
    assert state.prefetch()
    assert pauses.pauses == ([treestate.PAUSE] if shared else [])
