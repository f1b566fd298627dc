"""The compare screen's package changes (in the summary pane) and Enter on a changed file (its
two versions diffed in the viewer, or one version viewed), through Textual's Pilot; SVG
snapshots of both."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.tui.screens.compare import CompareScreen
from explorer.tui.screens.viewer import ViewerScreen
from tests.robustness import builders as b
from tests.tui.test_compare_screen import NARROW, WIDE, compare_app, tree_lines

from .conftest import screen_text, settle, wait_for

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
    b.file("etc/keep.conf", b"the same in A and B\n"),
    b.file("etc/run.sh", b"echo run\n"),
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
    b.file("etc/run.sh", b"echo run\n", mode=0o755),
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


async def enter_on(pilot, path: str) -> ViewerScreen:
    """Enter on `path` in the compare screen's tree: the viewer it opens."""
    app = pilot.app
    await settle(pilot)
    tree = app.screen.file_tree
    tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == path))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ViewerScreen))
    return app.screen


async def test_enter_on_a_modified_file_diffs_a_against_b(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        viewer = await enter_on(pilot, "/etc/app.conf")
        await wait_for(pilot, lambda: "@@" in screen_text(app))
        text = screen_text(app)
        assert "/etc/app.conf  ·  B layer 1  ·  version 2 of 2" in text
        assert "--- A layer 0: /etc/app.conf" in text and "+++ B layer 1: /etc/app.conf" in text
        assert "-setting12 = 12" in text and "+setting12 = twelve" in text
        assert " setting11 = 11" in text  # context
        await pilot.press("d")  # B's version itself
        await wait_for(pilot, lambda: viewer.view.text is not None and viewer.view.text.complete)
        await wait_for(pilot, lambda: "13 │ setting12 = twelve" in screen_text(app))
        await pilot.press("left_square_bracket")  # A's
        await wait_for(pilot, lambda: "13 │ setting12 = 12" in screen_text(app))
        assert "A layer 0  ·  version 1 of 2" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))


async def test_enter_on_an_added_file_views_b_a_removed_one_views_a(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await enter_on(pilot, "/etc/new.txt")
        await wait_for(pilot, lambda: "1 │ added in B" in screen_text(app))
        assert "/etc/new.txt  ·  B layer 1  ·  version 1 of 1" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await enter_on(pilot, "/etc/gone.txt")
        await wait_for(pilot, lambda: "1 │ removed in B" in screen_text(app))
        assert "/etc/gone.txt  ·  A layer 0  ·  version 1 of 1" in screen_text(app)


async def test_enter_on_a_file_whose_mode_only_changed_views_b(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        viewer = await enter_on(pilot, "/etc/run.sh")
        await wait_for(pilot, lambda: "1 │ echo run" in screen_text(app))
        assert "/etc/run.sh  ·  B layer 1  ·  version 2 of 2" in screen_text(app)
        assert not viewer.diffing
        await pilot.press("d")  # the diff is a key away: the same text
        await wait_for(pilot, lambda: "no difference in the text" in screen_text(app))


async def test_enter_on_a_modified_binary_file(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await enter_on(pilot, "/etc/blob.bin")
        await wait_for(pilot, lambda: "binary content" in screen_text(app))
        text = screen_text(app)
        assert "A layer 0: /etc/blob.bin: 256 bytes, xxh3-64" in text
        assert "B layer 1: /etc/blob.bin: 256 bytes, xxh3-64" in text
        assert "the contents differ" in text


async def test_enter_on_a_directory_collapses_it(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        tree = app.screen.file_tree
        tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == "/etc"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: not any(r.path == "/etc/app.conf" for r in tree.rows))
        assert isinstance(app.screen, CompareScreen)


async def test_an_image_gone_since_is_one_line_not_a_viewer(pair) -> None:
    """The files are read only on Enter: an archive removed since says so, in one line."""
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        pair[1].unlink()
        tree = app.screen.file_tree
        tree.set_cursor(next(i for i, row in enumerate(tree.rows) if row.path == "/etc/new.txt"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app._notifications))
        (note,) = list(app._notifications)
        assert "b.tar: no such file or directory" in note.message, note.message
        assert "\n" not in note.message
        assert note.severity == "error"
        assert isinstance(app.screen, CompareScreen)


async def test_unchanged_paths_are_worked_out_on_the_first_ctrl_u(pair) -> None:
    """The first tree holds the changes only; Ctrl+U builds every path's, keeping the
    filter; Ctrl+U again hides the unchanged paths as in the explorer."""
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        tree = app.screen.file_tree
        assert not tree.every_path
        await pilot.press("slash", *"conf", "enter")
        await wait_for(pilot, lambda: "gone.txt" not in "\n".join(tree_lines(app)))
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: "keep.conf" in "\n".join(tree_lines(app)))
        text = "\n".join(tree_lines(app))
        assert tree.every_path and "app.conf" in text and "gone.txt" not in text
        assert "verdict: ok" in screen_text(app)  # the header's status is back
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: "keep.conf" not in "\n".join(tree_lines(app)))
        assert "app.conf" in "\n".join(tree_lines(app))


def test_snapshot_compare_diff_view(snap_compare, pair):
    async def run_before(pilot) -> None:
        await enter_on(pilot, "/etc/app.conf")
        await wait_for(pilot, lambda: "diff against version 1 of 2" in screen_text(pilot.app))
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(compare_app(*pair), terminal_size=NARROW, run_before=run_before)
