"""The file viewer (Pilot): text with line numbers, hex, search, versions, diff, wrap; opened
from the tree (removed rows too) and from the history; hostile content shown literally."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.main import MainScreen
from explorer.tui.screens.viewer import ViewerScreen

from .conftest import app_for, main_screen, screen_text, settle, wait_for
from .inside_image import inside_image


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return inside_image(tmp_path)


async def open_viewer(pilot, path: str, layer: int | None = None) -> ViewerScreen:
    app = pilot.app
    await settle(pilot)
    main = main_screen(app)
    if layer is not None:
        main.layer_list.select_layer(layer)
    await pilot.press("tab")
    tree = main.file_tree
    await wait_for(pilot, lambda: any(row.path == path for row in tree.rows) and not tree.stale)
    tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == path))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ViewerScreen))
    return app.screen


async def text_shown(pilot, viewer: ViewerScreen) -> None:
    await wait_for(pilot, lambda: viewer.view.text is not None and viewer.view.text.complete)
    await wait_for(pilot, lambda: "…" not in screen_text(pilot.app).split("\n", 3)[2])


async def test_text_with_line_numbers_versions_and_diff(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/app/main.py", layer=2)
        await text_shown(pilot, viewer)
        text = screen_text(app)
        assert "/app/main.py  ·  layer 1  ·  version 2 of 2" in text
        assert " 1 │ #!/usr/bin/env python3" in text and 'print("hello, world")' in text
        assert "python" in text  # the language, from the #! line and the name
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "version 1 of 2" in screen_text(app))
        await text_shown(pilot, viewer)
        assert 'print("hello")' in screen_text(app)
        await pilot.press("left_square_bracket")  # there is no older one
        await pilot.press("right_square_bracket", "d")
        await wait_for(pilot, lambda: "@@" in screen_text(app))
        text = screen_text(app)
        assert "--- layer 0: /app/main.py" in text and "+++ layer 1: /app/main.py" in text
        assert '-    print("hello")' in text and '+    print("hello, world")' in text
        await pilot.press("d")  # back to the content
        await wait_for(pilot, lambda: " 1 │ #!/usr/bin/env" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_binary_as_hex_and_text_as_hex(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/app/blob.bin")
        await wait_for(pilot, lambda: "00000010  10 11 12" in screen_text(app))
        assert "00000040  40 41 42 43" in screen_text(app) and "@ABCDEFGHIJKLMNO" in screen_text(
            app
        )
        assert viewer.view.hex is not None
        await pilot.press("x")  # text, asked for
        await wait_for(pilot, lambda: viewer.view.text is not None)


async def test_search_next_previous_in_a_long_file(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/var/log/build.log", layer=0)
        await text_shown(pilot, viewer)
        assert viewer.view.text.lines == 20_000
        await pilot.press("slash", *"needle", "enter")
        await wait_for(pilot, lambda: "line 12,346" in screen_text(app))
        assert "line 12345 NEEDLE of the log" in screen_text(app)
        await pilot.press("slash", *"of the log", "enter")
        await wait_for(pilot, lambda: "line 12,347" in screen_text(app))  # after the match
        await pilot.press("N")
        await wait_for(pilot, lambda: "line 12,346" in screen_text(app))
        await pilot.press("G")
        await wait_for(pilot, lambda: "20000 │ line 19999 of the log" in screen_text(app))


async def test_a_removed_file_opens_its_last_version(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/var/log/build.log", layer=2)  # a removed row
        await text_shown(pilot, viewer)
        assert "layer 0  ·  version 1 of 1" in screen_text(app)


async def test_from_the_history(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        await pilot.press("tab")
        tree = main.file_tree
        await wait_for(pilot, lambda: any(row.path == "/app/main.py" for row in tree.rows))
        tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == "/app/main.py"))
        await pilot.press("i")
        await wait_for(
            pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.results.count
        )
        await pilot.press("up", "v")  # layer 0's version
        await wait_for(pilot, lambda: isinstance(app.screen, ViewerScreen))
        await text_shown(pilot, app.screen)
        assert "layer 0  ·  version 1 of 2" in screen_text(app)


async def test_hostile_content_shows_literally(archive) -> None:
    app = app_for(archive)
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/app/hostile.txt")
        await text_shown(pilot, viewer)
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg and "\x9b" not in svg
        text = screen_text(app)
        assert "before \\x1b]52;c;cm0gLXJmIH4=\\x07 \\x1b[2J\\x1b[31mred" in text
        assert "\\x9b31m after" in text


async def test_wrap_long_lines(archive, tmp_path) -> None:
    from tests.robustness import builders as b

    long = b.Image(layers=[b.Layer(entries=[b.file("notes.txt", b"word " * 100 + b"\nend\n")])])
    path = b.docker_archive(long).write_tar(tmp_path / "long.tar")
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        viewer = await open_viewer(pilot, "/notes.txt")
        await text_shown(pilot, viewer)
        assert viewer.view.rows == 2
        await pilot.press("w")
        await wait_for(pilot, lambda: viewer.view.wrap and viewer.view.rows > 5)
        await wait_for(pilot, lambda: "\n2 │ end" in screen_text(app))
        assert "\n  │ word word" in screen_text(app)  # the first line's next rows
        await pilot.press("w")
        await wait_for(pilot, lambda: viewer.view.rows == 2)


async def test_copy_content(archive) -> None:
    app = app_for(archive)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_viewer(pilot, "/app/main.py", layer=2)
        await text_shown(pilot, viewer)
        await pilot.press("Y", "y")
        await wait_for(pilot, lambda: len(copied) == 2)
        from .inside_image import MAIN_V2

        assert sorted(copied) == sorted(["/app/main.py", MAIN_V2.decode()])
