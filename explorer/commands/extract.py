"""`layerscope extract IMAGE PATH... -o DIR [--layer N] [--force]`: files and directories as
of a layer, written safely (see `explorer.core.extract`); `layerscope extract IMAGE --layer N
--tar OUT.tar`: a layer's tar as shipped, uncompressed, written atomically."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from typing import TYPE_CHECKING

from explorer.commands import common
from explorer.core.safetext import safe

if TYPE_CHECKING:
    from explorer.core.content import ContentAccess


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope extract",
        description="Extract files and directories of an image as of a layer (never outside "
        "DIR, links never followed, no devices), or one layer's tar.",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("paths", nargs="*", metavar="PATH", help="paths in the image, e.g. /etc")
    p.add_argument("-o", "--output", metavar="DIR", help="the directory to extract into")
    p.add_argument(
        "--layer",
        type=int,
        metavar="N",
        help="as of layer N (0-based; default: the final image); with --tar: that layer",
    )
    p.add_argument(
        "--tar", metavar="OUT", help="write layer N's tar, uncompressed, to OUT (atomically)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing files, and extract files over 2 GiB",
    )
    common.add_image_options(p)
    args = p.parse_args(argv)
    if args.tar is not None and (args.paths or args.output or args.layer is None):
        p.error("--tar takes a layer (--layer N) and neither PATH nor -o")
    if args.tar is None and (not args.paths or not args.output):
        p.error("give PATH... and -o DIR (or --layer N --tar OUT.tar)")
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core.content import open_content

    with common.cache_settings(args), open_content(args.image, args.source, args.platform) as acc:
        if args.layer is not None:
            acc.check_layer(args.layer)
        if args.tar is not None:
            return _layer_tar(acc, args.layer, args.tar, args.force)
        return _files(acc, args)


def _files(acc: ContentAccess, args: argparse.Namespace) -> int:
    from explorer.core.extract import extract, plan

    entries = plan(acc, args.paths, args.layer)
    done = extract(acc, entries, args.output, force=args.force)
    for path, why in done.skipped:
        print(f"skipped /{safe(path)}: {why}", file=sys.stderr)
    print(
        f"extracted {len(done.written):,} entries ({done.bytes:,} bytes) into "
        f"{safe(args.output)}" + (f"; skipped {len(done.skipped):,}" if done.skipped else ""),
        file=sys.stderr,
    )
    return 0


def _layer_tar(acc: ContentAccess, layer: int, out: str, force: bool) -> int:
    from explorer.core.errors import ImageError

    if os.path.lexists(out) and not force:
        raise ImageError(f"{out}: exists (use --force to overwrite)")
    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".layerscope-", suffix=".tar.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f, acc.open_layer(layer) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, out)
        tmp = ""
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    print(f"wrote layer {layer} to {safe(out)}", file=sys.stderr)
    return 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
