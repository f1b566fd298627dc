"""Command line: open the TUI, or answer without one (`--json`, `--ci`), like dive."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from explorer import __version__
from explorer.core import ci
from explorer.core.display import safe
from explorer.core.errors import Cancelled, ConfigError, ImageError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
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
    p.add_argument(
        "--verify",
        action="store_true",
        help="hash every layer's bytes, even those the layer cache has verified before",
    )
    p.add_argument("-v", "--version", action="version", version=f"layerscope {__version__}")
    _cache_options(p)
    return p


def _cache_options(p: argparse.ArgumentParser, use: bool = True) -> None:
    group = p.add_argument_group("layer cache")
    if use:
        group.add_argument(
            "--no-cache", action="store_true", help="neither read nor write the layer cache"
        )
    group.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="layer cache directory (default: $LAYERSCOPE_CACHE_DIR, else "
        "$XDG_CACHE_HOME/layerscope/layers)",
    )
    group.add_argument(
        "--cache-max",
        metavar="SIZE",
        help="layer cache cap, e.g. 500M or 4G; least recently used layers are evicted "
        "(default: $LAYERSCOPE_CACHE_MAX, else 2G; 0 disables the cache)",
    )


def _cache_command(argv: list[str]) -> int:
    """Where `cache` is in `layerscope [cache options] cache ...`, else -1 (a file named
    `cache` opens as `./cache`)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--cache-dir", "--cache-max"):
            i += 2
        elif arg.startswith(("--cache-dir=", "--cache-max=")) or arg in ("--debug", "--no-cache"):
            i += 1
        else:
            return i if arg == "cache" else -1
    return -1


def _cache_settings(args: argparse.Namespace) -> Any:
    """The process-wide cache choices of the flags (the TUI's worker follows them too)."""
    from explorer.core import cachesettings

    cap = cachesettings.parse_size(args.cache_max, "--cache-max") if args.cache_max else None
    enabled = False if getattr(args, "no_cache", False) else None
    skip: tuple[Path, ...] = ()
    if not args.image:
        # The TUI on the bundled sample: the sample is never cached (images opened from
        # there are).
        from explorer.sample import cache_dir

        skip = (cache_dir() / "sample.tar",)
    return cachesettings.configured(
        root=args.cache_dir, cap=cap, enabled=enabled, skip=skip, verify=args.verify
    )


def cache_main(argv: list[str]) -> int:
    """`layerscope cache [list|clear] [--json]`."""
    from explorer.core import cache, cachesettings

    p = argparse.ArgumentParser(
        prog="layerscope cache",
        description="Show the layer-index cache (size, entries) or clear it.",
    )
    p.add_argument("action", nargs="?", choices=["list", "clear"], default="list")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    _cache_options(p, use=False)
    args = p.parse_args(argv)
    try:
        cap = cachesettings.parse_size(args.cache_max, "--cache-max") if args.cache_max else None
        root = Path(args.cache_dir).expanduser() if args.cache_dir else cachesettings.cache_root()
        store = cache.LayerCache(root, cap if cap is not None else cachesettings.cache_cap())
        if args.action == "clear":
            count, freed = store.clear()
            print(f"Removed {count} entries ({_size(freed)}) from {store.root}")
        else:
            _print_cache(store, args.json)
        return 0
    except ImageError as exc:
        print(f"layerscope: {safe(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `layerscope cache | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _size(n: int) -> str:
    import humanize

    return humanize.naturalsize(n, binary=True)


def _print_cache(store: Any, as_json: bool) -> None:
    import json
    import time

    entries = store.entries()
    total = store.size()
    if as_json:
        doc = {
            "root": str(store.root),
            "cap": store.cap,
            "size": total,
            "entries": [vars(e) for e in entries],
        }
        print(json.dumps(doc, indent=2))
        return
    layers = sum(1 for e in entries if e.kind == "layer")
    images = sum(1 for e in entries if e.kind == "image")
    analyses = sum(1 for e in entries if e.kind == "analysis")
    print(f"Layer cache: {store.root}")
    counts = [f"{layers} layer{'s' * (layers != 1)}", f"{images} image record{'s' * (images != 1)}"]
    counts.append(f"{analyses} analys{'es' if analyses != 1 else 'is'}")
    if len(entries) > layers + images + analyses:
        counts.append(f"{len(entries) - layers - images - analyses} of an older format")
    print(f"Size: {_size(total)} of {_size(store.cap)} ({', '.join(counts)})")
    if not entries:
        return
    print()
    print(f"{'LAST USED':<19}  {'SIZE':>10}  {'FILES':>9}  {'LAYER TAR':>10}  {'KIND':<8}  KEY")
    for e in entries:
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
        files = f"{e.entries:,}" if e.entries is not None and e.kind == "layer" else "-"
        tar = _size(e.tar_size) if e.tar_size is not None else "-"
        kind = e.kind if e.kind != "image" else e.source
        if e.kind == "layer" and e.verified is False:
            kind = "layer*"
        print(f"{used:<19}  {_size(e.size):>10}  {files:>9}  {tar:>10}  {kind:<8}  {e.key}")
    if any(e.kind == "layer" and e.verified is False for e in entries):
        print("\n* not hashed when it was indexed (an older build): never used")


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
    at = _cache_command(argv)
    if at >= 0:
        return cache_main(argv[:at] + argv[at + 1 :])
    args = build_parser().parse_args(argv)
    if os.environ.get("CI") in GO_TRUE:
        args.ci = True
    try:
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
    except ImageError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"layerscope: {safe(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ConfigError as exc:  # dive's words, on stdout, and its exit code
        print(f"ci configuration error: {safe(str(exc))}")
        return 1
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
