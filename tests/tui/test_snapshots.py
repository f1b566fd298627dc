"""SVG snapshots of real screens (pytest-textual-snapshot). Deterministic: fixed terminal
size, frozen clock, fixed keymap path, and every worker settled before the picture.

Update after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the report (snapshot_report.html) before committing.
"""

from __future__ import annotations

from explorer.sample import docker_archive, sample_spec

from .conftest import app_for, main_screen, settle

WIDE = (120, 40)
NARROW = (80, 24)


def steps(*keys: str):
    """A run_before that settles, then presses each key and settles again."""

    async def run(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        tree = main_screen(pilot.app).file_tree
        assert not (tree.rows and tree.stale), (
            f"the tree still shows an old view after {keys}: computing={tree.computing}, "
            f"shown={tree.shown}, layer={tree.state.layer}"
        )

    return run


def test_dive_image_first_layer(snap_compare, dive_image):
    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=steps())


def test_dive_image_layer_changes(snap_compare, dive_image):
    keys = ["down"] * 6 + ["tab"]  # layer 6 (the CMD entry is skipped), tree focused
    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=steps(*keys))


def test_dive_image_aggregated_without_unmodified(snap_compare, dive_image):
    keys = ["end", "ctrl+a", "tab", "ctrl+u"]
    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=steps(*keys))


def test_dive_image_filtered_and_sorted_by_size(snap_compare, dive_image):
    keys = ["down", "down", "tab", "ctrl+o", "slash", "r", "o", "o", "t", "enter"]
    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=steps(*keys))


def test_help_screen(snap_compare, dive_image):
    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=steps("f1"))


def test_narrow_terminal(snap_compare, dive_image):
    keys = ["down", "down", "down", "tab", "down"]
    assert snap_compare(app_for(dive_image), terminal_size=NARROW, run_before=steps(*keys))


def test_sample_hidden_bytes_view(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample.tar").write_bytes(docker_archive(sample_spec()))
    keys = ["e", "v", "down"]
    assert snap_compare(app_for("sample.tar"), terminal_size=WIDE, run_before=steps(*keys))


def test_truncated_archive_error(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = docker_archive(sample_spec())
    (tmp_path / "truncated.tar").write_bytes(data[: len(data) // 3])
    assert snap_compare(app_for("truncated.tar"), terminal_size=WIDE, run_before=steps())


def test_light_theme(snap_compare, dive_image):
    """Colours come from theme variables only: a light theme must stay readable."""

    async def run(pilot) -> None:
        pilot.app.theme = "textual-light"
        await steps("down", "down", "down", "tab")(pilot)

    assert snap_compare(app_for(dive_image), terminal_size=WIDE, run_before=run)
