"""The history and find views over the explorer (Pilot): opened by one key, lists that come
from a worker, Enter goes to the layer and path in the tree, Esc comes back."""

from __future__ import annotations

from explorer.tui.screens.find import FindScreen
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.main import MainScreen

from .conftest import app_for, main_screen, screen_text, settle, wait_for


async def put_tree_cursor(pilot, path: str) -> None:
    tree = main_screen(pilot.app).file_tree
    await wait_for(pilot, lambda: any(row.path == path for row in tree.rows))
    tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == path))
    await pilot.pause()


async def test_history_of_the_selected_path(sample_archive) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        await put_tree_cursor(pilot, "/etc/motd")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.results.count == 2)
        text = screen_text(app)
        assert "History of /etc/motd" in text
        assert "added" in text and "modified" in text and "content" in text
        assert screen.results.cursor == 1  # the version the final image shows
        await pilot.press("up", "enter")  # layer 0's version: back in the tree there
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        main = main_screen(app)
        await wait_for(
            pilot, lambda: main.file_tree.shown is not None and main.file_tree.shown[0] == 0
        )
        await wait_for(pilot, lambda: main.file_tree.current.path == "/etc/motd")
        assert main.layer_list.selected_layer == 0 and main.file_tree.has_focus


async def test_history_of_a_deleted_file_and_escape(sample_archive) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        main.layer_list.select_layer(3)
        await pilot.press("tab")
        await put_tree_cursor(pilot, "/tmp/build.log")  # a removed row of layer 3
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_for(pilot, lambda: app.screen.results.count == 2)
        assert "whiteout" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert main.layer_list.selected_layer == 3


async def test_find_as_typed_and_go_there(sample_archive) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FindScreen))
        screen = app.screen
        await pilot.press(*"*.log")
        await wait_for(pilot, lambda: screen.results.count == 2)
        text = screen_text(app)
        assert "/tmp/build.log" in text and "removed" in text and "2 matches" in text
        await pilot.press("down", "enter")  # the matches, then the first: layer 1 added it
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        main = main_screen(app)
        await wait_for(pilot, lambda: main.file_tree.current.path == "/tmp/build.log")
        assert main.layer_list.selected_layer == 1
        # The last search is offered again; a regex toggled with Ctrl+R.
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FindScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.results.count == 2)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.results.count == 0 and "regex" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_find_reports_a_bad_regex(sample_archive) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f", "ctrl+r", "(")
        await wait_for(pilot, lambda: "not a regular expression" in screen_text(app))


async def test_copy_path(sample_archive) -> None:
    app = app_for(sample_archive)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        await put_tree_cursor(pilot, "/etc/passwd")
        await pilot.press("y")
        assert copied == ["/etc/passwd"]


async def test_going_to_a_path_opens_the_collapsed_directories_above_it(sample_archive) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        main.layer_list.select_layer(1)
        await pilot.press("tab")
        await put_tree_cursor(pilot, "/tmp")
        await pilot.press("space")  # /tmp collapsed: build.log is not a row
        tree = main.file_tree
        await wait_for(pilot, lambda: not tree.stale and not any(
            row.path == "/tmp/build.log" for row in tree.rows))  # fmt: skip
        await pilot.press("f", *"build.log")
        await wait_for(
            pilot, lambda: isinstance(app.screen, FindScreen) and app.screen.results.count == 2
        )
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(
            pilot, lambda: tree.current is not None and tree.current.path == "/tmp/build.log"
        )


async def test_enter_before_the_search_runs_it_and_goes_to_the_matches(
    sample_archive, monkeypatch
) -> None:
    """Enter typed before the search (which waits for the typing to pause): the search runs
    at once and the focus goes to its matches; Enter after changing the pattern goes to the
    new matches, never to the old ones still shown."""
    from explorer.tui.screens import find

    monkeypatch.setattr(find, "DEBOUNCE", 60.0)  # the typing never pauses long enough
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FindScreen))
        screen = app.screen
        await pilot.press(*"*.log", "enter")
        await wait_for(pilot, lambda: screen.results.has_focus)
        assert screen.results.count == 2 and screen.results.current.path == "/tmp/build.log"
        await pilot.press("slash", "ctrl+u", *"motd", "enter")
        await wait_for(pilot, lambda: screen.results.has_focus)
        assert {row.path for row in screen.results.rows} == {"/etc/motd"}
        await pilot.press("slash", "ctrl+u", *"nothing-is-called-this", "enter")
        await wait_for(pilot, lambda: "No entry of any layer matches." in screen_text(app))
        assert screen.query_one(find.FindInput).has_focus
