"""LayerScope against the dive 0.13.1 binary, side by side, on the same images.

- `--json`: for every docker-archive of the corpus, layerscope's export must be dive's file, byte
  for byte (dive's answers are cached in $CORPUS_OUT/dive-json, so reruns are fast).
- The same image as OCI archive (gzip, zstd), OCI layout dir, or from the Docker engine must
  give the file dive writes for the docker-archive (only a layer's `id` line may differ).
- `--ci`: same report lines (from "efficiency:" on, without colour) and exit code as dive, for a
  few rule sets.

Where dive is known to be wrong, the reference is dive on a corrected input: `docker save` (< 25)
writes a layer identical to an earlier one as a symlinked `layer.tar`, which dive reads as empty;
dive then reads a copy of the archive with the link replaced by the file (see DiveOracle).
dive on an OCI archive is not used as a reference at all: it orders layers by file order in the
archive, not by the manifest.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .dive_oracle import (
    ANSI,
    SHARED,
    child_env,
    ci_lines,
    describe,
    export_diff,
    layerscope_argv,
    without_layer_ids,
)

SMALL = ["waste", "many-layers", "multistage", "debian"]
LARGE = ["pyml", "node"]  # built separately (`build.sh bbase debian pyml node export`)

corpus = pytest.mark.corpus
slow = pytest.mark.slow


def layerscope(args: list, cwd: Path, timeout: float = 900, **env: str):
    """Run layerscope in `cwd`, with its layer cache in `cwd`/layer-cache (empty at first)."""
    return subprocess.run(
        layerscope_argv(*args),
        cwd=cwd,
        env=child_env(LAYERSCOPE_CACHE_DIR=str(cwd / "layer-cache"), **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )


def layerscope_json(args: list, tmp_path: Path, timeout: float = 900) -> bytes:
    out = tmp_path / "layerscope.json"
    proc = layerscope([*args, "--json", out], tmp_path, timeout)
    assert proc.returncode == 0, (
        f"layerscope {' '.join(map(str, args))} --json: exit {proc.returncode}\n"
        f"stderr: {proc.stderr[-3000:]}"
    )
    assert out.exists(), f"layerscope exited 0 but wrote no {out}"
    return out.read_bytes()


def assert_same(expected: bytes, got: bytes, what: str) -> None:
    diffs = export_diff(expected, got)
    assert not diffs, (
        f"{what}: {len(diffs)} difference(s) from dive (expected = dive){describe(diffs)}"
    )


# --------------------------------------------------------------------------------------------
# --json on every docker-archive of the corpus


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=corpus) for n in SMALL]
    + [pytest.param(n, marks=[corpus, slow]) for n in LARGE],
)
def test_json_equals_dive(name, corpus_archive, oracle, tmp_path):
    """Twice: a first open (empty layer cache), then again from the layer cache it filled."""
    archive = corpus_archive(f"{name}.tar", optional=name in LARGE)
    expected = oracle.export(archive)
    timeout = 900 if name in SMALL else 3 * 3600
    for run in ("first open", "layer cache warm"):
        got = layerscope_json([archive], tmp_path, timeout=timeout)
        assert_same(expected, got, f"layerscope {archive.name} --json ({run})")


@corpus
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(lambda a: [f"docker-archive://{a}"], id="docker-archive-scheme"),
        pytest.param(lambda a: ["--source", "docker-archive", a], id="source-flag"),
    ],
)
def test_json_docker_archive_spellings(args, corpus_archive, oracle, tmp_path):
    archive = corpus_archive("multistage.tar")
    assert_same(
        oracle.export(archive), layerscope_json(args(archive), tmp_path), str(args(archive))
    )


# --------------------------------------------------------------------------------------------
# the same image from other sources gives dive's numbers for the docker-archive


OCI_WASTE = [
    ("waste.oci-gzip.tar", lambda p: [p]),
    ("waste.oci-zstd.tar", lambda p: [p]),
    ("waste.oci-layout", lambda p: [p]),
    ("waste.oci-gzip.tar", lambda p: [f"oci-archive://{p}"]),
    ("waste.oci-zstd.tar", lambda p: ["--source", "oci-archive", p]),
    ("waste.oci-layout", lambda p: [f"oci://{p}"]),
    ("waste.oci-layout", lambda p: ["--source", "oci", p]),
]


@corpus
@pytest.mark.parametrize(
    ("name", "spell"),
    OCI_WASTE,
    ids=[
        "gzip",
        "zstd",
        "layout-dir",
        "oci-archive-scheme",
        "oci-archive-flag",
        "oci-scheme",
        "oci-flag",
    ],
)
def test_oci_same_numbers_as_dive(name, spell, corpus_archive, oracle, tmp_path):
    reference = oracle.export(corpus_archive("waste.tar"))
    got = layerscope_json(spell(corpus_archive(name)), tmp_path)
    assert_same(without_layer_ids(reference), without_layer_ids(got), f"layerscope {name}")


@corpus
@slow
@pytest.mark.parametrize("name", ["pyml.oci-gzip.tar", "pyml.oci-zstd.tar"])
def test_large_oci_same_numbers_as_dive(name, corpus_archive, oracle, tmp_path):
    oci = corpus_archive(name, optional=True)
    reference = oracle.export(corpus_archive("pyml.tar", optional=True))
    got = layerscope_json([oci], tmp_path, timeout=3 * 3600)
    assert_same(without_layer_ids(reference), without_layer_ids(got), f"layerscope {name}")


@corpus
@pytest.mark.engine
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["corpus/waste:1"], id="bare-reference"),
        pytest.param(["docker://corpus/waste:1"], id="docker-scheme"),
        pytest.param(["--source", "docker", "corpus/waste:1"], id="source-flag"),
    ],
)
def test_engine_same_numbers_as_dive(args, engine_image, corpus_archive, oracle, tmp_path):
    engine_image("corpus/waste:1")
    reference = oracle.export(corpus_archive("waste.tar"))
    got = layerscope_json(args, tmp_path)
    assert_same(without_layer_ids(reference), without_layer_ids(got), f"layerscope {args}")


@corpus
@slow
@pytest.mark.engine
@pytest.mark.parametrize("name", LARGE)
def test_large_engine_same_numbers_as_dive(name, engine_image, corpus_archive, oracle, tmp_path):
    """The big images from the engine (an empty layer cache: the export is read): dive's
    numbers for their docker-archive."""
    reference = oracle.export(corpus_archive(f"{name}.tar", optional=True))
    got = layerscope_json([f"docker://{engine_image(f'corpus/{name}:1')}"], tmp_path, 3 * 3600)
    assert_same(without_layer_ids(reference), without_layer_ids(got), f"layerscope {name}")


# --------------------------------------------------------------------------------------------
# --ci: same report and exit code as dive


DIVE_CI_YAML = str(SHARED / "dive-data" / "dive-ci.yaml")

RULES = {
    "defaults": [],
    "lenient": "--lowestEfficiency 0.1 --highestWastedBytes 1GB --highestUserWastedPercent 0.99",
    "strict": "--lowestEfficiency 0.999 --highestWastedBytes 1KB --highestUserWastedPercent 0.001",
    "all-disabled": "--lowestEfficiency disabled --highestWastedBytes disabled "
    "--highestUserWastedPercent disabled",
    "config-file": ["--ci-config", DIVE_CI_YAML],
    "config-file+flag": ["--ci-config", DIVE_CI_YAML, "--lowestEfficiency", "0.1"],
    "misconfigured": "--lowestEfficiency abc",
    "misconfigured-bytes": "--highestWastedBytes xyz --highestUserWastedPercent disabled",
}
RULES = {k: v.split() if isinstance(v, str) else v for k, v in RULES.items()}


def at_threshold(dive_export: bytes) -> list[str]:
    """Rules set exactly at the image's own values: checks < vs <= in every comparison."""
    doc = json.loads(dive_export)
    image, layers = doc["image"], doc["layer"]
    args = ["--lowestEfficiency", repr(float(image["efficiencyScore"]))]
    args += ["--highestWastedBytes", str(image["inefficientBytes"])]
    user = sum(layer["sizeBytes"] for layer in layers[1:])
    if user:
        args += ["--highestUserWastedPercent", repr(image["inefficientBytes"] / user)]
    return args


@corpus
@pytest.mark.parametrize("rules", [*RULES, "at-threshold"])
@pytest.mark.parametrize("name", SMALL)
def test_ci_matches_dive(name, rules, corpus_archive, oracle, tmp_path):
    archive = corpus_archive(f"{name}.tar")
    args = at_threshold(oracle.export(archive)) if rules == "at-threshold" else RULES[rules]
    want_rc, want = oracle.ci(archive, ["--ci", *args])
    proc = layerscope([archive, "--ci", *args], tmp_path)
    got = ci_lines(proc.stdout)
    shown = f"layerscope {archive.name} --ci {' '.join(args)}"
    assert got == want, (
        f"{shown}: report differs from dive's\n--- dive\n"
        + "\n".join(want)
        + "\n--- layerscope\n"
        + "\n".join(got)
        + (f"\n--- layerscope stderr\n{proc.stderr[-2000:]}" if proc.stderr else "")
    )
    assert proc.returncode == want_rc, f"{shown}: exit {proc.returncode}, dive exits {want_rc}"


@corpus
@pytest.mark.parametrize("name", ["waste", "multistage"])
def test_ci_env_variable_matches_dive(name, corpus_archive, oracle, tmp_path):
    """`CI=true dive IMAGE` runs the CI mode without --ci (how dive's README says to use it)."""
    archive = corpus_archive(f"{name}.tar")
    want_rc, want = oracle.ci(archive, [], env={"CI": "true"})
    proc = layerscope([archive], tmp_path, CI="true")
    assert ci_lines(proc.stdout) == want, f"CI=true layerscope {archive.name}:\n{proc.stdout}"
    assert proc.returncode == want_rc


def header_lines(stdout: str) -> list[str]:
    """The --ci lines naming the image and where it is read from, colour removed."""
    lines = [ANSI.sub("", line).rstrip() for line in stdout.splitlines()]
    return [line for line in lines if line.startswith(("Image Source:", "Extracting image"))]


@corpus
@pytest.mark.engine
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["corpus/waste:1"], id="bare-reference"),
        pytest.param(["--source", "docker", "docker://corpus/waste:1"], id="docker-scheme"),
    ],
)
def test_ci_names_the_image_source_as_dive(args, dive, engine_image, tmp_path):
    """ "Image Source: docker://…" and "Extracting image from docker-engine..." (not "docker")."""
    engine_image("corpus/waste:1")
    want = subprocess.run(
        [str(dive), "--ci", *args],
        cwd=tmp_path,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    proc = layerscope([*args, "--ci"], tmp_path)
    expected = header_lines(want.stdout)
    assert len(expected) == 2, want.stdout
    assert header_lines(proc.stdout) == expected, proc.stdout + proc.stderr
