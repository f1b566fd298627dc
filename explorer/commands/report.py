"""`layerscope report IMAGE [--format json|markdown|text] [-o FILE] [--ci]`: our report of an
image (the image and its layers, dive's numbers, our reclaimable bytes, findings, packages,
config), and with `--ci` our CI rules from `.layerscope.yaml` over it: PASS / FAIL lines,
exit 0 pass, 1 fail, 2 error."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from explorer.commands import common

if TYPE_CHECKING:
    from explorer.core.policy import Policy


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="layerscope report",
        description="Report on an image: layers, wasted and reclaimable bytes, findings "
        "(secrets, setuid files, caches, duplicates...), packages per layer and config.",
    )
    p.add_argument("image", help=common.IMAGE_HELP)
    p.add_argument("--format", choices=["json", "markdown", "text"], default=None,
                   help="report format (default: text on a terminal, json otherwise; "
                   "markdown for CI job summaries and pull-request comments)")  # fmt: skip
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--ci",
        action="store_true",
        help="check the CI rules of --rules (default ./.layerscope.yaml): PASS/FAIL lines, "
        "exit 0 on pass, 1 on fail, 2 on error",
    )
    p.add_argument("--rules", metavar="FILE", help="CI rules file (default: .layerscope.yaml)")
    common.add_image_options(p)
    args = p.parse_args(argv)
    return common.guarded(args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from explorer.core import policy, report
    from explorer.core.outfile import open_export
    from explorer.core.safetext import safe

    rules = _rules(args.rules) if args.ci else None  # a bad rules file fails before the work
    with common.cache_settings(args):
        result = common.load_image(args.image, args)
    assert result.analysis is not None
    doc = report.of_result(result)
    for warning in result.warnings:
        print(f"warning: {safe(warning)}", file=sys.stderr)
    fmt = args.format or ("text" if not args.output and sys.stdout.isatty() else "json")
    color = fmt == "text" and not args.output and sys.stdout.isatty()
    color = color and not os.environ.get("NO_COLOR")
    if args.output or rules is None:
        rendered = _render(doc, fmt, color)
        if args.output:
            with open_export(args.output) as out:
                out.write(rendered)
        else:
            sys.stdout.write(rendered)
    if rules is None:
        return 0
    blocked = policy.blocked_paths(rules, result.layers)
    wasted = policy.wasted_paths(rules, result.analysis.reclaimable)
    outcomes = policy.evaluate(rules, doc, blocked, wasted)
    tty = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    print("\n".join(policy.lines(outcomes, tty)))
    return 0 if all(o.status != policy.FAIL for o in outcomes) else 1


def _render(doc: dict[str, Any], fmt: str, color: bool) -> str:
    from explorer.core import reportformat

    if fmt == "json":
        import json

        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return reportformat.markdown(doc)
    return reportformat.text(doc, color)


def _rules(path: str | None) -> Policy:
    from explorer.core import policy

    name = path or policy.DEFAULT_FILE
    try:
        with open(name, encoding="utf-8") as fh:
            text = fh.read(1 << 20)
    except FileNotFoundError:
        if path:
            raise policy.PolicyError(f"{path}: no such rules file") from None
        return policy.Policy()
    except (OSError, UnicodeDecodeError) as exc:
        raise policy.PolicyError(f"{name}: cannot read the rules file ({exc})") from None
    return policy.parse(text, name)
