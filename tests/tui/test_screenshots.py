"""`make screenshots` (python -m explorer.tui.screenshots) without every input image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_missing_inputs_are_reported_and_the_run_fails(tmp_path):
    """Without dive's test data and the corpus, the sample's shots are still taken, then the
    run lists each shot it could not take with the file it needs, and exits 1."""
    out = tmp_path / "shots"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "LAYERSCOPE_SHARED": str(tmp_path / "no-shared"),
        "CORPUS_OUT": str(tmp_path / "no-corpus"),
        "LAYERSCOPE_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "explorer.tui.screenshots",
            str(out),
            "--only",
            "^(sample-first|waste|help)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sample-first-layer.svg"]
    report = proc.stderr.splitlines()
    assert report[0] == "3 of 4 screenshots not taken:", report
    dive_image = tmp_path / "no-shared" / "dive-data" / "test-docker-image.tar"
    assert report[1].startswith(f"  help: {dive_image} is missing ("), report
    waste = tmp_path / "no-corpus" / "archives" / "waste.tar"
    assert report[2].startswith(f"  waste, waste-hidden-bytes: {waste} is missing ("), report
    assert len(report) == 3
