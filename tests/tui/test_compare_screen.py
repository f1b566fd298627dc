"""The compare screen through Textual's Pilot: `layerscope compare A B` on a terminal, the
diff tree with the explorer's keys (changed paths first, Ctrl+U for the rest), the summary and
the selected change, 80x24, a failure as one line, "Compare with…" from the explorer's
palette; SVG snapshots of the screen."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import sys
import termios
from pathlib import Path

import pytest

from explorer.core.compare import Thresholds
from explorer.tui.screens.compare import CompareApp, CompareScreen
from explorer.tui.treestate import find_path
from tests.robustness import builders as b

from .conftest import app_for, frozen_clock, palette_results, screen_text, settle, wait_for

NARROW = (80, 24)
WIDE = (120, 40)
BASE = [
    b.directory("etc"),
    b.file("etc/os-release", b"ID=test\n"),
    b.directory("usr"),
    b.directory("usr/lib"),
    b.file("usr/lib/libc.so", b"c" * 3000),
    b.file("usr/lib/old.so", b"o" * 500),
]
NEW = [
    b.directory("usr"),
    b.directory("usr/lib"),
    b.file("usr/lib/big.so", b"b" * 20000),
    b.whiteout("usr/lib/old.so"),
    b.file("etc/os-release", b"ID=tset\n", mode=0o600),
]


@pytest.fixture
def pair(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """Two archives, named relative to the test's directory (the names are on screen)."""
    monkeypatch.chdir(tmp_path)

    def archive(name: str, *layers: list, **config) -> Path:
        image = b.Image(
            layers=[b.Layer(entries=e, command=f"step {i}") for i, e in enumerate(layers)],
            config_extra=config,
        )
        b.docker_archive(image).write_tar(tmp_path / name)
        return Path(name)

    a = archive("a.tar", BASE)
    bb = archive("b.tar", BASE, NEW, config={"Env": ["PATH=/bin", "MODE=new"]})
    return a, bb


def compare_app(a: Path, bb: Path, limits: Thresholds | None = None) -> CompareApp:
    return CompareApp(
        str(bb),
        limits or Thresholds(),
        False,
        target=str(a),
        clock=frozen_clock,
        keymap_file=Path("/nonexistent/layerscope/keymap.toml"),
    )


def tree_lines(app) -> list[str]:
    tree = app.screen.file_tree
    return [tree.render_line(y).text.rstrip() for y in range(tree.size.height)]


async def test_changed_paths_then_everything(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        text = "\n".join(tree_lines(app))
        assert "big.so" in text and "old.so" in text and "os-release" in text
        assert "libc.so" not in text  # unchanged: hidden at first
        await pilot.press("ctrl+u")
        await settle(pilot)
        assert "libc.so" in "\n".join(tree_lines(app))
        shown = screen_text(app)
        assert "verdict: ok" in shown
        assert "1 of B's 2 shared" in shown
        assert "added   1  +20.0 kB" in shown and "removed 1  -500 B" in shown


async def test_closed_directories_stay_closed_when_every_path_shows(pair) -> None:
    """The first Ctrl+U swaps in the tree of every path: what was closed stays closed."""
    app = compare_app(*pair)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        tree = app.screen.file_tree
        tree.set_cursor(find_path(tree.rows, "/usr"))
        await pilot.press("space")  # close /usr
        await wait_for(pilot, lambda: "big.so" not in "\n".join(tree_lines(app)))
        await pilot.press("ctrl+u")
        await settle(pilot)
        text = "\n".join(tree_lines(app))
        assert "os-release" in text and "etc" in text
        assert "big.so" not in text and "libc.so" not in text, text
        assert tree.current is not None and tree.current.path == "/usr"
        await pilot.press("space")  # open it again: the unchanged paths are there
        await wait_for(pilot, lambda: "libc.so" in "\n".join(tree_lines(app)))


async def test_selected_change_names_the_layer_of_b(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        tree = app.screen.file_tree
        tree.set_cursor(find_path(tree.rows, "/etc/os-release"))
        await pilot.pause()
        shown = screen_text(app)
        assert "modified  by B's layer L1" in shown
        assert "content, mode" in shown
        assert "A file 0644 0:0 8 B" in shown and "B file 0600 0:0 8 B" in shown


async def test_filter_keys_work_as_in_the_explorer(pair) -> None:
    app = compare_app(*pair)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await pilot.press("slash", "b", "i", "g", "enter")
        await wait_for(pilot, lambda: "os-release" not in "\n".join(tree_lines(app)))
        assert "big.so" in "\n".join(tree_lines(app))


async def test_regression_verdict_in_the_summary(pair) -> None:
    app = compare_app(*pair, limits=Thresholds(growth_bytes=1000))
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        assert "verdict: regression reason=growth" in screen_text(app)


async def test_an_image_that_cannot_be_opened_is_one_line(pair, tmp_path) -> None:
    app = compare_app(pair[0], Path("missing.tar"))
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        assert "missing.tar: no such file or directory" in screen_text(app)
    assert app.failed


async def test_compare_with_from_the_explorer_palette(pair) -> None:
    a, bb = pair
    app = app_for(a)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: palette_results(app) is not None)
        await pilot.press(*"compare with")
        await wait_for(pilot, lambda: "Compare with" in (palette_results(app) or [""])[0])
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query("#open-target"))
        await pilot.press(*str(bb), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.done)
        await pilot.pause()
        assert "big.so" in "\n".join(tree_lines(app))
        compare = app.screen
        assert compare.loading_b is not None and not compare.loading_b.cancel.is_set()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
        # leaving the screen stops B's load too (it may still run when Esc comes early)
        await wait_for(pilot, compare.loading_b.cancel.is_set)


def _steps(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_snapshot_compare_80x24(snap_compare, pair):
    assert snap_compare(compare_app(*pair), terminal_size=NARROW, run_before=_steps())


def test_snapshot_compare_unchanged_shown(snap_compare, pair):
    app = compare_app(*pair)
    assert snap_compare(app, terminal_size=WIDE, run_before=_steps("ctrl+u", "down", "down"))


def test_a_terminal_gets_the_compare_screen(pair, tmp_path) -> None:
    """`layerscope compare A B` on a terminal, no --format: the TUI (q quits, exit 0)."""
    from tests.tui.test_terminal import _read_until, _wait, env

    a, bb = pair
    argv = [sys.executable, "-m", "explorer", "compare", str(a), str(bb)]
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execve(sys.executable, [*argv, "--cache-dir", str(tmp_path / "c")], env())
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    code = None
    try:
        shown = _read_until(fd, b"verdict: ok", 60)
        assert b"verdict: ok" in shown, shown[-2000:]
        os.write(fd, b"q")
        code, after = _wait(pid, fd, 30)
    finally:
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert code == 0, after[-2000:]


async def test_hostile_names_are_shown_literally(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = "x\x1b]52;c;QUJD\x07[bold]y"
    for name, layers, config in (
        ("a.tar", [BASE], {}),
        ("b.tar", [BASE, [b.file(evil, b"1")]], {"config": {"Labels": {"[red]l": "v\x1b[2J"}}}),
    ):
        image = b.Image(layers=[b.Layer(entries=e) for e in layers], config_extra=config)
        b.docker_archive(image).write_tar(tmp_path / name)
    app = compare_app(Path("a.tar"), Path("b.tar"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert "x\\x1b]52;c;QUJD\\x07[bold]y" in shown
        assert "Labels [red]l: - → v\\x1b[2J" in shown
