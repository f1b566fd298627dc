"""Package database records, parsed while a layer is indexed: dpkg's status file (and the
per-package files of `status.d/` distroless images use), apk's installed database, Python's
`*.dist-info/METADATA` and `*.egg-info/PKG-INFO` (read with `packaging.metadata`), and npm's
`node_modules/**/package.json`.

A record is hostile input like the rest of an image: one that does not parse yields no
package (and never an error); names and versions are kept as text, bounded in length.
"""

from __future__ import annotations

import json
from email.errors import MessageError

from packaging.metadata import parse_email

DEB = "deb"
APK = "apk"
PYTHON = "python"
NPM = "npm"
ECOSYSTEMS = (DEB, APK, PYTHON, NPM)

_MAX_TEXT = 256  # longer names or versions are cut (no real package has one)

Record = tuple[str, str, str]  # (ecosystem, name, version)


def ecosystem(path: str) -> str:
    """The ecosystem of a database file `contentscan.wanted` chose."""
    if path.endswith("package.json"):
        return NPM
    if path.endswith(("/METADATA", "/PKG-INFO", ".egg-info")):
        return PYTHON
    return APK if path == "lib/apk/db/installed" else DEB


def parse(path: str, data: bytes | memoryview) -> list[Record]:
    """The packages a database file at `path` records (`contentscan.wanted` chose it)."""
    raw = bytes(data)
    kind = ecosystem(path)
    if kind == NPM:
        return _npm(raw)
    if kind == PYTHON:
        return _python(raw)
    if kind == APK:
        return _stanzas(raw, APK, b"P", b"V", None)
    return _stanzas(raw, DEB, b"Package", b"Version", b"Status")


def _clip(value: str) -> str:
    return value.strip()[:_MAX_TEXT]


def _stanzas(
    raw: bytes, ecosystem: str, name_key: bytes, version_key: bytes, status_key: bytes | None
) -> list[Record]:
    """dpkg's and apk's formats: stanzas separated by blank lines, `Key: value` (dpkg) or
    `K:value` (apk) lines; dpkg's stanzas count only when the package is installed."""
    out: list[Record] = []
    for stanza in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        fields: dict[bytes, bytes] = {}
        for line in stanza.split(b"\n"):
            if not line or line[:1] in (b" ", b"\t"):
                continue  # a continuation line (a description)
            key, sep, value = line.partition(b":")
            if sep and key not in fields:
                fields[key] = value
        name, version = fields.get(name_key), fields.get(version_key)
        if not name or version is None:
            continue
        if status_key is not None and not fields.get(status_key, b"").strip().endswith(
            b" installed"
        ):
            continue
        text = name.decode("utf-8", "replace"), version.decode("utf-8", "replace")
        out.append((ecosystem, _clip(text[0]), _clip(text[1])))
    return out


def _python(raw: bytes) -> list[Record]:
    head = raw.split(b"\n\n", 1)[0]  # the headers: the description after them is not needed
    try:
        fields, _ = parse_email(head)
    except (ValueError, MessageError, UnicodeDecodeError):
        return []
    name, version = fields.get("name"), fields.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name.strip():
        return []
    return [(PYTHON, _clip(name), _clip(version))]


def _npm(raw: bytes) -> list[Record]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    if not isinstance(doc, dict):
        return []
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name.strip():
        return []
    return [(NPM, _clip(name), _clip(version))]
