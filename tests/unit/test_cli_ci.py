"""`--ci` and the `CI` variable as a process sees them (dive's own verdicts are checked in
tests/conformance)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.robustness import builders as b
from tests.unit.helpers import image_archive

REPO = Path(__file__).resolve().parents[2]


def layerscope(*args: str | Path, ci: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "explorer", *map(str, args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=120,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return image_archive(tmp_path_factory.mktemp("ci"), [b.file("a", b"1")])


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_ci_variable_true_as_go_reads_it(archive, value):
    """CI=1, t, T, TRUE, true, True: CI mode, as in dive (CI=1 opened the explorer)."""
    proc = layerscope(archive, ci=value)
    assert "Result:" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("value", ["0", "f", "FALSE", "yes", "on", "tRUE", ""])
def test_ci_variable_otherwise_is_not_ci_mode(archive, value):
    """Not CI mode: the explorer, which without a terminal says so and exits 2."""
    proc = layerscope(archive, ci=value)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "terminal" in proc.stderr


def test_image_source_line_is_escaped(tmp_path):
    """The archive's name is shown with its control characters escaped (an OSC 52 here would
    write the terminal's clipboard)."""
    hostile = tmp_path / "img\x1b]52;c;QUJD\x07.tar"
    image_archive(tmp_path, [b.file("a", b"1")], name=hostile.name)
    proc = layerscope(f"docker-archive://{hostile}", "--ci")
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    source = [line for line in proc.stdout.splitlines() if line.startswith("Image Source:")]
    assert source == [f"Image Source: docker-archive://{tmp_path}/img\\x1b]52;c;QUJD\\x07.tar"]


def test_extracting_line_names_the_archive_source(archive):
    """The `--ci` header of an archive, in dive's words."""
    proc = layerscope(archive, "--ci")
    assert f"Image Source: docker-archive://{archive}" in proc.stdout.splitlines()
    assert "Extracting image from docker-archive... (this can take a while for large images)" in (
        proc.stdout.splitlines()
    )
