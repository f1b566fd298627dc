"""The compare screen (a section of `make bench`): a 100k-file archive against itself plus a
layer that changes one line (bench/bench.py's compare inputs), the layer cache warm.

Each run opens `layerscope compare A B`'s screen headless (Textual's Pilot, in a child process
of its own): the time until the changes are shown (both images loaded, compared, the changed
paths' tree drawn), then from the first Ctrl+U until every path is shown (the tree of every
path is worked out only then). Medians of `--repeat` runs.

    python bench/compare_screen_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


async def _timings(a: str, b: str) -> tuple[float, float, int]:
    """(seconds to the changes shown, seconds from Ctrl+U to every path shown, rows)."""
    from explorer.core.compare import Thresholds
    from explorer.tui.screens.compare import CompareApp

    app = CompareApp(b, Thresholds(), False, target=a, clock=lambda: 0.0,
                     keymap_file=Path("/nonexistent/layerscope/keymap.toml"))  # fmt: skip
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.settled:
            await pilot.pause(0.01)
        shown = time.perf_counter()
        tree = app.screen.file_tree
        changed = len(tree.rows)
        await pilot.press("ctrl+u")
        while len(tree.rows) <= changed or not app.settled:
            await pilot.pause(0.01)
        return shown - started, time.perf_counter() - shown, len(tree.rows)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":  # one run, in a process of its own
        print(*asyncio.run(_timings(sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from bench import BENCH_INPUTS, one_line_variant, synthetic  # bench/bench.py, next to this

    a = synthetic("synthetic-100k", 100000, 256, 10, 0)
    b = BENCH_INPUTS / f"{a.stem}.one-line.tar"
    if not b.exists():
        one_line_variant(a, b)
    with tempfile.TemporaryDirectory() as cache:
        env = {"XDG_CACHE_HOME": cache, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
        argv = [sys.executable, __file__, "--child", str(a), str(b)]
        subprocess.run(argv, env=env, check=True, capture_output=True)  # fills the cache
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            shown, every, rows = out.stdout.split()
            runs.append((float(shown), float(every)))
    print(f"compare screen, 100k files vs + a one-line change, cache warm ({rows} paths):")
    print(f"  changes shown: {statistics.median(r[0] for r in runs):.2f} s")
    print(f"  first Ctrl+U, every path shown: {statistics.median(r[1] for r in runs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
