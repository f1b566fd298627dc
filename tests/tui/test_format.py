"""How the UI words things from an image's history."""

from __future__ import annotations

import pytest

from explorer.core.image import HistoryEntry
from explorer.tui import format as fmt


def entry(created_by: str, comment: str = "") -> HistoryEntry:
    return HistoryEntry(created_by, "", False, 0, comment)


def test_instruction_forms():
    assert fmt.instruction(entry("/bin/sh -c echo hi")) == "RUN echo hi"
    assert fmt.instruction(entry("/bin/sh -c #(nop)  ENV A=b")) == "ENV A=b"
    # the classic builder's RUN with build args
    assert fmt.instruction(entry("|1 NOTE=x /bin/sh -c dd if=/dev/zero")) == "RUN dd if=/dev/zero"
    assert fmt.instruction(entry("RUN |2 A=1 B=2 /bin/sh -c make")) == "RUN make"
    # `docker import`: no command, a comment
    assert fmt.instruction(entry("", "Imported from -")) == "Imported from -"
    assert fmt.instruction(entry("")) == "(no command recorded)"


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
