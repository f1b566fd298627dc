"""What a cache entry's payload is: a layer index, or an image's analysis, encoded and
decoded with an unpickler that knows only the index's own types; every decoded value is
checked for its shape and element types before it is used (a payload is read back from disk,
and a file there may have been planted or damaged)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import re
import zlib
from array import _array_reconstructor, array  # type: ignore[attr-defined]
from collections.abc import Sequence
from sys import intern
from typing import Any

from explorer.core.efficiency import DiveEfficiency, WasteRow, WasteRows
from explorer.core.findings import RULES, SEVERITIES, Finding
from explorer.core.layerindex import LayerIndex
from explorer.core.reclaim import REMEDY, HiddenBytes, HiddenRows, Reclaimable

INDEX_FORMAT = 2  # bump when the meaning of an index changes (hashing, normalisation...)
ANALYSIS_FORMAT = 2  # bump when efficiency.py, reclaim.py or the findings rules change
_WHERE = "\x00"  # stands for the `where` prefix of a warning in a stored index
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_FIELDS = {f.name for f in dataclasses.fields(LayerIndex)}
_ARRAYS = {
    name: value.typecode for name, value in vars(LayerIndex()).items() if isinstance(value, array)
}


def _schema() -> int:
    """A fingerprint of LayerIndex's fields: an entry written by a build with other fields is
    a miss, not a crash (INDEX_FORMAT covers changes in meaning the fields do not show)."""
    text = ";".join(f"{f.name}:{f.type}" for f in dataclasses.fields(LayerIndex))
    return zlib.crc32(text.encode())


SCHEMA = _schema()


def _analysis_schema() -> int:
    """A fingerprint of the analysis's row types, as SCHEMA is of LayerIndex's."""
    types = (DiveEfficiency, WasteRow, Reclaimable, HiddenBytes, Finding)
    text = ";".join(f"{t.__name__}.{f.name}:{f.type}" for t in types for f in dataclasses.fields(t))
    return zlib.crc32(f"{ANALYSIS_FORMAT};{text}".encode())


ANALYSIS_SCHEMA = _analysis_schema()


# -- payloads ------------------------------------------------------------------------------


_ALLOWED: dict[tuple[str, str], Any] = {
    ("explorer.core.layerindex", "LayerIndex"): LayerIndex,
    ("array", "array"): array,
    ("array", "_array_reconstructor"): _array_reconstructor,
}


class _Unpickler(pickle.Unpickler):
    """Knows LayerIndex and array, nothing else: a payload cannot name any other callable."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed") from None


def _strings(value: Any) -> bool:
    """A list of str, exactly (a subclass could run code of its own)."""
    return type(value) is list and set(map(type, value)) <= {str}


def _ints(value: Any) -> bool:
    return type(value) is int


def _records(value: Any, entries: int, texts: int) -> bool:
    """A list of (entry, text × `texts`) tuples, exactly, each naming an entry of the index."""
    return type(value) is list and all(
        type(r) is tuple
        and len(r) == texts + 1
        and type(r[0]) is int
        and 0 <= r[0] < entries
        and all(type(t) is str for t in r[1:])
        for r in value
    )


def encode_index(index: LayerIndex, where: str = "") -> bytes:
    """The payload of a layer entry. Warnings starting with `where` (which names the archive
    the layer was read from) store it as a placeholder, filled in again by `decode_index`."""
    stored = index
    if where and any(w.startswith(where) for w in index.warnings):
        warnings = [_WHERE + w[len(where) :] if w.startswith(where) else w for w in index.warnings]
        stored = dataclasses.replace(index, warnings=warnings)
    return pickle.dumps(stored, protocol=5)


def decode_index(payload: bytes, where: str = "") -> LayerIndex:
    """A LayerIndex from `encode_index`'s bytes; raises ValueError when they are not one."""
    try:
        index = _Unpickler(io.BytesIO(payload)).load()
    except Exception as exc:
        raise ValueError(f"bad payload ({type(exc).__name__})") from None
    if type(index) is not LayerIndex or set(vars(index)) != _FIELDS or not _strings(index.paths):
        raise ValueError("payload is not a LayerIndex")
    n = len(index.paths)
    for name, typecode in _ARRAYS.items():
        column = getattr(index, name, None)
        if not isinstance(column, array) or column.typecode != typecode or len(column) != n:
            raise ValueError(f"payload column {name} is damaged")
    links = index.links
    if (
        not isinstance(links, dict)
        or not set(map(type, links)) <= {int}
        or not set(map(type, links.values())) <= {str}
        or (links and not 0 <= min(links) <= max(links) < n)
        or not _strings(index.warnings)
        or not _ints(index.whiteouts)
        or not _ints(index.tar_size)
        or not _records(index.secrets, n, 2)
        or not _records(index.packages, n, 3)
    ):
        raise ValueError("payload is damaged")
    # Interned again: a chmod -R layer repeats every path of the layers below, and equal
    # paths shared by identity is what keeps many layers of one image small.
    index.paths = [intern(p) for p in index.paths]
    if any(w.startswith(_WHERE) for w in index.warnings):
        index.warnings = [where + w[1:] if w.startswith(_WHERE) else w for w in index.warnings]
    return index


def analysis_key(diff_ids: Sequence[str]) -> str | None:
    """The key of an image's analysis: its layers' diff_ids in order (with the formats of the
    indexes and of the analysis), hashed; None when a diff_id is not a sha256 digest (only
    those are checked against the layer's bytes, so only those name what was analysed)."""
    if not diff_ids or not all(isinstance(d, str) and _SHA256.match(d) for d in diff_ids):
        return None
    text = f"analysis:{ANALYSIS_SCHEMA}:{INDEX_FORMAT}:{SCHEMA}:" + ",".join(diff_ids)
    return hashlib.sha256(text.encode()).hexdigest()


def encode_analysis(
    efficiency: DiveEfficiency, reclaimable: Reclaimable, findings: Sequence[Finding] = ()
) -> bytes:
    """The payload of an analysis entry: plain values and columns (arrays of int64), no
    class of ours, so the restricted unpickler reads it. Raises OverflowError on a number
    an int64 cannot hold (then it is not cached)."""
    eff, rec = efficiency, reclaimable
    reasons = sorted({r.reason for r in rec.rows})
    code = {reason: i for i, reason in enumerate(reasons)}
    value = (
        ANALYSIS_SCHEMA,
        (float(eff.score), eff.wasted_bytes, eff.size_bytes, eff.user_size_bytes),
        [r.path for r in eff.rows],
        array("q", [r.count for r in eff.rows]),
        array("q", [r.cumulative for r in eff.rows]),
        array("q", [r.minimum for r in eff.rows]),
        rec.total,
        [r.path for r in rec.rows],
        array("q", [r.size for r in rec.rows]),
        array("q", [r.added_by for r in rec.rows]),
        array("q", [r.hidden_by for r in rec.rows]),
        reasons,
        array("q", [code[r.reason] for r in rec.rows]),
        [_finding_tuple(f) for f in findings],
    )
    return pickle.dumps(value, protocol=5)


def decode_analysis(payload: bytes) -> tuple[DiveEfficiency, Reclaimable, list[Finding]]:
    """`encode_analysis`'s values back; raises ValueError when the bytes are not that."""
    try:
        value = _Unpickler(io.BytesIO(payload)).load()
    except Exception as exc:
        raise ValueError(f"bad payload ({type(exc).__name__})") from None
    if not isinstance(value, tuple) or len(value) != 14 or value[0] != ANALYSIS_SCHEMA:
        raise ValueError("payload is not an analysis")
    _, head, paths, counts, cums, mins, total, hpaths, sizes, added, hidden, reasons, codes = value[
        :13
    ]
    findings = _findings(value[13])
    if not (
        isinstance(head, tuple)
        and len(head) == 4
        and type(head[0]) is float
        and all(_ints(v) for v in head[1:])
        and _ints(total)
        and _strings(paths)
        and _strings(hpaths)
        and _strings(reasons)
        and all(r in REMEDY for r in reasons)
        and all(isinstance(c, array) and c.typecode == "q" for c in (counts, cums, mins))
        and all(isinstance(c, array) and c.typecode == "q" for c in (sizes, added, hidden, codes))
        and len(paths) == len(counts) == len(cums) == len(mins)
        and len(hpaths) == len(sizes) == len(added) == len(hidden) == len(codes)
        and (not codes or 0 <= min(codes) <= max(codes) < len(reasons))
    ):
        raise ValueError("payload analysis is damaged")
    score, wasted, size, user_size = head
    # The rows stay columns (no object per row: a re-open of a chmod -R image has one per file).
    return (
        DiveEfficiency(score, wasted, size, user_size, WasteRows(paths, counts, cums, mins)),
        Reclaimable(total, HiddenRows(hpaths, sizes, added, hidden, reasons, codes)),
        findings,
    )


_FINDING_TYPES = (str, str, int, str, str, str, int, bool)


def _finding_tuple(f: Finding) -> tuple[str, str, int, str, str, str, int, bool]:
    layer = -1 if f.layer is None else f.layer
    return (f.rule, f.severity, layer, f.path, f.message, f.remedy, f.bytes, f.visible)


def _findings(value: Any) -> list[Finding]:
    """Findings from their stored tuples, each value of the type it must have."""
    if type(value) is not list:
        raise ValueError("payload findings are damaged")
    out = []
    for item in value:
        if (
            type(item) is not tuple
            or len(item) != len(_FINDING_TYPES)
            or any(type(v) is not t for v, t in zip(item, _FINDING_TYPES, strict=True))
            or item[0] not in RULES
            or item[1] not in SEVERITIES
            or item[2] < -1
        ):
            raise ValueError("payload findings are damaged")
        rule, severity, layer, path, message, remedy, nbytes, visible = item
        layer_or_none = None if layer == -1 else layer
        out.append(Finding(rule, severity, layer_or_none, path, message, remedy, nbytes, visible))
    return out
