"""Our CI rules (`.layerscope.yaml`, documented in docs/report.md) over our own numbers:
reclaimable bytes and percent, paths no layer may ship (even one a later layer deleted),
paths whose bytes must not be wasted, and findings by severity or rule. `report --ci` prints
one PASS / FAIL / SKIP line per rule, as dive's `--ci` does, and exits 0 on pass, 1 on fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.core.errors import ImageError
from explorer.core.findingimage import hidden_rows
from explorer.core.findings import RULES, SEVERITIES, Stack
from explorer.core.layerindex import LayerIndex
from explorer.core.reclaim import Reclaimable
from explorer.core.safetext import safe

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
DEFAULT_FILE = ".layerscope.yaml"
MATCHES_SHOWN = 10


class PolicyError(ImageError):
    """A rules file that cannot be used: one line, exit 2."""


@dataclass
class Policy:
    max_bytes: int | None = None
    max_percent: float | None = None
    block: list[str] = field(default_factory=list)
    deny_waste: list[str] = field(default_factory=list)
    fail_on_severity: str | None = "critical"  # None: no severity fails
    fail_on_rules: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    name: str
    status: str
    message: str = ""
    details: list[str] = field(default_factory=list)


# -- the file --------------------------------------------------------------------------------

_KEYS = {
    "reclaimable": {"max-bytes", "max-percent"},
    "paths": {"block", "deny-waste"},
    "findings": {"fail-on-severity", "fail-on-rules"},
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?)B?|B)?\s*$", re.I)
_POWERS = {"K": 1, "M": 2, "G": 3, "T": 4}


def parse_size(value: Any, where: str) -> int:
    """Bytes from 1234, "50MB" (powers of 1000), "50MiB" or "50M" (powers of 1024)."""
    if isinstance(value, bool):
        raise PolicyError(f"{where}: expected a size such as 50MB, got {value!r}")
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if m is None:
        raise PolicyError(f"{where}: expected a size such as 50MB, got {safe(str(value))!r}")
    number, unit, binary = float(m.group(1)), m.group(2), m.group(3)
    if unit is None:
        return int(number)
    explicit_decimal = str(value).strip().upper().endswith(f"{unit.upper()}B") and not binary
    base = 1000 if explicit_decimal else 1024
    return int(number * base ** _POWERS[unit.upper()])


def parse(text: str, where: str) -> Policy:
    """A Policy from the YAML text of a rules file; unknown keys are errors (a typo must not
    turn a rule off silently)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML ({safe(str(exc).splitlines()[0])})") from None
    if doc is None:
        return Policy()
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: expected a mapping of rules")
    policy = Policy()
    for section, keys in doc.items():
        if section not in _KEYS:
            raise PolicyError(f"{where}: unknown section {safe(str(section))!r}")
        if keys is None:
            continue
        if not isinstance(keys, dict):
            raise PolicyError(f"{where}: {section} must be a mapping")
        for key, value in keys.items():
            if key not in _KEYS[section]:
                raise PolicyError(f"{where}: unknown key {section}.{safe(str(key))}")
            _set(policy, f"{section}.{key}", value, f"{where}: {section}.{key}")
    return policy


def _set(policy: Policy, key: str, value: Any, where: str) -> None:
    if key == "reclaimable.max-bytes":
        policy.max_bytes = None if value in (None, "disabled") else parse_size(value, where)
    elif key == "reclaimable.max-percent":
        if value in (None, "disabled"):
            policy.max_percent = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            policy.max_percent = float(value)
        else:
            raise PolicyError(f"{where}: expected a percentage (0-100)")
    elif key == "findings.fail-on-severity":
        if value in (None, "none"):
            policy.fail_on_severity = None
        elif value in SEVERITIES:
            policy.fail_on_severity = value
        else:
            raise PolicyError(f"{where}: expected one of {', '.join(SEVERITIES)} or none")
    else:
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(f"{where}: expected a list of strings")
        if key == "findings.fail-on-rules":
            unknown = [v for v in value if v not in RULES]
            if unknown:
                raise PolicyError(f"{where}: unknown rule {safe(unknown[0])!r}")
            policy.fail_on_rules = list(value)
        elif key == "paths.block":
            policy.block = list(value)
        else:
            policy.deny_waste = list(value)


# -- globs -----------------------------------------------------------------------------------


def glob_regex(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for absolute paths matching any of `patterns`: `*` within a path component,
    `?` one character, `**` any number of components; a pattern not starting with `/`
    matches at any depth (`.env` is `**/.env`)."""
    if not patterns:
        return None
    parts = []
    for pattern in patterns:
        if pattern.startswith("/"):
            p = pattern
        else:
            p = "/" + pattern if pattern.startswith("**/") else "/**/" + pattern
        out, i = "", 0
        while i < len(p):
            if p.startswith("/**/", i):
                out += "/(?:.*/)?"
                i += 4
            elif p.startswith("/**", i) and i + 3 == len(p):
                out += "(?:/.*)?"
                i += 3
            elif p[i] == "*":
                out += "[^/]*"
                i += 1
            elif p[i] == "?":
                out += "[^/]"
                i += 1
            else:
                out += re.escape(p[i])
                i += 1
        parts.append(f"(?:{out})")
    return re.compile("^(?:" + "|".join(parts) + ")$", re.S)


def matching(regex: re.Pattern[str], patterns: Sequence[str], path: str) -> str:
    """Which of `patterns` matched `path` (for the message)."""
    for pattern in patterns:
        one = glob_regex([pattern])
        if one is not None and one.match(path):
            return pattern
    return ""


# -- evaluation ------------------------------------------------------------------------------


Hit = tuple[str, int, str]  # (path, layer, where it stands)


def blocked_paths(policy: Policy, layers: Sequence[LayerIndex]) -> list[Hit]:
    """The entries of every layer (deleted later or not) that `policy.block` matches."""
    regex = glob_regex(policy.block)
    if regex is None:
        return []
    stack = Stack(layers)
    hits: list[Hit] = []
    for n, layer in enumerate(layers):
        for path in layer.paths:
            if "/.wh." in f"/{path}" or not regex.match(f"/{path}"):
                continue
            hits.append((f"/{path}", n, stack.where(n, path)[1]))
    return hits


def wasted_paths(policy: Policy, reclaimable: Reclaimable) -> list[Hit]:
    """Reclaimable files (added, then hidden by a later layer) `policy.deny_waste` matches."""
    regex = glob_regex(policy.deny_waste)
    if regex is None:
        return []
    return [
        (path, added, f"{size:,} bytes, {reason} in layer {hidden}")
        for path, size, added, hidden, reason in hidden_rows(reclaimable)
        if regex.match(path)
    ]


def evaluate(
    policy: Policy, report: dict[str, Any], blocked: list[Hit], wasted: list[Hit]
) -> list[Outcome]:
    """Every rule's outcome on a report document (report.py), with what `blocked_paths` and
    `wasted_paths` found."""
    rec = report["reclaimable"]
    out: list[Outcome] = []
    if policy.max_bytes is None:
        out.append(Outcome("reclaimableBytes", SKIP, "rule disabled"))
    else:
        ok = rec["total"] <= policy.max_bytes
        sign = "<=" if ok else ">"
        message = f"{rec['total']:,} bytes {sign} threshold={policy.max_bytes:,}"
        out.append(Outcome("reclaimableBytes", PASS if ok else FAIL, message))
    if policy.max_percent is None:
        out.append(Outcome("reclaimablePercent", SKIP, "rule disabled"))
    else:
        ok = rec["percent"] <= policy.max_percent
        sign = "<=" if ok else ">"
        message = f"{rec['percent']:.2f} % {sign} threshold={policy.max_percent:g} %"
        out.append(Outcome("reclaimablePercent", PASS if ok else FAIL, message))
    out.append(_listed("blockedPaths", policy.block, blocked, "shipped"))
    out.append(_listed("deniedWaste", policy.deny_waste, wasted, "wasted"))
    out.append(_findings(policy, report["findings"]))
    return out


def _listed(name: str, patterns: list[str], hits: list[Hit], verb: str) -> Outcome:
    if not patterns:
        return Outcome(name, SKIP, "rule disabled")
    if not hits:
        return Outcome(name, PASS, f"no path matching {len(patterns)} patterns is {verb}")
    regex = glob_regex(patterns)
    assert regex is not None
    details = [
        f"{safe(path)} (layer {layer}, {where}) matches {safe(matching(regex, patterns, path))}"
        for path, layer, where in hits[:MATCHES_SHOWN]
    ]
    if len(hits) > MATCHES_SHOWN:
        details.append(f"and {len(hits) - MATCHES_SHOWN:,} more")
    return Outcome(name, FAIL, f"{len(hits):,} paths {verb}", details)


def _findings(policy: Policy, findings: list[dict[str, Any]]) -> Outcome:
    if policy.fail_on_severity is None and not policy.fail_on_rules:
        return Outcome("findings", SKIP, "rule disabled")
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    limit = rank[policy.fail_on_severity] if policy.fail_on_severity else -1
    failing = [
        f
        for f in findings
        if rank.get(f["severity"], 99) <= limit or f["rule"] in policy.fail_on_rules
    ]
    said = []
    if policy.fail_on_severity:
        said.append(f"severity {policy.fail_on_severity} or worse")
    if policy.fail_on_rules:
        said.append(f"rules {', '.join(policy.fail_on_rules)}")
    if not failing:
        return Outcome("findings", PASS, f"none with {' or '.join(said)}")
    details = [
        f"{f['severity']} {f['rule']} {safe(f['path'] or '-')} (layer "
        f"{'-' if f['layer'] is None else f['layer']}): {safe(f['message'])}"
        for f in failing[:MATCHES_SHOWN]
    ]
    if len(failing) > MATCHES_SHOWN:
        details.append(f"and {len(failing) - MATCHES_SHOWN:,} more")
    return Outcome("findings", FAIL, f"{len(failing):,} with {' or '.join(said)}", details)


def lines(outcomes: list[Outcome], color: bool = False) -> list[str]:
    """dive's layout: `  STATUS: rule: message`, then the `Result:` summary."""

    def style(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    colors = {FAIL: "1;7;31", SKIP: "34"}
    out = [style("Results:", "1")]
    for o in outcomes:
        status = style(o.status, colors[o.status]) if o.status in colors else o.status
        out.append(f"  {status}: {o.name}: {o.message}" if o.message else f"  {status}: {o.name}")
        out += [f"    {d}" for d in o.details]
    passed = all(o.status != FAIL for o in outcomes)
    counts = {k: sum(o.status == k for o in outcomes) for k in (PASS, FAIL, SKIP)}
    summary = (
        f"Result:{'PASS' if passed else 'FAIL'} [Total:{len(outcomes)}] [Passed:{counts[PASS]}] "
        f"[Failed:{counts[FAIL]}] [Warn:0] [Skipped:{counts[SKIP]}]"
    )
    out.append(style(summary, "32" if passed else "31"))
    return out
