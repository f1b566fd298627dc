"""`layerscope init [--flavour python|node|java|go|generic] [FILE]`: write a starter
`.layerscope.yaml` (the CI rules `layerscope report --ci` checks); never overwrites one."""

from __future__ import annotations

import argparse
import os

from explorer.commands import common

_HEAD = """\
# LayerScope CI rules, checked by `layerscope report IMAGE --ci` (docs/report.md).
# Exit 0 when every rule passes, 1 when one fails, 2 on an error.

reclaimable:
  # Bytes a layer ships that the final image no longer shows (deleted, overwritten...).
  max-bytes: 50MB           # 50MB = 50,000,000 bytes; 50MiB or 50M = 52,428,800; or disabled
  max-percent: 10           # of the image's size; or disabled

paths:
  # No layer may ship these, even if a later layer deletes them (the bytes are still pulled).
  block:
    - "**/.git/**"
    - "**/.env"
    - "**/id_rsa"
    - "**/id_ed25519"
    - "**/.aws/credentials"
    - "**/.docker/config.json"
{block}
  # These may ship, but not as waste (added in one layer, removed or rewritten in another).
  deny-waste:
    - "/tmp/**"
    - "/var/cache/**"
    - "/var/lib/apt/lists/**"
{waste}
findings:
  # Fail on any finding this severe or worse: critical, high, medium, low, info, or none.
  fail-on-severity: high
  # And on any finding of these rules, whatever their severity (docs/findings.md).
  fail-on-rules:
    - vcs-metadata
{rules}"""

_FLAVOURS = {
    "generic": ("", "", ""),
    "python": (
        '    - "**/.pypirc"\n',
        '    - "**/.cache/pip/**"\n    - "**/__pycache__/**"\n',
        "    - package-cache\n",
    ),
    "node": (
        '    - "**/.npmrc"\n',
        '    - "**/.npm/**"\n    - "**/.cache/yarn/**"\n    - "**/node_modules/.cache/**"\n',
        "    - package-cache\n",
    ),
    "java": (
        '    - "**/*.jks"\n    - "**/*.keystore"\n    - "**/.m2/settings.xml"\n',
        '    - "**/.m2/repository/**"\n    - "**/.gradle/**"\n',
        "    - package-cache\n",
    ),
    "go": (
        '    - "**/.netrc"\n',
        '    - "**/go/pkg/mod/**"\n    - "**/.cache/go-build/**"\n',
        "    - package-cache\n",
    ),
}


def starter(flavour: str) -> str:
    block, waste, rules = _FLAVOURS[flavour]
    return _HEAD.format(block=block, waste=waste, rules=rules)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope init",
        description="Write a starter .layerscope.yaml (CI rules for `layerscope report --ci`).",
    )
    p.add_argument("--flavour", "--flavor", choices=sorted(_FLAVOURS), default="generic")
    p.add_argument("file", nargs="?", default=".layerscope.yaml", help="(default: %(default)s)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core.errors import ImageError
    from explorer.core.safetext import safe

    try:
        # O_EXCL: an existing file (or a link planted under its name) is never overwritten.
        fd = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise ImageError(f"{args.file}: already exists, not overwritten") from None
    except OSError as exc:
        raise ImageError(f"{args.file}: cannot write it ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(starter(args.flavour))
    print(f"Wrote {safe(args.file)} ({args.flavour}); check it with: layerscope report IMAGE --ci")
    return 0
