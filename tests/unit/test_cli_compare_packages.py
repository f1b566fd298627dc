"""`layerscope compare A B` on images built in Python whose B upgrades a dpkg package and a
Python dist-info, adds one package and removes one: the package diff in text (a summary line,
a section past `--mode summary`), Markdown and JSON; hostile package names made safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.commands import compare as command
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

SITE = "usr/lib/python3/dist-packages"


def status(*packages: tuple[str, str]) -> b.Entry:
    text = "\n".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
        "Description: a package\n more text\n"
        for name, version in packages
    )
    return b.file("var/lib/dpkg/status", text.encode())


def dist(name: str, version: str) -> b.Entry:
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n"
    return b.file(f"{SITE}/{name}-{version}.dist-info/METADATA", meta.encode())


BASE = [
    b.directory("var/lib/dpkg"),
    status(("bash", "5.2.15-2+b2"), ("curl", "7.88.1-10+deb12u5"), ("libold1", "1.0-1")),
    dist("requests", "2.31.0"),
]
B_OWN = [
    status(("bash", "5.2.15-2+b2"), ("curl", "7.88.1-10+deb12u12"), ("jq", "1.6-2.1")),
    b.whiteout(f"{SITE}/requests-2.31.0.dist-info"),
    dist("requests", "2.32.3"),
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("compare-packages")
    return image_archive(tmp, BASE, name="a.tar"), image_archive(tmp, BASE, B_OWN, name="b.tar")


def run(capsys, *argv: str | Path, cache: Path) -> str:
    code = command.main([*map(str, argv), "--cache-dir", str(cache)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_text_summary_line_and_section(pair, capsys, tmp_path) -> None:
    full = run(capsys, *pair, "--mode", "full", cache=tmp_path)
    assert "\npackages: 1 added, 1 removed, 2 upgraded, 0 downgraded\n" in full
    section = full.split("packages (change; layer of B; ecosystem; name; A's version -> B's):\n")[1]
    assert section.splitlines()[:4] == [
        "  upgraded      L1  deb    curl  7.88.1-10+deb12u5 -> 7.88.1-10+deb12u12",
        "  added         L1  deb    jq  1.6-2.1",
        "  removed       L1  deb    libold1  1.0-1",
        "  upgraded      L1  python requests  2.31.0 -> 2.32.3",
    ]
    summary = run(capsys, *pair, "--mode", "summary", cache=tmp_path)
    assert "packages: 1 added, 1 removed, 2 upgraded, 0 downgraded" in summary
    assert "packages (change" not in summary


def test_json_packages_by_kind(pair, capsys, tmp_path) -> None:
    doc = json.loads(run(capsys, *pair, "--format", "json", cache=tmp_path))
    packages = doc["packages"]
    assert sorted(packages) == ["added", "downgraded", "removed", "upgraded"]
    assert packages["upgraded"] == [
        {
            "name": "curl",
            "ecosystem": "deb",
            "old": "7.88.1-10+deb12u5",
            "new": "7.88.1-10+deb12u12",
            "layer": 1,
            "path": "/var/lib/dpkg/status",
        },
        {
            "name": "requests",
            "ecosystem": "python",
            "old": "2.31.0",
            "new": "2.32.3",
            "layer": 1,
            "path": f"/{SITE}/requests-2.32.3.dist-info/METADATA",
        },
    ]
    assert [(p["name"], p["old"], p["new"]) for p in packages["added"]] == [("jq", None, "1.6-2.1")]
    assert [(p["name"], p["layer"]) for p in packages["removed"]] == [("libold1", 1)]
    assert packages["downgraded"] == []


def test_markdown_table(pair, capsys, tmp_path) -> None:
    out = run(capsys, *pair, "--format", "markdown", cache=tmp_path)
    assert "Packages: 1 added, 1 removed, 2 upgraded, 0 downgraded." in out
    assert "| deb curl | upgraded | 7.88.1-10+deb12u5 | 7.88.1-10+deb12u12 | L1 |" in out
    assert "| deb libold1 | removed | 1.0-1 |  | L1 |" in out


def test_hostile_package_names_and_versions(tmp_path, capsys) -> None:
    evil_name, evil_version = "x\x1b]52;c;QUJD\x07|y", "1.0\x1b[2J\x9b"
    a = image_archive(tmp_path, BASE, name="a.tar")
    bb = image_archive(tmp_path, BASE, [status(("bash", "5.2.15-2+b2"), (evil_name, evil_version))],
                       name="b.tar")  # fmt: skip
    for fmt in ("text", "markdown"):
        out = run(capsys, a, bb, "--format", fmt, "--mode", "full", cache=tmp_path / "c")
        assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
        assert "QUJD" in out
        if fmt == "text":
            assert "x\\x1b]52;c;QUJD\\x07|y  1.0\\x1b[2J\\x9b" in out
        else:  # the table's bars and brackets escaped too
            assert "x\\\\x1b\\]52;c;QUJD\\\\x07\\|y |" in out
    doc = json.loads(run(capsys, a, bb, "--format", "json", cache=tmp_path / "c"))
    assert doc["packages"]["added"][0]["name"] == evil_name
