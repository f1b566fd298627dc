"""How the UI words things from an image's history."""

from __future__ import annotations

import pytest

from explorer.tui import format as fmt


def test_timestamps_from_the_engine_api_are_readable():
    assert fmt.timestamp("1700000000") == "2023-11-14T22:13:20Z"
    assert fmt.timestamp("2018-12-28T16:50:43.96Z") == "2018-12-28T16:50:43.96Z"


@pytest.mark.parametrize(
    "odd",
    ["99999999999999999999", "²", "١٢٣", "9" * 400, ""],
    ids=["year-past-9999", "superscript-two", "arabic-digits", "400-digits", "empty"],
)
def test_a_time_no_date_can_hold_is_shown_as_recorded(odd):
    """Digits that are not ASCII, or a number past year 9999, are not a Unix time."""
    assert fmt.timestamp(odd) == odd


def test_sizes():
    assert fmt.size(0) == "0 B"
    assert fmt.size(1) == "1 B"
    assert fmt.size(6405) == "6.4 kB"
    assert fmt.size(None) == "…"
