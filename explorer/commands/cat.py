"""`layerscope cat IMAGE PATH [--layer N]`: a file's bytes as of a layer, to stdout."""

from __future__ import annotations

import argparse
import codecs
import sys
from typing import BinaryIO

from explorer.commands import common
from explorer.core.safetext import safe_lines

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
    p.add_argument(
        "--raw",
        action="store_true",
        help="on a terminal too, write the bytes as they are (by default a terminal gets "
        "control characters as visible escapes: a file is hostile like the rest of an image)",
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
            link = acc.visible(args.path, args.layer)
            if link is not None and link.kind == "symlink":
                raise ImageError(
                    f"{acc.meta.name}: /{link.path} is a symlink to {link.link}, which the "
                    f"image does not have"
                    + (f" as of layer {args.layer}" if args.layer is not None else "")
                )
            raise acc.absent(args.path, args.layer)
        if entry.kind == "dir":
            raise ImageError(f"{acc.meta.name}: /{entry.path} is a directory")
        out = sys.stdout.buffer
        shown = _Escaped(out) if sys.stdout.isatty() and not args.raw else out
        with acc.open_entry(entry) as f:
            while chunk := f.read(WINDOW):
                shown.write(chunk)
        if isinstance(shown, _Escaped):
            shown.write(b"", final=True)
        out.flush()
    return 0


class _Escaped:
    """Writes text for a terminal: UTF-8 as it is, lines and tabs kept, every other control
    character (escape sequences) and undecodable byte as a visible escape."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")

    def write(self, data: bytes, final: bool = False) -> None:
        text = safe_lines(self._decoder.decode(data, final))
        self._out.write(text.encode("utf-8", "surrogateescape"))
