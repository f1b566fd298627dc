"""dive's own test archives and every value its tests assert (../shared/dive-data)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from explorer.core.analysis import index_all
from explorer.core.efficiency import dive_efficiency
from explorer.core.sources import open_source

from ..paths import DIVE_DATA

EXPECTED = json.loads((DIVE_DATA / "expected.json").read_text())
IMAGES = [
    "test-docker-image",
    "test-kaniko-image",
    "test-oci-uncompressed-image",
    "test-oci-gzip-image",
    "test-oci-estargz-image",
    "test-oci-zstd-image",
]
ROOTFS_TARS = [
    "test-uncompressed-image",
    "test-gzip-image",
    "test-estargz-image",
    "test-zstd-image",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def layerscope(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    if env is None:  # CI=true (as CI sets it) would switch every run into --ci mode
        env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_export_is_byte_identical(tmp_path):
    out = tmp_path / "out.json"
    result = layerscope(str(DIVE_DATA / "test-docker-image.tar"), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (DIVE_DATA / "test-docker-image.expected-export.json").read_bytes()


def test_export_replaces_a_longer_existing_file(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("x" * 500_000)
    layerscope(str(DIVE_DATA / "test-docker-image.tar"), "--json", str(out))
    assert out.read_bytes() == (DIVE_DATA / "test-docker-image.expected-export.json").read_bytes()


@pytest.mark.parametrize("name", IMAGES)
def test_json_equals_dive_output(tmp_path, name):
    out = tmp_path / "out.json"
    result = layerscope(str(DIVE_DATA / f"{name}.tar"), "--json", str(out))
    assert result.returncode == 0, result.stderr
    ours = json.loads(out.read_text())
    dive = json.loads((DIVE_DATA / "dive-0.13.1-json-output" / f"{name}.json").read_text())
    assert ours == dive


def test_analysis_values_asserted_by_dive():
    expected = EXPECTED["test-docker-image.tar"]
    _, layers = index_all(open_source(str(DIVE_DATA / "test-docker-image.tar")))
    eff = dive_efficiency(layers)
    analysis = expected["analysis"]
    assert eff.score == analysis["efficiency"]
    assert eff.size_bytes == analysis["sizeBytes"]
    assert eff.user_size_bytes == analysis["userSizeBytes"]
    assert eff.wasted_bytes == analysis["wastedBytes"]
    assert eff.user_wasted_percent == analysis["wastedUserPercent"]
    assert [layer.size for layer in layers] == expected["layer_sizes"]
    assert [
        {"count": r.count, "sizeBytes": r.cumulative, "file": r.path} for r in eff.rows
    ] == expected["inefficient_files_desc"]


def test_kaniko_values_observed_from_dive():
    expected = EXPECTED["test-kaniko-image.tar"]["observed_dive_0_13_1"]
    _, layers = index_all(open_source(str(DIVE_DATA / "test-kaniko-image.tar")))
    eff = dive_efficiency(layers)
    assert len(layers) == expected["layers"]
    assert (eff.size_bytes, eff.user_size_bytes) == (
        expected["sizeBytes"],
        expected["userSizeBytes"],
    )
    assert (eff.wasted_bytes, eff.score) == (
        expected["inefficientBytes"],
        expected["efficiencyScore"],
    )
    assert eff.user_wasted_percent == expected["userWastedPercent"]


def ci_report(stdout: str) -> str:
    """The part of the CI output dive's run test compares: from 'Inefficient Files:' on."""
    text = ANSI.sub("", stdout)
    return text[text.index("Inefficient Files:") :].rstrip("\n") + "\n"


def test_ci_go_case():
    case = EXPECTED["test-docker-image.tar"]["ci_run_go_case"]
    result = layerscope(
        str(DIVE_DATA / "test-docker-image.tar"),
        "--ci",
        "--lowestEfficiency=0.9",
        "--highestWastedBytes=1000",
        "--highestUserWastedPercent=0.1",
    )
    assert result.returncode == 1
    for line in case["stdout_lines"]:
        assert line in result.stdout.splitlines()
    assert ci_report(result.stdout) == case["report"]


def test_ci_empty_config_is_misconfigured(tmp_path):
    case = EXPECTED["test-docker-image.tar"]["ci_empty_config_case"]
    config = tmp_path / "empty.yaml"
    config.write_text(
        "rules:\n  lowestEfficiency: ''\n  highestWastedBytes: ''\n  highestUserWastedPercent: ''\n"
    )
    result = layerscope(
        str(DIVE_DATA / "test-docker-image.tar"), "--ci", "--ci-config", str(config)
    )
    assert result.returncode == 1
    assert ci_report(result.stdout) == case["report"]


@pytest.mark.parametrize(
    "case",
    sorted(
        k for k in EXPECTED["test-docker-image.tar"]["ci_evaluator_table"] if not k.startswith("_")
    ),
)
def test_ci_evaluator_table(case):
    spec = EXPECTED["test-docker-image.tar"]["ci_evaluator_table"][case]
    low, wasted, percent = spec["rules"]
    result = layerscope(
        str(DIVE_DATA / "test-docker-image.tar"),
        "--ci",
        f"--lowestEfficiency={low}",
        f"--highestWastedBytes={wasted}",
        f"--highestUserWastedPercent={percent}",
    )
    text = ANSI.sub("", result.stdout)
    found = re.findall(r"^  (PASS|FAIL|SKIP|WARN|MISCONFIGURED): (\w+)", text, re.M)
    assert {name: status for status, name in found} == spec["status"]
    assert (result.returncode == 0) == spec["pass"]


@pytest.mark.parametrize("name", ["test-docker-image", "test-kaniko-image", *IMAGES[2:]])
def test_ci_with_dive_ci_file_passes(name):
    result = layerscope(
        str(DIVE_DATA / f"{name}.tar"), "--ci", "--ci-config", str(DIVE_DATA / "dive-ci.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result:PASS" in result.stdout


def test_ci_environment_variable_selects_ci_mode(tmp_path):
    env = {"CI": "true", "PATH": "/usr/bin:/bin"}
    result = layerscope(str(DIVE_DATA / "test-docker-image.tar"), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "  Using default CI config" in result.stdout
    assert "Result:FAIL [Total:3] [Passed:1] [Failed:1] [Warn:0] [Skipped:1]" in result.stdout


@pytest.mark.parametrize("name", ROOTFS_TARS)
def test_plain_rootfs_tars_are_rejected(tmp_path, name):
    out = tmp_path / "out.json"
    result = layerscope(str(DIVE_DATA / f"{name}.tar"), "--json", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a container image" in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()
