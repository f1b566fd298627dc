"""SVG screenshots of the explorer on real images: `python -m explorer.tui.screenshots OUTDIR`
(`make screenshots`). Images: the dive test image (`$LAYERSCOPE_SHARED/dive-data`), the
bundled sample, and `$CORPUS_OUT/archives/waste.tar` when it exists. Each picture is taken
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

from explorer.sample import docker_archive, sample_spec
from explorer.tui.app import LayerScopeApp, make_app

SETTLE_TIMEOUT = 600.0  # seconds: a big image takes a while to index


@dataclass(frozen=True)
class Shot:
    name: str
    target: str
    keys: Sequence[str] = ()
    size: tuple[int, int] = (120, 40)


def shots(sample: Path) -> list[Shot]:
    shared = Path(os.environ.get("LAYERSCOPE_SHARED", "/work/shared"))
    corpus = Path(
        os.environ.get(
            "CORPUS_OUT", os.path.join(os.path.expanduser("~"), ".cache/layerscope-corpus")
        )
    )
    out: list[Shot] = [
        Shot("sample-first-layer", str(sample)),
        Shot("sample-hidden-bytes", str(sample), ("e", "v", "down")),
    ]
    truncated = sample.with_name("sample-truncated.tar")  # an error screen: a cut download
    data = sample.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    # Named relative to the directory the shots are taken in: the screen shows the path.
    out.append(Shot("error-truncated-archive", truncated.name))
    rootfs = shared / "dive-data" / "test-gzip-image.tar"  # an error screen: not an image
    if rootfs.exists():
        out.append(Shot("error-not-an-image", str(rootfs)))
    dive = shared / "dive-data" / "test-docker-image.tar"
    if dive.exists():
        out += [
            Shot("dive-test-image", str(dive)),
            Shot("dive-test-image-layer-changes", str(dive), ("down",) * 4 + ("tab", "ctrl+u")),
            Shot("dive-test-image-aggregated", str(dive), ("end", "ctrl+a", "tab", "ctrl+u")),
            Shot("dive-test-image-80x24", str(dive), ("down", "down", "tab"), (80, 24)),
            Shot("help", str(dive), ("f1",)),
        ]
    waste = corpus / "archives" / "waste.tar"
    if waste.exists():
        out += [
            Shot("waste", str(waste), ("down",)),
            Shot("waste-hidden-bytes", str(waste), ("e", "v")),
        ]
    return out


def take(shot: Shot) -> str:
    """Run the app headless on `shot` and return the SVG."""
    app: LayerScopeApp = make_app(
        shot.target, clock=lambda: 0.0, keymap_file=Path("~/.config/layerscope/keymap.toml")
    )

    async def settle() -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not app.settled:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{shot.target}: still busy after {SETTLE_TIMEOUT:.0f} s")
            await pilot_ref[0].pause(0.05)
        await pilot_ref[0].pause()

    pilot_ref: list = []

    async def auto_pilot(pilot) -> None:
        pilot_ref.append(pilot)
        await settle()
        for key in shot.keys:
            await pilot.press(key)
            await settle()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        app.exit(app.export_screenshot(title=f"LayerScope — {shot.name}"))

    svg = app.run(headless=True, size=shot.size, auto_pilot=auto_pilot)
    if not isinstance(svg, str):
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
        try:
            taken = _take_all(shots(sample), outdir, args)
        finally:
            os.chdir(home)
    return taken


def _take_all(todo: list[Shot], outdir: Path, args: argparse.Namespace) -> int:
    for shot in todo:
        if args.only and not re.search(args.only, shot.name):
            continue
        started = time.perf_counter()
        path = outdir / f"{shot.name}.svg"
        path.write_text(take(shot), encoding="utf-8")
        note = ""
        if args.png:
            png = to_png(path)
            note = f" (+ {png.name})" if png else " (no rsvg-convert: no PNG)"
        print(f"{path}{note}  {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
