"""The file tree's plain-text rendering reproduces dive's view-model snapshots row for row.

The rows come from `TreeViewModel`, the same code the TUI's tree widget draws; this harness
only adds dive's viewport arithmetic (cursor, page up/down, inclusive window bounds).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.sources import open_source
from explorer.core.tree import ADDED, MODIFIED, REMOVED, UNMODIFIED
from explorer.core.treerow import render_row
from explorer.core.treeview import AGGREGATED, LAYER_CHANGES, TreeViewModel

from ..paths import DIVE_DATA


class DiveViewport:
    """dive's FileTreeViewModel cursor and window state over our rows."""

    def __init__(self, vm: TreeViewModel, height: int, attributes: bool = True) -> None:
        self.vm = vm
        self.ref_height = height
        self.attributes = attributes
        self.lower = 0
        self.tree_index = 0
        self.buffer_index = 0

    def height(self) -> int:
        return self.ref_height - 1 if self.attributes else self.ref_height

    def upper(self) -> int:
        return self.lower + self.height()

    def between(self, start: int, stop: int) -> list[str]:
        rows = self.vm.rows()
        return [render_row(r, self.attributes) for r in rows[max(start, 0) : stop + 1]]

    def render(self) -> str:
        return "".join(line + "\n" for line in self.between(self.lower, self.upper())) + "\n"

    def toggle_collapse(self) -> None:
        row = self.vm.rows()[self.tree_index]
        self.vm.toggle_collapse(row)

    def cursor_down(self) -> None:
        if self.tree_index >= len(self.vm.rows()) - 1:
            return
        self.tree_index += 1
        if self.tree_index > self.upper():
            self.lower += 1
        self.buffer_index = min(self.buffer_index + 1, self.height())

    def cursor_right(self) -> None:
        row = self.vm.rows()[self.tree_index]
        if not row.node.children or not row.mode.startswith("d"):
            return
        if row.path in self.vm.collapsed:
            self.vm.toggle_collapse(row)
        self.cursor_down()

    def page_down(self) -> None:
        next_lower = self.lower + self.height()
        new_lines = len(self.between(next_lower, next_lower + self.height()))
        if self.height() >= new_lines:
            next_lower = self.lower + new_lines
        self.lower = next_lower
        if self.tree_index < next_lower:
            self.buffer_index, self.tree_index = 0, next_lower
        else:
            self.buffer_index -= new_lines

    def page_up(self) -> None:
        next_lower = self.lower - self.height()
        next_upper = next_lower + self.height()
        new_lines = len(self.between(next_lower, next_upper)) - 1
        if self.height() >= new_lines:
            next_lower = self.lower - new_lines
        self.lower = next_lower
        if self.tree_index > next_upper - 1:
            self.buffer_index, self.tree_index = 0, next_lower
        else:
            self.buffer_index += new_lines


@pytest.fixture(scope="module")
def layers():
    _, layers = index_all(open_source(str(DIVE_DATA / "test-docker-image.tar")))
    return layers


def snapshot(name: str) -> str:
    return (DIVE_DATA / "viewmodel-snapshots" / f"{name}.txt").read_text(encoding="utf-8")


def model(layers, layer: int = 0, mode: str = LAYER_CHANGES) -> TreeViewModel:
    vm = TreeViewModel(layers)
    vm.set_layer(layer, mode)
    return vm


def test_go_case(layers):
    assert DiveViewport(model(layers), 1000).render() == snapshot("TestFileTreeGoCase")


def test_no_attributes(layers):
    view = DiveViewport(model(layers), 1000, attributes=False)
    assert view.render() == snapshot("TestFileTreeNoAttributes")


def test_restricted_height(layers):
    view = DiveViewport(model(layers), 20, attributes=False)
    assert view.render() == snapshot("TestFileTreeRestrictedHeight")


def test_dir_collapse(layers):
    view = DiveViewport(model(layers), 100)
    view.toggle_collapse()
    view.cursor_down()
    view.cursor_down()
    view.toggle_collapse()
    assert view.render() == snapshot("TestFileTreeDirCollapse")


def test_dir_collapse_all(layers):
    vm = model(layers)
    vm.collapse_all(True)
    assert DiveViewport(vm, 100).render() == snapshot("TestFileTreeDirCollapseAll")


def test_dir_cursor_right(layers):
    view = DiveViewport(model(layers), 100)
    view.toggle_collapse()
    view.cursor_down()
    view.cursor_down()
    view.toggle_collapse()
    view.cursor_right()
    assert view.render() == snapshot("TestFileTreeDirCursorRight")


def test_select_layer_keeps_collapse(layers):
    vm = model(layers)
    view = DiveViewport(vm, 100)
    view.toggle_collapse()
    vm.set_layer(1, LAYER_CHANGES)
    assert view.render() == snapshot("TestFileTreeSelectLayer")


def test_aggregated_changes(layers):
    vm = model(layers)
    view = DiveViewport(vm, 100)
    view.toggle_collapse()
    vm.set_layer(13, AGGREGATED)
    assert view.render() == snapshot("TestFileShowAggregateChanges")


@pytest.mark.parametrize("pages", [3])
def test_page_down(layers, pages):
    view = DiveViewport(model(layers), 10)
    for _ in range(pages):
        view.page_down()
    assert view.render() == snapshot("TestFileTreePageDown")


def test_page_up(layers):
    view = DiveViewport(model(layers), 10)
    view.page_down()
    view.page_down()
    view.page_up()
    assert view.render() == snapshot("TestFileTreePageUp")


def test_filter(layers):
    vm = model(layers)
    vm.set_filter("network")
    assert DiveViewport(vm, 100).render() == snapshot("TestFileTreeFilterTree")


def test_hide_added_removed_modified(layers):
    vm = model(layers)
    view = DiveViewport(vm, 100)
    view.toggle_collapse()  # dive's test collapses /bin first, as its snapshot shows
    vm.set_layer(7, AGGREGATED)
    vm.set_hidden({ADDED, MODIFIED, REMOVED})
    assert view.render() == snapshot("TestFileTreeHideAddedRemovedModified")


def test_hide_unmodified(layers):
    vm = model(layers, 7, AGGREGATED)
    vm.set_hidden({UNMODIFIED})
    assert DiveViewport(vm, 100).render() == snapshot("TestFileTreeHideUnmodified")


def test_hide_type_with_filter(layers):
    vm = model(layers, 7, AGGREGATED)
    vm.set_hidden({ADDED})
    vm.set_filter("saved")
    assert DiveViewport(vm, 100).render() == snapshot("TestFileTreeHideTypeWithFilter")


def test_every_snapshot_is_covered():
    names = {p.stem for p in (DIVE_DATA / "viewmodel-snapshots").glob("*.txt")}
    tested = {m.group(1) for m in re.finditer(r'snapshot\("(\w+)"\)', Path(__file__).read_text())}
    assert names == tested
