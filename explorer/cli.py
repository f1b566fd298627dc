"""Command line: open the TUI, or answer without one (`--json`, `--ci`), like dive."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from explorer import __version__, commands
from explorer.commands import common
from explorer.core import ci
from explorer.core.errors import ConfigError, ImageError
from explorer.core.safetext import safe

# What dive's `--ci` calls where an image is read from ("Extracting image from docker-engine...").
RESOLVERS = {"docker": "docker-engine"}
# What Go's strconv.ParseBool takes for true: dive's CI mode when $CI is one of these.
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerscope",
        description="Explore a container image layer by layer (a dive-compatible CLI and TUI).",
        epilog="`layerscope cache` shows the layer cache, `layerscope cache clear` empties it.",
    )
    p.add_argument("image", nargs="?", help=common.IMAGE_HELP)
    p.add_argument("--source", choices=common.SOURCES)
    p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image")
    p.add_argument("-j", "--json", metavar="FILE", help="write dive's JSON export to FILE")
    p.add_argument("--ci", action="store_true", help="evaluate CI rules and exit (like dive)")
    p.add_argument("--ci-config", metavar="FILE", default=".dive-ci", help="CI rules file")
    p.add_argument("--lowestEfficiency", dest="lowest_efficiency")
    p.add_argument("--highestWastedBytes", dest="highest_wasted_bytes")
    p.add_argument("--highestUserWastedPercent", dest="highest_user_wasted_percent")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument(
        "--verify",
        action="store_true",
        help="hash every layer's bytes, even those the layer cache has verified before",
    )
    p.add_argument("-v", "--version", action="version", version=f"layerscope {__version__}")
    common.add_registry_options(p)
    common.add_cache_options(p)
    return p


def _cache_settings(args: argparse.Namespace) -> Any:
    """The cache choices of the flags; the bundled sample (no image given) is never cached
    (images opened from there are)."""
    skip: tuple[Path, ...] = ()
    if not args.image:
        from explorer.sample import cache_dir

        skip = (cache_dir() / "sample.tar",)
    return common.cache_settings(args, skip)


def _ci_rules(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The rules of the CI config file and flags, and the line saying where they come from."""
    rules: dict[str, str] = {}
    config_note = "  Using default CI config"
    if args.ci_config and os.path.exists(args.ci_config):
        from explorer.core.ciconfig import read_rules_file

        config_note = f"  Using CI config: {safe(args.ci_config)}"
        try:
            rules.update(read_rules_file(args.ci_config))
        except ConfigError:
            print(config_note)
            raise
    elif args.ci_config != ".dive-ci":
        raise ImageError(f"{args.ci_config}: no such CI config file")
    for name, value in (
        ("lowestEfficiency", args.lowest_efficiency),
        ("highestWastedBytes", args.highest_wasted_bytes),
        ("highestUserWastedPercent", args.highest_user_wasted_percent),
    ):
        if value is not None:
            rules[name] = value
    return rules, config_note


def run_headless(args: argparse.Namespace) -> int:
    from functools import partial

    from explorer.core.efficiency import DiveEfficiency
    from explorer.core.export import write_export
    from explorer.core.image import ImageMeta
    from explorer.core.layerindex import LayerIndex
    from explorer.core.loading import load
    from explorer.core.sources import open_source, split_target

    # The trees are acyclic (freed by reference counting): the cyclic collector would only
    # rescan millions of live nodes again and again.
    gc.disable()
    rules, config_note = _ci_rules(args) if args.ci else ({}, "")

    def export(meta: ImageMeta, layers: Iterable[LayerIndex]) -> DiveEfficiency:
        return write_export(args.json, meta, layers)

    # --json writes the export as each layer's analysis goes; --ci alone takes the analysis
    # from the cache when this stack of layers was analysed before (and stores it if not).
    result = load(
        partial(open_source, args.image, args.source, args.platform),
        lambda _event: None,
        threading.Event(),
        dive=export if args.json else None,
    )
    meta, efficiency = result.meta, result.efficiency
    for warning in result.warnings:
        print(f"warning: {safe(warning)}", file=sys.stderr)
    if not args.ci:
        return 0
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if color else (lambda s: s)
    print(config_note)
    reference = safe(split_target(args.image, args.source)[1])
    print(f"{bold('Image Source: ')}{meta.source}://{reference}")
    extracting = bold(f"Extracting image from {RESOLVERS.get(meta.source, meta.source)}...")
    print(f"{extracting} (this can take a while for large images)")
    print(bold("Analyzing image..."))
    evaluation = ci.evaluate(rules, efficiency)
    print("\n".join(ci.report(efficiency, evaluation, color)))
    print()
    return 0 if evaluation.passed else 1


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl+C, so temp files are removed on the way out."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    argv = sys.argv[1:] if argv is None else argv
    at = commands.locate(argv)
    if at >= 0:
        return commands.run(argv, at)
    args = build_parser().parse_args(argv)
    if os.environ.get("CI") in GO_TRUE:
        args.ci = True
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    with _cache_settings(args):
        if args.ci or args.json:
            if not args.image:
                raise ImageError("an image is required with --ci or --json")
            return run_headless(args)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ImageError(
                "the explorer needs a terminal on stdin and stdout "
                "(without one: --json FILE or --ci)"
            )
        from explorer.tui.launch import launch

        return launch(args)
