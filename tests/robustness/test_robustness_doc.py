"""``docs/robustness.md`` is generated from the case list; this test keeps it up to date.

Regenerate with ``.venv/bin/python -m tests.robustness.test_robustness_doc``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import test_malformed as tm
from .harness import DEFAULT_MEM, GIB

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

Each case runs `python -m explorer INPUT --json OUT` in a subprocess with a timeout and a
{mem} address-space cap (`RLIMIT_AS`), and must end in one of two ways:

- **analysed**: exit 0, a valid export in dive's schema (names normalised: relative, no `.`,
  `..` or empty components; dive's empty row for an implicit parent directory allowed), stderr
  holding only lines that start with `warning:`;
- **rejected**: exit 2, exactly one error line (besides `warning:` lines) naming the problem
  and where it is (the input, a member, a digest), no output file and no temp file left.

Never a traceback, a hang or a memory blow-up, and never a raw control character (ESC, BEL,
C1...) on stderr, whatever the names inside the image. The `--json` file is written
atomically: a failed or interrupted run (Ctrl-C, SIGTERM) leaves a previous file unchanged and
no temp file beside it (`test_atomic_output.py`).

| # | case | input | expected behaviour |
|---|---|---|---|
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
        if case.slow:
            extra.append("slow")
        note = f" ({'; '.join(extra)})" if extra else ""
        rows.append(
            f"| {n} | `{case.name}` | {cell(case.doc)}{cell(note)} | {cell(behaviour(case))} |"
        )
    return HEADER.format(mem=f"{DEFAULT_MEM / GIB:g} GiB") + "\n".join(rows) + "\n"


def test_doc_is_up_to_date() -> None:
    assert DOC.exists(), f"{DOC} missing: run python -m tests.robustness.test_robustness_doc"
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"{DOC} is out of date: run .venv/bin/python -m tests.robustness.test_robustness_doc"
    )


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(Path.cwd()) if DOC.is_relative_to(Path.cwd()) else DOC}")
    sys.exit(0)
