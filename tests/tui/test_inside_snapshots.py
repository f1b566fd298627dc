"""SVG snapshots of the views inside an image: the viewer (text, hex, diff), a path's
history and find, at 80x24. Deterministic: an image built in the test, a frozen clock, every
worker waited for."""

from __future__ import annotations

import pytest

from explorer.tui.screens.find import FindScreen
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.viewer import ViewerScreen

from .conftest import app_for, main_screen, screen_text, settle, wait_for
from .inside_image import inside_image

SIZE = (80, 24)


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside_image(tmp_path)
    return "inside.tar"


def busy(app) -> bool:
    """Is a worker of the view still reading, searching or colouring?"""
    return any(not w.is_finished and w.group.startswith(("viewer", "default")) for w in app.workers)


def at_path(path: str, *keys: str, layer: int = 2):
    async def run(pilot) -> None:
        app = pilot.app
        await settle(pilot)
        main = main_screen(app)
        main.layer_list.select_layer(layer)
        await pilot.press("tab")
        tree = main.file_tree
        await wait_for(pilot, lambda: any(r.path == path for r in tree.rows) and not tree.stale)
        tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == path))
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await wait_for(pilot, lambda: not isinstance(app.screen, type(main)))
        await wait_for(pilot, lambda: not busy(app))
        await wait_for(pilot, lambda: "…" not in screen_text(app))
        await pilot.pause()

    return run


def test_viewer_text(snap_compare, archive):
    async def run(pilot) -> None:
        await at_path("/app/main.py", "enter")(pilot)
        view = pilot.app.screen.view
        await wait_for(pilot, lambda: view.language == "python")  # coloured

    assert snap_compare(app_for(archive), terminal_size=SIZE, run_before=run)


def test_viewer_hex(snap_compare, archive):
    run = at_path("/app/blob.bin", "enter")
    assert snap_compare(app_for(archive), terminal_size=SIZE, run_before=run)


def test_viewer_diff(snap_compare, archive):
    async def run(pilot) -> None:
        await at_path("/app/main.py", "enter")(pilot)
        assert isinstance(pilot.app.screen, ViewerScreen)
        await pilot.press("d")
        await wait_for(pilot, lambda: "@@" in screen_text(pilot.app))

    assert snap_compare(app_for(archive), terminal_size=SIZE, run_before=run)


def test_history_view(snap_compare, archive):
    async def run(pilot) -> None:
        await at_path("/app/main.py", "i")(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(pilot, lambda: screen.results.count == 2)

    assert snap_compare(app_for(archive), terminal_size=SIZE, run_before=run)


def test_find_view(snap_compare, archive):
    async def run(pilot) -> None:
        await settle(pilot)
        await pilot.press("f", *"*.log")
        screen = pilot.app.screen
        assert isinstance(screen, FindScreen)
        await wait_for(pilot, lambda: screen.results.count == 2)
        await pilot.press("down")  # the matches, not the box with its blinking cursor
        await pilot.pause()

    assert snap_compare(app_for(archive), terminal_size=SIZE, run_before=run)
