#!/usr/bin/env python3
"""`make bench`, the registry rows: an image read straight from a local registry by LayerScope
against `docker pull` + dive on the same image, side by side, same machine.

The image is the largest corpus archive built (pyml when it is, else the largest small one),
pushed with skopeo to a registry of our own (start-registry.sh, loopback). dive cannot read a
registry: its side is `docker pull` into a private engine (emptied before each run, so the
pull is a real one; the shared engine is never touched) and then `dive IMAGE --json`.
LayerScope's cold open starts from an empty layer cache; its warm re-open from the cache the
cold one left (the registry is asked for the manifest and the config only).

    python bench/registry_bench.py [--repeat N] [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conformance.dive_oracle import (  # noqa: E402  (needs REPO on sys.path)
    ARCHIVES,
    child_env,
    dive_binary,
    layerscope_argv,
    run_measured,
)
from tests.registry.servers import Registry, skopeo_copy  # noqa: E402

TIMEOUT = 3 * 3600
CANDIDATES = ("pyml", "node", "waste", "debian", "multistage", "many-layers")


def largest_image() -> tuple[str, Path] | None:
    """pyml when built; else the largest corpus archive that is."""
    found = [(n, ARCHIVES / f"{n}.tar") for n in CANDIDATES if (ARCHIVES / f"{n}.tar").exists()]
    if not found:
        return None
    if found[0][0] == "pyml":
        return found[0]
    return max(found, key=lambda item: item[1].stat().st_size)


def measure(
    argv: list[str], workdir: Path, env: dict[str, str] | None = None
) -> tuple[float, int, str]:
    rc, stdout, stderr, seconds, rss = run_measured(argv, cwd=workdir, timeout=TIMEOUT, env=env)
    return seconds, rss, "" if rc == 0 else f"exit {rc}: {(stderr or stdout).strip()[-300:]}"


def median(samples: list[tuple[float, int, str]]) -> tuple[float, int, str]:
    failed = next((s[2] for s in samples if s[2]), "")
    if failed:
        return 0.0, 0, failed
    return (
        statistics.median(s[0] for s in samples),
        int(statistics.median(s[1] for s in samples)),
        "",
    )


def cell(sample: tuple[float, int, str] | None) -> str:
    if sample is None:
        return "n/a | n/a"
    if sample[2]:
        return "failed | failed"
    return f"{sample[0]:.2f} s | {sample[1] / 2**20:,.0f} MiB"


def without_ids(text: str) -> str:
    return re.sub(r'\n      "id": "[^"]*",', "", text)


def private_engine(tmp: Path):  # -> PrivateEngine | str (why not)
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        return "no dockerd here"
    from tests.engine.private_engine import PrivateEngine

    engine = PrivateEngine(Path(tempfile.mkdtemp(prefix="ls-bench-engine-", dir="/tmp")))
    try:
        engine.start()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        engine.stop()
        engine.unmount()
        return f"the private engine did not start ({str(exc)[-200:]})"
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "registry-results.md")
    args = parser.parse_args()
    chosen = largest_image()
    if chosen is None or shutil.which("skopeo") is None:
        print("registry bench: skipped (no corpus archive built, or no skopeo)", file=sys.stderr)
        return 0
    name, archive = chosen
    notes = []
    if name != "pyml":
        notes.append(
            f"corpus `pyml` is not built here: the largest corpus image built, `{name}` "
            f"({archive.stat().st_size / 2**20:,.0f} MiB as a docker archive), is used instead"
        )
    with tempfile.TemporaryDirectory(prefix="layerscope-registry-bench-") as tmp:
        workdir = Path(tmp)
        registry = Registry(workdir / "registry")
        registry.start()
        engine = None
        try:
            ref = f"{registry.addr}/bench/{name}:1"
            skopeo_copy(f"docker-archive:{archive}", f"docker://{ref}")
            cache = workdir / "layer-cache"
            out = workdir / "ls.json"
            ls_argv = layerscope_argv(f"registry://{ref}", "--json", out, "--cache-dir", cache)
            rows = []

            cold = []
            for _ in range(args.repeat):
                shutil.rmtree(cache, ignore_errors=True)
                cold.append(measure(ls_argv, workdir))
                print(f"layerscope cold {cold[-1]}", flush=True)
            mark = registry.mark()
            warm = [measure(ls_argv, workdir) for _ in range(args.repeat)]
            print(f"layerscope warm {warm}", flush=True)
            served = registry.requests_since(mark, r"/v2/[^ ]*")
            layer_requests = [r for r in served if "/blobs/" in r]
            notes.append(
                f"warm re-opens: {len(served)} requests to the registry in {args.repeat} runs, "
                f"{len(layer_requests)} of them blobs (the config: one a run; no layer blob)"
            )

            engine = private_engine(workdir)
            dive_cold = dive_warm = None
            if isinstance(engine, str):
                notes.append(f"dive not run: {engine}")
                engine = None
            else:
                dive_out = workdir / "dive.json"
                env = child_env(DOCKER_HOST=engine.host)
                pull_and_dive = [
                    "bash", "-c",
                    f'docker pull -q "$0" >/dev/null && "{dive_binary()}" "$0" --json "$1"',
                    ref, str(dive_out),
                ]  # fmt: skip
                samples = []
                for _ in range(args.repeat):
                    engine.docker("rmi", "-f", ref, check=False)
                    engine.docker("image", "prune", "-af", check=False)
                    samples.append(measure(pull_and_dive, workdir, env))
                    print(f"docker pull + dive {samples[-1]}", flush=True)
                dive_cold = median(samples)
                dive_only = [str(dive_binary()), ref, "--json", str(dive_out)]
                dive_warm = median([measure(dive_only, workdir, env) for _ in range(args.repeat)])
                if dive_out.exists() and out.exists():
                    same = without_ids(dive_out.read_text()) == without_ids(out.read_text())
                    notes.append(
                        "`--json` output identical to dive's except the layers' ids"
                        if same
                        else "OUTPUT DIFFERS from dive's (beyond the layers' ids)"
                    )
            rows.append(
                f"| `{name}` from the registry, first open (empty layer cache; dive: "
                f"`docker pull` + dive) | {cell(dive_cold)} | {cell(median(cold))} |"
            )
            rows.append(
                f"| `{name}` from the registry, again (layer cache warm; dive: the image "
                f"already pulled) | {cell(dive_warm)} | {cell(median(warm))} |"
            )
        finally:
            registry.stop()
            if engine is not None:
                engine.docker("rmi", "-f", ref, check=False)
                engine.stop()
                engine.unmount()
                shutil.rmtree(engine.dir, ignore_errors=True)
    report = "\n".join(
        [
            f"# LayerScope from a registry vs docker pull + dive — {datetime.date.today()}",
            "",
            "| work | dive time | dive peak RSS | layerscope time | layerscope peak RSS |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Median of {args.repeat} runs each; the registry is Debian's docker-registry on "
            "loopback (start-registry.sh). Peak RSS as in results.md; dive's side counts the "
            "docker CLI and dive, not the engine's daemon, which does the pull.",
            "",
            *[f"- {note}" for note in notes],
            "",
        ]
    )
    print(report)
    args.output.write_text(report)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
