"""The file tree pane: filter, diff-kind toggles, attributes, sort, collapse."""

from __future__ import annotations

from explorer.core.treeview import ADDED, REMOVED, SORT_SIZE
from explorer.tui.widgets.filterbar import FilterBar, FilterInput

from .conftest import app_for, main_screen, screen_text, settle, tree_text, wait_for

SIZE = (120, 40)


async def test_filter_updates_live_and_stays_across_layers(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("ctrl+f")
        assert isinstance(app.focused, FilterInput)
        await pilot.press(*"passwd$")
        await wait_for(pilot, lambda: tree.state.filter == "passwd$")
        await settle(pilot)
        assert [r.path for r in tree.rows] == ["/etc", "/etc/passwd"]
        assert "filter /passwd$/" in screen_text(app)
        await pilot.press("enter")
        assert app.focused is tree
        await pilot.press("tab", "down")  # to the layers, next layer: the filter stays
        await settle(pilot)
        assert [r.path for r in tree.rows] == ["/etc", "/etc/passwd"]


async def test_slash_opens_the_filter_too(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput)


async def test_bad_regex_shows_an_error_and_keeps_the_tree(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        before = tree.rows
        await pilot.press("ctrl+f", *"etc/(")
        await wait_for(pilot, lambda: main_screen(app).query_one(FilterBar).has_class("-invalid"))
        await settle(pilot)
        bar = main_screen(app).query_one(FilterBar)
        assert bar.has_class("-invalid")
        text = screen_text(app)
        assert "bad regex: missing ), unterminated subpattern" in text
        assert tree.rows is before  # nothing applied
        await pilot.press("backspace")
        await wait_for(pilot, lambda: tree.state.filter == "etc/")
        await settle(pilot)
        assert not bar.has_class("-invalid")
        assert "bad regex" not in screen_text(app)
        assert all(r.path.startswith("/etc") for r in tree.rows)


async def test_escape_leaves_the_filter_and_empty_filter_clears(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        count = tree.count
        await pilot.press("ctrl+f", "x")
        await wait_for(pilot, lambda: tree.state.filter == "x")
        await settle(pilot)
        await pilot.press("backspace")
        await wait_for(pilot, lambda: tree.state.filter == "")
        await settle(pilot)
        await pilot.press("escape")
        assert app.focused is tree
        assert tree.count == count


async def test_diff_kind_toggles(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        tree = screen.file_tree
        await pilot.press("end", "tab")  # layer 3: removes, modifies; unmodified around
        await settle(pilot)
        kinds = {r.diff for r in tree.rows}
        assert REMOVED in kinds
        await pilot.press("ctrl+u")  # hide unmodified: only changes (and their dirs) remain
        await settle(pilot)
        assert "/home" not in {r.path for r in tree.rows}
        assert "hiding unmodified" in screen_text(app)
        await pilot.press("ctrl+r")  # hide removed too
        await settle(pilot)
        assert REMOVED not in {r.diff for r in tree.rows}
        assert "/var/cache/pkg" not in {r.path for r in tree.rows}
        await pilot.press("ctrl+n")  # and modified: nothing left in layer 3
        await settle(pilot)
        assert len(tree.rows) == 0
        assert "nothing to show" in "\n".join(tree_text(app))
        await pilot.press("ctrl+n", "ctrl+r", "ctrl+u")  # all back
        await settle(pilot)
        assert "/home" in {r.path for r in tree.rows}


async def test_added_toggle_in_tree_vs_aggregated_in_layers(sample_archive):
    """Ctrl+A is "aggregated" in the layer pane and "added" in the tree pane, as in dive."""
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("down", "tab")  # layer 1 adds files
        await settle(pilot)
        assert ADDED in {r.diff for r in tree.rows}
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert ADDED not in {r.diff for r in tree.rows}
        assert tree.state.mode == "layer"


async def test_attributes_toggle(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        assert "drwxr-xr-x" in tree_text(app)[0]
        assert "Permission" in screen_text(app)
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert tree_text(app)[0] == "├── bin"
        assert "Permission" not in screen_text(app)


async def test_special_permission_bits_and_links(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        lines = "\n".join(tree_text(app))
        assert "-rwsr-xr-x" in lines  # setuid
        assert "drwxrwxrwt" in lines  # sticky /tmp
        assert "tool → ../local/bi…" in lines  # cut to the pane's width
        await pilot.press("tab", *["down"] * 18)
        await pilot.pause()
        assert main_screen(app).file_tree.current.path == "/usr/bin/tool"
        assert "/usr/bin/tool → ../local/bin/tool  0 bytes · added" in screen_text(app)


async def test_sort_by_size_and_it_stays_across_layers(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("tab")
        top = [r.name for r in tree.rows if r.depth == 0]
        assert top == sorted(top)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert tree.state.sort == SORT_SIZE
        top = [r for r in tree.rows if r.depth == 0]
        assert top[0].name == "var"  # the package cache is the biggest thing in layer 0
        assert [r.size for r in top] == sorted((r.size for r in top), reverse=True)
        assert "by size" in screen_text(app)
        await pilot.press("tab", "down")
        await settle(pilot)
        top = [r for r in tree.rows if r.depth == 0]
        assert [r.size for r in top] == sorted((r.size for r in top), reverse=True)


async def test_collapse_and_expand(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("tab")
        full = tree.count
        assert tree.current.path == "/bin"
        await pilot.press("space")  # collapse /bin
        await settle(pilot)
        assert tree.count == full - 2
        assert tree.current.path == "/bin" and tree.current.collapsed
        assert tree_text(app)[0].endswith("├─⊕ bin")
        await pilot.press("l")  # right on a collapsed dir opens it and steps in
        await settle(pilot)
        assert tree.count == full
        assert tree.current.path == "/bin/app"
        await pilot.press("ctrl+space")  # collapse everything
        await settle(pilot)
        assert all(r.depth == 0 for r in tree.rows)
        await pilot.press("ctrl+space")  # and expand it all again
        await settle(pilot)
        assert tree.count == full


async def test_double_click_toggles_a_directory(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        full = tree.count
        await pilot.double_click(tree, offset=(40, 0))
        await settle(pilot)
        assert tree.count == full - 2
