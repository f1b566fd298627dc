"""The findings (f), grouped by severity and rule, and the packages of the selected layer (p),
installed / upgraded / removed. Both are worked out by the explorer's worker once the
analysis is in; a view opened before shows "working out…" and fills when they arrive. Enter
on a finding or a package goes to the layer that shipped it, the cursor on its file."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from explorer.core.findings import RULES, SEVERITIES, Finding
from explorer.core.image import ImageMeta
from explorer.core.masking import mask_text
from explorer.core.packages import INSTALLED, REMOVED, UPGRADED, Package, layer_changes
from explorer.core.safetext import safe
from explorer.tui import format as fmt
from explorer.tui.messages import Explained
from explorer.tui.screens.viewbase import ViewScreen
from explorer.tui.widgets.header import AppHeader
from explorer.tui.widgets.rowlist import ListRow, RowList, Target

FOLD_OVER = 20  # a rule with more findings than this starts folded
WORKING = "working out the findings and packages…"


def shown(text: str) -> str:
    """A finding's text as shown: made safe, and masked once more (defence in depth)."""
    return safe(mask_text(text))


def finding_rows(findings: list[Finding]) -> tuple[list[ListRow], set[str]]:
    """Rows grouped by severity, then rule; the groups folded at first."""
    rows: list[ListRow] = []
    folded: set[str] = set()
    for severity in SEVERITIES:
        of_severity = [f for f in findings if f.severity == severity]
        if not of_severity:
            continue
        sev_group = f"severity:{severity}"
        heading = [(f"{severity.upper()}", severity), (f"  {len(of_severity)}", "muted")]
        rows.append(ListRow(heading, detail=f"{len(of_severity)} {severity}", group=sev_group))
        rules = sorted({f.rule for f in of_severity})
        for rule_id in rules:
            of_rule = [f for f in of_severity if f.rule == rule_id]
            rule = RULES.get(rule_id)
            title = rule.title if rule is not None else rule_id
            remedy = rule.remedy if rule is not None else ""
            cost = sum(f.bytes for f in of_rule)
            count = f"  {len(of_rule)}" + (f" · {fmt.size(cost)}" if cost else "")
            group = f"rule:{severity}:{rule_id}"
            rows.append(
                ListRow(
                    [(f"  {rule_id}", "key"), (count, "muted"), (f"  {title}", "muted")],
                    detail=f"{rule_id}: {title}\nRemedy: {remedy}",
                    group=group,
                    member_of=(sev_group,),
                )
            )
            if len(of_rule) > FOLD_OVER:
                folded.add(group)
            rows.extend(_finding_row(f, (sev_group, group)) for f in of_rule)
    return rows, folded


def _finding_row(f: Finding, groups: tuple[str, ...]) -> ListRow:
    layer = f"{f.layer:>3} " if f.layer is not None else "  · "
    where = shown(f.path) or "(image)"
    parts = [("     ", ""), (layer, "muted"), (where, "" if f.visible else "removed")]
    if f.bytes:
        parts.append((f"  {fmt.size(f.bytes)}", "muted"))
    parts.append((f"  {shown(f.message)}", "muted"))
    state = "still in the final image" if f.visible else "not in the final image, still shipped"
    in_layer = f"layer {f.layer}" if f.layer is not None else "the image"
    detail = f"{shown(f.message)}\n{where} · {in_layer} · {state}\nRemedy: {shown(f.remedy)}"
    # A file: to it; a layer's (a large layer, a build arg in its history): to the layer.
    path = f.path if f.path.startswith("/") else ""
    target = Target(f.layer, path) if f.layer is not None else None
    return ListRow(parts, detail=detail, target=target, member_of=groups)


class FindingsScreen(ViewScreen):
    def status(self) -> str:
        return "findings · Enter: go to the file"

    def __init__(self, image_name: str, explained: Explained | None) -> None:
        super().__init__(image_name)
        self.result = explained

    def lists(self) -> list[RowList]:
        rows = RowList(empty=WORKING, id="findings-list")
        rows.border_title = "Findings"
        return [rows]

    def fill(self) -> None:
        rows = self.query_one(RowList)
        if self.result is None:
            rows.set_rows([])
            return
        findings = self.result.findings
        rows.empty = "no findings"
        rows.border_subtitle = (
            f"{len(findings)} findings · {fmt.seconds(self.result.seconds)} · Space folds"
        )
        found, folded = finding_rows(findings)
        rows.set_rows(found, folded)
        self.show_detail()

    def explained(self, result: Explained) -> None:
        self.result = result
        self.fill()


def package_rows(changes: list[tuple[Package, str, str]]) -> list[ListRow]:
    """Rows for (package, kind, version text), grouped by kind."""
    rows: list[ListRow] = []
    for kind, style in ((INSTALLED, "added"), (UPGRADED, "modified"), (REMOVED, "removed")):
        of_kind = [(p, v) for p, k, v in changes if k == kind]
        if not of_kind:
            continue
        rows.append(ListRow([(f"{kind.capitalize()} ({len(of_kind)})", "heading")], group=kind))
        width = min(32, max(len(p.name) for p, _ in of_kind))
        version_width = min(24, max(len(v) for _, v in of_kind))
        for package, version in of_kind:
            parts = [
                (f"{safe(package.name):<{width}}", style),
                (f"  {safe(version):<{version_width}}", ""),
                (f"  {package.ecosystem}", "muted"),
                (f"  {safe(package.path)}", "muted"),
            ]
            detail = f"{package.name} {version} ({package.ecosystem})\n{package.path}"
            target = Target(package.layer, package.path) if kind != REMOVED else None
            rows.append(ListRow(parts, detail=detail, target=target, member_of=(kind,)))
    return rows


def _present(package: Package, layer: int) -> bool:
    """Is `package` installed as of `layer`?"""
    before = [c for c in package.changes if c.layer <= layer]
    return bool(before) and before[-1].kind != REMOVED


class PackagesScreen(ViewScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "left,h",
            "layer(-1)",
            "Layer",
            key_display="←",
            tooltip="The packages of the layer below",
            id="packages.previous",
        ),
        Binding(
            "right,l",
            "layer(1)",
            "Layer",
            key_display="→",
            tooltip="The packages of the layer above",
            id="packages.next",
        ),
    ]

    def __init__(
        self, image_name: str, explained: Explained | None, meta: ImageMeta, layer: int
    ) -> None:
        super().__init__(image_name)
        self.result = explained
        self.meta = meta
        self.layer_index = layer

    def status(self) -> str:
        return f"packages of layer {self.layer_index} · ←/→ layers"

    def lists(self) -> list[RowList]:
        return [RowList(empty=WORKING, id="packages-list")]

    def fill(self) -> None:
        rows = self.query_one(RowList)
        rows.border_title = f"Packages · layer {self.layer_index}"
        if self.result is None:
            rows.set_rows([])
            return
        packages = self.result.packages
        changes = []
        for package, change in layer_changes(packages, self.layer_index):
            version = change.version
            if change.kind == UPGRADED:
                version = f"{change.previous} → {change.version}"
            changes.append((package, change.kind, version))
        rows.empty = f"layer {self.layer_index} installed, upgraded or removed no package"
        present = sum(1 for p in packages if _present(p, self.layer_index))
        rows.border_subtitle = f"{present} packages in layers 0–{self.layer_index}"
        rows.set_rows(package_rows(changes))
        self.show_detail()

    def explained(self, result: Explained) -> None:
        self.result = result
        self.fill()

    def action_layer(self, step: int) -> None:
        layer = self.layer_index + step
        if 0 <= layer < len(self.meta.layers):
            self.layer_index = layer
            self.query_one(AppHeader).set_status(self.status())
            self.fill()
