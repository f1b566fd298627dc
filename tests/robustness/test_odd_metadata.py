"""Odd metadata through `--ci`: values of odd types in the config, the history and the index
never reach the verdict's output raw and never end the run (the `--json` side is in the
corpus: `odd-metadata-values`, `odd-oci-tag-annotation`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .harness import REPO, Result, assert_common, cli_env
from .test_malformed import CASES

ODD = [c for c in CASES if c.name.startswith("odd-")]


@pytest.mark.parametrize("case", ODD, ids=lambda c: c.name)
def test_ci_verdict_on_odd_metadata(case, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    built = case.build(tmp_path / "in")
    argv = [sys.executable, "-m", "explorer", str(built.path), "--ci"]
    proc = subprocess.run(
        argv, cwd=REPO, env=cli_env(tmp_path), capture_output=True, timeout=60, check=False
    )
    res = Result(argv, proc.returncode, proc.stdout.decode(), proc.stderr.decode(), 0.0)
    assert_common(res)
    assert res.returncode == 1, res.describe()  # the standard image wastes 8 bytes of 9
    assert "Result:FAIL [Total:3] [Passed:1] [Failed:1]" in res.stdout, res.stdout
    assert "\x1b" not in res.stdout
