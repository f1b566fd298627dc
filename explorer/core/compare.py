"""Compare two images: the layers they share, where their stacks diverge, what changed in the
final filesystem (file by file, each change attributed to the layer of B that made it), in the
config, in size, in dive's efficiency and in our reclaimable bytes — and whether B regressed.

Both images are opened through the one loading pipeline, one after the other: the second
finds the layers it shares with the first in the layer cache, where the first just left
them (`load_pair`). `compare` works on the two results; `gate` judges them.

Findings: those of B that A has not (by rule and path) are `Comparison.new_findings`, and
`--fail-on-new-findings` gates on them; those of A that B no longer has are
`Comparison.resolved_findings`. Packages added, removed, upgraded and downgraded are
`Comparison.packages` (`comparepackages`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from explorer.core.cachesettings import parse_size
from explorer.core.comparepackages import PackageChange, package_diff
from explorer.core.configdiff import ConfigChange, config_diff
from explorer.core.errors import Cancelled, ImageError
from explorer.core.findings import SEVERITIES, Finding, findings_of
from explorer.core.fsdiff import ADDED, MODIFIED, REMOVED, Change, FsDiff, diff_layers
from explorer.core.layerindex import LayerIndex
from explorer.core.loading import (
    Analysed,
    Complete,
    Event,
    Failed,
    LayerIndexed,
    Opened,
    Result,
    Stopped,
    load,
)
from explorer.core.sources import Source


@dataclass
class Side:
    """One image of the comparison, as the loading pipeline gave it."""

    result: Result

    @property
    def name(self) -> str:
        return self.result.meta.name

    @property
    def diff_ids(self) -> list[str]:
        return [layer.digest for layer in self.result.meta.layers]

    @property
    def size(self) -> int:
        return self.result.efficiency.size_bytes

    @property
    def efficiency(self) -> float:
        return self.result.efficiency.score

    @property
    def wasted(self) -> int:
        return self.result.efficiency.wasted_bytes

    @property
    def reclaimable(self) -> int:
        analysis = self.result.analysis
        return analysis.reclaimable.total if analysis is not None else 0


@dataclass
class Comparison:
    a: Side
    b: Side
    diverges_at: int  # the number of leading layers both stacks have (the same diff_ids)
    shared: int  # layers of B whose diff_id A has too (anywhere in its stack)
    files: FsDiff
    config: list[ConfigChange]
    same: bool  # the same layers and the same config: one image
    mtime: bool  # mtimes were compared
    packages: list[PackageChange] = field(default_factory=list)  # by ecosystem and name
    new_findings: list[Finding] = field(default_factory=list)  # B's, by rule and path not A's
    resolved_findings: list[Finding] = field(default_factory=list)  # A's that B has not

    @property
    def changes(self) -> list[Change]:
        return self.files.changes

    def of(self, status: str) -> list[Change]:
        return [c for c in self.files.changes if c.status == status]

    @property
    def size_delta(self) -> int:
        return self.b.size - self.a.size

    @property
    def growth_percent(self) -> float:
        return 100.0 * self.size_delta / self.a.size if self.a.size else 0.0

    @property
    def efficiency_drop(self) -> float:
        return self.a.efficiency - self.b.efficiency

    def counts(self) -> dict[str, int]:
        out = {ADDED: 0, REMOVED: 0, MODIFIED: 0}
        for change in self.files.changes:
            out[change.status] += 1
        return out

    def bytes_by_status(self) -> dict[str, int]:
        """Bytes added (B's size of added files), removed (A's size of removed files) and the
        size change of modified ones."""
        out = {ADDED: 0, REMOVED: 0, MODIFIED: 0}
        for change in self.files.changes:
            out[change.status] += change.delta
        return out

    def growing(self, limit: int = 10) -> list[tuple[str, int]]:
        """The directories that grew the most (largest growth first, then by path)."""
        rows = [(path, delta) for path, delta in self.files.directories.items() if delta > 0]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return rows[:limit]


def compare(a: Result, b: Result, *, mtime: bool = False) -> Comparison:
    """Compare two loaded images (`mtime`: a changed mtime alone makes a path modified)."""
    side_a, side_b = Side(a), Side(b)
    ids_a, ids_b = side_a.diff_ids, side_b.diff_ids
    diverges_at = 0
    while diverges_at < min(len(ids_a), len(ids_b)) and ids_a[diverges_at] == ids_b[diverges_at]:
        diverges_at += 1
    known = set(ids_a)
    shared = sum(1 for d in ids_b if d in known)
    files = diff_layers(a.layers, b.layers, diverges_at, mtime=mtime)
    config = config_diff(a.meta, b.meta)
    same = ids_a == ids_b and _canonical(a.meta.config) == _canonical(b.meta.config)
    new, resolved = ([], []) if same else finding_diff(a, b)
    packages = [] if same else package_diff(a.layers, b.layers, diverges_at)
    return Comparison(
        side_a, side_b, diverges_at, shared, files, config, same, mtime, packages, new, resolved
    )


def finding_diff(a: Result, b: Result) -> tuple[list[Finding], list[Finding]]:
    """B's findings that A has not, and A's that B has not (a finding is its rule on its
    path), each most severe first."""
    if a.analysis is None or b.analysis is None:
        return [], []
    of_a, of_b = findings_of(a.analysis), findings_of(b.analysis)
    keys_a, keys_b = {(f.rule, f.path) for f in of_a}, {(f.rule, f.path) for f in of_b}
    return (
        [f for f in of_b if (f.rule, f.path) not in keys_a],
        [f for f in of_a if (f.rule, f.path) not in keys_b],
    )


def _canonical(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


PairEmit = Callable[[str, Event], object]  # ("a" or "b", the event)


def load_pair(
    factory_a: Callable[[], Source],
    factory_b: Callable[[], Source],
    emit: PairEmit,
    cancel: threading.Event,
) -> tuple[Result, Result]:
    """Both images through the loading pipeline, A first: B's layers that A has are then in
    the layer cache and are not indexed again."""
    a = load(factory_a, lambda event: emit("a", event), cancel)
    b = load(factory_b, lambda event: emit("b", event), cancel)
    return a, b


def result_of(events: Iterable[Event]) -> Result:
    """What `load` returns, from the events of a load that ran elsewhere (a `Loading`
    started before: the open dialog's); its failure raised, its cancellation `Cancelled`."""
    meta = analysis = None
    layers: dict[int, LayerIndex] = {}
    for event in events:
        if isinstance(event, Opened):
            meta = event.meta
        elif isinstance(event, LayerIndexed):
            layers[event.layer] = event.index
        elif isinstance(event, Complete):
            layers = dict(event.layers)
            analysis = event.analysis
        elif isinstance(event, Analysed):
            analysis = event.analysis
        elif isinstance(event, Failed):
            raise event.error
        elif isinstance(event, Stopped):
            raise Cancelled
    if meta is None or analysis is None:
        raise Cancelled
    ordered = [layers[n] for n in range(len(meta.layers))]
    return Result(meta, ordered, analysis.efficiency, analysis, analysis.warnings)


# -- the gate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    growth_bytes: int | None = None  # B may be at most this many bytes larger
    growth_percent: float | None = None  # ... or this many percent
    efficiency_drop: float | None = None  # dive's efficiency may drop at most this much (0-1)
    new_findings: str | None = None  # a severity: new findings at or above it fail


def parse_growth(text: str) -> tuple[int | None, float | None]:
    """`--max-growth`: a size (`10M`, `1.5G`, `0`) or a percentage (`5%`)."""
    value = text.strip()
    if value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            percent = -1.0
        if not percent >= 0:
            raise ImageError(f"--max-growth: invalid percentage {text!r} (e.g. 5%)")
        return None, percent
    return parse_size(value, "--max-growth"), None


def parse_drop(text: str) -> float:
    """`--max-efficiency-drop`: a fraction (`0.02`) or percentage points (`2%`)."""
    value = text.strip()
    scale = 100.0 if value.endswith("%") else 1.0
    try:
        drop = float(value.removesuffix("%")) / scale
    except ValueError:
        drop = -1.0
    if not 0 <= drop <= 1:
        raise ImageError(f"--max-efficiency-drop: invalid value {text!r} (e.g. 0.02 or 2%)")
    return drop


@dataclass(frozen=True)
class Verdict:
    word: str  # "ok", "regression" or "same digest"
    reasons: tuple[str, ...] = ()  # machine words: growth, efficiency, findings
    explanations: tuple[str, ...] = ()  # one line each, for people

    @property
    def line(self) -> str:
        if self.word == "regression":
            return f"verdict: regression reason={','.join(self.reasons)}"
        return f"verdict: {self.word}"

    @property
    def exit_code(self) -> int:
        return 1 if self.word == "regression" else 0


def gate(comparison: Comparison, limits: Thresholds) -> Verdict:
    """Did B regress against A, by the thresholds given?"""
    if comparison.same:
        return Verdict("same digest")
    reasons: list[str] = []
    lines: list[str] = []
    delta, percent = comparison.size_delta, comparison.growth_percent
    over_bytes = limits.growth_bytes is not None and delta > limits.growth_bytes
    over_percent = limits.growth_percent is not None and percent > limits.growth_percent
    if over_bytes or over_percent:
        limit = f"{limits.growth_bytes:,} bytes" if over_bytes else f"{limits.growth_percent:g}%"
        reasons.append("growth")
        lines.append(f"B is {delta:+,} bytes ({percent:+.2f}%) larger than A: over {limit}")
    drop = comparison.efficiency_drop
    if limits.efficiency_drop is not None and drop > limits.efficiency_drop + 1e-12:
        reasons.append("efficiency")
        lines.append(
            f"efficiency dropped by {100 * drop:.2f} points (over {100 * limits.efficiency_drop:g})"
        )
    if limits.new_findings is not None:
        worst = SEVERITIES.index(limits.new_findings)
        hits = [f for f in comparison.new_findings if SEVERITIES.index(f.severity) <= worst]
        if hits:
            reasons.append("findings")
            first = hits[0]
            lines.append(
                f"{len(hits)} new finding{'s' * (len(hits) != 1)} at or above "
                f"{limits.new_findings} in B (first: {first.rule} {first.path or 'image'})"
            )
    if reasons:
        return Verdict("regression", tuple(reasons), tuple(lines))
    return Verdict("ok")
