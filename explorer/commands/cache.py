"""`layerscope cache [list|clear] [--json]`: the layer cache's size and entries, or empty it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from explorer.commands import common


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope cache",
        description="Show the layer-index cache (size, entries) or clear it.",
    )
    p.add_argument("action", nargs="?", choices=["list", "clear"], default="list")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    common.add_cache_options(p, use=False)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core import cache, cachesettings

    cap = cachesettings.parse_size(args.cache_max, "--cache-max") if args.cache_max else None
    root = Path(args.cache_dir).expanduser() if args.cache_dir else cachesettings.cache_root()
    store = cache.LayerCache(root, cap if cap is not None else cachesettings.cache_cap())
    if args.action == "clear":
        count, freed = store.clear()
        print(f"Removed {count} entries ({_size(freed)}) from {store.root}")
    else:
        _print_cache(store, args.json)
    return 0


def _size(n: int) -> str:
    import humanize

    return humanize.naturalsize(n, binary=True)


def _print_cache(store: Any, as_json: bool) -> None:
    import json
    import time

    from explorer.core.cache import FILE_KINDS

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
    content = sum(1 for e in entries if e.kind in FILE_KINDS)
    print(f"Layer cache: {store.root}")
    counts = [f"{layers} layer{'s' * (layers != 1)}", f"{images} image record{'s' * (images != 1)}"]
    counts.append(f"{analyses} analys{'es' if analyses != 1 else 'is'}")
    if content:  # layers' tars and checkpoints, for reading file content
        counts.append(f"{content} content file{'s' * (content != 1)}")
    if len(entries) > layers + images + analyses + content:
        older = len(entries) - layers - images - analyses - content
        counts.append(f"{older} of an older format")
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
