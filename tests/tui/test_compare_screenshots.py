"""The README's compare screenshots (`make screenshots`): taken from two releases built on the
sample, no other input needed, the same bytes at every run."""

from __future__ import annotations

import html
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

from explorer.core.comparepackages import UPGRADED, package_diff
from explorer.core.loading import load
from explorer.core.sources import open_source
from explorer.releasesample import release_specs
from explorer.sample import docker_archive

REPO = Path(__file__).resolve().parents[2]


def test_the_releases_differ_in_packages_and_config(tmp_path) -> None:
    results = []
    for name, spec in zip(("a.tar", "b.tar"), release_specs(), strict=True):
        (tmp_path / name).write_bytes(docker_archive(spec))
        factory = partial(open_source, str(tmp_path / name), None, None)
        results.append(load(factory, lambda _event: None, threading.Event()))
    a, b = results
    changes = {(c.name, c.kind) for c in package_diff(a.layers, b.layers, 4)}
    assert ("requests", UPGRADED) in changes and ("curl", UPGRADED) in changes
    assert len(changes) == 6


def test_compare_shots_are_taken_from_built_releases(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "LAYERSCOPE_SHARED": str(tmp_path / "no-shared"),
        "CORPUS_OUT": str(tmp_path / "no-corpus"),
    }
    argv = [sys.executable, "-m", "explorer.tui.screenshots", "--only", "^compare"]
    runs = []
    for out in (tmp_path / "one", tmp_path / "two"):
        proc = subprocess.run([*argv, str(out)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append({p.name: p.read_text(encoding="utf-8") for p in out.iterdir()})
    assert sorted(runs[0]) == ["compare-diff.svg", "compare.svg"]
    assert runs[0] == runs[1]  # deterministic
    shown = html.unescape(runs[0]["compare.svg"]).replace("\xa0", " ")
    assert "package changes" in shown and "app-1.0.tar" in shown
    diff = html.unescape(runs[0]["compare-diff.svg"]).replace("\xa0", " ")
    assert "+workers = 8" in diff and "-compress = false" in diff
