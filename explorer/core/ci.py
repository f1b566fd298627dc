"""dive's `--ci` mode: rules from a `.dive-ci` file or flags, evaluated on the dive-compatible
numbers, printed in dive's words, with dive's exit codes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.core.efficiency import DiveEfficiency
from explorer.core.humanize_go import go_bytes, go_float_v, parse_bytes
from explorer.core.safetext import safe

PASS, FAIL, SKIP, WARN, MISCONFIGURED = "PASS", "FAIL", "SKIP", "WARN", "MISCONFIGURED"

RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
DEFAULTS = {
    "lowestEfficiency": "0.9",
    "highestWastedBytes": "disabled",
    "highestUserWastedPercent": "0.1",
}


@dataclass
class RuleResult:
    name: str
    status: str
    message: str = ""


CONFIGURED = "CONFIGURED   "  # dive pads it so


def go_parse_float(value: str) -> float:
    """Go's strconv.ParseFloat: no surrounding space, NaN/Inf and hex floats accepted."""
    text = value
    if text != text.strip() or not text:
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    lowered = text.lower().lstrip("+-")
    if lowered in ("nan", "inf", "infinity"):
        return float(text.lower().replace("infinity", "inf"))
    try:
        if lowered.startswith("0x"):
            return float.fromhex(text)
        return float(text)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None


def _validate(name: str, value: str) -> str | None:
    """dive's rule validation: None when valid, else its message."""
    if name == "highestWastedBytes":
        try:
            parse_bytes(value)
        except ValueError as exc:
            return f"invalid config value ('{value}'): {exc}"
        return None
    try:
        number = go_parse_float(value)
    except ValueError as exc:
        return f"invalid config value ('{value}'): {exc}"
    if number < 0 or number > 1:
        return f"{name} config value is outside allowed range (0-1), given '{value}'"
    return None


def _check(name: str, value: str, eff: DiveEfficiency) -> RuleResult:
    if name == "lowestEfficiency":
        threshold = go_parse_float(value)
        if threshold > eff.score:
            return RuleResult(
                name,
                FAIL,
                f"image efficiency is too low (efficiency={go_float_v(eff.score)} < "
                f"threshold={go_float_v(threshold)})",
            )
    elif name == "highestUserWastedPercent":
        threshold = go_parse_float(value)
        if threshold < eff.user_wasted_percent:
            return RuleResult(
                name,
                FAIL,
                "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes="
                f"{go_float_v(eff.user_wasted_percent)} > threshold={go_float_v(threshold)})",
            )
    else:
        limit = parse_bytes(value)
        if eff.wasted_bytes > limit:
            return RuleResult(
                name,
                FAIL,
                f"too many bytes wasted (wasted-bytes={eff.wasted_bytes} > threshold={limit})",
            )
    return RuleResult(name, PASS)


@dataclass
class Evaluation:
    results: list[RuleResult]  # in dive's order (rule names sorted)
    misconfigured: bool

    @property
    def passed(self) -> bool:
        return not self.misconfigured and all(r.status != FAIL for r in self.results)


def evaluate(rules: dict[str, str], eff: DiveEfficiency) -> Evaluation:
    values = {name: rules.get(name, DEFAULTS[name]) for name in sorted(RULES)}
    problems = {n: _validate(n, v) for n, v in values.items() if v != "disabled"}
    if any(problems.values()):
        results = []
        for name, value in values.items():
            if value == "disabled":
                results.append(RuleResult(name, CONFIGURED, "rule disabled"))
            elif problems[name]:
                results.append(RuleResult(name, MISCONFIGURED, problems[name] or ""))
            else:
                results.append(RuleResult(name, CONFIGURED, "test"))
        return Evaluation(results, misconfigured=True)
    results = [
        RuleResult(name, SKIP, "rule disabled") if value == "disabled" else _check(name, value, eff)
        for name, value in values.items()
    ]
    return Evaluation(results, misconfigured=False)


def report(eff: DiveEfficiency, evaluation: Evaluation, color: bool) -> list[str]:
    """The lines dive prints after analysing (colour only for a terminal, unlike dive)."""

    def style(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines = [
        f"  efficiency: {_percent(eff.score)} %",
        f"  wastedBytes: {eff.wasted_bytes} bytes ({go_bytes(eff.wasted_bytes)})",
        f"  userWastedPercent: {_percent(eff.user_wasted_percent)} %",
        style("Inefficient Files:", "1"),
        f"{'Count':>5}  {'Wasted Space':>12}  File Path",
    ]
    rows = [] if evaluation.misconfigured else eff.rows
    if not rows:
        lines.append("None")
    for row in rows:
        lines.append(f"{row.count!s:>5}  {go_bytes(row.cumulative):>12}  {safe(row.path)}")
    lines.append(style("Results:", "1"))
    colors = {FAIL: "1;7;31", MISCONFIGURED: "1;7;31", SKIP: "34", WARN: "34"}
    for r in evaluation.results:
        status = style(r.status, colors[r.status]) if r.status in colors else r.status
        lines.append(f"  {status}: {r.name}: {r.message}" if r.message else f"  {status}: {r.name}")
    if evaluation.misconfigured:
        lines.append(style("CI Misconfigured", "31"))
        return lines
    counts = {k: sum(r.status == k for r in evaluation.results) for k in (PASS, FAIL, WARN, SKIP)}
    summary = (
        f"Result:{'PASS' if evaluation.passed else 'FAIL'} [Total:{len(evaluation.results)}] "
        f"[Passed:{counts[PASS]}] [Failed:{counts[FAIL]}] [Warn:{counts[WARN]}] "
        f"[Skipped:{counts[SKIP]}]"
    )
    lines.append(style(summary, "32" if evaluation.passed else "31"))
    return lines


def _percent(value: float) -> str:
    """Go's %2.4f of value*100."""
    value *= 100
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:2.4f}"
