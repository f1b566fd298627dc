"""The background worker: progress, failure shown in the app, cancel with Esc."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial

from explorer.core.errors import Cancelled
from explorer.core.image import HistoryEntry, ImageMeta, LayerMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.loading import Loading
from explorer.core.sources import Source, open_source
from explorer.tui.screens.main import MainScreen
from explorer.tui.screens.open import OpenScreen
from tests.robustness import builders as b

from .conftest import app_for, main_screen, screen_text, settle, tree_text, wait_for

SIZE = (120, 40)


async def test_truncated_archive_shows_a_clear_error(tmp_path, sample_archive):
    data = sample_archive.read_bytes()
    broken = tmp_path / "truncated.tar"
    broken.write_bytes(data[: len(data) // 3])
    app = app_for(broken)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.failure
        text = screen_text(app)
        assert "Could not read the image:" in text
        assert "truncated.tar" in text
        assert "Traceback" not in text
        assert "q quits" in text  # says what to do
        await pilot.press("q")
    assert app.failed


async def test_missing_file_is_shown_in_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short path: the message fits on one line
    app = app_for("nope.tar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "nope.tar: no such file or directory" in text
        assert "could not read the image" in text  # the layer list says so too


async def test_not_an_image_is_shown_in_app(tmp_path):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(b.tar_bytes([b.file("README.md", b"hello\n")]))
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert main_screen(app).failure
        assert "Could not read the image:" in screen_text(app)


class SlowSource(Source):
    """Gives the layer list at once, layer 0 quickly, then blocks on layer 1 until cancelled
    (checking the cancel flag as the real indexer does between entries)."""

    def __init__(self, real: Source) -> None:
        self.real = real
        self.name = real.name
        self.started = threading.Event()
        self.closed = False

    def open(self) -> ImageMeta:
        return self.real.open()

    def index_layers(self, progress=None, cancel=None) -> Iterator[tuple[int, LayerIndex]]:
        layers = dict(self.real.index_layers())
        yield 0, layers[0]
        self.started.set()
        assert cancel is not None
        while not cancel.wait(0.01):
            if progress is not None:
                progress(1, 42, 4200)
        raise Cancelled

    def close(self) -> None:
        self.closed = True


async def test_escape_cancels_indexing_and_keeps_what_is_indexed(sample_archive):
    source = SlowSource(open_source(str(sample_archive)))
    app = app_for(sample_archive, opener=lambda: source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, source.started.is_set)
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.file_tree.shown is not None)  # layer 0 browsable
        assert screen.indexing
        assert "esc Cancel" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert screen.cancelled and not screen.indexing
        await wait_for(pilot, lambda: source.closed)  # the worker ends and closes its source
        text = screen_text(app)
        assert "cancelled: 1/4 layers indexed" in text
        assert "esc Cancel" not in text
        assert any("bin" in line for line in tree_text(app))  # layer 0 still there
        await pilot.press("down")  # layer 1 never came
        await pilot.pause()
        assert "Layer 1 is not available: indexing was cancelled." in screen_text(app)


async def test_layers_not_indexed_yet_say_so(sample_archive):
    source = SlowSource(open_source(str(sample_archive)))
    app = app_for(sample_archive, opener=lambda: source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, source.started.is_set)
        screen = main_screen(app)
        await wait_for(pilot, lambda: len(screen.layer_list.items) > 0)
        await pilot.press("down")
        await pilot.pause()
        text = screen_text(app)
        assert "Layer 1 is not indexed yet." in text
        assert "reading" in text  # the layer being read is marked in the list
        await pilot.press("escape")
        await settle(pilot)


async def test_escape_is_free_once_indexing_is_done(sample_archive):
    """Esc only cancels while reading; afterwards it reaches the focused widget."""
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert not screen.check_action("cancel_index", ())
        await pilot.press("ctrl+f", "escape")
        assert app.focused is screen.file_tree


async def test_engine_history_without_layers_is_fine():
    """An image with no layers at all (e.g. FROM scratch + metadata) opens and says so."""

    class Empty(Source):
        name = "empty"

        def open(self) -> ImageMeta:
            entry = HistoryEntry('/bin/sh -c #(nop)  CMD ["x"]', "", True, None)
            return ImageMeta("empty:1", "docker", [], [entry])

        def index_layers(self, progress=None, cancel=None):
            return iter(())

    app = app_for("empty:1", opener=Empty)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "this image has no layers" in screen_text(app)
        assert 'CMD ["x"]' in screen_text(app)


def test_layer_meta_is_used_when_history_is_missing():
    from explorer.tui.format import layer_items

    meta = ImageMeta(
        "x",
        "docker-archive",
        [LayerMeta(0, "a", "sha256:1", "echo hi"), LayerMeta(1, "b", "", "")],
        [],
    )
    items = layer_items(meta)
    assert [(i.layer, i.instruction) for i in items] == [(0, "echo hi"), (1, "")]


class BlockedSource(SlowSource):
    """Like an engine still preparing its export: blocked, deaf to the cancel flag."""

    def __init__(self, real: Source) -> None:
        super().__init__(real)
        self.release = threading.Event()

    def index_layers(self, progress=None, cancel=None) -> Iterator[tuple[int, LayerIndex]]:
        self.started.set()
        self.release.wait(10)
        if cancel is not None and cancel.is_set():
            raise Cancelled
        yield from self.real.index_layers()


async def test_escape_answers_at_once_even_when_the_read_is_blocked(sample_archive):
    source = BlockedSource(open_source(str(sample_archive)))
    app = app_for(sample_archive, opener=lambda: source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, source.started.is_set)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        text = screen_text(app)
        assert "cancelled: 0/4 layers indexed" in text
        assert "esc Cancel" not in text
        source.release.set()
        await wait_for(pilot, lambda: source.closed)
        await settle(pilot)
        assert "cancelled: 0/4 layers indexed" in screen_text(app)


async def open_with_o(pilot, target) -> None:
    """Open `target` as a user does: o, type its path, Enter; then wait for the work."""
    await pilot.press("o")
    await pilot.pause()
    for ch in str(target):
        await pilot.press(ch if ch != "/" else "slash")
    await pilot.press("enter")
    await settle(pilot)


async def test_after_a_failure_another_image_can_be_opened(tmp_path, sample_archive):
    broken = tmp_path / "truncated.tar"
    broken.write_bytes(sample_archive.read_bytes()[:2000])
    app = app_for(broken)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert main_screen(app).failure
        await open_with_o(pilot, sample_archive)
        screen = main_screen(app)
        assert screen.target == str(sample_archive)
        assert not screen.failure and screen.analysis is not None
        await pilot.press("q")


async def test_each_image_opened_replaces_the_last(tmp_path, sample_archive):
    """The first explorer is the app's first screen, which Textual cannot replace: it stays
    below, emptied; later ones are replaced. Only the current image is held."""
    other = tmp_path / "other.tar"
    other.write_bytes(sample_archive.read_bytes())
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = main_screen(app)
        for target in (other, sample_archive):
            await open_with_o(pilot, target)
            screen = main_screen(app)
            assert screen is not first and screen.target == str(target)
            assert screen.analysis is not None and "Score" in screen_text(app)
        stack = app.screen_stack
        assert [type(s).__name__ for s in stack] == ["MainScreen", "MainScreen"]
        assert stack[0] is first and first.analysis is None and not first.indexes
        assert not first.file_tree.state.layers and first.meta is None
        await pilot.press("q")


async def test_layers_are_browsable_while_the_analysis_is_busy(sample_archive, monkeypatch):
    """Each layer is shown as soon as it is read, not when the analysis of the layers below
    it is over: here the analysis stops after layer 0 until released."""
    from explorer.core import analysis

    release = threading.Event()
    real = analysis.analyse_layers

    def held_after_layer_0(layers):
        def held():
            for n, layer in enumerate(layers):
                yield layer
                if n == 0:
                    release.wait(20)

        return real(held())

    monkeypatch.setattr(analysis, "analyse_layers", held_after_layer_0)
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        try:
            await wait_for(pilot, lambda: len(screen.indexes) == 4)
            assert screen.analysis is None
            await pilot.press("down")
            await wait_for(
                pilot, lambda: screen.file_tree.shown == (1, screen.file_tree.state.mode)
            )
            assert tree_text(app) and "not indexed" not in screen_text(app)
        finally:
            release.set()
        await settle(pilot)
        assert screen.analysis is not None


async def test_an_image_read_before_the_app_is_complete_on_its_first_screen(
    sample_archive, monkeypatch
):
    """A warm re-open read from the cache while the app starts (what `launch` does): the
    first screen shows the layers and the analysis, and no index worker is started."""
    warm_up = app_for(sample_archive)
    async with warm_up.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the layers and the analysis are now cached
    loading = Loading(partial(open_source, str(sample_archive), None, None))
    assert loading.wait(30)
    started: list[MainScreen] = []
    monkeypatch.setattr(MainScreen, "index_image", lambda self: started.append(self))
    app = app_for(sample_archive, load_job=loading)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        assert not started
        assert screen.analysis is not None and screen.analysis.cached
        assert screen.meta is not None
        assert sorted(screen.indexes) == list(range(len(screen.meta.layers)))
        assert "Score" in screen_text(app) and not screen.indexing
        await settle(pilot)
        assert any("etc" in line for line in tree_text(app))


async def test_one_explicit_load_state_cold_then_warm(sample_archive, monkeypatch, tmp_path):
    """The screen's load goes through one state, in order: a cold open is read layer by
    layer and analysed; a warm one (everything cached) comes in one step, with no index
    worker replaying handlers."""
    from explorer.core import cachesettings
    from explorer.tui.loadstate import LoadState

    seen: list[LoadState] = []
    real = MainScreen.watch_load_state

    def watch(self, state):
        seen.append(state)
        real(self, state)

    monkeypatch.setattr(MainScreen, "watch_load_state", watch)
    with cachesettings.configured(root=tmp_path / "cache"):
        for _ in range(2):
            app = app_for(sample_archive)
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                assert main_screen(app).load_state is LoadState.ANALYSED
            seen.append(None)  # type: ignore[arg-type]
    cold, warm = [], []
    target = cold
    for state in seen:
        if state is None:
            target = warm
        else:
            target.append(state)
    order = [LoadState.OPENING, LoadState.INDEXING, LoadState.ANALYSING, LoadState.ANALYSED]
    assert cold == order
    assert warm == [LoadState.OPENING, LoadState.INDEXING, LoadState.ANALYSED]


async def test_an_image_that_cannot_be_opened_leaves_the_open_one(
    tmp_path, sample_archive, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.tar").write_bytes(sample_archive.read_bytes()[:2000])
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        for target, error in (
            ("nope.tar", "nope.tar: no such file or directory"),
            ("broken.tar", "broken.tar"),
        ):
            await pilot.press("o")
            await pilot.pause()
            await pilot.press(*target, "enter")
            await wait_for(pilot, lambda e=error: e in screen_text(app))
            assert isinstance(app.screen, OpenScreen)  # the dialog says it
            assert main_screen(app) is screen and screen.analysis is not None
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen and "Score" in screen_text(app)
        await pilot.press("q")
    assert not app.failed  # the image on screen was fine: exit 0


class GapSource(SlowSource):
    """Reads layers 0 and 2, then blocks on layer 1 until cancelled."""

    def index_layers(self, progress=None, cancel=None) -> Iterator[tuple[int, LayerIndex]]:
        layers = dict(self.real.index_layers())
        yield 0, layers[0]
        yield 2, layers[2]
        self.started.set()
        assert cancel is not None
        cancel.wait(20)
        raise Cancelled


async def test_a_layer_read_before_a_cancel_says_what_it_misses(sample_archive):
    source = GapSource(open_source(str(sample_archive)))
    app = app_for(sample_archive, opener=lambda: source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, source.started.is_set)
        screen = main_screen(app)
        await wait_for(pilot, lambda: 2 in screen.indexes)
        await pilot.press("escape")
        await settle(pilot)
        screen.layer_list.select_layer(2)
        await pilot.pause()
        text = screen_text(app)
        assert "not available" not in text  # its size is listed: it was read
        assert "Layer 2 was read, but not every layer below it" in text
        assert "missing: 1" in text
