"""The library screen through Textual Pilot, on a fixed library (tests/tui/library_model.py):
sorting, filtering, the sharing and advice panels, confirmations that show the command and do
nothing until confirmed, engine faults as one line, and SVG snapshots at 80x24."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.core import libraryactions as act
from explorer.core.errors import EngineError
from explorer.core.library import Library
from explorer.librarysample import NOW, library
from explorer.tui.app import make_app
from explorer.tui.screens.confirm import ConfirmScreen
from explorer.tui.screens.library import LibraryScreen

from .conftest import frozen_clock, palette_results, screen_text, wait_for

NARROW = (80, 24)


def library_app(loader=library):
    return make_app(
        "",
        library=loader,
        now=lambda: NOW,
        clock=frozen_clock,
        keymap_file=Path("/nonexistent/layerscope/keymap.toml"),
    )


def screen(app) -> LibraryScreen:
    found = next(s for s in app.screen_stack if isinstance(s, LibraryScreen))
    return found


async def ready(pilot) -> None:
    await wait_for(
        pilot, lambda: screen(pilot.app).library is not None and not screen(pilot.app).reading
    )


def names(app) -> list[str]:
    return [im.name for im in screen(app).images.images]


async def test_sorts_and_filters() -> None:
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        assert names(app)[0] == "shop/api:latest"  # by size, biggest first
        await pilot.press("s")  # unique
        uniques = [im.unique_size for im in screen(app).images.images]
        assert uniques == sorted(uniques, reverse=True) and names(app)[0] == "tools/lonely:0.3"
        await pilot.press("s", "s")  # created, then name
        assert names(app)[:2] == ["debian:12", "evil/x:1"]
        await pilot.press("slash", *"shop/*")
        await pilot.press("enter")
        assert names(app) == ["shop/api:latest", "shop/web:2.1"]
        assert "filter: shop/*" in screen_text(app)
        await pilot.press("escape", "D")
        assert names(app) == ["<none>:<none>", "<none>:<none>"]


async def test_sharing_panel_names_who_shares() -> None:
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        panel = screen(app).panel_list
        assert "sharing saves" in panel.lines[0][0]
        assert "shared with debian:12, python:3.12" in panel.lines[1][0]
        await pilot.press("s", "s", "s", "home", *["down"] * 5)
        assert screen(app).images.selected.name == "tools/lonely:0.3"
        assert "shares no layer with another image" in panel.lines[0][0]
        assert "would save up to 80.5MB" in panel.lines[0][0]


async def test_hostile_history_is_shown_literally() -> None:
    app = library_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"evil", "enter", "H")
        text = screen_text(app)
        assert "\\x1b]52;c;cHduZWQ=\\x07 [bold red]hi[/]" in text
        assert "\x1b" not in text


async def test_remove_is_refused_while_a_container_uses_it(monkeypatch) -> None:
    """shop/api is used by two containers: no `y`, the reason, and force offered; Esc removes
    nothing."""
    called = []
    monkeypatch.setattr(act, "remove", lambda *a, **k: called.append(a) or [])
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = screen_text(app)
        assert "used by 2 containers (1 running)" in text
        assert "$ docker rmi --force eb6852c4653c" in text and "y remove" not in text
        await pilot.press("y")  # not a choice here
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen) and not called


async def test_tag_validates_and_warns_on_latest(monkeypatch) -> None:
    tagged = []
    monkeypatch.setattr(act, "tag", lambda im, new: tagged.append((im.name, new)))
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("down", "down", "t")  # python:3.12
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"Bad Name", "enter")
        assert isinstance(app.screen, ConfirmScreen) and not tagged
        assert "invalid image reference" in screen_text(app)
        for _ in range(8):
            await pilot.press("backspace")
        await pilot.press(*"latest")
        text = screen_text(app)
        assert "$ docker tag python:3.12 python:latest" in text
        assert "convention, not a version" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: tagged and not screen(app).reading)
    assert tagged == [("python:3.12", "python:latest")]


async def test_prune_preview_lists_and_removes_only_those(monkeypatch) -> None:
    pruned = []
    monkeypatch.setattr(act, "prune", lambda plan: (pruned.append(plan), ([], []))[1])
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = screen_text(app)
        assert "Remove 2 dangling images?" in text and "reclaims 59.5MB" in text
        assert "$ docker rmi e28ddbea20db 1f72e78a88dc" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(pruned))
    assert [im.short_id for im in pruned[0].images] == ["e28ddbea20db", "1f72e78a88dc"]


async def test_engine_fault_is_one_line() -> None:
    def down() -> Library:
        raise EngineError(
            "docker: no engine socket at unix:///x.sock; is the docker engine running?"
        )

    app = library_app(down)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "is the docker engine running?" in screen_text(app))
        text = screen_text(app)
        assert "Traceback" not in text and "press r to try again" in text


async def test_action_fault_is_one_line(monkeypatch) -> None:
    def gone(im, new):
        raise EngineError(f"docker: image {im.reference()!r} not found on the engine")

    monkeypatch.setattr(act, "tag", gone)
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("t", *"v2", "enter")
        await wait_for(pilot, lambda: "not found on the engine" in screen_text(app))
        assert isinstance(app.screen, LibraryScreen)


# ------------------------------------------------------------------------------- snapshots


def _steps(*keys: str):
    async def run(pilot) -> None:
        await ready(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        await ready(pilot)

    return run


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("library", ()),
        ("sharing-alone", ("s", "s", "s", "home", *["down"] * 5)),
        ("advice", ("a",)),
        ("confirm-remove", ("x",)),
        ("confirm-prune", ("p",)),
    ],
)
def test_library_snapshots(snap_compare, name: str, keys: tuple[str, ...]) -> None:
    assert snap_compare(library_app(), terminal_size=NARROW, run_before=_steps(*keys)), name


async def test_save_shows_progress_and_esc_stops_it(monkeypatch) -> None:
    """w: the file name is asked with the command shown; the save runs with progress; Esc
    stops it and the status says no file was written."""
    import threading

    from explorer.core.errors import Cancelled
    from explorer.tui.screens.confirm import ProgressScreen

    started = threading.Event()

    def save(im, path, compress, progress, cancel):
        progress(1_000_000, im.size)
        started.set()
        cancel.wait(20)
        raise Cancelled()

    monkeypatch.setattr(act, "save", save)
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "$ docker save shop/api:latest -o shop_api_latest.tar" in screen_text(app)
        await pilot.press(*".gz")
        assert "$ docker save shop/api:latest | gzip > shop_api_latest.tar.gz" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and started.is_set())
        await wait_for(pilot, lambda: "1MB of about 429MB" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LibraryScreen))
        assert "save stopped: no file written" in screen_text(app)


async def test_history_inspect_and_palette() -> None:
    app = library_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("H")
        assert screen(app).panel_list.lines[0][0] == "7 steps, 6 layers (newest last)"
        await pilot.press("i")
        lines = [text for text, _ in screen(app).panel_list.lines]
        assert "user: (root)" in lines and "RootFS: 6 layers" in lines
        await pilot.press("ctrl+p", *"dangling")
        await wait_for(pilot, lambda: bool(palette_results(app)))
        assert any("Library: Remove the dangling images" in r for r in palette_results(app)), (
            palette_results(app)
        )


async def test_history_steps_are_one_row_each_however_narrow() -> None:
    """A step that made no layer is cut like the others, never wrapped under them."""
    app = library_app()
    async with app.run_test(size=(34, 30)) as pilot:
        await ready(pilot)
        await pilot.press("H")
        panel = screen(app).panel_list
        steps = panel.lines[1:]
        assert any(len(t) > panel.size.width for t, _k in steps), steps
        assert [row for row in panel.rows if row[1] != "head"] == steps  # the heading wraps


async def test_help_lists_the_library_keys() -> None:
    from explorer.tui.bindings import keymap_conflicts

    app = library_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert keymap_conflicts(app) == []
        await pilot.press("f1")
        text = screen_text(app)
        assert "Library" in text and "Remove the dangling images" in text and "[lib.prune]" in text


async def test_panel_border_names_the_keys_that_switch_it_as_bound() -> None:
    """The panel's border says which keys show the other panels, rebound keys included, and
    which key goes back to Sharing."""
    app = make_app(
        "",
        library=library,
        now=lambda: NOW,
        clock=frozen_clock,
        keymap={"lib.history": "y"},
        keymap_file=Path("/nonexistent/layerscope/keymap.toml"),
    )
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        panel = screen(app).panel_list
        assert panel.border_subtitle == "a Advice · y History · i Inspect"
        await pilot.press("y")
        assert panel.border_title == "History" and panel.border_subtitle == "y Sharing"
        await pilot.press("y")
        assert panel.border_title == "Sharing"
        assert panel.border_subtitle == "a Advice · y History · i Inspect"
