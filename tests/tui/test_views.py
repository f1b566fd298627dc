"""The views over the explorer: config and Dockerfile (c). Esc goes back, Enter goes to the
layer (and file) of the highlighted row, every text from the image is shown literally and
secrets masked."""

from __future__ import annotations

from pathlib import Path

from explorer.tui.screens.config import ConfigScreen
from explorer.tui.screens.help import HelpScreen
from explorer.tui.screens.main import MainScreen
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.layers import LayerList
from explorer.tui.widgets.rowlist import RowList
from tests.robustness import builders as b

from .conftest import app_for, main_screen, screen_text, settle, wait_for

SIZE = (120, 40)
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Ds0A"
NPM = "npm_" + "Q" * 32 + "w9Zk"


def views_image() -> b.Image:
    """Three layers (a base, a chmod copy of a directory, a deletion) and a history with
    build args, an empty layer, metadata entries and hostile text; a config with a token in
    its environment and a label naming the base image."""
    files = [b.file(f"srv/data/d{i}/f{j}.txt", b"x" * 100) for i in range(3) for j in range(4)]
    return b.Image(
        layers=[
            b.Layer([b.directory("srv"), b.file("srv/app.bin", b"A" * 4000), *files]),
            b.Layer(
                [
                    b.file(f"srv/data/d{i}/f{j}.txt", b"x" * 100, mode=0o600)
                    for i in range(3)
                    for j in range(4)
                ]
            ),
            b.Layer([b.whiteout("srv/app.bin")]),
        ],
        history=[
            {"created_by": "/bin/sh -c #(nop) ADD file:" + "ab" * 32 + " in / "},
            {"created_by": f"/bin/sh -c #(nop)  ENV GITHUB_TOKEN={GHP}", "empty_layer": True},
            {"created_by": f"|1 NPM_TOKEN={NPM} /bin/sh -c chmod -R go-rwx /srv/data"},
            {"created_by": "/bin/sh -c true", "empty_layer": True},
            {"created_by": "RUN /bin/sh -c rm /srv/app.bin # \x1b]52;c;aGk=\x07 [b]x # buildkit"},
            {"created_by": '/bin/sh -c #(nop)  CMD ["/srv/app.bin"]', "empty_layer": True},
        ],
        config_extra={
            "config": {
                "Env": ["PATH=/usr/bin:/bin", f"GITHUB_TOKEN={GHP}"],
                "Cmd": ["/srv/app.bin"],
                "WorkingDir": "/srv",
                "Labels": {
                    "org.opencontainers.image.base.name": "docker.io/library/debian:bookworm",
                    "evil": "\x1b[31m[red]not red[/red]",
                },
            }
        },
    )


def views_archive(tmp_path: Path) -> Path:
    return b.docker_archive(views_image()).write_tar(tmp_path / "views.tar")


def rows_text(rows: RowList) -> list[str]:
    return ["".join(text for text, _ in row.parts) for row in rows.shown]


async def test_config_and_dockerfile_view(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen))
        config = app.screen.query_one("#config-list", RowList)
        dockerfile = app.screen.query_one("#dockerfile-list", RowList)
        assert app.focused is config
        lines = rows_text(config)
        assert "GITHUB_TOKEN=ghp_…Ds0A" in lines
        assert "Base image   docker.io/library/debian:bookworm" in lines
        assert "User         — · root" not in lines and "User         root" in lines
        assert any(line.startswith("WorkingDir   /srv") for line in lines)
        steps = [line.strip() for line in rows_text(dockerfile)]
        assert steps[0].startswith("0 ") and steps[0].endswith("ADD file:abababababab /")
        assert "ENV GITHUB_TOKEN=ghp_…Ds0A" in steps
        assert "ARG NPM_TOKEN=npm_…w9Zk" in steps
        assert steps[4] == "RUN true"  # no layer: no number, no size
        text = screen_text(app)
        assert GHP not in text and NPM not in text
        assert "\\x1b[31m[red]not red[/red]" in text  # a label, literally
        await pilot.press("tab")
        assert app.focused is dockerfile
        # Enter on a line that made a layer: back in the explorer, on that layer.
        dockerfile.set_cursor(next(i for i, s in enumerate(steps) if s.startswith("2 ")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        screen = main_screen(app)
        assert screen.layer_list.selected_layer == 2
        assert isinstance(app.focused, LayerList)
        await settle(pilot)
        assert screen.file_tree.shown == (2, "layer")


async def test_escape_goes_back_and_a_line_without_a_layer_goes_nowhere(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c", "tab")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen))
        dockerfile = app.screen.query_one("#dockerfile-list", RowList)
        config = app.screen.query_one("#config-list", RowList)
        # 80 columns: one list at a time.
        assert dockerfile.display and not config.display
        dockerfile.set_cursor(1)  # ENV: made no layer
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert main_screen(app).layer_list.selected_layer == 0


async def test_the_key_is_rebindable_and_listed(tmp_path):
    app = app_for(views_archive(tmp_path), keymap={"config": "f9"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen))
        await pilot.press("escape", "f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.help_text().plain
        assert "f9" in text and "[config]" in text and "Config and Dockerfile" in text
        assert "[view.back]" in text and "[config.switch]" in text


async def test_reveal_opens_the_directories_above_a_path(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("tab", "ctrl+space")  # everything collapsed
        await settle(pilot)
        assert screen.file_tree.count < 5
        from explorer.tui.widgets.rowlist import Target

        screen.reveal(Target(1, "/srv/data/d2/f3.txt"))
        await settle(pilot)
        tree = screen.file_tree
        assert isinstance(app.focused, FileTreeView)
        assert tree.shown == (1, "layer")
        assert tree.current is not None and tree.current.path == "/srv/data/d2/f3.txt"
