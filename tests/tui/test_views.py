"""The views over the explorer: config and Dockerfile (c). Esc goes back, Enter goes to the
layer (and file) of the highlighted row, every text from the image is shown literally and
secrets masked."""

from __future__ import annotations

from pathlib import Path

from explorer.core.findings import SEVERITIES
from explorer.tui.commands import explorer_commands
from explorer.tui.screens.config import ConfigScreen
from explorer.tui.screens.findings import FindingsScreen, PackagesScreen
from explorer.tui.screens.help import HelpScreen
from explorer.tui.screens.main import MainScreen
from explorer.tui.widgets.efficiency import WasteTable
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.layers import LayerList
from explorer.tui.widgets.rowlist import RowList, Target
from tests.robustness import builders as b

from .conftest import app_for, main_screen, screen_text, settle, wait_for

SIZE = (120, 40)
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Ds0A"
NPM = "npm_" + "Q" * 32 + "w9Zk"
LIBC = ("libc6", "2.36-9")


def dpkg_status(*packages: tuple[str, str]) -> bytes:
    return "".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n"
        for name, version in packages
    ).encode()


def views_image() -> b.Image:
    """Three layers: a base with packages, a `.env` holding a token and a setuid file; a
    chmod copy of a directory tree with a package upgrade and install; a deletion of the
    `.env` (still shipped). A history with build args, an empty layer, metadata entries and
    hostile text; a config with a token in its environment and a label naming the base."""
    files = [b.file(f"srv/data/d{i}/f{j}.txt", b"x" * 100) for i in range(3) for j in range(4)]
    chmod = [
        b.file(f"srv/data/d{i}/f{j}.txt", b"x" * 100, mode=0o600)
        for i in range(3)
        for j in range(4)
    ]
    status = "var/lib/dpkg/status"
    return b.Image(
        layers=[
            b.Layer(
                [
                    b.directory("srv"),
                    b.file("srv/app.bin", b"A" * 4000),
                    b.file("srv/.env", f"API_TOKEN={GHP}\n".encode()),
                    b.file("usr/local/bin/helper", b"\x7fELF", mode=0o4755),
                    b.file(status, dpkg_status(("curl", "7.88.1"), LIBC)),
                    *files,
                ]
            ),
            b.Layer(
                [
                    *chmod,
                    b.file(
                        status, dpkg_status(("curl", "8.0.1"), ("jq", "1.6"), ("libc6", "2.36-9"))
                    ),
                ]
            ),
            b.Layer([b.whiteout("srv/app.bin"), b.whiteout("srv/.env")]),
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
        commands = {c.title for c in explorer_commands(app, app.screen)}
        assert "View: Switch between the config and the Dockerfile" in commands
        assert "View: Back to the explorer" in commands
        assert "List: Fold or unfold" in commands
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        commands = {c.title for c in explorer_commands(app, app.screen)}
        assert "View: The packages the selected layer installed, upgraded or removed" in commands
        await pilot.press("f1")
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
        tree = screen.file_tree
        assert "/srv/data/d2/f3.txt" not in [tree.rows[i].path for i in range(tree.count)]
        screen.reveal(Target(1, "/srv/data/d2/f3.txt"))
        await settle(pilot)
        assert isinstance(app.focused, FileTreeView)
        assert tree.shown == (1, "layer")
        assert tree.current is not None and tree.current.path == "/srv/data/d2/f3.txt"


# -- findings and packages -------------------------------------------------------------------


async def explained(pilot) -> None:
    await settle(pilot)
    await wait_for(pilot, lambda: main_screen(pilot.app).explained is not None)


async def test_findings_view_groups_by_severity_and_rule_and_goes_to_the_file(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await explained(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen))
        rows = app.screen.query_one(RowList)
        lines = rows_text(rows)
        headings = [r for r in rows.shown if r.group.startswith("severity:")]
        order = [r.group.split(":")[1] for r in headings]
        assert order == sorted(order, key=SEVERITIES.index) and order[0] == "critical"
        secret = next(i for i, r in enumerate(rows.shown) if "/srv/.env" in rows_text(rows)[i])
        assert rows.shown[secret].target == Target(0, "/srv/.env")
        assert rows.shown[secret].parts[2][1] == "removed"  # not in the final image
        assert any("/usr/local/bin/helper" in line for line in lines)  # setuid
        build_arg = next(r for r in rows.shown if "NPM_TOKEN" in "".join(t for t, _ in r.parts))
        assert build_arg.target == Target(1)  # a build arg of layer 1's RUN: to the layer
        assert GHP not in screen_text(app)
        rows.set_cursor(secret)
        await pilot.pause()
        detail = str(app.screen.query_one("#view-detail").render())
        assert "Remedy:" in detail and GHP not in detail
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
        screen = main_screen(app)
        assert screen.layer_list.selected_layer == 0
        assert isinstance(app.focused, FileTreeView)
        assert screen.file_tree.current is not None
        assert screen.file_tree.current.path == "/srv/.env"


async def test_a_view_opened_before_the_findings_are_in_fills_when_they_arrive(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await explained(pilot)
        main = main_screen(app)
        result = main.explained
        assert result is not None
        await app.push_screen(FindingsScreen("views.tar", None))
        rows = app.screen.query_one(RowList)
        assert rows.count == 0 and "working out" in screen_text(app)
        main.on_explained(result)
        await pilot.pause()
        assert rows.count > 0
        # Folding: Space on a severity heading hides everything under it.
        rows.set_cursor(0)
        before = rows.count
        await pilot.press("space")
        assert rows.count < before and rows.shown[0].group.startswith("severity:")


async def test_packages_view_per_layer(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await explained(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PackagesScreen))
        rows = app.screen.query_one(RowList)
        lines = [" ".join(line.split()) for line in rows_text(rows)]
        assert lines == [
            "Installed (2)",
            "curl 7.88.1 deb /var/lib/dpkg/status",
            "libc6 2.36-9 deb /var/lib/dpkg/status",
        ]
        await pilot.press("right")
        lines = [" ".join(line.split()) for line in rows_text(rows)]
        assert lines == [
            "Installed (1)",
            "jq 1.6 deb /var/lib/dpkg/status",
            "Upgraded (1)",
            "curl 7.88.1 → 8.0.1 deb /var/lib/dpkg/status",
        ]
        await pilot.press("right")
        assert rows.count == 0 and "no package" in screen_text(app)
        await pilot.press("left", "down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
        screen = main_screen(app)
        assert screen.layer_list.selected_layer == 1
        assert screen.file_tree.current is not None
        assert screen.file_tree.current.path == "/var/lib/dpkg/status"


# -- the grouped hidden bytes ----------------------------------------------------------------


async def test_hidden_bytes_are_grouped_open_and_go_to_the_file(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        table = screen.query_one(WasteTable)
        await pilot.press("e", "v")
        await wait_for(pilot, lambda: table.count > 0)
        labels = [(depth, group.path, group.files) for depth, group, _ in table.shown_rows]
        # The chmod copy of 12 files in 3 directories is one group.
        assert (0, "/srv/data", 12) in labels
        assert (0, "/srv", 2) in labels  # app.bin and .env, deleted by layer 2
        at = next(i for i, (_, path, _) in enumerate(labels) if path == "/srv/data")
        table.set_cursor(at)
        await pilot.press("enter")
        opened = [(d, g.path) for d, g, _ in table.shown_rows]
        assert opened[at + 1 : at + 4] == [
            (1, "/srv/data/d0"),
            (1, "/srv/data/d1"),
            (1, "/srv/data/d2"),
        ]
        await pilot.press("down", "enter", "down")
        assert table.shown_rows[table.cursor][1].path == "/srv/data/d0/f0.txt"
        assert "overwritten: write it once" in table.remedy()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 0
        assert isinstance(app.focused, FileTreeView)
        assert screen.file_tree.current is not None
        assert screen.file_tree.current.path == "/srv/data/d0/f0.txt"


async def test_the_layer_list_and_details_mask_secrets_too(tmp_path):
    app = app_for(views_archive(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")  # layer 1: its RUN had a token as a build arg
        await settle(pilot)
        text = screen_text(app)
        assert "ENV GITHUB_TOKEN=ghp_…Ds0A" in text
        assert "NPM_TOKEN=npm_…w9Zk" in main_screen(app).details.text
        assert GHP not in text and NPM not in text
