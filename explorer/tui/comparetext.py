"""The compare screen's text: its summary pane (both images, the verdict, layers, sizes,
files, efficiency, package changes, new findings, growing directories, config) and what
changed at the path under the cursor. Sizes are in the explorer's units (dive's), as in the
tree beside it; everything from the images is made safe here."""

from __future__ import annotations

from textual.content import Content

from explorer.core.compare import Comparison, Verdict
from explorer.core.comparepackages import ADDED as PKG_ADDED
from explorer.core.comparepackages import DOWNGRADED, UPGRADED, count_kinds
from explorer.core.comparepackages import REMOVED as PKG_REMOVED
from explorer.core.comparereport import finding_counts, layer_name, percent
from explorer.core.fsdiff import ADDED, MODIFIED, REMOVED, Change, Version
from explorer.core.safetext import safe
from explorer.tui.format import size

GROWING_SHOWN = 5
PACKAGES_SHOWN = 12
FINDINGS_SHOWN = 8
# How a package changed: its mark and its colour in the summary.
PACKAGE_MARKS = {
    PKG_ADDED: ("+", "$diff-added"),
    UPGRADED: ("↑", "$diff-modified"),
    DOWNGRADED: ("↓", "$diff-modified"),
    PKG_REMOVED: ("-", "$diff-removed"),
}


def signed(n: int) -> str:
    """A size change in the explorer's units (dive's, as the tree beside it shows sizes)."""
    return size(n) if n < 0 else f"+{size(n)}"


def summary(cmp: Comparison, verdict: Verdict) -> Content:
    """The summary pane: both images, layers, size, files, efficiency, growth, config."""
    a, b = cmp.a, cmp.b
    counts, nbytes = cmp.counts(), cmp.bytes_by_status()
    muted = "$text-muted"
    parts: list[Content | tuple[str, str] | str] = [
        ("A ", "bold"),
        safe(a.name),
        "\n",
        ("B ", "bold"),
        safe(b.name),
        "\n",
        (f"{verdict.line}\n", "bold $error" if verdict.exit_code else "bold $success"),
        *[(f"{safe(line)}\n", "$error") for line in verdict.explanations],
        ("layers  ", muted),
        f"{cmp.shared} of B's {len(b.diff_ids)} shared; B's own from {cmp.diverges_at}\n",
        ("size    ", muted),
        f"{size(a.size)} → {size(b.size)}  {signed(cmp.size_delta)} ({cmp.growth_percent:+.1f}%)\n",
        ("added   ", muted),
        f"{counts[ADDED]:,}  {signed(nbytes[ADDED])}\n",
        ("removed ", muted),
        f"{counts[REMOVED]:,}  {signed(nbytes[REMOVED])}\n",
        ("modified ", muted),
        f"{counts[MODIFIED]:,}  {signed(nbytes[MODIFIED])}\n",
        ("efficiency ", muted),
        f"{percent(a.efficiency)} → {percent(b.efficiency)}\n",
        ("reclaimable ", muted),
        f"{size(a.reclaimable)} → {size(b.reclaimable)}\n",
    ]
    if cmp.packages:
        parts += package_lines(cmp)
    if cmp.new_findings or cmp.resolved_findings:
        parts += finding_lines(cmp)
    growing = cmp.growing(GROWING_SHOWN)
    if growing:
        parts.append(("\ngrowing directories\n", "bold"))
        parts += [f"{signed(delta):>11}  {safe(path)}\n" for path, delta in growing]
    if cmp.config:
        parts.append((f"\nconfig: {len(cmp.config)} changes\n", "bold"))
        for c in cmp.config:
            parts.append(f"{safe(c.key)}: {safe(c.a or '-')} → {safe(c.b or '-')}\n")
    return Content.assemble(*parts)


def package_lines(cmp: Comparison) -> list[tuple[str, str] | str]:
    """The package changes: how many of each kind, then the first few, one a line."""
    kinds = ", ".join(f"{n} {kind}" for kind, n in count_kinds(cmp.packages).items() if n)
    parts: list[tuple[str, str] | str] = [
        ("\npackage changes\n", "bold"),
        (f"{kinds}\n", "$text-muted"),
    ]
    for change in cmp.packages[:PACKAGES_SHOWN]:
        mark, style = PACKAGE_MARKS[change.kind]
        old, new = change.old, change.new
        version = f"{safe(old)} → {safe(new)}" if old and new else safe(new or old or "")
        parts += [(f"{mark} ", style), (f"{safe(change.ecosystem)} ", "$text-muted")]
        parts += [f"{safe(change.name)} ", (f"{version}\n", "$text-muted")]
    if len(cmp.packages) > PACKAGES_SHOWN:
        parts.append((f"… {len(cmp.packages) - PACKAGES_SHOWN} more\n", "$text-muted"))
    return parts


def finding_lines(cmp: Comparison) -> list[tuple[str, str] | str]:
    """New findings (B's, not A's) first, the worst first, then how many A had that B has not."""
    parts: list[tuple[str, str] | str] = [
        ("\nfindings\n", "bold"),
        (f"{finding_counts(cmp)}\n", "$text-muted"),
    ]
    for f in cmp.new_findings[:FINDINGS_SHOWN]:
        style = "$error" if f.severity in ("critical", "high") else "$warning"
        parts += [("+ ", style), (f"{f.severity} ", style), f"{safe(f.rule)} "]
        parts += [(f"{safe(f.path)} {layer_name(f.layer)}\n", "$text-muted")]
    if len(cmp.new_findings) > FINDINGS_SHOWN:
        parts.append((f"… {len(cmp.new_findings) - FINDINGS_SHOWN} more\n", "$text-muted"))
    return parts


def _facts(v: Version) -> str:
    owner = f"{v.uid}:{v.gid}"
    link = f" → {safe(v.link)}" if v.link else ""
    return f"{v.kind} {v.mode:04o} {owner} {size(v.size)}{link}"


def describe_change(change: Change) -> Content:
    """What changed at one path: how, which layer of B did it, both versions."""
    parts: list[tuple[str, str] | str] = [
        (change.status, f"bold $diff-{change.status}"),
        f"  by B's layer {layer_name(change.layer)}  {signed(change.delta)}\n",
    ]
    if change.what:
        parts.append(f"{', '.join(change.what)}\n")
    if change.a is not None:
        parts += [("A ", "bold"), _facts(change.a), "\n"]
    if change.b is not None:
        parts += [("B ", "bold"), _facts(change.b), "\n"]
    return Content.assemble(*parts)
