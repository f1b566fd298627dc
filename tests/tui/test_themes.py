"""Colour themes: the diff kinds stay told apart, and readable, in every built-in theme."""

from __future__ import annotations

import argparse
from itertools import combinations

import pytest
from rich.color import Color as RichColor
from textual.color import Color

from explorer.tui.colours import MIN_CONTRAST, MIN_DISTANCE, contrast, distance

from .conftest import app_for, main_screen, screen_text, settle, wait_for

KINDS = ("added", "removed", "modified")


def drawn(colour: RichColor | None) -> Color:
    assert colour is not None
    if colour.triplet is None:  # an ANSI theme: the terminal's palette
        return Color(0, 0, 0, ansi=colour.number)
    return Color(*colour.triplet)


async def test_diff_colours_are_distinct_and_readable_in_every_theme(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        themes = sorted(app.available_themes)
        assert {"solarized-light", "solarized-dark", "flexoki", "ansi-light"} <= set(themes)
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            colours = {
                k: drawn(tree.get_component_rich_style(f"filetree--{k}").color) for k in KINDS
            }
            background = drawn(tree.rich_style.bgcolor)
            for (k1, c1), (k2, c2) in combinations(colours.items(), 2):
                if c1.ansi is not None or c2.ansi is not None:
                    assert c1.ansi % 8 != c2.ansi % 8, (theme, k1, k2)  # not red / bright red
                else:
                    assert distance(c1, c2) >= MIN_DISTANCE, (theme, k1, k2)
            if all(c.ansi is None for c in colours.values()):  # else: the terminal decides
                for kind, colour in colours.items():
                    assert contrast(colour, background) >= MIN_CONTRAST, (theme, kind)


async def test_the_chosen_theme_is_marked_and_remembered(sample_archive, tmp_path):
    from textual.command import CommandPalette

    from explorer.tui.settings import load_settings

    settings = tmp_path / "config" / "layerscope" / "settings.json"
    app = app_for(sample_archive, settings_file=settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await wait_for(pilot, lambda: "● current" in screen_text(app))
        assert "textual-dark  ● current" in screen_text(app)
        await pilot.press(*"nord")
        await wait_for(pilot, lambda: "nord" in screen_text(app).split("Themes…")[-1])
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "nord")
        await wait_for(pilot, settings.exists)
        assert load_settings(settings) == ({"theme": "nord"}, [])
        assert [p.name for p in settings.parent.iterdir()] == ["settings.json"]  # no temp left
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "nord  ● current" in screen_text(app))
    again = app_for(sample_archive, theme="nord", settings_file=settings)
    assert again.theme == "nord"


def test_launch_reads_the_remembered_theme(monkeypatch, tmp_path):
    from explorer.tui import launch as launch_mod
    from explorer.tui.settings import save_settings, settings_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    save_settings(settings_path(), {"theme": "solarized-light"})
    made = {}

    class Stop(Exception):
        pass

    def fake_make_app(target, kind, platform, **options):
        made.update(options)
        raise Stop

    monkeypatch.setattr("explorer.tui.app.make_app", fake_make_app)
    image = str(tmp_path / "missing.tar")  # never read: the app is not made
    args = argparse.Namespace(image=image, source=None, platform=None, debug=False)
    with pytest.raises(Stop):
        launch_mod.launch(args)
    assert made["theme"] == "solarized-light"
    assert made["settings_file"] == tmp_path / "layerscope" / "settings.json"


def test_settings_file_problems_are_reported_not_raised(tmp_path):
    from explorer.tui.settings import load_settings

    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings, problems = load_settings(path)
    assert settings == {} and str(path) in problems[0]
