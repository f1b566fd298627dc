"""`layerscope cat IMAGE PATH [--layer N]`: a file's bytes as of a layer, to stdout."""

from __future__ import annotations

import argparse
import sys

from explorer.commands import common

WINDOW = 1 << 20


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope cat",
        description="Write a file of an image, as of a layer, to stdout (symlinks followed "
        "inside the image).",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("path", help="the file's path in the image, e.g. /etc/os-release")
    p.add_argument(
        "--layer",
        type=int,
        metavar="N",
        help="as of layer N (0-based, the bottom layer first; default: the final image)",
    )
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core.content import open_content
    from explorer.core.errors import ImageError

    with common.cache_settings(args), open_content(args.image, args.source, args.platform) as acc:
        if args.layer is not None:
            acc.check_layer(args.layer)
        entry = acc.resolve(args.path, args.layer)
        if entry is None:
            raise acc.absent(args.path, args.layer)
        if entry.kind == "dir":
            raise ImageError(f"{acc.meta.name}: /{entry.path} is a directory")
        out = sys.stdout.buffer
        with acc.open_entry(entry) as f:
            while chunk := f.read(WINDOW):
                out.write(chunk)
        out.flush()
    return 0
