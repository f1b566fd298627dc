"""`layerscope history IMAGE [PATH] [--json]`: the image's layers (as `docker history`, with
LayerScope's sizes and commands), or one path's history across the layers."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from explorer.commands import common
from explorer.tui import format as fmt

if TYPE_CHECKING:
    from explorer.core.loading import Result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope history",
        description="Without PATH: the image's layers, newest first, with their sizes and "
        "commands. With PATH: every layer that added, changed, deleted or hid that path.",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("path", nargs="?", help="a path in the image, e.g. /etc/passwd")
    p.add_argument("--json", action="store_true", help="print JSON (layers in build order)")
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    with common.cache_settings(args):
        result = common.load_image(args.image, args)
    if args.path is None:
        doc = layers_doc(result)
        print(json.dumps(doc, indent=2) if args.json else layers_text(doc))
        return 0
    doc = path_doc(result, args.path)
    print(json.dumps(doc, indent=2) if args.json else path_text(doc))
    return 0


def layers_doc(result: Result) -> dict[str, Any]:
    """The image's build steps in order: layers with their sizes, metadata-only steps."""
    from explorer.core.image import steps

    rows = []
    for step in steps(result.meta):
        row: dict[str, Any] = {
            "layer": step.layer,
            "created": step.created,
            "instruction": step.instruction,
            "created_by": step.command or step.instruction,
        }
        if step.layer is not None:
            index, meta = result.layers[step.layer], result.meta.layers[step.layer]
            row |= {
                "diff_id": meta.digest,
                "size": index.size,
                "tar_size": index.tar_size,
                "blob_size": meta.blob_size,
                "entries": len(index),
            }
        rows.append(row)
    return {"image": result.meta.name, "steps": rows}


def layers_text(doc: dict[str, Any]) -> str:
    from explorer.core.safetext import safe

    lines = [f"{'LAYER':>5}  {'CREATED':<20}  {'SIZE':>10}  {'FILES':>9}  CREATED BY"]
    for row in reversed(doc["steps"]):  # newest first, as `docker history`
        layer = row["layer"]
        size = fmt.size(row["size"]) if layer is not None else "0 B"
        files = f"{row['entries']:,}" if layer is not None else ""
        mark = "-" if layer is None else str(layer)
        created = safe(fmt.timestamp(row["created"]))[:20]
        lines.append(
            f"{mark:>5}  {created:<20}  {size:>10}  {files:>9}  {safe(row['instruction'])}"
        )
    return "\n".join(lines)


def path_doc(result: Result, path: str) -> dict[str, Any]:
    from explorer.core.errors import ImageError
    from explorer.core.history import Entries, history, normalize, step_of

    wanted = normalize(path)
    if not wanted:
        raise ImageError("history: give a path below / (e.g. /etc/passwd)")
    events = history(Entries(result.layers), wanted)
    if not events:
        raise ImageError(
            f"/{wanted}: no layer of {result.meta.name} has this path "
            f"(search every layer with: layerscope find IMAGE '{wanted.rpartition('/')[2]}')"
        )
    by_layer = step_of(result.meta)
    rows = []
    for e in events:
        step = by_layer.get(e.layer)
        rows.append(
            {
                "layer": e.layer,
                "action": e.action,
                "detail": e.detail,
                "kind": e.kind,
                "size": e.size,
                "final": e.shown,
                "instruction": step.instruction if step else "",
                "created_by": (step.command or step.instruction) if step else "",
            }
        )
    return {"image": result.meta.name, "path": "/" + wanted, "events": rows}


def path_text(doc: dict[str, Any]) -> str:
    from explorer.core.safetext import safe

    lines = [safe(doc["path"]), f"{'LAYER':>5}  {'ACTION':<10}  {'SIZE':>10}  FINAL  CHANGE / BY"]
    for row in doc["events"]:
        size = fmt.size(row["size"]) if row["action"] not in ("removed", "hidden") else ""
        final = "yes" if row["final"] else ""
        what = "; ".join(x for x in (row["kind"], row["detail"]) if x)
        lines.append(
            f"{row['layer']:>5}  {row['action']:<10}  {size:>10}  {final:<5}  {safe(what)}"
        )
        lines.append(f"{'':>5}  {'':<10}  {'':>10}  {'':<5}  by {safe(row['instruction'])}")
    return "\n".join(lines)
