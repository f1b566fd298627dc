"""Two images of the library compared, against a real engine (the private one): two scratch
images on a common base, made and removed here; in the TUI, Space marks them (the newer
first) and `c` compares them with the older-created as A, both read through the loading
pipeline from the engine."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.core.fsdiff import ADDED, MODIFIED, REMOVED
from explorer.core.library import Library, load_library
from explorer.core.sources.endpoint import Endpoint
from tests.engine.private_engine import PrivateEngine
from tests.robustness import builders as b

pytestmark = pytest.mark.engine


@pytest.fixture
def pair(engine: PrivateEngine, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(older, newer): the same base; the newer changes app/config, adds app/new.txt and
    has no app/old.txt."""
    run = f"{os.getpid()}-{time.monotonic_ns()}"
    base = b.Layer(
        entries=[b.directory("base"), b.file("base/data", b.noise(20_000, run.encode()))]
    )
    versions = {
        "older": ("2024-03-01T00:00:00Z", [("app/config", b"one"), ("app/old.txt", b"old")]),
        "newer": ("2025-03-01T00:00:00Z", [("app/config", b"two"), ("app/new.txt", b"new")]),
    }
    tags = []
    for role, (created, files) in versions.items():
        tag = f"layerscope-compare/{role}:{run}"
        top = b.Layer(entries=[b.directory("app"), *(b.file(n, d) for n, d in files)])
        image = b.Image(tag=tag, layers=[base, top], config_extra={"created": created})
        engine.load(b.docker_archive(image).write_tar(tmp_path / f"{role}.tar"))
        tags.append(tag)
    yield tags[0], tags[1]
    engine.docker("rmi", "-f", *tags, check=False)


def test_c_compares_the_two_marked_images(
    engine: PrivateEngine, pair: tuple[str, str], monkeypatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.host)  # where the compared images are read
    older, newer = pair

    def read() -> Library:
        return load_library(at=[Endpoint("docker", engine.host, "test")])

    from explorer.tui.app import make_app
    from explorer.tui.screens.compare import CompareScreen
    from explorer.tui.screens.library import LibraryScreen

    async def run() -> None:
        app = make_app("", library=read, keymap_file=Path("/nonexistent/keymap.toml"))
        async with app.run_test(size=(100, 30)) as pilot:
            lib = app.screen
            assert isinstance(lib, LibraryScreen)
            await _until(pilot, lambda: lib.library is not None)
            await pilot.press("slash", *"layerscope-compare/", "enter", "s", "s")  # created
            names = [im.name for im in lib.images.images]
            assert names[:2] == [newer, older], names
            await pilot.press("home", "space", "down", "space", "c")
            await _until(pilot, lambda: isinstance(app.screen, CompareScreen))
            compare = app.screen
            assert compare.targets == (older, newer)
            await _until(pilot, lambda: compare.done, lambda: str(compare.failure))
            assert compare.failure is None
            cmp = compare.comparison
            assert cmp is not None and cmp.diverges_at == 1
            assert [c.path for c in cmp.of(ADDED)] == ["/app/new.txt"]
            assert [c.path for c in cmp.of(REMOVED)] == ["/app/old.txt"]
            assert [c.path for c in cmp.of(MODIFIED)] == ["/app/config"]
            await pilot.press("escape")
            await _until(pilot, lambda: app.screen is lib)
            assert lib.marks and len(lib.images.marked) == 2

    asyncio.run(run())


async def _until(pilot, condition, why=lambda: "", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {why()}"
        await pilot.pause(0.05)
