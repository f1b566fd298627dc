"""`layerscope dockerfile IMAGE`: the Dockerfile reconstructed from the image's history
(build args as ARG lines, secrets masked). Only the metadata is read: no layer is indexed."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from explorer.commands import common

if TYPE_CHECKING:
    from explorer.core.image import ImageMeta


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope dockerfile",
        description="Print the Dockerfile reconstructed from an image's history: build args "
        "as ARG lines, secrets masked. Lines that made no layer are marked with --layers.",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument(
        "--layers",
        action="store_true",
        help="start each instruction with a comment naming the layer it made",
    )
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def image_meta(target: str, args: argparse.Namespace) -> ImageMeta:
    """The image's metadata through the loading pipeline, which stops once it is open."""
    import threading
    from functools import partial

    from explorer.core.errors import Cancelled
    from explorer.core.loading import Opened, load
    from explorer.core.sources import open_source

    cancel = threading.Event()
    opened: list[ImageMeta] = []

    def emit(event: object) -> None:
        if isinstance(event, Opened):
            opened.append(event.meta)
            cancel.set()  # the layers are not needed

    with common.cache_settings(args):
        try:
            load(partial(open_source, target, args.source, args.platform), emit, cancel)
        except Cancelled:
            if not opened:
                raise
    return opened[0]


def _run(args: argparse.Namespace) -> int:
    from explorer.core.dockerfile import reconstruct
    from explorer.core.safetext import safe

    meta = image_meta(args.image, args)
    out = []
    for line in reconstruct(meta):
        if args.layers and not (line.comment and line.layer is None):
            where = "no layer" if line.layer is None else f"layer {line.layer}"
            out.append(f"# {where}" + (" (build arg)" if line.derived else ""))
        out.extend(safe(part) for part in line.text.split("\n"))
    sys.stdout.write("".join(f"{text}\n" for text in out))
    return 0
