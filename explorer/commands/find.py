"""`layerscope find IMAGE PATTERN [--regex] [--json]`: every entry of every layer whose path
matches, deleted and overwritten ones included, with what each did to its path."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.commands import common
from explorer.tui import format as fmt


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope find",
        description="Search every layer's entries (not only the final filesystem). A glob "
        "without / matches names (*.pem), one with / whole paths (/etc/*.conf; * crosses /). "
        "Exit 0 when something matched, 1 when nothing did, 2 on an error.",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("pattern", help="a glob (default) or, with --regex, a regular expression")
    p.add_argument(
        "-E", "--regex", action="store_true", help="PATTERN is a regex searched in the path"
    )
    p.add_argument("--json", action="store_true", help="print the matches as JSON")
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core.errors import ImageError
    from explorer.core.find import PatternError, compile_pattern, find
    from explorer.core.history import Entries
    from explorer.core.safetext import safe

    try:
        pattern = compile_pattern(args.pattern, args.regex)
    except PatternError as exc:
        raise ImageError(f"find: {exc}") from None
    with common.cache_settings(args):
        result = common.load_image(args.image, args)
    matches = find(Entries(result.layers), pattern)
    if args.json:
        doc = {
            "image": result.meta.name,
            "pattern": args.pattern,
            "regex": args.regex,
            "matches": [
                {
                    "layer": m.layer,
                    "path": m.path,
                    "action": m.action,
                    "kind": m.kind,
                    "size": m.size,
                    "detail": m.detail,
                }
                for m in matches
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        if matches:
            print(f"{'LAYER':>5}  {'ACTION':<10}  {'SIZE':>10}  PATH")
        for m in matches:
            size = fmt.size(m.size) if m.kind else ""
            detail = f"  ({safe(m.detail)})" if m.detail else ""
            print(f"{m.layer:>5}  {m.action:<10}  {size:>10}  {safe(m.path)}{detail}")
    if not matches:
        print(f"layerscope: no entry of any layer matches {safe(args.pattern)}", file=sys.stderr)
        return 1
    return 0
