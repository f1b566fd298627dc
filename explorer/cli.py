"""Command line entry point (filled in by the core engine)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("layerscope: not implemented yet", file=sys.stderr)
    return 2
