"""The report document (report.py) as Markdown, for CI job summaries and pull-request
comments (a few tables, stable order, under 64 KB), or as plain text for a terminal.

Everything from the image is hostile: control characters become visible escapes (`safe`),
and in Markdown, HTML and Markdown syntax are escaped, so that a file named
`<img src=x onerror=…>` or `[click](http://…)` shows as text in a pull request.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from explorer.core.findings import SEVERITIES
from explorer.core.safetext import safe

MARKDOWN_LIMIT = 64 * 1000  # bytes: GitHub's comment and job-summary limits are above this
FINDING_ROWS = 60
LAYER_ROWS = 60
RECLAIM_ROWS = 15
CELL = 240  # characters of a table cell

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def cell(value: object, limit: int = CELL) -> str:
    """A value made safe for a Markdown table cell."""
    text = safe(str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _counts(doc: dict[str, Any]) -> str:
    counts = {s: 0 for s in SEVERITIES}
    for f in doc["findings"]:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


def _package_changes(doc: dict[str, Any]) -> dict[int, list[int]]:
    """layer -> [installed, upgraded, removed]"""
    out: dict[int, list[int]] = {}
    for p in doc["packages"]:
        out.setdefault(p["layer"], [0, 0, 0])[0] += 1
        for u in p["upgraded"]:
            out.setdefault(u["layer"], [0, 0, 0])[1] += 1
        if p["removed"] is not None:
            out.setdefault(p["removed"], [0, 0, 0])[2] += 1
    return out


def _layer(value: int | None) -> str:
    return "-" if value is None else str(value)


def markdown(doc: dict[str, Any]) -> str:
    image, dive, rec = doc["image"], doc["dive"], doc["reclaimable"]
    out = [
        f"## LayerScope report: {cell(image['reference'])}",
        "",
        "| image | |",
        "|---|---|",
        f"| id | {cell(image['id'] or '-')} |",
        f"| tags | {cell(', '.join(image['tags']) or '(none)')} |",
        f"| platform | {cell(image['platform'] or '-')} |",
        f"| size | {size(image['size'])} in {len(image['layers'])} layers |",
        f"| dive efficiency | {_percent(dive['efficiency'])} |",
        f"| dive wasted bytes | {size(dive['wastedBytes'])} "
        f"({_percent(dive['userWastedPercent'])} of the user layers) |",
        f"| reclaimable | {size(rec['total'])} ({rec['percent']:.2f} % of the image) |",
        f"| findings | {_counts(doc)} |",
        f"| packages | {len(doc['packages'])} |",
        "",
    ]
    out += _table(
        "Findings",
        ["severity", "rule", "layer", "path", "message"],
        [
            [f["severity"], f["rule"], _layer(f["layer"]), f["path"] or "-", f["message"]]
            for f in doc["findings"]
        ],
        FINDING_ROWS,
    )
    remedies = {f["rule"]: f["remedy"] for f in doc["findings"][::-1]}  # the first one's
    out += _table(
        "What to do",
        ["rule", "remedy"],
        [[rule, remedies[rule]] for rule in dict.fromkeys(f["rule"] for f in doc["findings"])],
        FINDING_ROWS,
    )
    changes = _package_changes(doc)
    reclaim_by_layer = {r["layer"]: r["bytes"] for r in rec["byLayer"]}
    out += _table(
        "Layers",
        ["layer", "size", "reclaimable", "packages +/~/-", "command"],
        [
            [
                str(layer["index"]),
                size(layer["size"]),
                size(reclaim_by_layer.get(layer["index"], 0)),
                "/".join(map(str, changes.get(layer["index"], [0, 0, 0]))),
                layer["command"].strip() or "-",
            ]
            for layer in image["layers"]
        ],
        LAYER_ROWS,
    )
    out += _table(
        "Reclaimable bytes",
        ["added by", "hidden by", "why", "path", "files", "bytes", "largest"],
        [
            [
                str(g["addedBy"]),
                str(g["hiddenBy"]),
                g["reason"],
                g["path"],
                str(g["files"]),
                size(g["bytes"]),
                g["largest"] if g["largest"] != g["path"] else "",
            ]
            for g in rec["groups"]
        ],
        RECLAIM_ROWS,
    )
    text = "\n".join(out)
    while len(text.encode()) > MARKDOWN_LIMIT:  # long cells everywhere: shorter tables
        out = [*out[: len(out) * 3 // 4], "", "(report cut to stay under 64 KB)"]
        text = "\n".join(out)
    return text + "\n"


def _table(title: str, head: list[str], rows: list[list[str]], limit: int) -> list[str]:
    out = [f"### {title}", ""]
    if not rows:
        return [*out, "None.", ""]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        out.append(f"\n{len(rows) - limit} more in the JSON report.")
    return [*out, ""]


def text(doc: dict[str, Any], color: bool = False) -> str:
    image, dive, rec = doc["image"], doc["dive"], doc["reclaimable"]
    style: Callable[[str, str], str] = (
        (lambda s, code: f"\x1b[{code}m{s}\x1b[0m") if color else (lambda s, _code: s)
    )
    lines = [
        style(f"Image: {safe(image['reference'])}", "1"),
        f"  id: {safe(image['id'] or '-')}",
        f"  tags: {safe(', '.join(image['tags']) or '(none)')}",
        f"  platform: {safe(image['platform'] or '-')}",
        f"  size: {size(image['size'])} in {len(image['layers'])} layers",
        f"  dive efficiency: {_percent(dive['efficiency'])}, wasted {size(dive['wastedBytes'])}",
        f"  reclaimable: {size(rec['total'])} ({rec['percent']:.2f} %)",
        f"  packages: {len(doc['packages'])}",
        style(f"Findings ({_counts(doc)}):", "1"),
    ]
    colours = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}
    for f in doc["findings"]:
        where = f"layer {f['layer']}" if f["layer"] is not None else "image"
        severity = style(f"{f['severity']:<8}", colours.get(f["severity"], "0"))
        lines.append(f"  {severity} {f['rule']:<22} {where:<9} {safe(f['path'] or '-')}")
        lines.append(f"           {safe(f['message'])}")
    if not doc["findings"]:
        lines.append("  None")
    for warning in doc["warnings"]:
        lines.append(f"warning: {safe(warning)}")
    return "\n".join(lines) + "\n"
