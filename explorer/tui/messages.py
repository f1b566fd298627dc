"""What the background workers report to the UI. Workers only post these; handlers on the
UI thread update widgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from explorer.core.findings import Finding
from explorer.core.loading import Event, Progress
from explorer.core.packages import Package
from explorer.core.treerow import Row


@dataclass
class LoadEvent(Message):
    """What the loading pipeline reported (`explorer.core.loading`'s events), posted by the
    screen's worker for its handler on the UI thread."""

    event: Event

    def can_replace(self, message: Message) -> bool:
        # Progress floods: only the newest one matters.
        return (
            isinstance(self.event, Progress)
            and isinstance(message, LoadEvent)
            and isinstance(message.event, Progress)
        )


@dataclass
class ViewReady(Message):
    """The file tree's rows for the requested layer and presentation state."""

    layer: int
    mode: str
    rows: Sequence[Row]  # the core builds rows lazily: index it, don't copy it
    cursor: int  # row to put the cursor on (the previously selected path, if still shown)
    seconds: float


@dataclass
class ViewFailed(Message):
    """Computing the tree failed (a bad regex never gets here: it is checked first)."""

    message: str


@dataclass
class Explained(Message):
    """The image's findings and packages, worked out by a worker once the analysis is in."""

    findings: list[Finding]
    packages: list[Package]
    seconds: float
