"""The compare screen's package changes (in the summary pane) and Enter on a changed file (its
two versions diffed in the viewer, or one version viewed), through Textual's Pilot; SVG
snapshots of both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness import builders as b
from tests.tui.test_compare_screen import WIDE, compare_app

from .conftest import screen_text, settle

SITE = "usr/lib/python3/dist-packages"


def status(*packages: tuple[str, str]) -> b.Entry:
    text = "\n".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
        for name, version in packages
    )
    return b.file("var/lib/dpkg/status", text.encode())


def dist(name: str, version: str) -> b.Entry:
    return b.file(
        f"{SITE}/{name}-{version}.dist-info/METADATA",
        f"Name: {name}\nVersion: {version}\n".encode(),
    )


CONF_A = b"".join(f"setting{i} = {i}\n".encode() for i in range(30))
CONF_B = CONF_A.replace(b"setting12 = 12\n", b"setting12 = twelve\n")
BASE = [
    b.directory("etc"),
    b.file("etc/app.conf", CONF_A),
    b.file("etc/gone.txt", b"removed in B\n"),
    b.file("etc/blob.bin", bytes(range(256))),
    b.directory("var/lib/dpkg"),
    status(("bash", "5.2.15-2"), ("curl", "7.88.1-10+deb12u5"), ("libold1", "1.0-1")),
    dist("requests", "2.31.0"),
]
B_OWN = [
    b.file("etc/app.conf", CONF_B),
    b.whiteout("etc/gone.txt"),
    b.file("etc/new.txt", b"added in B\n"),
    b.file("etc/blob.bin", bytes(range(255, -1, -1))),
    status(("bash", "5.2.15-2"), ("curl", "7.88.1-10+deb12u12"), ("jq\x1b[2J", "1.6-2.1")),
    b.whiteout(f"{SITE}/requests-2.31.0.dist-info"),
    dist("requests", "2.32.3"),
]


@pytest.fixture
def pair(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)
    for name, layers in (("a.tar", [BASE]), ("b.tar", [BASE, B_OWN])):
        image = b.Image(layers=[b.Layer(entries=e, command="step") for e in layers])
        b.docker_archive(image).write_tar(tmp_path / name)
    return Path("a.tar"), Path("b.tar")


async def test_package_changes_in_the_summary(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert "package changes" in shown
        assert "1 added, 1 removed, 2 upgraded" in shown
        assert "↑ deb curl 7.88.1-10+deb12u5 →" in shown  # wrapped in the pane
        assert "7.88.1-10+deb12u12" in shown
        assert "+ deb jq\\x1b[2J 1.6-2.1" in shown  # a hostile name, shown literally
        assert "- deb libold1 1.0-1" in shown
        assert "↑ python requests 2.31.0 → 2.32.3" in shown
        assert "\x1b" not in shown


def test_snapshot_compare_package_changes(snap_compare, pair):
    async def settled(pilot) -> None:
        await settle(pilot)

    assert snap_compare(compare_app(*pair), terminal_size=WIDE, run_before=settled)
