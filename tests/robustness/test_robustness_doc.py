"""``docs/robustness.md`` is generated from the case list; this test keeps it up to date.

Regenerate with ``.venv/bin/python -m tests.robustness.test_robustness_doc``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import test_malformed as tm
from .harness import DEFAULT_MEM, GIB

DEFAULT_TIMEOUT = tm.Case.__dataclass_fields__["timeout"].default

DOC = Path(__file__).resolve().parents[2] / "docs" / "robustness.md"

LABELS = {
    tm.TRUNC: "truncated",
    tm.MISSING: "missing",
    tm.DIGEST: "digest mismatch",
    tm.NOT_IMAGE: "not a container image",
    tm.GZIP_BAD: "corrupt gzip",
    tm.ZSTD_BAD: "corrupt zstd",
    tm.TAR_BAD: "bad tar header",
    tm.PAX_BAD: "bad PAX header",
}

HEADER = """\
# Robustness: malformed and hostile inputs

Generated from `tests/robustness/test_malformed.py` by
`.venv/bin/python -m tests.robustness.test_robustness_doc`; `make test` fails when this file is
out of date. Every input is built by the tests themselves (`tests/robustness/builders.py`); no
binary fixture is committed.

Each case runs `python -m explorer INPUT --json OUT` in a subprocess with a {timeout} time
limit and a {mem} address-space cap (`RLIMIT_AS`) unless its row says otherwise, and must end
in one of two ways:

- **analysed**: exit 0, a valid export in dive's schema (names normalised: relative, no `.`,
  `..` or empty components; dive's empty row for an implicit parent directory allowed), stderr
  holding only lines that start with `warning:`;
- **rejected**: exit 2, exactly one error line (besides `warning:` lines) naming the problem
  and where it is (the input, a member, a digest), no output file and no temp file left.

Never a traceback, a hang or a memory blow-up, and never a raw control character (ESC, BEL,
C1...) on stderr, whatever the names inside the image. The `--json` file is written
atomically: a failed or interrupted run (Ctrl-C, SIGTERM) leaves a previous file unchanged and
no temp file beside it (see "The `--json` file and the command line" below).

Limits on what an image may hold, each generous beyond anything a real image has; past one,
the image is rejected with one line naming the layer and the entry's offset (exit 2):

- a name or link target of at most **16,384 bytes** (16 KiB, four times Linux's `PATH_MAX`:
  no runtime can create or open a longer path). The PAX or GNU record holding it may be up to
  1 MiB, as in Go's tar reader, but a 1 MB path is refused as soon as it is read;
- a path at most **2,048 levels** deep: the deepest a path within `PATH_MAX` can be
  (`a/a/…/a`), so even a runaway recursive copy stays inside it;
- JSON (manifest.json, index.json, a manifest, the config) nested no deeper than Python's
  parser goes (about 1,000 levels): "JSON nested too deeply".

Building a layer's tree costs what its paths hold: the directories a path implies are found
or made from the root, and no string is kept for each prefix of a path (a 1 MB path 10,000
levels deep used to take 4.9 GB). Measured on the cases below (2 shared cores): the 13 KB
`deep-paths-200-chains` archive (409,600 implied directories) takes 140 MB and 2.4 s with
`--json` (1 GB before) and 650 MB, 11 s in the TUI (which did not finish in minutes before:
its stacking walked each level's subtree again); `pax-paths-3000-at-the-limit` 230 MB, 3 s
(`--json`), 620 MB, 8 s (TUI); every rejection above ends in under 0.5 s and 30 MB. An
implied directory costs what a listed one does (a tree node, a row), so memory still grows
with the number of levels an archive implies, as it does with its number of entries.

| # | case | input | expected behaviour |
|---|---|---|---|
"""


BOUNDS = """
## Bounds on hostile streams

- Layer decompression (gzip, zstd) returns at most what each read asks for, whatever the
  ratio: time is linear in the inflated size and memory does not grow with it (case
  `zstd-bomb-4gib-zeros`: a 131 KB zstd layer of 4 GiB of zeros, about 8 s here, within a
  0.5 GiB address space). A zstd stream may start with skippable frames.
- Image metadata: a member over 16 MiB, or holding more than 500,000 JSON objects and arrays,
  is refused before it is parsed (parsing one then costs at most about 260 MB: 16 MiB of
  two-letter strings; 500,000 empty arrays take 36 MB). A streamed pass
  (compressed archive, engine export, pipe) tells members apart by name and position, keeps
  those that may be metadata as bytes — at most 128 MiB in all, beyond which it stops with one
  error line — and parses only those the image's layout names.
- One large file in a layer is read 16 MiB at a time: progress is reported and cancel (Esc)
  answered after each piece (`tests/unit/test_member_progress.py`).
- An image from a pipe (`/dev/stdin`, `<(…)`, a FIFO) is read once, in one forward pass,
  with the memory of a compressed archive and nothing spooled to disk; its export equals the
  file's (`test_pipes.py`, through a real `cat`).
"""


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def behaviour(case: tm.Case) -> str:
    e = case.expect
    if isinstance(e, tm.Rejected):
        label = e.problem or LABELS.get(e.pattern)
        problem = f"*{label}*" if label else f"error matches `{e.pattern}`"
        where = f", naming {e.where}" if e.where else ""
        return f"rejected: {problem}{where}"
    text = "analysed" + (f": {e.what}" if e.what else "")
    if e.warning:
        text += ", with a warning"
    return text


def render() -> str:
    rows = []
    for n, case in enumerate(tm.CASES, 1):
        extra = []
        if case.args and " ".join(case.args) not in case.doc:
            extra.append("`" + " ".join(case.args) + "`")
        if case.mem != DEFAULT_MEM:
            extra.append(f"memory cap {case.mem / GIB:g} GiB")
        if case.timeout != DEFAULT_TIMEOUT:
            extra.append(f"time limit {case.timeout:g} s")
        if case.slow:
            extra.append("slow")
        note = f" ({'; '.join(extra)})" if extra else ""
        rows.append(
            f"| {n} | `{case.name}` | {cell(case.doc)}{cell(note)} | {cell(behaviour(case))} |"
        )
    return (
        HEADER.format(mem=f"{DEFAULT_MEM / GIB:g} GiB", timeout=f"{DEFAULT_TIMEOUT:g} s")
        + "\n".join(rows)
        + "\n"
        + BOUNDS
        + render_extra()
    )


def _tests_of(module) -> list[tuple[str, str, list[str]]]:
    """(name, docstring on one line, strict-xfail reasons) of a module's tests, in order."""
    out = []
    for name, fn in vars(module).items():
        if not name.startswith("test_") or not callable(fn):
            continue
        marks = getattr(fn, "pytestmark", [])
        reasons = [m.kwargs.get("reason", "") for m in marks if m.name == "xfail"]
        for m in marks:  # parameters marked one by one
            if m.name == "parametrize":
                for p in m.args[1]:
                    reasons += [x.kwargs.get("reason", "") for x in getattr(p, "marks", ())]
        doc = " ".join((fn.__doc__ or "").split())
        only = [m.kwargs.get("reason", "") for m in marks if m.name == "skipif"]
        if only:
            doc += f" ({only[0]})"
        out.append((name, doc, list(dict.fromkeys(r for r in reasons if r))))
    return out


def _test_table(modules: list) -> tuple[str, list[str]]:
    rows, bugs = [], []
    for module in modules:
        file = module.__name__.replace(".", "/") + ".py"
        for name, doc, reasons in _tests_of(module):
            notes = []
            for reason in reasons:
                if reason not in bugs:
                    bugs.append(reason)
                notes.append(f"known bug {bugs.index(reason) + 1}")
            status = "strict xfail: " + ", ".join(notes) if notes else "passes"
            rows.append(f"| `{name}` ({file.rsplit('/', 1)[1]}) | {cell(doc)} | {status} |")
    table = "| test | what it checks | status |\n|---|---|---|\n" + "\n".join(rows)
    return table, bugs


FUZZ_HEADER = """
## Fuzzing (`tests/fuzz`)

Property-based tests ([hypothesis](https://hypothesis.readthedocs.io)) of the layer indexer,
the OCI stacking and the archive reader. Inputs are generated with the same builders: random
valid layers (files, directories, symlinks, hardlinks, FIFOs, devices, whiteouts, opaque
markers; plain, unicode, non-UTF-8, markup-like and control-character names; long names and
link targets as PAX or GNU records, ustar prefixes, base-256 numbers, PAX overrides, sparse
files) and whole images (legacy, Docker 25+, OCI archive and directory; plain, gzip and zstd
layers), valid or then damaged (bytes flipped, cut, inserted or deleted; header fields
rewritten with the checksum fixed; JSON values replaced). The oracles are independent of the
product: Python's `tarfile` for one layer, and a real extraction into a temp directory with
OCI whiteout semantics applied by hand for a stack of layers.

`make test` runs the `ci` profile: derandomized (the same examples every run), about a
minute on 2 cores. `make fuzz` runs `LAYERSCOPE_FUZZ=long`: random seeds, about 10 times the
examples (about 6 minutes on 2 idle cores), failures saved in `.hypothesis/` and printed with
a reproduction blob (`LAYERSCOPE_FUZZ_EXAMPLES=N` scales the example counts by N/100 in
either profile).
What the fuzzers find becomes a small example test: a strict xfail naming the bug while it is
open (the property then leaves the construct out, see `Allow` in `tests/fuzz/strategies.py`,
or tolerates it, see `KNOWN` in `test_fuzz_mutations.py`, so it keeps guarding everything
else), a plain regression test once fixed. Everything found so far is fixed.

"""

ENGINE_HEADER = """
## Engine faults (`tests/engine`)

Run against a real Docker engine the tests start themselves: a private `dockerd` in a temp
directory (`start-dockerd.sh` with its own socket, data root, exec root and pid file), which
the tests may stop and kill by its pid; it is stopped at the end of the session, its
`containerd` too, and no process naming its directory may be left. The shared engine is never
touched. Images are loaded into it with `docker load` (`waste.tar` from the corpus for the
big export, small ones built by the tests). A relay socket between the CLI and the engine
holds the export stream at an exact byte count while the fault is made. As root, file
permissions do not apply, so the permission tests run the CLI without `CAP_DAC_OVERRIDE` and
`CAP_DAC_READ_SEARCH` (`setpriv`). No Podman runs here: only its absent socket is tested.

Every fault must end with exit code 2, exactly one line on stderr naming the problem (and the
socket or the image), no traceback, and no `--json` output file left behind.

"""

CACHE_HEADER = """
## The layer cache (`tests/unit/test_cache_trust.py`, `test_cache.py`)

A warm cache must not let a lying image pass. A cached layer index stands for an archive's
layer only when the link between these bytes and that diff_id was verified before: the same
archive file, unchanged since the layer was hashed (a record keyed by device, inode, size,
mtime and ctime in ns, listing member offsets and sizes), a blob whose diff_id was verified
when it was first read (its stored bytes hashed again to match its name), or an engine's own
diff_id. Otherwise the layer is hashed first, and a mismatch is refused exactly as a cold open
refuses it: exit 2, one line. `--verify` hashes every layer. Member names are never trusted;
only sha256 diff_ids (the ones checked) are cached.

The directory is not a way in either (`test_cache.py`): one that another user owns or others
may write to is not used (one warning line); a new one is created 0700; entries are opened
with `O_NOFOLLOW | O_NONBLOCK` and read only when they are regular files the user owns (a
planted symlink or FIFO is neither followed nor waited on, and is listed and cleared); an
entry with a valid checksum but values of the wrong types is dropped and rebuilt, never a
crash.

"""


OUTPUT_HEADER = """
## The `--json` file and the command line

The export is written to a temp file beside the target (through a symlink: beside the file it
points to) and renamed into place only when complete; the file it replaces keeps its mode, and
its owner (or group) when the user may set it. A SIGKILLed run cannot remove its temp file: the
next export to the same file removes it once it is stale (our naming only, a regular file of
this user over an hour old whose process is gone, never through a link). `/dev/stdout`,
`/dev/fd/N` and `/proc/self/fd/N` are written through the descriptor already open (a pipe, a
file opened with `>>`); a FIFO or a device is written to, never replaced.

Without a terminal on stdin and stdout the explorer does not start (one line, exit 2); `CI` is
read as Go reads a boolean (dive's CI mode for `1`, `t`, `T`, `TRUE`, `true`, `True`); a
running explorer ends on SIGTERM as on `q`, the terminal restored. Everything `--ci` prints
from the image or the command line is escaped. A `.dive-ci` file is parsed as YAML and read as
dive reads it; one dive refuses is refused the same way (`ci configuration error`, exit 1):
tests/conformance/test_dive_ci_config.py compares both tools file by file.

"""


EXTRACT_HEADER = """
## Extraction (`tests/robustness/test_extract_hostile.py`)

`layerscope extract` against images built to abuse it, run through the real CLI in a sandbox
directory: the target beside a directory that must stay empty. Extraction is written through
directory file descriptors (`O_NOFOLLOW | O_DIRECTORY` for every parent, `O_CREAT | O_EXCL |
O_NOFOLLOW` for files, `symlinkat`, `linkat` without following), never through `tarfile`'s
extraction filters (CPython issues 135034 and 151558 show bypasses). Nothing may be written
outside the target, nothing followed, nothing made that is not a file, a directory or a link.
A property test (`tests/fuzz/test_fuzz_content.py`) checks content access and extraction of
random images that stack against a real extraction with OCI whiteout semantics.

"""


def render_extra() -> str:
    from tests.engine import test_engine_faults
    from tests.fuzz import (
        test_fuzz_content,
        test_fuzz_findings,
        test_fuzz_indexer,
        test_fuzz_mutations,
    )
    from tests.robustness import test_atomic_output, test_extract_hostile
    from tests.tui import test_terminal
    from tests.unit import test_cache_trust, test_ciconfig, test_cli_ci

    parts = []
    for header, modules in (
        (OUTPUT_HEADER, [test_atomic_output, test_terminal, test_cli_ci, test_ciconfig]),
        (FUZZ_HEADER, [test_fuzz_indexer, test_fuzz_mutations, test_fuzz_findings]),
        (ENGINE_HEADER, [test_engine_faults]),
        (CACHE_HEADER, [test_cache_trust]),
        (EXTRACT_HEADER, [test_extract_hostile, test_fuzz_content]),
    ):
        table, bugs = _test_table(modules)
        parts.append(header + table + "\n")
        if bugs:
            parts.append(
                "\nKnown bugs:\n\n" + "\n".join(f"{n}. {b}" for n, b in enumerate(bugs, 1)) + "\n"
            )
    return "".join(parts)


def test_doc_is_up_to_date() -> None:
    assert DOC.exists(), f"{DOC} missing: run python -m tests.robustness.test_robustness_doc"
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"{DOC} is out of date: run .venv/bin/python -m tests.robustness.test_robustness_doc"
    )


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(Path.cwd()) if DOC.is_relative_to(Path.cwd()) else DOC}")
    sys.exit(0)
