"""What every command shares: the image and cache options, the cache settings they imply,
and one way to turn an error into one line on stderr and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.core.errors import Cancelled, ConfigError, ImageError
from explorer.core.safetext import safe

if TYPE_CHECKING:
    from explorer.core.loading import Result

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
SOURCES = ["docker", "podman", "docker-archive", "oci-archive", "oci", "registry"]
IMAGE_HELP = (
    "image reference (docker://, podman://), archive (docker-archive://, "
    "oci-archive://, oci://, or a path to a .tar / OCI layout directory), or "
    "registry://HOST[:PORT]/REPO[:TAG|@DIGEST]"
)


def add_image_options(p: argparse.ArgumentParser) -> None:
    """`--source`, `--platform`, `--verify`, `--debug` and the cache options (not the image
    argument itself: a command names it, or them)."""
    p.add_argument("--source", choices=SOURCES)
    p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image")
    p.add_argument(
        "--verify",
        action="store_true",
        help="hash every layer's bytes, even those the layer cache has verified before",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    add_registry_options(p)
    add_cache_options(p)


def add_registry_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("registry")
    group.add_argument(
        "--creds",
        metavar="USER:PASS",
        help="registry credentials (else $LAYERSCOPE_REGISTRY_USER / _PASSWORD, Podman's "
        "auth file, ~/.docker/config.json)",
    )
    group.add_argument(
        "--insecure-registry",
        metavar="HOST",
        action="append",
        default=[],
        help="allow plain HTTP to this registry (loopback addresses always may); repeatable",
    )


def add_cache_options(p: argparse.ArgumentParser, use: bool = True) -> None:
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


def cache_settings(
    args: argparse.Namespace, skip: tuple[Path, ...] = ()
) -> AbstractContextManager[object]:
    """The process-wide cache choices of the flags, and the registry's (`--creds`,
    `--insecure-registry`): a TUI's worker follows them too."""
    from contextlib import ExitStack

    from explorer.core import cachesettings
    from explorer.core.sources import regauth

    cap = cachesettings.parse_size(args.cache_max, "--cache-max") if args.cache_max else None
    enabled = False if getattr(args, "no_cache", False) else None
    stack = ExitStack()
    stack.enter_context(
        cachesettings.configured(
            root=args.cache_dir,
            cap=cap,
            enabled=enabled,
            skip=skip,
            verify=getattr(args, "verify", False),
        )
    )
    insecure = tuple(getattr(args, "insecure_registry", None) or ())
    stack.enter_context(regauth.configured(getattr(args, "creds", None), insecure))
    return stack


def guarded(debug: bool, body: Callable[[], int]) -> int:
    """Run `body`; an error becomes one line on stderr and an exit code, never a traceback
    (unless `debug`): 2 bad input, 130 interrupted, 3 a bug of ours."""
    try:
        return body()
    except ImageError as exc:
        if debug:
            traceback.print_exc()
        print(f"layerscope: {safe(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ConfigError as exc:  # dive's words, on stdout, and its exit code
        print(f"ci configuration error: {safe(str(exc))}")
        return 1
    except Cancelled:
        print("layerscope: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `layerscope ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug of ours: say so in one line, details with --debug
        if debug:
            traceback.print_exc()
        print(
            f"layerscope: internal error: {type(exc).__name__}: {safe(str(exc))} "
            "(run with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def load_image(target: str, args: argparse.Namespace) -> Result:
    """Index and analyse `target` through the one loading pipeline (the caches included), as
    `--source` and `--platform` say; errors are raised for `guarded` to report."""
    import threading
    from functools import partial

    from explorer.core.loading import load
    from explorer.core.sources import open_source

    return load(
        partial(open_source, target, args.source, args.platform),
        lambda _event: None,
        threading.Event(),
    )
