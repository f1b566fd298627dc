#!/usr/bin/env python3
"""The TUI side of `make bench`: LayerScope's and dive's TUIs driven in tmux, side by side.

For each image: time until the layer list is on screen, time until LayerScope has indexed
everything (its header says so), the time a Down key in the layer pane takes to redraw the
file tree (median of several presses), and peak memory (VmHWM). dive is given a time limit:
on a 100k-file image it needs minutes and gigabytes before its first screen.

    python bench/tui_bench.py [--images A.tar B.tar] [--dive-timeout 300] [--output FILE]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conformance.dive_oracle import CORPUS_OUT, dive_binary  # noqa: E402

WIDTH, HEIGHT = 160, 48
POLL = 0.02


@dataclass
class TuiSample:
    first_screen: float | None = None  # seconds until the layer list shows
    indexed: float | None = None  # seconds until every layer is indexed (LayerScope only)
    key_ms: float | None = None  # median redraw after a Down key in the layer pane
    peak_rss: int = 0  # bytes
    note: str = ""


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, test, timeout: float) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if test(screen(session)):
            return time.perf_counter() - start
        time.sleep(POLL)
    return None


def pane_pid(session: str) -> int:
    return int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip() or 0)


def peak_rss(pid: int) -> int:
    """VmHWM of the process and its children (dive runs alone; layerscope has workers)."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]) * 1024)
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(x) for x in out.split()]
    return kids + [g for k in kids for g in children(k)]


def measure(argv: list[str], ready, indexed, tree_region, timeout: float) -> TuiSample:
    session = f"bench{int(time.time() * 1000) % 100000}"
    sample = TuiSample()
    start = time.perf_counter()
    tmux("new", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), " ".join(argv))
    try:
        sample.first_screen = wait_for(session, ready, timeout)
        if sample.first_screen is None:
            sample.note = f"no first screen within {timeout:.0f} s"
            return sample
        if indexed is not None:
            done = wait_for(session, indexed, timeout)
            sample.indexed = None if done is None else time.perf_counter() - start
        times = []
        for _ in range(6):
            before = tree_region(screen(session))
            t0 = time.perf_counter()
            tmux("send-keys", "-t", session, "Down")
            took = wait_for(session, lambda s, b=before: tree_region(s) != b, 60)
            if took is None:
                break
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.3)
        sample.key_ms = statistics.median(times) if times else None
        sample.peak_rss = peak_rss(pane_pid(session))
    finally:
        tmux("kill-session", "-t", session)
    return sample


def right_half(text: str) -> str:
    return "\n".join(line[WIDTH // 3 :] for line in text.splitlines()[2:])


def layerscope(image: Path, timeout: float) -> TuiSample:
    argv = [str(REPO / ".venv" / "bin" / "layerscope"), str(image), "--no-cache"]
    return measure(
        argv,
        ready=lambda s: "Layers" in s and "   0 " in s,
        indexed=lambda s: "Score" in s,  # the image panel shows the score once analysed
        tree_region=right_half,
        timeout=timeout,
    )


def dive(image: Path, timeout: float) -> TuiSample:
    binary = dive_binary()
    if binary is None:
        return TuiSample(note="dive not installed")
    argv = [str(binary), "--source", "docker-archive", str(image)]
    return measure(
        argv,
        ready=lambda s: "Layers" in s and "Cmp" in s,
        indexed=None,
        tree_region=right_half,
        timeout=timeout,
    )


def fmt(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:.2f} {unit}" if unit == "s" else f"{value:.0f} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", nargs="*", type=Path)
    parser.add_argument("--dive-timeout", type=float, default=300)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "tui-results.md")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed: apt-get install tmux", file=sys.stderr)
        return 2
    images = args.images or [
        p
        for p in (
            CORPUS_OUT / "bench" / "synthetic-100k.tar",
            CORPUS_OUT / "archives" / "waste.tar",
            CORPUS_OUT / "archives" / "pyml.tar",
            CORPUS_OUT / "archives" / "node.tar",
        )
        if p.exists()
    ]
    rows = [
        "| image | TUI | first screen | fully indexed | Down key (median) | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for image in images:
        for name, run in (("layerscope", layerscope), ("dive", dive)):
            s = run(image, args.dive_timeout if name == "dive" else 600)
            rss = f"{s.peak_rss / 2**20:.0f} MB" if s.peak_rss else "—"
            rows.append(
                f"| {image.name} | {name} | {fmt(s.first_screen, 's')} | {fmt(s.indexed, 's')} "
                f"| {fmt(s.key_ms, 'ms')} | {rss} |" + (f" {s.note}" if s.note else "")
            )
            print(rows[-1], flush=True)
    args.output.write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
