"""dive's `--ci` mode: rules from a `.dive-ci` file or flags, evaluated on the dive-compatible
numbers, printed in dive's words, with dive's exit codes."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from explorer.core.efficiency import DiveEfficiency
from explorer.core.errors import ImageError
from explorer.core.humanize_go import go_bytes, go_float_v, parse_bytes

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


def _parse_float(value: str) -> float:
    try:
        return float(value.strip()) if value.strip().lower() not in ("nan", "inf") else float("x")
    except ValueError:
        raise ValueError(
            f"strconv.ParseFloat: parsing {value!r}: invalid syntax".replace("'", '"')
        ) from None


def _ratio_rule(
    name: str, value: str, actual: float, failed: Callable[[float, float], bool], message: str
) -> RuleResult:
    try:
        threshold = _parse_float(value)
    except ValueError as exc:
        return RuleResult(name, MISCONFIGURED, f"invalid config value ('{value}'): {exc}")
    if threshold < 0 or threshold > 1:
        return RuleResult(
            name,
            MISCONFIGURED,
            f"{name} config value is outside allowed range (0-1), given '{value}'",
        )
    if failed(actual, threshold):
        return RuleResult(name, FAIL, message.format(go_float_v(actual), go_float_v(threshold)))
    return RuleResult(name, PASS)


def evaluate(rules: dict[str, str], eff: DiveEfficiency) -> list[RuleResult]:
    results = []
    for name in sorted(RULES):
        value = rules.get(name, DEFAULTS[name])
        if value.strip().lower() == "disabled":
            results.append(RuleResult(name, SKIP, "rule disabled"))
            continue
        if name == "lowestEfficiency":
            results.append(
                _ratio_rule(
                    name,
                    value,
                    eff.score,
                    lambda a, t: a < t,
                    "image efficiency is too low (efficiency={} < threshold={})",
                )
            )
        elif name == "highestUserWastedPercent":
            results.append(
                _ratio_rule(
                    name,
                    value,
                    eff.user_wasted_percent,
                    lambda a, t: a > t,
                    "too many bytes wasted, relative to the user bytes added "
                    "(%-user-wasted-bytes={} > threshold={})",
                )
            )
        else:
            try:
                threshold = parse_bytes(value)
            except ValueError as exc:
                results.append(
                    RuleResult(name, MISCONFIGURED, f"invalid config value ('{value}'): {exc}")
                )
                continue
            if threshold < 0:
                results.append(RuleResult(name, MISCONFIGURED, "invalid value"))
            elif eff.wasted_bytes > threshold:
                results.append(
                    RuleResult(
                        name,
                        FAIL,
                        f"too many bytes wasted (wasted-bytes={eff.wasted_bytes} > "
                        f"threshold={threshold})",
                    )
                )
            else:
                results.append(RuleResult(name, PASS))
    return results


def read_rules_file(path: str) -> dict[str, str]:
    """The `rules:` mapping of a `.dive-ci` YAML file (other keys are ignored)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read CI config ({exc.strerror})") from None
    rules: dict[str, str] = {}
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() or line.strip() == "---":
            continue
        if not line.startswith((" ", "\t")):
            in_rules = line.strip() == "rules:"
            continue
        if in_rules and ":" in line:
            key, _, value = line.strip().partition(":")
            value = value.strip().strip("'\"")
            if key in RULES:
                rules[key] = value
    return rules


def report(eff: DiveEfficiency, results: list[RuleResult], color: bool) -> tuple[list[str], bool]:
    """The lines dive prints after analysing, and whether the run passed."""

    def style(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines = [
        f"  efficiency: {eff.score * 100:2.4f} %",
        f"  wastedBytes: {eff.wasted_bytes} bytes ({go_bytes(eff.wasted_bytes)})",
        f"  userWastedPercent: {_percent(eff.user_wasted_percent)} %",
        style("Inefficient Files:", "1"),
        f"{'Count':>5}  {'Wasted Space':>12}  File Path",
    ]
    if not eff.rows:
        lines.append("None")
    for row in eff.rows:
        lines.append(f"{row.count!s:>5}  {go_bytes(row.cumulative):>12}  {row.path}")
    lines.append(style("Results:", "1"))
    colors = {PASS: "1;7;32", FAIL: "1;7;31", SKIP: "1;7;33", WARN: "1;7;33"}
    colors[MISCONFIGURED] = "1;7;31"
    counts = dict.fromkeys((PASS, FAIL, WARN, SKIP, MISCONFIGURED), 0)
    for r in results:
        counts[r.status] += 1
        text = f"  {style(r.status, colors[r.status])}: {r.name}"
        if r.message and r.status != PASS:
            text += f": {r.message}"
        lines.append(text)
    if counts[MISCONFIGURED]:
        lines.append(style("CI Misconfigured", "31"))
        return lines, False
    passed = counts[FAIL] == 0
    summary = (
        f"Result:{'PASS' if passed else 'FAIL'} [Total:{len(results)}] [Passed:{counts[PASS]}] "
        f"[Failed:{counts[FAIL]}] [Warn:{counts[WARN]}] [Skipped:{counts[SKIP]}]"
    )
    lines.append(style(summary, "32" if passed else "31"))
    return lines, passed


def _percent(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf"
    return f"{value * 100:2.4f}"


def default_config_path() -> str | None:
    return ".dive-ci" if os.path.exists(".dive-ci") else None
