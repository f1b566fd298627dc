"""dive's `--json` export, byte for byte: same document, same Go `encoding/json` formatting
(MarshalIndent with two spaces, HTML-safe escapes, no trailing newline)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from decimal import Decimal
from typing import Any

from explorer.core.efficiency import DiveEfficiency
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, go_file_mode
from explorer.core.tree import NO_INFO, layer_tree

_GO_DIR = 1 << 31


def _file_info(layer: LayerIndex, i: int) -> dict[str, Any]:
    mode = go_file_mode(layer.modes[i], layer.types[i])
    return {
        "path": layer.paths[i],
        "typeFlag": layer.types[i],
        "linkName": layer.link(i),
        "size": layer.sizes[i],
        "fileMode": mode,
        "uid": layer.uids[i],
        "gid": layer.gids[i],
        "isDir": bool(mode & _GO_DIR),
    }


_EMPTY_INFO = {
    "path": "",
    "typeFlag": 0,
    "linkName": "",
    "size": 0,
    "fileMode": 0,
    "uid": 0,
    "gid": 0,
    "isDir": False,
}


def export_document(
    meta: ImageMeta, layers: list[LayerIndex], efficiency: DiveEfficiency
) -> dict[str, Any]:
    out_layers = []
    for n, lm in enumerate(meta.layers):
        tree = layer_tree(layers, n)
        files = []
        for node in tree.root.walk_post():
            if node.info == NO_INFO:
                files.append(_EMPTY_INFO)
            else:
                files.append(_file_info(layers[node.info >> 32], node.info & 0xFFFFFFFF))
        out_layers.append(
            {
                "index": n,
                "id": lm.id,
                "digestId": lm.digest,
                "sizeBytes": layers[n].size,
                "command": lm.command,
                "fileList": files,
            }
        )
    return {
        "layer": out_layers,
        "image": {
            "sizeBytes": efficiency.size_bytes,
            "inefficientBytes": efficiency.wasted_bytes,
            "efficiencyScore": efficiency.score,
            "fileReference": [
                {"count": r.count, "sizeBytes": r.cumulative, "file": r.path}
                for r in efficiency.rows
            ],
        },
    }


# -- Go's encoding/json ----------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\udc80" <= ch <= "\udcff":  # an undecodable byte: Go writes U+FFFD
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_float(f: float) -> str:
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("json: unsupported value")
    if f == 0:
        return "0"
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        text = repr(f)
        if "e" not in text:
            text = f"{f:e}"
        mantissa, _, exp = text.partition("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}e{sign}{int(exp.lstrip('+-'))}"
    text = repr(f)
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def go_json(value: Any, indent: str = "") -> str:
    """json.MarshalIndent(value, "", "  ") for the types the export uses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_string(value)
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{go_string(k)}: {go_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [inner + go_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    if value is None:
        return "null"
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_atomically(path: str, text: str) -> None:
    """Write the whole file or nothing: a temp file beside it, renamed over it at the end."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".layerscope-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
