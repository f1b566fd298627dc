"""Run the real CLI on an input, under a timeout and a memory cap, and judge the outcome.

The contract checked here (issue 5): bad input exits 2 with exactly one line on stderr naming the
problem (``warning:`` lines aside), no traceback, no output file and no temp file left; odd but
analysable input exits 0 with valid JSON and nothing on stderr but ``warning:`` lines. Nothing
from the image may reach the terminal raw: stderr never carries control characters.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# The checkout whose `explorer` runs (``python -m`` imports from the working directory):
# this one, or another (e.g. a clean `git worktree`) named by LAYERSCOPE_TEST_REPO.
REPO = Path(os.environ.get("LAYERSCOPE_TEST_REPO") or Path(__file__).resolve().parents[2])
GIB = 1 << 30
DEFAULT_MEM = int(os.environ.get("LAYERSCOPE_TEST_MEM_CAP", 2 * GIB))


@dataclass
class Result:
    argv: list[str]
    returncode: int | None  # None: killed on timeout
    stdout: str
    stderr: str
    elapsed: float

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    @property
    def warnings(self) -> list[str]:
        return [ln for ln in self.lines if ln.startswith("warning:")]

    @property
    def errors(self) -> list[str]:
        return [ln for ln in self.lines if not ln.startswith("warning:")]

    def describe(self) -> str:
        code = "timeout (killed)" if self.returncode is None else f"exit {self.returncode}"
        return f"{code} after {self.elapsed:.1f}s; stderr:\n{self.stderr[-3000:]}"


def _limit(mem: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

    return preexec


def cli_argv(image: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "explorer", str(image), "--json", str(out), *args]


def cli_env(cache_dir: Path) -> dict[str, str]:
    """The environment of a run: a private cache (so a lying diff_id cannot be served from, or
    poison, a shared cache), no colours, a fixed width, no ``CI`` variable."""
    env = dict(os.environ)
    env.update(XDG_CACHE_HOME=str(cache_dir), NO_COLOR="1", COLUMNS="120", PYTHONUTF8="1")
    env.update(LAYERSCOPE_CACHE_DIR=str(cache_dir / "layerscope"))
    env.pop("PYTHONWARNINGS", None)
    env.pop("CI", None)  # CI=true turns on --ci mode (as in dive); these tests ask for --json only
    return env


def run_cli(
    image: Path, out: Path, *args: str, cache_dir: Path, timeout: float = 60, mem: int = DEFAULT_MEM
) -> Result:
    argv = cli_argv(image, out, *args)
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=cli_env(cache_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit(mem),
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        code = None
    return Result(
        argv,
        code,
        stdout.decode("utf-8", "backslashreplace"),
        stderr.decode("utf-8", "backslashreplace"),
        time.monotonic() - start,
    )


def control_chars(text: str) -> list[str]:
    """Control characters (C0, DEL, C1 — ESC included) other than newline and tab."""
    return sorted({c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"})


def assert_common(res: Result) -> None:
    """What holds for every run: it ended, no traceback, nothing raw from the image."""
    assert res.returncode is not None, f"hang: {res.describe()}"
    assert "Traceback" not in res.stderr, f"traceback on stderr: {res.describe()}"
    bad = control_chars(res.stderr)
    assert not bad, f"raw control characters {bad!r} reached stderr: {res.describe()}"


def leftovers(out_dir: Path, keep: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.name for p in out_dir.iterdir() if p.name not in keep)


def assert_rejected(
    res: Result,
    out: Path,
    pattern: str,
    where: tuple[str, ...] = (),
    *,
    previous: bytes | None,
    image: Path | None = None,
) -> None:
    """Exit 2, one error line matching ``pattern`` (and one of ``where``), nothing left over.

    The pattern is matched with ``image``'s path removed from the line (pytest's temp paths
    hold the test's name, which would match anything). ``previous``: the content ``out`` had
    before the run (None: it must not exist afterwards)."""
    assert_common(res)
    assert res.returncode == 2, f"expected rejection (exit 2), got {res.describe()}"
    assert len(res.errors) == 1, f"expected exactly one error line, got {res.describe()}"
    line = res.errors[0]
    message = line.replace(str(image), "<input>") if image else line
    assert re.search(pattern, message, re.IGNORECASE), (
        f"error line {line!r} does not match {pattern!r}"
    )
    if where:
        assert any(w.lower() in line.lower() for w in where), (
            f"error line {line!r} names none of {where!r}"
        )
    if previous is None:
        assert not out.exists(), f"output file left behind after a rejection: {res.describe()}"
        assert leftovers(out.parent) == [], f"files left in the output dir: {leftovers(out.parent)}"
    else:
        assert out.read_bytes() == previous, "previous output file was modified by a failed run"
        assert leftovers(out.parent, (out.name,)) == [], (
            f"temp files left in the output dir: {leftovers(out.parent, (out.name,))}"
        )


def assert_analysed(res: Result, out: Path, warning: bool | None = None) -> None:
    """Exit 0, nothing on stderr but warnings, the output file and nothing else in its dir."""
    assert_common(res)
    assert res.returncode == 0, f"expected success (exit 0), got {res.describe()}"
    assert not res.errors, f"non-warning lines on stderr of a successful run: {res.describe()}"
    if warning is True:
        assert res.warnings, f"expected a 'warning:' line on stderr, got {res.describe()}"
    if warning is False:
        assert not res.warnings, f"unexpected warning: {res.describe()}"
    assert out.is_file(), "no output file written"
    assert leftovers(out.parent, (out.name,)) == [], (
        f"temp files left in the output dir: {leftovers(out.parent, (out.name,))}"
    )


def load_json(out: Path) -> dict:
    """The export, which must be strict UTF-8 JSON (RFC 8259)."""
    return json.loads(out.read_bytes().decode("utf-8"))


FILE_KEYS = {"path", "typeFlag", "linkName", "size", "fileMode", "uid", "gid", "isDir"}
# dive lists a parent directory that has no tar entry of its own as an all-zero row with an
# empty path (its tree node carries an empty FileInfo); byte-for-byte compatibility keeps it.
DIVE_IMPLICIT_DIR_ROW = {
    "path": "",
    "typeFlag": 0,
    "linkName": "",
    "size": 0,
    "fileMode": 0,
    "uid": 0,
    "gid": 0,
    "isDir": False,
}


def check_schema(doc: dict) -> None:
    """dive 0.13.1's export schema, and normalised names: relative, no ``.``/``..``/empty
    components (dive's empty row for an implicit parent directory aside)."""
    assert isinstance(doc, dict) and {"layer", "image"} <= set(doc), f"keys: {list(doc)}"
    assert isinstance(doc["layer"], list)
    for i, layer in enumerate(doc["layer"]):
        assert layer["index"] == i
        for key, typ in (("id", str), ("digestId", str), ("command", str), ("fileList", list)):
            assert isinstance(layer[key], typ), f"layer {i} {key}: {layer[key]!r}"
        assert isinstance(layer["sizeBytes"], int) and layer["sizeBytes"] >= 0
        for f in layer["fileList"]:
            assert set(f) == FILE_KEYS, f"fileList keys {sorted(f)}"
            if f == DIVE_IMPLICIT_DIR_ROW:
                continue
            p = f["path"]
            assert isinstance(p, str) and p, f"bad path {p!r}"
            assert not p.startswith("/"), f"path not normalised: {p!r}"
            parts = p.split("/")
            assert not {"", ".", ".."} & set(parts), f"path not normalised: {p!r}"
            for key in ("typeFlag", "size", "fileMode", "uid", "gid"):
                assert isinstance(f[key], int), f"{p!r} {key}: {f[key]!r}"
            assert isinstance(f["linkName"], str) and isinstance(f["isDir"], bool)
            assert f["size"] >= 0
    image = doc["image"]
    for key in ("sizeBytes", "inefficientBytes"):
        assert isinstance(image[key], int) and image[key] >= 0
    assert isinstance(image["efficiencyScore"], int | float)
    assert 0 <= image["efficiencyScore"] <= 1
    for ref in image["fileReference"]:
        assert set(ref) == {"count", "sizeBytes", "file"}
