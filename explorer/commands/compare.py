"""`layerscope compare A B`: what changed between two images — layers, files, sizes, config —
as text, Markdown or JSON, with a verdict and thresholds for CI (exit 0 no regression, 1
regression, 2 error). On a terminal, without --format, the TUI's compare screen."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from explorer.commands import common

if TYPE_CHECKING:
    from explorer.core.compare import Thresholds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerscope compare",
        description="Compare two images: shared layers, files added / removed / modified "
        "(each with the layer of B that made it), sizes, config, efficiency. The text's last "
        "line is `verdict: ok`, `verdict: regression reason=...` or `verdict: same digest`; "
        "exit 0 no regression, 1 regression, 2 error.",
    )
    p.add_argument("a", metavar="A", help="the image compared against; " + common.IMAGE_HELP)
    p.add_argument("b", metavar="B", help="the image compared (same forms as A)")
    p.add_argument(
        "--format",
        choices=["text", "json", "markdown"],
        help="output format (default: the TUI on a terminal, else text)",
    )
    p.add_argument(
        "--mode",
        choices=["summary", "compact", "full"],
        default="compact",
        help="text / Markdown detail: summary only, changes with added or removed directories "
        "folded (default), or every change (JSON always holds every change)",
    )
    p.add_argument(
        "--mtime", action="store_true", help="a changed mtime alone makes a file modified"
    )
    p.add_argument(
        "--max-growth",
        metavar="SIZE|PERCENT",
        help="regression when B is larger than A by more than this (10M, 1G, 5%%)",
    )
    p.add_argument(
        "--max-efficiency-drop",
        metavar="X",
        help="regression when dive's efficiency drops by more than X (0.02 or 2%%)",
    )
    p.add_argument(
        "--fail-on-new-findings",
        metavar="SEVERITY",
        choices=["low", "medium", "high", "critical"],
        help="regression when B has findings at or above SEVERITY that A has not "
        "(the same rule on the same path)",
    )
    common.add_image_options(p)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    with common.cache_settings(args):
        return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core import compare as core

    limits = _thresholds(args)
    fmt = args.format
    if fmt is None and sys.stdout.isatty() and sys.stdin.isatty():
        from explorer.tui.screens.compare import run_compare_app

        return run_compare_app(args, limits)
    a = common.load_image(args.a, args)
    b = common.load_image(args.b, args)
    comparison = core.compare(a, b, mtime=args.mtime)
    verdict = core.gate(comparison, limits)
    from explorer.core.comparereport import render

    sys.stdout.write(render(comparison, verdict, fmt or "text", args.mode))
    sys.stdout.flush()
    return verdict.exit_code


def _thresholds(args: argparse.Namespace) -> Thresholds:
    """The thresholds of the flags, checked before any image is opened."""
    from explorer.core import compare as core

    growth_bytes = growth_percent = None
    if args.max_growth is not None:
        growth_bytes, growth_percent = core.parse_growth(args.max_growth)
    drop = core.parse_drop(args.max_efficiency_drop) if args.max_efficiency_drop else None
    return core.Thresholds(growth_bytes, growth_percent, drop, args.fail_on_new_findings)
