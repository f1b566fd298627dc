"""LayerScope's subcommands: `layerscope NAME ...` runs `main(argv)` of the module named here.

The dive-compatible form `layerscope IMAGE [--json FILE] [--ci]` stays in `explorer.cli`; a
word listed here in the image's place is a subcommand (`./cat` opens a file named `cat`).
"""

from __future__ import annotations

import importlib

# name -> module with `main(argv: list[str]) -> int`; one line per subcommand.
COMMANDS: dict[str, str] = {
    "cache": "explorer.commands.cache",
    "cat": "explorer.commands.cat",
    "extract": "explorer.commands.extract",
    "find": "explorer.commands.find",
    "history": "explorer.commands.history",
    "config": "explorer.commands.config",
    "dockerfile": "explorer.commands.dockerfile",
    "report": "explorer.commands.report",
    "init": "explorer.commands.init",
    "images": "explorer.commands.images",
    "compare": "explorer.commands.compare",
}

# Options that may come before the subcommand's name (`layerscope --cache-dir D cache`).
_VALUED = ("--cache-dir", "--cache-max")
_FLAGS = ("--debug", "--no-cache")


# Not named `find`: the `find` subcommand's module, once imported, is this package's `find`.
def locate(argv: list[str]) -> int:
    """Where the subcommand's name is in `argv`, else -1 (not a subcommand)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED:
            i += 2
        elif arg.startswith(tuple(f"{v}=" for v in _VALUED)) or arg in _FLAGS:
            i += 1
        else:
            return i if arg in COMMANDS else -1
    return -1


def run(argv: list[str], at: int) -> int:
    """Run the subcommand at `argv[at]` with the other arguments, in their order."""
    module = importlib.import_module(COMMANDS[argv[at]])
    return int(module.main(argv[:at] + argv[at + 1 :]))
