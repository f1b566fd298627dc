"""Two images of the library compared: Space marks (a third mark replaces the first), `c` opens
the compare screen with the older-created image as A, and says what to do with fewer than two
marked; on the fixed library (tests against the real engine: tests/engine)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from explorer.core.library import Library, assemble, build
from explorer.core.libraryview import MARKS, compare_pair, toggle_mark
from explorer.librarysample import library, raw_answers
from explorer.tui.screens.compare import CompareScreen
from explorer.tui.screens.library import LibraryScreen

from .conftest import screen_text, wait_for
from .test_library import NARROW, _steps, library_app, ready, screen


def marked_names(app) -> list[str]:
    lib = screen(app)
    return [im.name for im in lib.images.images if im.key in lib.images.marked]


def status(app) -> str:
    return str(screen(app).query_one("#lib-status").render())


async def test_space_marks_two_and_a_third_replaces_the_first() -> None:
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("space")  # shop/api:latest, the first row
        assert marked_names(app) == ["shop/api:latest"]
        assert "mark another with Space, then c" in status(app)
        assert "● shop/api:latest" in screen_text(app)
        await pilot.press("down", "down", "space")  # python:3.12, created weeks before
        assert "c compares A python:3.12 (older) with B shop/api:latest (newer)" in status(app)
        await pilot.press("down", "space")  # debian:12: the first mark goes
        assert sorted(marked_names(app)) == ["debian:12", "python:3.12"]
        assert "unmarked shop/api:latest, two at most" in status(app)
        assert "A debian:12 (older) with B python:3.12 (newer)" in status(app)
        await pilot.press("space")  # Space again unmarks
        assert marked_names(app) == ["python:3.12"]
        await pilot.press("slash", *"shop", "enter")  # marks outlive a filter
        assert marked_names(app) == [] and screen(app).marks == [screen(app).marks[0]]
        await pilot.press("escape")
        assert marked_names(app) == ["python:3.12"]


async def test_c_with_fewer_than_two_marked_says_how() -> None:
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("c")
        assert "mark two images with Space, then c compares them" in screen_text(app)
        await pilot.press("space", "c")
        assert "mark two images with Space, then c compares them" in status(app)
        assert isinstance(app.screen, LibraryScreen)


async def test_key_bar_shows_compare_first_once_two_are_marked() -> None:
    """At 80 columns the library's keys do not all fit: Compare is chosen before the others
    once two images are marked; the app's `b Library` is never shown on the library itself."""
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)

        def bar() -> str:
            return screen_text(app).splitlines()[-1]

        assert "c Compare" not in bar() and "⏎ Explore" in bar() and "b Library" not in bar()
        await pilot.press("space", "down", "space")
        await wait_for(pilot, lambda: "c Compare" in bar())
        await pilot.press("space")  # one marked again
        await wait_for(pilot, lambda: "c Compare" not in bar())
    async with library_app().run_test(size=(120, 24)) as pilot:
        await ready(pilot)
        app = pilot.app
        assert "c Compare" in bar() and "b Library" not in bar()
        await pilot.press("p")  # the prune dialog over the library: still the library
        await wait_for(pilot, lambda: len(app.screen_stack) > 1)
        assert "b Library" not in bar()


async def test_c_opens_the_compare_screen_older_as_a(monkeypatch, tmp_path: Path) -> None:
    """Marked newer first: A is still the older image. The sample's images are on no engine:
    the compare screen says so in one line, and Esc comes back to the library, marks kept."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    app = library_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("space", "down", "down", "space", "c")  # shop/api, then python
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        assert compare.targets == ("python:3.12", "shop/api:latest")
        assert compare.kind == "docker" and compare.loading_b is None
        await wait_for(pilot, lambda: compare.done)
        assert compare.failure and "\n" not in compare.failure
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LibraryScreen))
        assert sorted(marked_names(app)) == ["python:3.12", "shop/api:latest"]


def _two_engines() -> Library:
    raw = raw_answers()
    return assemble(build(raw, "docker") + build(raw, "podman"), ["docker", "podman"])


async def test_images_of_two_engines_each_open_from_their_own(monkeypatch, tmp_path) -> None:
    """A from Docker, B from Podman: B is opened from its engine as the palette's dialog
    opens an image (a Loading given to the compare screen)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setenv("LAYERSCOPE_PODMAN_HOST", f"unix://{tmp_path}/none-podman.sock")
    app = library_app(_two_engines)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"python", "enter")
        rows = screen(app).images.images
        assert [im.source for im in rows] == ["docker", "podman"]
        await pilot.press("space", "down", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        assert compare.kind == "docker" and compare.loading_b is not None
        await wait_for(pilot, lambda: compare.done)
        compare.loading_b.cancel.set()


def test_pair_order_and_marks() -> None:
    images = {im.name: im for im in library().images}
    older, newer = images["debian:12"], images["python:3.12"]
    assert compare_pair([newer, older]) == (older, newer)
    assert compare_pair([older]) is None
    twin = replace(newer, id="sha256:twin")
    assert compare_pair([twin, newer]) == (twin, newer)  # same second: the first marked is A
    marks: list[str] = []
    for key in "abc":
        marks, dropped = toggle_mark(marks, key)
    assert len(marks) == MARKS and marks == ["b", "c"] and dropped == "a"
    assert toggle_mark(marks, "b") == (["c"], None)


async def test_help_lists_mark_and_compare() -> None:
    app = library_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        text = screen_text(app)
        assert "Compare the two marked images: the older-created is A" in text
        assert "[lib.mark]" in text and "[lib.compare]" in text


def test_two_marked_snapshot(snap_compare) -> None:
    keys = ("space", "down", "down", "space")
    assert snap_compare(library_app(), terminal_size=NARROW, run_before=_steps(*keys))
