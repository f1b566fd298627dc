"""`layerscope images [--json] [--all]`: every local image with the bytes it shares with other
images and the bytes only it holds, from the engine's metadata (no export)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from explorer.commands import common


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope images",
        description="List local images (Docker, and Podman when its socket answers) with "
        "shared and unique sizes, as `docker system df -v` counts them.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per image, for scripts")
    p.add_argument(
        "-a", "--all", action="store_true", help="show intermediate images too (as docker -a)"
    )
    p.add_argument(
        "--source", choices=["docker", "podman"], help="one engine only (default: every one)"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core.library import load_library
    from explorer.core.sources.endpoint import endpoint

    at = [endpoint(args.source)] if args.source else None
    library = load_library(all_images=args.all, at=at)
    for problem in library.problems:
        print(f"layerscope: {common.safe(problem)}", file=sys.stderr)
    if args.json:
        print(
            json.dumps([as_json(im, len(library.sources) > 1) for im in library.images], indent=2)
        )
    else:
        _table(library)
    return 0


def as_json(im: Any, with_source: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": im.id,
        "tags": im.tags,
        "digests": im.digests,
        "created": im.created,
        "size": im.size,
        "sharedSize": im.shared_size,
        "uniqueSize": im.unique_size,
        "containers": {"running": im.running, "stopped": im.stopped},
        "dangling": im.dangling,
        "platform": im.platform,
        "layers": [layer.diff_id for layer in im.layers],
    }
    if im.intermediate:
        doc["intermediate"] = True
    if with_source:
        doc["source"] = im.source
    return doc


def _table(library: Any) -> None:
    from explorer.core.dockerunits import ago, docker_size

    now = time.time()
    with_source = len(library.sources) > 1
    rows = []
    for im in library.images:
        for tag in im.tags or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            used = f"{im.running}/{im.containers}" if im.containers else "0"
            row = [repo, name, im.short_id, ago(im.created, now), docker_size(im.size)]
            row += [docker_size(im.shared_size), docker_size(im.unique_size), used]
            rows.append(([im.source] if with_source else []) + row)
    head = ["SOURCE"] if with_source else []
    head += ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED", "UNIQUE", "CONTAINERS"]
    table = [head] + [[common.safe(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()
    print(summary(library))


def summary(library: Any) -> str:
    """The tutorial's point about sharing, in one line."""
    from explorer.core.dockerunits import docker_size

    n = len(library.images)
    listed, disk = library.listed_total, library.disk_total
    line = (
        f"{n} image{'s' * (n != 1)}: `docker images` adds up {docker_size(listed)}; "
        f"the disk holds {docker_size(disk)} (sharing saves {docker_size(listed - disk)})"
    )
    dangling = [im for im in library.images if im.dangling]
    if dangling:
        line += f"; {len(dangling)} dangling ({docker_size(library.dangling_bytes)} reclaimable)"
    return line
