"""dive's `--json` export, byte for byte: same document, same Go `encoding/json` formatting
(MarshalIndent with two spaces, HTML-safe escapes, no trailing newline), streamed to a temp
file layer by layer and renamed into place only when complete (see explorer.core.outfile)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TextIO

from explorer.core.efficiency import DiveEfficiency, dive_efficiency
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, go_file_mode
from explorer.core.outfile import open_export
from explorer.core.tree import NO_INFO, Node, ref_entry

_GO_DIR = 1 << 31

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
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\udc80-\udcff]')


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if "\udc80" <= ch <= "\udcff":  # an undecodable byte: Go writes the escape of U+FFFD
        return "\\ufffd"
    return f"\\u{ord(ch):04x}"


def go_string(s: str) -> str:
    if not s:
        return '""'
    if _NEEDS_ESCAPE.search(s) is None:
        return f'"{s}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def go_float(f: float) -> str:
    """encoding/json's float64: shortest digits, exponent below 1e-6 or from 1e21."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("json: unsupported value")
    if f == 0:
        return "0"
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        mantissa, _, exp = (repr(f) if "e" in repr(f) else f"{f:e}").partition("e")
        mantissa = mantissa.removesuffix(".0")
        return f"{mantissa}e{'-' if exp.startswith('-') else '+'}{int(exp.lstrip('+-'))}"
    text = repr(f)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text.removesuffix(".0")


_EMPTY = (
    '        {\n          "path": "",\n          "typeFlag": 0,\n          "linkName": "",\n'
    '          "size": 0,\n          "fileMode": 0,\n          "uid": 0,\n          "gid": 0,\n'
    '          "isDir": false\n        }'
)


def _file_entries(layer: LayerIndex, nodes: list[Node]) -> Iterator[str]:
    """The export rows of a layer tree's nodes (all of them entries of `layer`, or implicit
    directories), in their order. Rows differ mostly in path and size: the text around
    them is made once per (type, mode, owner, link target)."""
    paths, types, sizes, modes = layer.paths, layer.types, layer.sizes, layer.modes
    uids, gids, links = layer.uids, layer.gids, layer.links
    texts: dict[tuple[int, int, int, int, str], tuple[str, str]] = {}
    needs_escape = _NEEDS_ESCAPE.search
    for node in nodes:
        info = node.info
        if info == NO_INFO:
            yield _EMPTY
            continue
        i = ref_entry(info)
        key = (types[i], modes[i], uids[i], gids[i], links.get(i, ""))
        around = texts.get(key)
        if around is None:
            kind, _mode, uid, gid, link = key
            mode = go_file_mode(modes[i], kind)
            around = texts[key] = (
                f',\n          "typeFlag": {kind},\n          "linkName": {go_string(link)},\n'
                '          "size": ',
                f',\n          "fileMode": {mode},\n          "uid": {uid},\n'
                f'          "gid": {gid},\n'
                f'          "isDir": {"true" if mode & _GO_DIR else "false"}\n        }}',
            )
        path = paths[i]
        path = f'"{path}"' if needs_escape(path) is None else go_string(path)
        yield f'        {{\n          "path": {path}{around[0]}{sizes[i]}{around[1]}'


def _write_joined(out: TextIO, items: Iterator[str]) -> None:
    """`out.write(",\\n".join(items))` in bounded pieces: there can be a row per file."""
    first = True
    while chunk := list(itertools.islice(items, 4096)):
        if not first:
            out.write(",\n")
        out.write(",\n".join(chunk))
        first = False


class ExportWriter:
    """Writes the export as the analysis visits each layer (see `dive_efficiency`)."""

    def __init__(self, out: TextIO, meta: ImageMeta) -> None:
        self.out = out
        self.meta = meta
        out.write('{\n  "layer": [')

    def layer(self, n: int, layer: LayerIndex, nodes: list[Node]) -> None:
        lm = self.meta.layers[n]
        out = self.out
        out.write(",\n    {\n" if n else "\n    {\n")
        out.write(
            f'      "index": {n},\n      "id": {go_string(lm.id)},\n'
            f'      "digestId": {go_string(lm.digest)},\n'
            f'      "sizeBytes": {layer.size},\n'
            f'      "command": {go_string(lm.command)},\n      "fileList": '
        )
        if not nodes:
            out.write("[]\n    }")
            return
        out.write("[\n")
        _write_joined(out, _file_entries(layer, nodes))
        out.write("\n      ]\n    }")

    def finish(self, eff: DiveEfficiency) -> None:
        out = self.out
        out.write("\n  ]," if self.meta.layers else "[],")
        out.write(
            f'\n  "image": {{\n    "sizeBytes": {eff.size_bytes},\n'
            f'    "inefficientBytes": {eff.wasted_bytes},\n'
            f'    "efficiencyScore": {go_float(eff.score)},\n    "fileReference": '
        )
        if not eff.rows:
            out.write("[]")
        else:
            rows = (
                f'      {{\n        "count": {r.count},\n        "sizeBytes": {r.cumulative},\n'
                f'        "file": {go_string(r.path)}\n      }}'
                for r in eff.rows
            )
            out.write("[\n")
            _write_joined(out, rows)
            out.write("\n    ]")
        out.write("\n  }\n}")


def write_export(path: str, meta: ImageMeta, layers: Iterable[LayerIndex]) -> DiveEfficiency:
    """Analyse and write dive's export to `path` (see `open_export`: complete or not at all
    for a file); returns dive's numbers. `layers` may still be arriving (see
    `dive_efficiency`)."""
    with open_export(path) as out:
        return _write(out, meta, layers)


def _write(out: TextIO, meta: ImageMeta, layers: Iterable[LayerIndex]) -> DiveEfficiency:
    writer = ExportWriter(out, meta)
    eff = dive_efficiency(layers, writer)
    writer.finish(eff)
    return eff
