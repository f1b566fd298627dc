"""Our report of an image, as one document (`schema` 1, documented in
docs/report.schema.json): the image and its layers, dive's numbers, our reclaimable bytes,
the findings, the packages and the config. The JSON report is this document; the Markdown
and text reports (reportformat.py) are made from it, so every format says the same.

Values from the image (paths, commands, labels) are kept as recorded here (JSON escapes
them); the Markdown and text renderings make them safe. Secrets are masked everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from explorer.core.analysis import Analysis
from explorer.core.findingimage import redact_command, secret_value
from explorer.core.findings import Finding
from explorer.core.image import ImageMeta, text_of
from explorer.core.layerindex import LayerIndex
from explorer.core.packages import Package
from explorer.core.reclaimgroups import group_hidden

if TYPE_CHECKING:
    from explorer.core.loading import Result

SCHEMA = 1
RECLAIMABLE_GROUPS = 100  # the largest groups of reclaimable rows the report lists


def build(
    meta: ImageMeta,
    layers: Sequence[LayerIndex],
    analysis: Analysis,
    findings: Sequence[Finding],
    packages: Sequence[Package],
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    eff = analysis.efficiency
    size = sum(layer.size for layer in layers)
    return {
        "schema": SCHEMA,
        "image": _image(meta, layers, size),
        "dive": {
            "efficiency": _number(eff.score),
            "wastedBytes": eff.wasted_bytes,
            "userWastedPercent": _number(eff.user_wasted_percent),
        },
        "reclaimable": _reclaimable(analysis, size),
        "findings": [_finding(f) for f in findings],
        "packages": [_package(p) for p in packages],
        "config": _config(meta),
        "warnings": list(warnings),
    }


def _number(value: float) -> float | None:
    """A float JSON can hold (dive's percentages can be NaN or infinite): else null."""
    return round(value, 6) if math.isfinite(value) else None


def _image(meta: ImageMeta, layers: Sequence[LayerIndex], size: int) -> dict[str, Any]:
    return {
        "reference": meta.name,
        "id": meta.id,
        "source": meta.source,
        "tags": [t for t in meta.tags if isinstance(t, str)],
        "platform": meta.platform,
        "created": text_of(meta.config.get("created")) if isinstance(meta.config, dict) else "",
        "size": size,
        "layers": [
            {
                "index": n,
                "digest": meta.layers[n].digest if n < len(meta.layers) else "",
                "size": layer.size,
                "files": len(layer),
                "command": redact_command(meta.layers[n].command) if n < len(meta.layers) else "",
            }
            for n, layer in enumerate(layers)
        ],
    }


def _reclaimable(analysis: Analysis, size: int) -> dict[str, Any]:
    rec = analysis.reclaimable
    groups = group_hidden(rec)
    return {
        "total": rec.total,
        "percent": round(100 * rec.total / size, 4) if size else 0.0,
        "byLayer": [
            {"layer": n, "bytes": b} for n, b in sorted(analysis.hidden_by_layer.items()) if b
        ],
        "groups": [
            {
                "addedBy": g.added_by,
                "hiddenBy": g.hidden_by,
                "reason": g.reason,
                "path": g.path,
                "files": g.files,
                "bytes": g.size,
                "largest": g.largest_file(),
            }
            for g in groups[:RECLAIMABLE_GROUPS]
        ],
        "groupsOmitted": max(0, len(groups) - RECLAIMABLE_GROUPS),
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "layer": f.layer,
        "path": f.path,
        "message": f.message,
        "remedy": f.remedy,
        "bytes": f.bytes,
        "visible": f.visible,
    }


def _package(p: Package) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "ecosystem": p.ecosystem,
        "layer": p.layer,
        "path": p.path,
        "upgraded": [
            {"layer": c.layer, "version": c.version, "previous": c.previous}
            for c in p.changes
            if c.kind == "upgraded"
        ],
        "removed": p.removed,
    }


def _texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [text_of(v) for v in value]
    return [] if value is None else [text_of(value)]


def _keys(value: Any) -> list[str]:
    return sorted(str(k) for k in value) if isinstance(value, dict) else []


def _config(meta: ImageMeta) -> dict[str, Any]:
    doc = meta.config if isinstance(meta.config, dict) else {}
    runtime = doc.get("config")
    cfg: dict[str, Any] = runtime if isinstance(runtime, dict) else {}
    env = []
    for item in _texts(cfg.get("Env")):
        name, sep, value = item.partition("=")
        shown = secret_value(name, value)
        env.append(f"{name}{sep}{shown if shown is not None else value}")
    labels_raw = cfg.get("Labels")
    labels = {}
    for key, raw in (labels_raw if isinstance(labels_raw, dict) else {}).items():
        value = text_of(raw)
        shown = secret_value(str(key), value)
        labels[str(key)] = shown if shown is not None else value
    health = cfg.get("Healthcheck")
    return {
        "user": text_of(cfg.get("User")),
        "workingDir": text_of(cfg.get("WorkingDir")),
        "entrypoint": _texts(cfg.get("Entrypoint")),
        "cmd": _texts(cfg.get("Cmd")),
        "env": env,
        "exposedPorts": _keys(cfg.get("ExposedPorts")),
        "volumes": _keys(cfg.get("Volumes")),
        "labels": dict(sorted(labels.items())),
        "healthcheck": _texts(health.get("Test")) if isinstance(health, dict) else [],
        "stopSignal": text_of(cfg.get("StopSignal")),
        "author": text_of(doc.get("author")),
    }


def of_result(result: Result) -> dict[str, Any]:
    """The report of what the loading pipeline returned (its analysis included)."""
    from explorer.core.findings import findings_of
    from explorer.core.packages import find_packages

    if result.analysis is None:
        raise ValueError("a report needs the analysis")
    findings = findings_of(result.analysis)
    packages = find_packages(result.layers)
    return build(result.meta, result.layers, result.analysis, findings, packages, result.warnings)
