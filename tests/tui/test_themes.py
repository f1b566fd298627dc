"""Colour themes: the diff kinds stay told apart, and readable, in every built-in theme."""

from __future__ import annotations

from itertools import combinations

from rich.color import Color as RichColor
from textual.color import Color

from explorer.tui.colours import MIN_CONTRAST, MIN_DISTANCE, contrast, distance

from .conftest import app_for, main_screen, settle

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
        tree = main_screen(app).tree
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
