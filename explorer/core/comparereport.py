"""A comparison as text, Markdown or JSON: deterministic (the same two images give the same
bytes), every image-supplied string made safe (text, Markdown) or escaped (JSON).

Modes: `summary` (the numbers, growing directories, config changes), `compact` (+ the package
changes and the file changes, an added or removed directory standing for everything below
it), `full` (+ every file change). JSON always holds every change. The text's last line is
the verdict (`verdict: ...`).
"""

from __future__ import annotations

import json
from typing import Any

from explorer.core.compare import Comparison, Side, Verdict
from explorer.core.comparepackages import KINDS, PackageChange, count_kinds
from explorer.core.findings import SEVERITIES, Finding, plural
from explorer.core.fsdiff import ADDED, MODIFIED, REMOVED, Change, Version
from explorer.core.safetext import safe

MODES = ("summary", "compact", "full")
FORMATS = ("text", "json", "markdown")
MARKS = {ADDED: "A", REMOVED: "D", MODIFIED: "M"}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(n: int) -> str:
    """Bytes in binary units, one decimal (fixed: no locale, no rounding surprises)."""
    value, unit = float(abs(n)), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"
    return f"-{text}" if n < 0 else text


def signed(n: int) -> str:
    return size(n) if n < 0 else f"+{size(n)}"


def percent(score: float) -> str:
    return f"{100 * score:.2f}%"


def points(cmp: Comparison) -> str:
    """The change of dive's efficiency, in percentage points."""
    return f"{100 * (cmp.b.efficiency - cmp.a.efficiency) + 0.0:+.2f}"


def _diverge(cmp: Comparison) -> str:
    k, count = cmp.diverges_at, len(cmp.b.diff_ids)
    if k == count == len(cmp.a.diff_ids):
        return "the same stack of layers"
    if k == count:
        return f"B is A's first {k} layers"
    return f"the same first {k}; B's own from layer {k}"


def layer_name(layer: int | None) -> str:
    return "-" if layer is None else f"L{layer}"


def collapsed(changes: list[Change]) -> list[tuple[Change, int, int]]:
    """(change, entries below it folded in, their bytes): an added or removed directory
    stands for the added or removed entries below it."""
    out: list[tuple[Change, int, int]] = []
    top: tuple[str, str] | None = None  # (path + "/", status) being folded
    for change in changes:
        if top is not None and change.path.startswith(top[0]) and change.status == top[1]:
            head, count, nbytes = out[-1]
            out[-1] = (head, count + 1, nbytes + change.delta)
            continue
        top = None
        version = change.b or change.a
        if change.status in (ADDED, REMOVED) and version is not None and version.kind == "dir":
            top = (change.path + "/", change.status)
        out.append((change, 0, change.delta))
    return out


def _side_line(label: str, side: Side) -> str:
    return (
        f"{label}: {safe(side.name)}  ({plural(len(side.diff_ids), 'layer')}, {size(side.size)}, "
        f"efficiency {percent(side.efficiency)}, reclaimable {size(side.reclaimable)})"
    )


def summary_lines(cmp: Comparison) -> list[str]:
    a, b = cmp.a, cmp.b
    counts, nbytes = cmp.counts(), cmp.bytes_by_status()
    lines = [
        _side_line("A", a),
        _side_line("B", b),
        f"shared layers: {cmp.shared} of B's {len(b.diff_ids)} ({_diverge(cmp)})",
        f"size: {size(a.size)} -> {size(b.size)} ({signed(cmp.size_delta)}, "
        f"{cmp.growth_percent:+.2f}%)",
        f"files: {counts[ADDED]} added ({signed(nbytes[ADDED])}), {counts[REMOVED]} removed "
        f"({signed(nbytes[REMOVED])}), {counts[MODIFIED]} modified ({signed(nbytes[MODIFIED])})"
        + (" (mtimes compared)" if cmp.mtime else ""),
        f"efficiency: {percent(a.efficiency)} -> {percent(b.efficiency)} "
        f"({points(cmp)} points); wasted (dive) {size(a.wasted)} -> "
        f"{size(b.wasted)}",
        f"reclaimable: {size(a.reclaimable)} -> {size(b.reclaimable)} "
        f"({signed(b.reclaimable - a.reclaimable)})",
        f"packages: {package_counts(cmp.packages)}",
        f"findings: {finding_counts(cmp)}",
    ]
    growing = cmp.growing()
    if growing:
        lines.append("growing directories:")
        lines += [f"  {signed(delta):>12}  {safe(path)}" for path, delta in growing]
    if cmp.config:
        lines.append("config:")
        for c in cmp.config:
            lines.append(f"  {safe(c.key)}: {_value(c.key, c.a)} -> {_value(c.key, c.b)}")
    return lines


def _value(key: str, value: str | None) -> str:
    """A config value: quoted, but for the lists (Entrypoint, Cmd: JSON already)."""
    if value is None:
        return "(none)"
    if key in ("Entrypoint", "Cmd", "platform"):
        return safe(value)
    return json.dumps(safe(value), ensure_ascii=False)


def change_line(change: Change, below: int, nbytes: int) -> str:
    what = f"  {','.join(change.what)}" if change.what else ""
    folded = f"  (+{below} below)" if below else ""
    return (
        f"  {MARKS[change.status]} {signed(nbytes):>12} {layer_name(change.layer):>5}  "
        f"{safe(change.path)}{folded}{what}"
    )


def package_counts(changes: list[PackageChange]) -> str:
    """`1 added, 0 removed, 2 upgraded, 0 downgraded`."""
    return ", ".join(f"{n} {kind}" for kind, n in count_kinds(changes).items())


def finding_counts(cmp: Comparison) -> str:
    """`2 new (1 critical, 1 low), 1 resolved`."""
    new = cmp.new_findings
    by = [f"{n} {sev}" for sev in SEVERITIES if (n := sum(f.severity == sev for f in new))]
    return (
        f"{len(new)} new"
        + (f" ({', '.join(by)})" if by else "")
        + (f", {len(cmp.resolved_findings)} resolved")
    )


def finding_line(f: Finding) -> str:
    """`  high  secret-in-file  layer 3  /root/.env  message` (made safe)."""
    return f"  {f.severity:<8}  {f.rule}  {layer_name(f.layer)}  {safe(f.path)}  {safe(f.message)}"


def versions(change: PackageChange) -> str:
    """A's version → B's, or the one version of an added or removed package (made safe)."""
    if change.old is not None and change.new is not None:
        return f"{safe(change.old)} -> {safe(change.new)}"
    return safe(change.new if change.new is not None else change.old or "")


def package_line(change: PackageChange) -> str:
    return (
        f"  {change.kind:<10} {layer_name(change.layer):>5}  {safe(change.ecosystem):<6} "
        f"{safe(change.name)}  {versions(change)}"
    )


def text(cmp: Comparison, verdict: Verdict, mode: str) -> str:
    lines = summary_lines(cmp)
    if mode != "summary" and cmp.new_findings:
        lines.append("new findings (severity; rule; layer of B; path; message):")
        lines += [finding_line(f) for f in cmp.new_findings]
    if mode != "summary" and cmp.resolved_findings:
        lines.append("resolved findings (severity; rule; layer of A; path; message):")
        lines += [finding_line(f) for f in cmp.resolved_findings]
    if mode != "summary" and cmp.packages:
        lines.append("packages (change; layer of B; ecosystem; name; A's version -> B's):")
        lines += [package_line(c) for c in cmp.packages]
    if mode != "summary" and cmp.changes:
        lines.append("changes (A added, D removed, M modified; bytes; layer of B; path):")
        rows = (
            collapsed(cmp.changes) if mode == "compact" else [(c, 0, c.delta) for c in cmp.changes]
        )
        lines += [change_line(*row) for row in rows]
    lines += list(verdict.explanations)
    lines.append(verdict.line)
    return "\n".join(lines) + "\n"


_MD_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|#~"})


def md(text_: str) -> str:
    return safe(text_).translate(_MD_SPECIAL)


def markdown(cmp: Comparison, verdict: Verdict, mode: str) -> str:
    a, b = cmp.a, cmp.b
    counts, nbytes = cmp.counts(), cmp.bytes_by_status()
    lines = [
        f"## {md(a.name)} → {md(b.name)}",
        "",
        f"**{verdict.line}**",
        *[f"- {md(line)}" for line in verdict.explanations],
        "",
        "| | A | B | change |",
        "|---|---:|---:|---:|",
        f"| layers | {len(a.diff_ids)} | {len(b.diff_ids)} | {cmp.shared} shared, "
        f"diverge at {cmp.diverges_at} |",
        f"| size | {size(a.size)} | {size(b.size)} | {signed(cmp.size_delta)} "
        f"({cmp.growth_percent:+.2f}%) |",
        f"| efficiency | {percent(a.efficiency)} | {percent(b.efficiency)} | "
        f"{points(cmp)} points |",
        f"| reclaimable | {size(a.reclaimable)} | {size(b.reclaimable)} | "
        f"{signed(b.reclaimable - a.reclaimable)} |",
        "",
        f"Files: {counts[ADDED]} added ({signed(nbytes[ADDED])}), {counts[REMOVED]} removed "
        f"({signed(nbytes[REMOVED])}), {counts[MODIFIED]} modified ({signed(nbytes[MODIFIED])}).",
        "",
        f"Packages: {package_counts(cmp.packages)}.",
        "",
        f"Findings: {finding_counts(cmp)}.",
    ]
    growing = cmp.growing()
    if growing:
        lines += ["", "| growing directory | growth |", "|---|---:|"]
        lines += [f"| {md(path)} | {signed(delta)} |" for path, delta in growing]
    if cmp.config:
        lines += ["", "| config | A | B |", "|---|---|---|"]
        lines += [f"| {md(c.key)} | {_md_value(c.a)} | {_md_value(c.b)} |" for c in cmp.config]
    for title, layer_of, found in (
        ("new finding", "layer of B", cmp.new_findings),
        ("resolved finding", "layer of A", cmp.resolved_findings),
    ):
        if mode != "summary" and found:
            lines += ["", f"| {title} | severity | {layer_of} | path |", "|---|---|---:|---|"]
            lines += [
                f"| {md(f.rule)} | {f.severity} | {layer_name(f.layer)} | {md(f.path)} |"
                for f in found
            ]
    if mode != "summary" and cmp.packages:
        lines += ["", "| package | change | A | B | layer of B |", "|---|---|---|---|---:|"]
        lines += [
            f"| {md(c.ecosystem)} {md(c.name)} | {c.kind} | {md(c.old or '')} | "
            f"{md(c.new or '')} | {layer_name(c.layer)} |"
            for c in cmp.packages
        ]
    if mode != "summary" and cmp.changes:
        rows = (
            collapsed(cmp.changes) if mode == "compact" else [(c, 0, c.delta) for c in cmp.changes]
        )
        lines += ["", "| | path | bytes | layer of B | what |", "|---|---|---:|---:|---|"]
        for change, below, total in rows:
            folded = f" (+{below} below)" if below else ""
            lines.append(
                f"| {MARKS[change.status]} | {md(change.path)}{folded} | {signed(total)} | "
                f"{layer_name(change.layer)} | {', '.join(change.what)} |"
            )
    return "\n".join(lines) + "\n"


def _md_value(value: str | None) -> str:
    return "(none)" if value is None else md(value)


def _version(v: Version | None) -> dict[str, Any] | None:
    if v is None:
        return None
    out: dict[str, Any] = {"kind": v.kind, "size": v.size, "mode": f"{v.mode:04o}"}
    out |= {"uid": v.uid, "gid": v.gid, "layer": v.layer}
    if v.link:
        out["link"] = v.link
    return out


def _change(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.path, "layer": change.layer}
    if change.status == MODIFIED:
        out["what"] = list(change.what)
    out |= {"sizeA": change.size_a, "sizeB": change.size_b, "delta": change.delta}
    out |= {"a": _version(change.a), "b": _version(change.b)}
    return out


def _package(change: PackageChange) -> dict[str, Any]:
    return {
        "name": change.name,
        "ecosystem": change.ecosystem,
        "old": change.old,
        "new": change.new,
        "layer": change.layer,
        "path": change.path,
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "layer": f.layer,
        "path": f.path,
        "message": f.message,
    }


def _side(side: Side) -> dict[str, Any]:
    return {
        "image": side.name,
        "layers": side.diff_ids,
        "sizeBytes": side.size,
        "efficiency": side.efficiency,
        "wastedBytes": side.wasted,
        "reclaimableBytes": side.reclaimable,
    }


def as_json(cmp: Comparison, verdict: Verdict) -> str:
    counts, nbytes = cmp.counts(), cmp.bytes_by_status()
    doc = {
        "a": _side(cmp.a),
        "b": _side(cmp.b),
        "summary": {
            "sharedLayers": cmp.shared,
            "divergesAt": cmp.diverges_at,
            "sizeDelta": cmp.size_delta,
            "growthPercent": round(cmp.growth_percent, 6),
            "efficiencyDelta": round(cmp.b.efficiency - cmp.a.efficiency, 12) + 0.0,
            "reclaimableDelta": cmp.b.reclaimable - cmp.a.reclaimable,
            "added": counts[ADDED],
            "removed": counts[REMOVED],
            "modified": counts[MODIFIED],
            "addedBytes": nbytes[ADDED],
            "removedBytes": nbytes[REMOVED],
            "modifiedDelta": nbytes[MODIFIED],
            "mtimesCompared": cmp.mtime,
        },
        "verdict": verdict.word,
        "reasons": list(verdict.reasons),
        "directories": [
            {"path": path, "delta": delta}
            for path, delta in sorted(cmp.files.directories.items(), key=lambda r: (-r[1], r[0]))
        ],
        "config": [{"key": c.key, "a": c.a, "b": c.b} for c in cmp.config],
        "added": [_change(c) for c in cmp.changes if c.status == ADDED],
        "removed": [_change(c) for c in cmp.changes if c.status == REMOVED],
        "modified": [_change(c) for c in cmp.changes if c.status == MODIFIED],
        "packages": {kind: [_package(c) for c in cmp.packages if c.kind == kind] for kind in KINDS},
        "findings": {
            "new": [_finding(f) for f in cmp.new_findings],
            "resolved": [_finding(f) for f in cmp.resolved_findings],
        },
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def render(cmp: Comparison, verdict: Verdict, fmt: str, mode: str) -> str:
    if fmt == "json":
        return as_json(cmp, verdict)
    if fmt == "markdown":
        return markdown(cmp, verdict, mode)
    return text(cmp, verdict, mode)
