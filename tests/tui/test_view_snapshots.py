"""SVG snapshots of the views over the explorer (config and Dockerfile, findings, packages)
and of the grouped hidden bytes. Deterministic as the other snapshots: fixed size, frozen
clock, work settled."""

from __future__ import annotations

from explorer.tui.screens.main import MainScreen

from .conftest import app_for, main_screen, settle, wait_for
from .test_views import views_archive

WIDE = (120, 40)
NARROW = (80, 24)


def keys_then_settle(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot)
        await wait_for(pilot, lambda: main_screen(pilot.app).explained is not None)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        if isinstance(pilot.app.screen, MainScreen):
            await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run


def test_config_and_dockerfile(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("c", "down", "down", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=WIDE, run_before=keys)


def test_dockerfile_narrow(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("c", "tab", "down", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=NARROW, run_before=keys)


def test_findings(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("w", "down", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=WIDE, run_before=keys)


def test_findings_narrow(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("w", "down", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=NARROW, run_before=keys)


def test_packages_of_a_layer(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("p", "right", "down", "down", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=NARROW, run_before=keys)


def test_hidden_bytes_grouped(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    views_archive(tmp_path)
    keys = keys_then_settle("e", "v", "down", "enter", "down")
    assert snap_compare(app_for("views.tar"), terminal_size=WIDE, run_before=keys)
