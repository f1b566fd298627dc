"""The explorer on an image read from a real registry: opened from the command line's target
and with `o`, as a user does."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.registry.conftest import small_layout
from tests.registry.servers import FaultProxy, Registry, skopeo_copy
from tests.tui.conftest import app_for, main_screen, screen_text, settle, tree_text, wait_for
from tests.tui.test_worker import open_with_o

pytestmark = pytest.mark.registry
SIZE = (100, 30)


@pytest.fixture
def small_ref(registry: Registry, skopeo: None, tmp_path: Path) -> str:
    ref = f"{registry.addr}/ls-test/tui-{os.getpid()}:1"
    skopeo_copy(f"oci:{small_layout(tmp_path / 'layout')}", f"docker://{ref}")
    return ref


def test_the_explorer_reads_a_registry_image(
    small_ref: str, sample_archive: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    async def run() -> None:
        app = app_for(f"registry://{small_ref}")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert not screen.failure and screen.analysis is not None
            assert len(screen.layer_list.items) >= 2
            assert any("etc" in line for line in tree_text(app))
            assert "COPY run /app/" in screen_text(app)
            # and again with `o`, over another image
            await open_with_o(pilot, sample_archive)
            await open_with_o(pilot, f"registry://{small_ref}")
            screen = main_screen(app)
            assert screen.target == f"registry://{small_ref}"
            assert not screen.failure and screen.analysis is not None
            await pilot.press("q")

    asyncio.run(run())


def test_esc_stops_a_slow_registry(proxy: FaultProxy, small: str) -> None:
    proxy.delay = 0.05  # 64 KiB every 50 ms: the 2 MiB layer takes about 1.6 s

    async def run() -> None:
        app = app_for(f"registry://{proxy.addr}/{small}")
        async with app.run_test(size=SIZE) as pilot:
            screen = main_screen(app)
            await wait_for(pilot, lambda: "esc Cancel" in screen_text(app))
            await wait_for(pilot, lambda: screen.file_tree.shown is not None)  # layer 0 is in
            await pilot.press("escape")
            await settle(pilot)
            assert screen.cancelled and not screen.indexing
            assert "cancelled: 1/2 layers indexed" in screen_text(app)
            await pilot.press("q")

    asyncio.run(run())


@pytest.fixture
def sample_archive(tmp_path: Path) -> Path:
    from explorer import sample

    return sample.ensure_sample(tmp_path / "sample.tar")
