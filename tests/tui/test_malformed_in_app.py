"""Every malformed-input case of the robustness corpus, opened in the TUI: the same verdict
as the CLI (an in-app error naming the problem, or the image analysed), never a traceback,
and the app still quits cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.robustness.test_malformed import CASES, Case, Rejected

from .conftest import app_for, main_screen, screen_text, settle

SIZE = (160, 50)


def _platform(case: Case) -> str | None:
    args = list(case.args)
    return args[args.index("--platform") + 1] if "--platform" in args else None


@pytest.mark.parametrize("case", [c for c in CASES if not c.slow], ids=lambda c: c.name)
async def test_malformed_case_in_the_tui(case: Case, tmp_path: Path) -> None:
    built = case.build(tmp_path)
    app = app_for(built.path, platform=_platform(case))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, timeout=60)
        screen = main_screen(app)
        text = screen_text(app)
        assert "Traceback" not in text
        if isinstance(case.expect, Rejected):
            assert screen.failure, f"{case.name}: analysed in the TUI, rejected by the CLI"
            assert re.search(case.expect.pattern, screen.failure, re.I), screen.failure
            assert "could not read the image" in text.lower()
        else:
            assert not screen.failure, f"{case.name}: {screen.failure}"
            assert screen.analysis is not None
        await pilot.press("q")
