"""Command line: open the TUI, or answer without one (`--json`, `--ci`), like dive."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import traceback

from explorer import __version__
from explorer.core import ci
from explorer.core.display import safe
from explorer.core.errors import Cancelled, ImageError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerscope",
        description="Explore a container image layer by layer (a dive-compatible CLI and TUI).",
    )
    p.add_argument(
        "image",
        nargs="?",
        help="image reference (docker://, podman://) or archive (docker-archive://, "
        "oci-archive://, oci://, or a path to a .tar / OCI layout directory)",
    )
    p.add_argument("--source", choices=["docker", "podman", "docker-archive", "oci-archive", "oci"])
    p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image")
    p.add_argument("-j", "--json", metavar="FILE", help="write dive's JSON export to FILE")
    p.add_argument("--ci", action="store_true", help="evaluate CI rules and exit (like dive)")
    p.add_argument("--ci-config", metavar="FILE", default=".dive-ci", help="CI rules file")
    p.add_argument("--lowestEfficiency", dest="lowest_efficiency")
    p.add_argument("--highestWastedBytes", dest="highest_wasted_bytes")
    p.add_argument("--highestUserWastedPercent", dest="highest_user_wasted_percent")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-v", "--version", action="version", version=f"layerscope {__version__}")
    return p


def _ci_rules(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    rules: dict[str, str] = {}
    config_note = "  Using default CI config"
    if args.ci_config and os.path.exists(args.ci_config):
        rules.update(ci.read_rules_file(args.ci_config))
        config_note = f"  Using CI config: {args.ci_config}"
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
    from explorer.core.analysis import index_all
    from explorer.core.efficiency import dive_efficiency
    from explorer.core.export import write_export
    from explorer.core.layerindex import hardlink_warnings
    from explorer.core.sources import open_source

    # The trees are freed explicitly (tree.dispose); the cyclic collector would only rescan
    # millions of live nodes again and again.
    gc.disable()
    rules, config_note = _ci_rules(args) if args.ci else ({}, "")
    source = open_source(args.image, args.source, args.platform)
    try:
        meta, layers = index_all(source)
    finally:
        source.close()
    for warning in [w for layer in layers for w in layer.warnings] + hardlink_warnings(layers):
        print(f"warning: {safe(warning)}", file=sys.stderr)
    efficiency = write_export(args.json, meta, layers) if args.json else dive_efficiency(layers)
    if not args.ci:
        return 0
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if color else (lambda s: s)
    print(config_note)
    print(f"{bold('Image Source: ')}{meta.source}://{args.image.split('://')[-1]}")
    extracting = bold(f"Extracting image from {meta.source}...")
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
    args = build_parser().parse_args(argv)
    if os.environ.get("CI", "").lower() == "true":
        args.ci = True
    try:
        if args.ci or args.json:
            if not args.image:
                raise ImageError("an image is required with --ci or --json")
            return run_headless(args)
        from explorer.tui.launch import launch

        return launch(args)
    except ImageError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"layerscope: {safe(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Cancelled:
        print("layerscope: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug of ours: say so in one line, details with --debug
        if args.debug:
            traceback.print_exc()
        print(
            f"layerscope: internal error: {type(exc).__name__}: {safe(str(exc))} "
            "(run with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
