"""The one loading pipeline (`explorer.core.loading`): what it reports, in which order, and
how the caches serve it — for the TUI, the CLI and every other consumer alike."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from explorer.core import cachesettings
from explorer.core import loading as loading_mod
from explorer.core.analysis import index_all
from explorer.core.cache import LayerCache
from explorer.core.efficiency import DiveEfficiency, dive_efficiency
from explorer.core.errors import Cancelled, ImageError
from explorer.core.loading import (
    Analysed,
    Complete,
    Failed,
    Indexed,
    LayerIndexed,
    Loading,
    Opened,
    Stopped,
    load,
)
from explorer.core.reclaim import Reclaimable
from explorer.core.sources import open_source
from explorer.core.sources.archive import ArchiveSource
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

REPO = Path(__file__).resolve().parents[2]
LAYERS = [
    [b.directory("etc"), b.file("etc/os-release", b"ID=debian\n"), b.file("opt/a", b"x" * 900)],
    [b.file("opt/a", b"x" * 900, mode=0o600), b.file("etc/motd", b"hello\n")],
    [b.whiteout("opt/a"), b.file("srv/index.html", b"<html>")],
]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return image_archive(tmp_path / "img", *LAYERS)


def run(target: Path) -> list:
    events: list = []
    load(lambda: open_source(str(target)), events.append, threading.Event())
    return events


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events if type(e).__name__ != "Progress"]


def test_cold_then_warm_events(image: Path, tmp_path: Path) -> None:
    with cachesettings.configured(root=tmp_path / "c"):
        cold = run(image)
        warm = run(image)
    n = len(LAYERS)
    assert kinds(cold) == ["Opened"] + ["LayerIndexed"] * n + ["Indexed", "Analysed"]
    assert sorted(e.layer for e in cold if isinstance(e, LayerIndexed)) == list(range(n))
    # Everything in the cache: one event with every layer and the analysis.
    assert kinds(warm) == ["Opened", "Complete"]
    complete = warm[-1]
    assert [layer for layer, _ in complete.layers] == list(range(n))
    analysed = cold[-1]
    assert not analysed.analysis.cached and complete.analysis.cached
    assert complete.analysis.efficiency == analysed.analysis.efficiency
    assert complete.analysis.reclaimable == analysed.analysis.reclaimable


def test_no_cache_bypasses_the_analysis_cache(image: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    meta, layers = index_all(ArchiveSource(str(image), cache=None))
    # A stored analysis that is a lie: only a load that reads it can show it.
    with cachesettings.configured(root=root):
        run(image)
    LayerCache(root).put_analysis(
        [lm.digest for lm in meta.layers], DiveEfficiency(0.123, 1, 2, 3, []), Reclaimable(0)
    )
    with cachesettings.configured(root=root, enabled=False):
        fresh = run(image)[-1]
    assert isinstance(fresh, Analysed) and not fresh.analysis.cached
    assert fresh.analysis.efficiency == dive_efficiency(layers)
    with cachesettings.configured(root=root):
        cached = run(image)[-1]
    assert isinstance(cached, Complete) and cached.analysis.efficiency.score == 0.123


def test_a_dive_consumer_takes_the_layers_in_order(image: Path, tmp_path: Path) -> None:
    seen: list[int] = []

    def consumer(meta, layers):
        got = list(layers)
        seen.extend(range(len(got)))
        return dive_efficiency(got)

    with cachesettings.configured(root=tmp_path / "c"):
        run(image)  # everything cached: a consumer still gets every layer, walked
        result = load(
            lambda: open_source(str(image)), lambda e: None, threading.Event(), dive=consumer
        )
    assert seen == list(range(len(LAYERS)))
    assert result.analysis is None and result.efficiency.score < 1


def test_hardlink_warnings_are_the_analysis_warnings(tmp_path: Path) -> None:
    """A hardlink to nothing was said only by the CLI: the analysis carries it, so the TUI
    shows it too."""
    target = image_archive(
        tmp_path / "img", [b.file("a", b"a")], [b.hardlink("bin/x", "nowhere/at-all")]
    )
    [analysed] = [e for e in run(target) if isinstance(e, Analysed)]
    assert any("nowhere/at-all" in w for w in analysed.analysis.warnings)


def test_the_cli_reads_the_analysis_cache(image: Path, tmp_path: Path) -> None:
    """--ci on an image analysed before takes the stored analysis (here: planted, so the
    verdict shows which one was used)."""
    env = {"LAYERSCOPE_CACHE_DIR": str(tmp_path / "c"), "PYTHONPATH": str(REPO), "PATH": "/usr/bin"}
    argv = [sys.executable, "-m", "explorer", str(image), "--ci", "--lowestEfficiency", "0.5"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr  # the image wastes most of its bytes
    meta, _ = index_all(ArchiveSource(str(image), cache=None))
    LayerCache(tmp_path / "c").put_analysis(
        [lm.digest for lm in meta.layers], DiveEfficiency(0.75, 0, 2, 3, []), Reclaimable(0)
    )
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout


def test_loading_reads_a_cached_image_before_anyone_asks(image: Path, tmp_path: Path) -> None:
    with cachesettings.configured(root=tmp_path / "c"):
        run(image)
        loading = Loading(lambda: open_source(str(image)))
        events = list(loading.events(threading.Event()))
    assert kinds(events) == ["Opened", "Complete"]
    assert kinds(loading.done_events() or []) == []  # handed over once


def test_loading_hands_over_what_went_wrong(tmp_path: Path) -> None:
    loading = Loading(lambda: open_source(str(tmp_path / "missing.tar")))
    [failed] = list(loading.events(threading.Event()))
    assert isinstance(failed, Failed) and isinstance(failed.error, ImageError)
    assert "no such file" in loading_mod.describe(failed.error, "x")


def test_a_cancelled_loading_stops_and_closes_what_it_opened(image: Path) -> None:
    """Esc while the engine is slow to answer: the reader leaves at once, and the source,
    once opened, is closed (nobody else would)."""
    release, closed = threading.Event(), threading.Event()

    class Slow(ArchiveSource):
        def open(self):  # type: ignore[no-untyped-def]
            release.wait(10)
            return super().open()

        def close(self) -> None:
            closed.set()
            super().close()

    loading = Loading(lambda: Slow(str(image), cache=None))
    cancel = threading.Event()
    cancel.set()
    assert [type(e) for e in loading.events(cancel)] == [Stopped]
    release.set()
    assert closed.wait(10)
    assert loading.cancel.is_set()


def test_load_raises_cancelled_when_asked(image: Path) -> None:
    cancel = threading.Event()
    events: list = []

    def emit(event) -> None:
        events.append(event)
        if isinstance(event, Opened):
            cancel.set()

    with pytest.raises(Cancelled):
        load(lambda: ArchiveSource(str(image), cache=None), emit, cancel)
    assert not any(isinstance(e, Indexed | Analysed) for e in events)
