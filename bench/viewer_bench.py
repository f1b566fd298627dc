"""The file viewer (a section of `make bench`): key to content on screen, and the memory a
2 GiB file costs.

Two OCI layout directories are written in a scratch directory (uncompressed layers, so
that nothing but the viewer is measured): one with a 900 KB Python source, one with a 2 GiB
text file (streamed to disk, never in memory). Each is opened in LayerScope's TUI, headless
(Textual's Pilot, in a child process of its own), the layer cache warm; the time is from
Enter on the file in the tree to its first lines drawn (the first row renders its text),
then coloured (median of `--repeat` opens); the memory is the child's peak RSS while the
2 GiB file is opened, its lines counted
to the end and its last line shown, less its RSS before Enter.

    python bench/viewer_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCE_LINE = b"    result = compute(value, factor=2)  # keep going with the next one\n"
BIG_LINE = b"2026-01-01T00:00:00Z INFO request served in 3 ms, status 200, bytes 1234\n"


class _Lines(io.RawIOBase):
    """`size` bytes of `line` repeated, read in chunks (never held whole)."""

    def __init__(self, line: bytes, size: int) -> None:
        self._chunk = line * ((1 << 20) // len(line))
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), len(self._chunk), self._left)
        buffer[:n] = self._chunk[:n]
        self._left -= n
        return n


def oci_dir(out: Path, name: str, line: bytes, size: int) -> Path:
    """An OCI layout directory whose one uncompressed layer holds `name`, `size` bytes."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer = out / "layer.tmp"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        tar.addfile(info, io.BufferedReader(_Lines(line, size), 1 << 20))
    digest = hashlib.sha256()
    with open(layer, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    layer_hex = digest.hexdigest()
    layer.rename(blobs / layer_hex)

    def blob(doc: dict) -> dict:
        data = json.dumps(doc).encode()
        hexdigest = hashlib.sha256(data).hexdigest()
        (blobs / hexdigest).write_bytes(data)
        return {"digest": f"sha256:{hexdigest}", "size": len(data)}

    config = blob(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_hex}"]},
            "history": [{"created_by": "COPY file /"}],
        }
    )
    manifest = blob(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_hex}",
                    "size": (blobs / layer_hex).stat().st_size,
                }
            ],
        }
    )
    kind = "application/vnd.oci.image.manifest.v1+json"
    index = {"schemaVersion": 2, "manifests": [{"mediaType": kind, **manifest}]}
    (out / "index.json").write_text(json.dumps(index))
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return out


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _child(target: str, path: str, repeat: int, to_end: bool) -> dict:
    from explorer.core.pager import language_of
    from explorer.tui.app import make_app
    from explorer.tui.screens.viewer import ViewerScreen

    app = make_app(target, keymap_file=Path("/nonexistent"))
    times: list[float] = []
    coloured: list[float] = []
    peak = [0]
    async with app.run_test(size=(120, 40)) as pilot:

        async def until(condition, timeout: float = 150.0) -> None:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + timeout
            while not condition():
                if time.monotonic() > deadline:
                    raise TimeoutError(inspect.getsource(condition).strip())
                await asyncio.sleep(0.002)

        await until(lambda: app.settled)
        main = app.main_screen
        assert main is not None
        await pilot.press("tab")
        tree = main.file_tree
        await until(lambda: any(row.path == path for row in tree.rows))
        tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == path))
        await pilot.pause()
        before = rss()
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for _ in range(repeat):
            started = time.perf_counter()
            app.simulate_key("enter")  # as typed (Pilot's press would wait for the app to idle)
            await until(lambda: isinstance(app.screen, ViewerScreen))
            view = app.screen.view  # type: ignore[attr-defined]
            # the first row, as the screen's next frame draws it: its text, coloured
            await until(lambda v=view: v.drawn(0) and "…" not in v.render_line(0).text)
            times.append(time.perf_counter() - started)
            if language_of(path, b""):  # a source file: then coloured
                await until(lambda v=view: v.language is not None)
                coloured.append(time.perf_counter() - started)
            if to_end:
                await until(lambda v=view: v.text.complete)
                await pilot.press("G")
                await until(lambda v=view: v.drawn(v.text.lines - 1))
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, ViewerScreen))
        done.set()
        peak[0] = max(peak[0], rss())
    return {
        "first": times[0],
        "again": times[1:],
        "coloured": coloured,
        "extra_rss": peak[0] - before,
    }


def run_child(target: Path, path: str, repeat: int, to_end: bool, cache: Path) -> dict:
    env = dict(os.environ, LAYERSCOPE_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    argv = [sys.executable, __file__, "--child", str(target), path, str(repeat)]
    out = subprocess.run([*argv, "1" if to_end else "0"], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"viewer bench: {target.name}: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(repeat: int) -> str:
    with tempfile.TemporaryDirectory(prefix="layerscope-viewer-bench-") as tmp:
        work = Path(tmp)
        small = oci_dir(work / "small", "app/module.py", SOURCE_LINE, 900_000)
        big = oci_dir(work / "big", "var/log/huge.log", BIG_LINE, 2 << 30)
        cache = work / "cache"
        run_child(small, "/app/module.py", 1, False, cache)  # the layer cache warm
        small_run = run_child(small, "/app/module.py", repeat + 1, False, cache)
        run_child(big, "/var/log/huge.log", 1, False, cache)
        big_run = run_child(big, "/var/log/huge.log", 1, True, cache)
    again = statistics.median(small_run["again"]) if small_run["again"] else float("nan")
    coloured = small_run["coloured"]
    later = statistics.median(coloured[1:]) if coloured[1:] else float("nan")
    return "\n".join(
        [
            "## The file viewer",
            "",
            "| work | time | extra memory |",
            "|---|---:|---:|",
            f"| Enter → a 900 KB Python file's first lines drawn (plain): first open of the "
            f"image's content | {small_run['first'] * 1000:.0f} ms | |",
            f"| … coloured | {coloured[0] * 1000:.0f} ms | |",
            f"| the same, again (median of {repeat}): drawn · coloured | {again * 1000:.0f} ms · "
            f"{later * 1000:.0f} ms | |",
            f"| Enter → a 2 GiB text file drawn; then counted to its end and its last line "
            f"shown | {big_run['first'] * 1000:.0f} ms | "
            f"{big_run['extra_rss'] / 2**20:,.0f} MiB |",
            "",
            "Headless (Textual's Pilot, 120x40), uncompressed OCI layouts, layer cache warm. "
            "Extra memory: peak RSS during the viewer's work less the RSS before Enter.",
            "",
        ]
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        target, path, repeat, to_end = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        result = asyncio.run(_child(target, path, repeat, to_end == "1"))
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    print(measure(parser.parse_args().repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
