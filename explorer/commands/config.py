"""`layerscope config IMAGE [--json]`: how the image runs — user, working directory,
entrypoint, command, ports, volumes, healthcheck, environment, labels — with secrets masked.
Only the metadata is read: no layer is indexed."""

from __future__ import annotations

import argparse
import sys

from explorer.commands import common


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope config",
        description="Show an image's config (environment and labels with secrets masked).",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("--json", action="store_true", help="print it as JSON")
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    import json

    from explorer.commands.dockerfile import image_meta
    from explorer.core.imageconfig import config_view
    from explorer.core.safetext import safe

    view = config_view(image_meta(args.image, args))
    if args.json:
        sys.stdout.write(json.dumps(view.to_json(), indent=2, ensure_ascii=False) + "\n")
        return 0
    width = max(len(s.key) for s in view.settings)
    out = []
    for s in view.settings:
        value = safe(s.value) + (f"  ({s.note})" if s.note and s.value else s.note)
        out.append(f"{s.key:<{width}}  {value}".rstrip())
    for title, pairs, sep in (("Env", view.env, "="), ("Labels", view.labels, "=")):
        out.append("")
        out.append(f"{title}:" if pairs else f"{title}: none")
        out.extend(f"  {safe(k)}{sep}{safe(v)}" for k, v in pairs)
    if view.base:
        out.append("")
        out.append("Base image: " + ", ".join(safe(v) for _, v in view.base))
    sys.stdout.write("".join(f"{line}\n" for line in out))
    return 0
