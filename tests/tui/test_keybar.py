"""The key bar keeps its essential keys whole: Quit, Help, Pane and Filter at 80 and 120
columns whichever pane has the focus; a key that does not fit whole is left out, never cut."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from explorer.tui.widgets.footer import KeyFooter, fitting, key_cells

from .conftest import app_for, main_screen, screen_text, settle


@pytest.mark.parametrize("width", [80, 120])
async def test_essential_keys_keep_their_labels(sample_archive, width: int) -> None:
    app = app_for(sample_archive)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        for pane in (main.layer_list, main.file_tree):
            pane.focus()
            await pilot.pause()
            await pilot.pause()
            bar = app.screen.query_one(KeyFooter)
            text = screen_text(app).splitlines()[-1]
            for key in ("q Quit", "? Help", "o Open", "tab Pane", "^f Filter"):
                assert key in text, (type(pane).__name__, text)
            palette = bar.query(FooterKey).filter(".-command-palette")
            room = bar.region.right - sum(k.region.width for k in palette)
            for key in bar.query(FooterKey).exclude(".-command-palette"):
                assert key.region.right <= room, (key.key_display, key.description, text)


def _key(action: str, display: str, description: str) -> FooterKey:
    return FooterKey(display, display, description, action)


def test_a_key_that_does_not_fit_whole_is_left_out_and_kinds_go_together() -> None:
    quit_ = _key("app.quit", "q", "Quit")  # 7 cells with its margin
    kinds = [_key(f"toggle_kind('{k}')", f"^{k[0]}", k) for k in ("added", "removed")]
    sort = _key("toggle_sort", "^o", "Sort")  # 8
    filt = _key("screen.filter", "^f", "Filter")  # 10
    keys = [quit_, *kinds, sort, filt]
    assert [key_cells(k) for k in keys] == [7, 9, 11, 8, 10]
    # 7 + 10 (Filter, essential, chosen first) = 17; the kinds (20) do not fit in 30: both
    # are left out, Sort still fits; the order shown stays the bar's.
    assert fitting(keys, 30) == [quit_, sort, filt]
    assert fitting(keys, 45) == keys  # 45 cells: the last margin may fall off the edge
