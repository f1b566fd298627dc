#!/usr/bin/env python3
"""Two LayerScope programs compared on one image, their runs alternated (A, B, A, B...): on
a machine whose load changes, numbers taken one program after the other would compare the
load, not the programs.

Each round, for each program: a cold open (a new layer cache: seconds until every layer is
indexed, until the analysis is in, and between the two) and a warm re-open; in both, the
Down keys in the file tree while the next layers' views are worked out (see
`tui_bench.keys_during_prefetch`).

    python bench/tui_ab.py IMAGE.tar "COMMAND A" "COMMAND B" [--rounds 5]

A command is shell words, e.g. `"env PYTHONPATH=/tmp/old .venv/bin/python -m explorer"` for a
copy of an earlier commit (`git archive COMMIT explorer | tar -x -C /tmp/old`; run from a
directory without an `explorer` package of its own, and compile both copies first:
`python -m compileall -q`).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tui_bench as tb


def run(program: str, image: str, cache: Path) -> tb.TuiSample:
    tb.PROGRAM[:] = shlex.split(program)
    return tb.layerscope(image, cache, prefetch_keys=True)


def summary(name: str, cold: list[tb.TuiSample], warm: list[tb.TuiSample]) -> str:
    def median(values: list[float | None]) -> str:
        kept = [v for v in values if v is not None]
        return f"{statistics.median(kept):.2f} s" if kept else "—"

    tails = [
        s.indexed - s.all_read for s in cold if s.indexed is not None and s.all_read is not None
    ]
    return (
        f"| {name} | {median([s.all_read for s in cold])} | {median([s.indexed for s in cold])} "
        f"| {median(list(tails))} | {tb.prefetch_keys(cold + warm)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("a", help="program A (shell words)")
    parser.add_argument("b", help="program B (shell words)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    programs = {"A": args.a, "B": args.b}
    cold: dict[str, list[tb.TuiSample]] = {name: [] for name in programs}
    warm: dict[str, list[tb.TuiSample]] = {name: [] for name in programs}
    with tempfile.TemporaryDirectory(prefix="layerscope-tui-ab-") as tmp:
        for n in range(args.rounds):
            for name, program in programs.items():
                cache = Path(tempfile.mkdtemp(dir=tmp))
                cold[name].append(run(program, args.image, cache))
                warm[name].append(run(program, args.image, cache))
                c = cold[name][-1]
                keys = [round(k) for s in (c, warm[name][-1]) for k in s.prefetch_keys_ms]
                print(
                    f"round {n} {name}: read {tb.seconds(c.all_read)}, analysed "
                    f"{tb.seconds(c.indexed)}; keys during the prefetch {keys} ms",
                    flush=True,
                )
    print()
    print(
        "| program | cold: every layer indexed | cold: analysed | between the two | Down key "
        "during the prefetch: p50 / p95 (keys, how long) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in programs:
        print(summary(f"{name}: `{programs[name]}`", cold[name], warm[name]))
    print(f"\n{args.rounds} rounds, alternated; medians. {tb.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
