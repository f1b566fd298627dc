"""The filter bar: Esc closes it (and clears the filter) even while the image is read, Enter
keeps the filter, matches inside collapsed directories are shown."""

from __future__ import annotations

from explorer.core.sources import open_source
from explorer.tui.widgets.filterbar import FilterInput
from explorer.tui.widgets.panes import TreePane

from .conftest import app_for, main_screen, settle, tree_text, wait_for
from .test_worker import SlowSource

SIZE = (120, 40)


def filtering(app) -> bool:
    return main_screen(app).query_one(TreePane).has_class("-filtering")


async def test_escape_in_the_filter_closes_it_and_leaves_the_loading_alone(sample_archive):
    source = SlowSource(open_source(str(sample_archive)))
    app = app_for(sample_archive, opener=lambda: source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, source.started.is_set)
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.file_tree.shown is not None)
        await pilot.press("slash", "b", "i", "n")
        assert isinstance(app.focused, FilterInput) and filtering(app)
        await pilot.press("escape")
        assert screen.indexing and not screen.cancelled  # still reading
        assert not filtering(app)
        assert app.focused is screen.file_tree
        assert screen.file_tree.state.filter == ""
        await pilot.press("escape")  # from the tree, Esc cancels the loading
        await settle(pilot)
        assert screen.cancelled


async def test_enter_keeps_the_filter_and_escape_clears_it(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("slash", *"deb$", "enter")
        await wait_for(pilot, lambda: tree.state.filter == "deb$")
        await settle(pilot)
        assert app.focused is tree and filtering(app)  # the bar shows what filters
        assert "/var/cache/pkg/sample-tool_1.0_amd64.deb" in {r.path for r in tree.rows}
        assert "/bin/app" not in {r.path for r in tree.rows}
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert tree.state.filter == "" and not filtering(app)
        assert "/bin/app" in {r.path for r in tree.rows}


async def test_filter_shows_matches_inside_collapsed_directories(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("tab")
        assert tree.current is not None and tree.current.path == "/bin"
        await pilot.press("space")  # collapse /bin
        await settle(pilot)
        assert "/bin/app" not in {r.path for r in tree.rows}
        await pilot.press("slash", *"app$", "enter")
        await wait_for(pilot, lambda: tree.state.filter == "app$")
        await settle(pilot)
        assert "/bin/app" in {r.path for r in tree.rows}
        assert any(line.endswith("app") for line in tree_text(app))
