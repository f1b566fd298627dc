#!/usr/bin/env python3
"""The TUI side of `make bench`: LayerScope's and dive's TUIs driven in tmux, side by side.

Per image, in one run:

- **dive**: time to its first screen. dive has no cache: every open is cold. It is given a
  time limit (`--dive-timeout`): on a 100k-file image it needs minutes and gigabytes, and the
  cell then says "> N s".
- **cold**: LayerScope with an empty layer cache (`--cache-dir` a new directory): time to the
  first screen (the layer list), until every layer is indexed (the header says so) and until
  everything is analysed (the image panel shows the score); the redraw after a Down key in
  the layer pane and in the file tree (median, once the program is idle), peak RSS.
- **warm, archive**: the same archive opened again (every layer index and the analysis in the
  cache): time until the screen is complete (score shown), median of `--repeat` runs.
- **keys during the prefetch**: in the cold and warm archive runs, as soon as the first
  layer's files show, LayerScope works out the next layers' views in the background: Down
  keys in the file tree meanwhile (one every 0.2 s while the program keeps a core busy),
  their redraw times pooled (p50 / p95), and how long that background work lasted.
- **warm, engine**: the same image from the Docker engine (`docker://corpus/NAME:1`, corpus
  images only): the engine is asked for the image once (`--json`, which exports it and
  remembers its layers), then each TUI open reads no export at all.
- **second image**: a new cache that holds only the base layer (the corpus images are built
  `FROM corpus/debian:1`: debian.tar is opened first), then the image: time to the complete
  screen when only its own layers are read.

    python bench/tui_bench.py [--images A.tar ...] [--repeat 3] [--dive-timeout 300]
                              [--output bench/tui-results.md] [--program "COMMAND"]

`--program` measures another LayerScope (e.g. `"env PYTHONPATH=/tmp/old .venv/bin/python -m
explorer"` for a checkout of an earlier commit): runs of two programs, alternated, compare
them on a machine whose load changes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import machine, warm  # noqa: E402  (bench/bench.py, next to this script)
from tests.conformance.dive_oracle import CORPUS_OUT, dive_binary  # noqa: E402

WIDTH, HEIGHT = 160, 48
POLL = 0.02
LAYERSCOPE = REPO / ".venv" / "bin" / "layerscope"
BASE_IMAGE = "debian"  # corpus images are built FROM corpus/debian:1
TIMEOUT = 600.0
SOCKET = "layerscope-bench"
TREE_WAIT = 20.0  # seconds after the score to wait for the first tree view
PREFETCH_GAP = 0.2  # seconds between Down keys while the next views are worked out
BUSY = 0.25  # share of a core above which the program is still working them out
PROGRAM = [str(LAYERSCOPE)]  # the LayerScope command measured (--program)

Screen = Callable[[str], bool]


@dataclass
class TuiSample:
    first_screen: float | None = None  # seconds until the layer list shows
    all_read: float | None = None  # seconds until every layer is indexed (LayerScope only)
    indexed: float | None = None  # seconds until indexed and analysed (LayerScope only)
    tree: float | None = None  # seconds until the first layer's files show (LayerScope only)
    key_ms: float | None = None  # median redraw after a Down key in the layer pane
    tree_key_ms: float | None = None  # the same in the file tree pane (after Tab)
    prefetch_keys_ms: list[float] = field(default_factory=list)  # Down keys meanwhile
    prefetch_seconds: float | None = None  # from the first files shown until the work ended
    peak_rss: int = 0  # bytes
    timed_out: float | None = None  # the limit, when the first screen did not come within it
    note: str = ""


def tmux(*args: str) -> str:
    # A server of our own: nothing else on the machine that drives tmux can end our sessions.
    argv = ["tmux", "-L", SOCKET, *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def alive(session: str) -> bool:
    return subprocess.run(["tmux", "-L", SOCKET, "has-session", "-t", session]).returncode == 0


def screen(session: str, colours: bool = False) -> str:
    """The pane's text (with its colour escapes: a cursor may move by colour alone)."""
    return tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", session)


def wait_for(
    session: str, test: Screen, timeout: float, start: float, colours: bool = False
) -> float | None:
    """Seconds from `start` until the screen passes `test`, or None after `timeout`."""
    while time.perf_counter() - start < timeout:
        if test(screen(session, colours)):
            return time.perf_counter() - start
        if not alive(session):
            return None  # the program ended (or failed) without showing it
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


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by `pid` and its children (user + system)."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 20.0, window: float = 0.3) -> None:
    """Until the program uses under 5 % of a core over `window` seconds (or `timeout`)."""
    end = time.perf_counter() + timeout
    used = cpu_seconds(pid)
    while time.perf_counter() < end:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - used < 0.05 * window:
            return
        used = now


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(x) for x in out.split()]
    return kids + [g for k in kids for g in children(k)]


def measure(
    argv: list[str],
    ready: Screen,
    timeout: float,
    indexed: Screen | None = None,
    tree: Screen | None = None,
    keys: bool = True,
    all_read: Screen | None = None,
    prefetch_keys: bool = False,
) -> TuiSample:
    session = f"bench{int(time.time() * 1000) % 100000}"
    sample = TuiSample()
    start = time.perf_counter()
    tmux("new", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), " ".join(argv))
    try:
        sample.first_screen = wait_for(session, ready, timeout, start)
        if sample.first_screen is None:
            sample.timed_out = timeout
            return sample
        if all_read is not None:
            sample.all_read = wait_for(session, all_read, timeout, start)
        if indexed is not None:
            sample.indexed = wait_for(session, indexed, timeout, start)
        if tree is not None:  # not waited for long: the score is what is measured
            sample.tree = wait_for(session, tree, (sample.indexed or 0) + TREE_WAIT, start)
        if prefetch_keys and sample.tree is not None:
            keys_during_prefetch(session, sample)
        if keys:
            # Key latency is that of an idle program: the views LayerScope works out ahead
            # (and dive's own loading) are over first.
            wait_idle(pane_pid(session))
            sample.key_ms = down_key_ms(session, colours=False)
            tmux("send-keys", "-t", session, "Tab")  # both tools: Tab goes to the file tree
            time.sleep(0.5)
            sample.tree_key_ms = down_key_ms(session, colours=True)
        sample.peak_rss = peak_rss(pane_pid(session))
    finally:
        pid = pane_pid(session) if alive(session) else 0
        running = [pid, *children(pid)] if pid else []
        tmux("kill-session", "-t", session)
        wait_gone(running)
    return sample


def wait_gone(pids: list[int], timeout: float = 20.0) -> None:
    """Until `pids` have exited (killed after `timeout`): the next measurement must not
    share the machine with them (dive stopped at its time limit holds gigabytes)."""
    end = time.perf_counter() + timeout
    while pids:
        pids = [p for p in pids if _exists(p)]
        if pids and time.perf_counter() > end:
            for p in pids:
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            end = float("inf")
        time.sleep(0.05)


def _exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def keys_during_prefetch(session: str, sample: TuiSample, presses: int = 40) -> None:
    """Down keys in the file tree while the program works out the next layers' views (it
    keeps a core busy between the keys), then focus back on the layer list."""
    pid = pane_pid(session)
    shown = time.perf_counter()
    tmux("send-keys", "-t", session, "Tab")
    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    for _ in range(presses):
        time.sleep(PREFETCH_GAP)
        t1, cpu1 = time.perf_counter(), cpu_seconds(pid)
        if cpu1 - cpu0 < BUSY * (t1 - t0):
            sample.prefetch_seconds = t0 - shown
            break
        took = down_key(session, colours=True)
        if took is None:
            break
        sample.prefetch_keys_ms.append(took)
        t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    tmux("send-keys", "-t", session, "BTab")
    time.sleep(0.5)


def down_key(session: str, colours: bool) -> float | None:
    """Milliseconds until the right-hand pane shows something new after Down."""
    before = right_half(screen(session, colours))
    t0 = time.perf_counter()
    tmux("send-keys", "-t", session, "Down")
    changed = lambda s, b=before: right_half(s) != b  # noqa: E731
    took = wait_for(session, changed, 60, t0, colours)
    return None if took is None else took * 1000


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def down_key_ms(session: str, colours: bool, presses: int = 6) -> float | None:
    """Median milliseconds until the right-hand pane shows something new after Down. In
    the layer pane its text must change (new rows, not old ones greyed while computing);
    in the file tree the cursor moves by colour alone."""
    times = []
    for _ in range(presses):
        took = down_key(session, colours)
        if took is None:
            break
        times.append(took)
        time.sleep(0.3)
    return statistics.median(times) if times else None


_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def right_half(text: str) -> str:
    """The screen right of the first third (the file tree in both tools), below the header;
    colour escapes kept, columns counted without them."""
    lines = []
    for line in text.splitlines()[2:]:
        kept, column, pos = [], 0, 0
        for m in [*_SGR.finditer(line), None]:
            segment = line[pos : m.start() if m else len(line)]
            skip = max(0, WIDTH // 3 - column)
            kept.append(segment[skip:])
            column += len(segment)
            if m is not None:
                if column >= WIDTH // 3:
                    kept.append(m.group())
                pos = m.end()
        lines.append("".join(kept))
    return "\n".join(lines)


# -- LayerScope --------------------------------------------------------------------------------


def ls_ready(s: str) -> bool:
    return "Layers" in s and "   0 " in s


def ls_all_read(s: str) -> bool:
    """Every layer indexed: the header says so until the analysis is in (then the score)."""
    return "indexed in" in s or "Score" in s


def ls_indexed(s: str) -> bool:
    return "Score" in s  # the image panel shows the score once analysed


def ls_tree(s: str) -> bool:
    """The first layer's files are on screen (tree rows in the right-hand pane)."""
    pane = right_half(s)
    return "Score" in s and ("├── " in pane or "└── " in pane)


def layerscope(
    target: str,
    cache_dir: Path,
    keys: bool = False,
    timeout: float = TIMEOUT,
    prefetch_keys: bool = False,
) -> TuiSample:
    argv = [*PROGRAM, target, "--cache-dir", str(cache_dir)]
    return measure(
        argv,
        ls_ready,
        timeout,
        indexed=ls_indexed,
        tree=ls_tree,
        keys=keys,
        all_read=ls_all_read,
        prefetch_keys=prefetch_keys,
    )


def headless(target: str, cache_dir: Path, scratch: Path) -> float:
    """`layerscope TARGET --json` into the cache: seconds (fills the layer cache and, for an
    engine image, remembers its export so that the TUI opens it without one)."""
    t0 = time.perf_counter()
    out = scratch / "out.json"
    argv = [*PROGRAM, target, "--json", str(out), "--cache-dir", str(cache_dir)]
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - t0


def engine_has(reference: str) -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "image", "inspect", reference], capture_output=True)
    return done.returncode == 0


def dive(image: Path, timeout: float) -> TuiSample:
    binary = dive_binary()
    if binary is None:
        return TuiSample(note="dive not installed")
    argv = [str(binary), "--source", "docker-archive", str(image)]
    return measure(argv, lambda s: "Layers" in s and "Cmp" in s, timeout)


# -- one image ---------------------------------------------------------------------------------


@dataclass
class ImageResult:
    name: str
    dive: TuiSample
    cold: TuiSample
    warm_archive: list[TuiSample]
    warm_engine: list[TuiSample]
    second: TuiSample | None
    notes: list[str]


def median_of(samples: list[TuiSample], field: str) -> tuple[float, float, float] | None:
    values = [getattr(s, field) for s in samples if getattr(s, field) is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def bench_image(image: Path, args: argparse.Namespace, scratch: Path) -> ImageResult:
    name = image.name.removesuffix(".tar")
    notes: list[str] = []
    warm(image)
    print(f"== {image.name}", flush=True)
    if args.no_dive:
        dive_sample = TuiSample(note="not run (--no-dive)")
    else:
        dive_sample = dive(image, args.dive_timeout)
    print(f"  dive first screen: {seconds(dive_sample.first_screen, dive_sample)}", flush=True)

    # dive stopped at its limit held gigabytes: the page cache may have lost the archive and
    # LayerScope's own files. "Cold" means an empty layer cache, not a cold disk.
    warm(image)
    subprocess.run([*PROGRAM, "--version"], capture_output=True)
    subprocess.run([sys.executable, "-c", "import explorer.tui.app"], capture_output=True)
    cache = Path(tempfile.mkdtemp(prefix=f"cache-{name}-", dir=scratch))
    cold = layerscope(str(image), cache, keys=True, prefetch_keys=True)
    print(
        f"  cold: first {seconds(cold.first_screen)} all read {seconds(cold.all_read)} "
        f"indexed {seconds(cold.indexed)}",
        flush=True,
    )

    warm_archive = [
        layerscope(str(image), cache, keys=n == 0, prefetch_keys=True) for n in range(args.repeat)
    ]
    print(f"  warm archive: {[seconds(s.indexed) for s in warm_archive]}", flush=True)
    print(f"  keys during the prefetch: {prefetch_keys([cold, *warm_archive])}", flush=True)

    warm_engine: list[TuiSample] = []
    reference = f"corpus/{name}:1"
    corpus = image.resolve().parent == (CORPUS_OUT / "archives").resolve()
    if corpus and engine_has(reference):
        took = headless(f"docker://{reference}", cache, scratch)
        notes.append(f"{name}: the engine was asked for the image once ({took:.1f} s, --json)")
        warm_engine = [layerscope(f"docker://{reference}", cache) for _ in range(args.repeat)]
        print(f"  warm engine: {[seconds(s.indexed) for s in warm_engine]}", flush=True)

    second = None
    base = CORPUS_OUT / "archives" / f"{BASE_IMAGE}.tar"
    if corpus and name != BASE_IMAGE and base.exists():
        shared = Path(tempfile.mkdtemp(prefix=f"shared-{name}-", dir=scratch))
        headless(str(base), shared, scratch)
        second = layerscope(str(image), shared)
        print(f"  after {BASE_IMAGE}: indexed {seconds(second.indexed)}", flush=True)
    return ImageResult(name, dive_sample, cold, warm_archive, warm_engine, second, notes)


# -- the report --------------------------------------------------------------------------------


def prefetch_keys(samples: list[TuiSample]) -> str:
    """The Down keys pressed while the next views were worked out, pooled: p50 / p95 (n),
    and how long that work lasted (median)."""
    times = [t for s in samples for t in s.prefetch_keys_ms]
    if not times:
        return "—"
    took = [s.prefetch_seconds for s in samples if s.prefetch_seconds is not None]
    lasted = f", {statistics.median(took):.1f} s" if took else ""
    return (
        f"{percentile(times, 50):.0f} / {percentile(times, 95):.0f} ms ({len(times)} keys{lasted})"
    )


def seconds(value: float | None, sample: TuiSample | None = None) -> str:
    if value is None:
        if sample is not None and sample.timed_out is not None:
            return f"> {sample.timed_out:.0f} s"
        return "—" if sample is None or not sample.note else sample.note
    return f"{value:.2f} s"


def spread(samples: list[TuiSample], field: str = "indexed") -> str:
    m = median_of(samples, field)
    if m is None:
        return "—"
    return f"**{m[0]:.2f} s** ({m[1]:.2f}–{m[2]:.2f})" if len(samples) > 1 else f"{m[0]:.2f} s"


def report(results: list[ImageResult], args: argparse.Namespace) -> str:
    rows = [
        "| image | dive: first screen (no cache) | cold: first screen | cold: every layer "
        "indexed | cold: indexed + analysed | warm re-open, archive | warm re-open, engine | "
        "second image, base layer cached |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        engine = spread(r.warm_engine) if r.warm_engine else "n/a"
        second = seconds(r.second.indexed) if r.second else "n/a"
        rows.append(
            f"| {r.name} | {seconds(r.dive.first_screen, r.dive)} | "
            f"{seconds(r.cold.first_screen)} | {seconds(r.cold.all_read)} | "
            f"{seconds(r.cold.indexed)} | "
            f"{spread(r.warm_archive)} | {engine} | {second} |"
        )
    detail = [
        "| image | warm, archive: first screen / files of layer 0 shown | warm, engine: "
        "first screen / files shown | Down key in the layers / the file tree, dive | the same, "
        "LayerScope cold | the same, LayerScope warm | Down key in the file tree while the next "
        "views are worked out: p50 / p95 (keys, how long) | peak RSS, dive | peak RSS, "
        "LayerScope (cold run) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:

        def pair(samples: list[TuiSample]) -> str:
            if not samples:
                return "n/a"
            first = median_of(samples, "first_screen")
            tree = median_of(samples, "tree")
            shown = [f"{m[0]:.2f} s" if m else "—" for m in (first, tree)]
            return " / ".join(shown)

        def ms(v: float | None) -> str:
            return "—" if v is None else f"{v:.0f} ms"

        def keys(sample: TuiSample | None) -> str:
            if sample is None:
                return "n/a"
            return f"{ms(sample.key_ms)} / {ms(sample.tree_key_ms)}"

        def mb(v: int) -> str:
            return f"{v / 2**20:.0f} MB" if v else "—"

        detail.append(
            f"| {r.name} | {pair(r.warm_archive)} | {pair(r.warm_engine)} | "
            f"{keys(r.dive)} | {keys(r.cold)} | "
            f"{keys(r.warm_archive[0] if r.warm_archive else None)} | "
            f"{prefetch_keys([r.cold, *r.warm_archive])} | {mb(r.dive.peak_rss)} | "
            f"{mb(r.cold.peak_rss)} |"
        )
    notes = [n for r in results for n in r.notes]
    return "\n".join(
        [
            f"# LayerScope vs dive, the TUIs — {datetime.date.today().isoformat()}",
            "",
            "Seconds from starting the program until the screen (160×48, in tmux) shows: for "
            "dive its first screen; for LayerScope the layer list (first screen), every layer "
            "indexed (the header says so; each layer's files can be browsed), then the "
            "score in the image panel (every layer indexed and the image analysed: the "
            "screen is complete and every key works). Warm: every layer index and the "
            f"analysis in the layer cache; median of {args.repeat} runs (min–max). "
            "Second image: a new cache holding only the base layer "
            f"(`{BASE_IMAGE}.tar` opened first). dive has no cache: each open is cold; "
            f"it is stopped after {args.dive_timeout:.0f} s.",
            "",
            *rows,
            "",
            *detail,
            "",
            "Down key: milliseconds from `tmux send-keys` until the screen right of the layer "
            "pane shows something new (polled every 20 ms), median of 6 presses from layer 0, "
            "once the program is idle (under 5 % of a core for 0.3 s: LayerScope has worked "
            "out the next layers' views, dive has loaded); in the file tree the cursor moves "
            "by colour alone. While the next views are worked out: from the moment the first "
            "layer's files show in the cold and each warm archive run, a Down key in the file "
            "tree every 0.2 s as long as the program keeps over a quarter of a core busy "
            "(nearest-rank percentiles of every such key; how long: median time until the "
            "program went idle).",
            "",
            machine(),
            *(["", *[f"- {n}" for n in notes]] if notes else []),
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="warm re-opens per image")
    parser.add_argument("--dive-timeout", type=float, default=300)
    parser.add_argument("--no-dive", action="store_true", help="LayerScope only")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "tui-results.md")
    parser.add_argument("--program", help="the LayerScope command to measure (shell words)")
    args = parser.parse_args()
    if args.program:
        PROGRAM[:] = shlex.split(args.program)
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
    with tempfile.TemporaryDirectory(prefix="layerscope-tui-bench-") as tmp:
        results = [bench_image(image, args, Path(tmp)) for image in images]
    text = report(results, args)
    print()
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
