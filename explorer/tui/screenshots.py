"""SVG screenshots of the explorer on real images: `python -m explorer.tui.screenshots OUTDIR`
(`make screenshots`). Images: the bundled sample, dive's test images
(`$LAYERSCOPE_SHARED/dive-data`) and `$CORPUS_OUT/archives/waste.tar`; the compare screen on
two releases of an app built on the sample (`explorer.releasesample`); a shot whose image is
missing is not taken, and the run ends by saying which and why (exit 1). Each picture is taken
once every background worker has settled, with a frozen clock, so reruns are identical.

`--png` also converts each SVG with `rsvg-convert` (when installed), for a quick look.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from explorer.releasesample import release_specs
from explorer.sample import docker_archive, sample_spec
from explorer.tui.app import LayerScopeApp, make_app

SETTLE_TIMEOUT = 600.0  # seconds: a big image takes a while to index
MOTD = ("end", "tab", "down", "down", "down", "down", "down")  # the sample's /etc/motd, layer 3
COMPARE_CONF = ("down", "enter")  # the compare tree's /etc/app.conf, opened


@dataclass(frozen=True)
class Shot:
    name: str
    target: str
    keys: Sequence[str] = ()
    size: tuple[int, int] = (120, 40)
    needs: str = ""  # what the input is and how to get it, when it can be missing
    library: bool = False  # the library screen, on the fixed library of explorer.librarysample
    compare: str = ""  # the compare screen: `target` against this


def inputs() -> tuple[Path, Path]:
    """(dive's test data, the corpus archives): where `make` puts them."""
    repo = Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("LAYERSCOPE_SHARED") or repo.parent / "shared")
    corpus = Path(os.environ.get("CORPUS_OUT") or Path.home() / ".cache/layerscope-corpus")
    return shared / "dive-data", corpus / "archives"


def shots(sample: Path) -> list[Shot]:
    """Every screenshot of the README, whether or not its input is there (see `missing`)."""
    dive_data, archives = inputs()
    truncated = sample.with_name("sample-truncated.tar")  # an error screen: a cut download
    data = sample.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    dive = str(dive_data / "test-docker-image.tar")
    from_dive = "dive's test data: set LAYERSCOPE_SHARED to the directory holding dive-data"
    waste = str(archives / "waste.tar")
    from_corpus = "a corpus image: `make services` builds it (CORPUS_OUT says where)"
    return [
        Shot("sample-first-layer", str(sample)),
        Shot("sample-hidden-bytes", str(sample), ("e", "v", "down")),
        # Named relative to the directory the shots are taken in: the screen shows the path.
        Shot("error-truncated-archive", truncated.name),
        # An error screen: a root filesystem tar, not an image.
        Shot("error-not-an-image", str(dive_data / "test-gzip-image.tar"), needs=from_dive),
        Shot("dive-test-image", dive, needs=from_dive),
        Shot(
            "dive-test-image-layer-changes",
            dive,
            ("down",) * 4 + ("tab", "ctrl+u"),
            needs=from_dive,
        ),
        Shot(
            "dive-test-image-aggregated", dive, ("end", "ctrl+a", "tab", "ctrl+u"), needs=from_dive
        ),
        Shot("dive-test-image-80x24", dive, ("down", "down", "tab"), (80, 24), needs=from_dive),
        Shot("help", dive, ("f1",), needs=from_dive),
        # Inside the image: layer 3, the tree at /etc/motd (a file that layer rewrote).
        Shot("sample-history", str(sample), (*MOTD, "i"), (100, 30)),
        Shot("sample-viewer-diff", str(sample), (*MOTD, "enter", "d"), (100, 30)),
        Shot("sample-find", str(sample), ("f", *"*.log", "down"), (100, 30)),
        Shot("waste", waste, ("down",), needs=from_corpus),
        Shot("waste-hidden-bytes", waste, ("e", "v"), needs=from_corpus),
        Shot("views-config", waste, ("c", "tab", "down"), needs=from_corpus),
        Shot("views-findings", waste, ("w",), needs=from_corpus),
        Shot("views-packages", waste, ("p",), (80, 24), needs=from_corpus),
        # `layerscope compare app-1.0.tar app-1.1.tar`; the diff of /etc/app.conf (Enter)
        Shot("compare", "app-1.0.tar", ("down",), compare="app-1.1.tar"),
        Shot("compare-diff", "app-1.0.tar", COMPARE_CONF, (100, 30), compare="app-1.1.tar"),
        Shot("library", "", (), library=True),
        Shot("library-advice-80x24", "", ("a",), (80, 24), library=True),
        Shot("library-prune", "", ("p",), library=True),
    ]


def inside_busy(app: LayerScopeApp) -> bool:
    """Is a view over the explorer (history, find, the viewer) still working?"""
    from explorer.tui.screens.overlay import OverlayScreen
    from explorer.tui.screens.viewbase import ViewScreen
    from explorer.tui.screens.viewer import ViewerScreen

    views = (OverlayScreen, ViewScreen, ViewerScreen)
    return any(not w.is_finished and isinstance(w.node, views) for w in app.workers)


def missing(shot: Shot) -> bool:
    return bool(shot.needs) and not os.path.exists(shot.target)


def take(shot: Shot) -> str:
    """Run the app headless on `shot` and return the SVG."""
    from explorer import librarysample
    from explorer.core.compare import Thresholds
    from explorer.tui.screens.compare import CompareApp, CompareScreen
    from explorer.tui.screens.library import LibraryScreen

    keymap = Path("~/.config/layerscope/keymap.toml")
    app: LayerScopeApp
    if shot.compare:
        app = CompareApp(
            shot.compare, Thresholds(), False, target=shot.target, clock=lambda: 0.0,
            keymap_file=keymap,
        )  # fmt: skip
    else:
        app = make_app(
            shot.target,
            clock=lambda: 0.0,
            keymap_file=keymap,
            library=librarysample.library if shot.library else None,
            now=lambda: librarysample.NOW,
        )

    def settled() -> bool:
        screen = app.screen_stack[0]
        if shot.compare:  # its viewer, if open, is `inside_busy`'s
            return isinstance(screen, CompareScreen) and screen.done
        if not shot.library:
            return app.settled
        return isinstance(screen, LibraryScreen) and screen.library is not None

    async def settle() -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not settled() or inside_busy(app):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{shot.target}: still busy after {SETTLE_TIMEOUT:.0f} s")
            await pilot_ref[0].pause(0.05)
        await pilot_ref[0].pause()

    pilot_ref: list[Pilot[object]] = []

    async def auto_pilot(pilot: Pilot[object]) -> None:
        pilot_ref.append(pilot)
        await settle()
        for key in shot.keys:
            await pilot.press(key)
            await settle()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        taken.append(app.export_screenshot(title=f"LayerScope — {shot.name}"))
        app.exit()

    taken: list[str] = []
    app.run(headless=True, size=shot.size, auto_pilot=auto_pilot)
    svg = taken[0] if taken else None
    if svg is None:
        raise RuntimeError(f"{shot.name}: no screenshot taken")
    return svg


def to_png(svg_path: Path) -> Path | None:
    """A PNG next to the SVG, if rsvg-convert is installed (spaces kept, see below)."""
    if shutil.which("rsvg-convert") is None:
        return None
    # rsvg collapses the leading non-breaking spaces of Rich's <text> runs unless told to
    # preserve them, and squeezes runs to their textLength: fix both for a faithful PNG.
    svg = svg_path.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    svg = re.sub(r' textLength="[^"]*"', "", svg)
    png = svg_path.with_suffix(".png")
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as tmp:
        tmp.write(svg)
    try:
        subprocess.run(["rsvg-convert", tmp.name, "-o", str(png)], check=True)
    finally:
        os.unlink(tmp.name)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--png", action="store_true", help="also write PNGs (rsvg-convert)")
    parser.add_argument("--only", help="regex: take only the shots whose name matches")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    outdir = args.outdir.resolve()
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the same paths on screen at every run
        sample = Path(tmp) / "sample.tar"
        sample.write_bytes(docker_archive(sample_spec()))
        for name, spec in zip(("app-1.0.tar", "app-1.1.tar"), release_specs(), strict=True):
            Path(tmp, name).write_bytes(docker_archive(spec))
        try:
            taken = _take_all(shots(sample), outdir, args)
        finally:
            os.chdir(home)
    return taken


def _take_all(todo: list[Shot], outdir: Path, args: argparse.Namespace) -> int:
    """Take every shot whose input is there; then say which could not be taken and why
    (exit 1: the screenshots in `outdir` are then a mix of new and old ones)."""
    chosen = [shot for shot in todo if not args.only or re.search(args.only, shot.name)]
    for shot in chosen:
        if missing(shot):
            continue
        started = time.perf_counter()
        path = outdir / f"{shot.name}.svg"
        path.write_text(take(shot), encoding="utf-8")
        note = ""
        if args.png:
            png = to_png(path)
            note = f" (+ {png.name})" if png else " (no rsvg-convert: no PNG)"
        print(f"{path}{note}  {time.perf_counter() - started:.1f} s")
    skipped = [shot for shot in chosen if missing(shot)]
    if not skipped:
        return 0
    print(f"{len(skipped)} of {len(chosen)} screenshots not taken:", file=sys.stderr)
    for target, needs in dict.fromkeys((shot.target, shot.needs) for shot in skipped):
        names = ", ".join(shot.name for shot in skipped if shot.target == target)
        print(f"  {names}: {target} is missing ({needs})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
