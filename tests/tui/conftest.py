"""Fixtures for the TUI tests: archives built in the test (never a live engine), the dive test
image from the shared data, and a helper that waits for the background work to settle."""

from __future__ import annotations

import asyncio
import html
import inspect
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette

from explorer import sample
from explorer.tui.app import LayerScopeApp, make_app
from explorer.tui.screens.main import MainScreen
from tests.robustness import builders as b

SHARED = Path(os.environ.get("LAYERSCOPE_SHARED", "/work/shared"))
DIVE_IMAGE = SHARED / "dive-data" / "test-docker-image.tar"
FROZEN = 0.0


def frozen_clock() -> float:
    return FROZEN


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no async plugin is a dependency)."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    params = inspect.signature(func).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in params if name in pyfuncitem.funcargs}
    asyncio.run(func(**kwargs))
    return True


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """No user keymap or cache leaks into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("LAYERSCOPE_KEYMAP", raising=False)


@pytest.fixture
def dive_image() -> Path:
    if not DIVE_IMAGE.exists():
        pytest.skip(f"{DIVE_IMAGE} is missing (set LAYERSCOPE_SHARED)")
    return DIVE_IMAGE


@pytest.fixture
def sample_archive(tmp_path: Path) -> Path:
    return sample.ensure_sample(tmp_path / "sample.tar")


@pytest.fixture
def build_archive(tmp_path: Path) -> Callable[..., Path]:
    """build_archive(image, name="image.tar") -> path of its legacy `docker save` archive."""

    def build(image: b.Image, name: str = "image.tar") -> Path:
        return b.docker_archive(image).write_tar(tmp_path / name)

    return build


def app_for(path: Path | str, **options) -> LayerScopeApp:
    options.setdefault("clock", frozen_clock)
    options.setdefault("keymap_file", Path("/nonexistent/layerscope/keymap.toml"))
    return make_app(str(path), **options)


def main_screen(app: LayerScopeApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


def settled(app: LayerScopeApp) -> bool:
    return app.settled


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `condition` until it holds; fail the test if it still does not after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {inspect.getsource(condition).strip()}")
        await pilot.pause(0.02)
    await pilot.pause()


def palette_results(app: LayerScopeApp) -> list[str] | None:
    """The command palette's results once its (asynchronous) search is over; None while the
    palette is closed or still searching."""
    palette = app.screen
    if not isinstance(palette, CommandPalette):
        return None
    searching = CommandPalette._GATHER_COMMANDS_GROUP
    if any(w.group == searching and not w.is_finished for w in app.workers):
        return None
    hits = palette.query_one(CommandList)
    return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]


async def settle(pilot, timeout: float = 20.0) -> None:
    await wait_for(pilot, lambda: settled(pilot.app), timeout)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def tree_text(app: LayerScopeApp) -> list[str]:
    """The tree pane's visible lines as plain text."""
    tree = main_screen(app).file_tree
    return [tree.render_line(y).text.rstrip() for y in range(tree.size.height)]


_SVG_TEXT = re.compile(r'<text[^>]*\bx="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')


def screen_text(app: LayerScopeApp) -> str:
    """Everything on screen as plain text, read back from an SVG screenshot (what a user
    would read, with every piece of text the terminal would get)."""
    lines: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in _SVG_TEXT.findall(app.export_screenshot()):
        lines.setdefault(float(y), []).append((float(x), html.unescape(text)))
    return "\n".join(
        "".join(t for _, t in sorted(parts)).replace("\xa0", " ")
        for _, parts in sorted(lines.items())
    )
