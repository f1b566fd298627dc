"""Find: a glob or a regex over every layer's entries, not only the final filesystem: a
file a later layer deleted or overwrote is found in the layer that shipped it.

A glob without `/` matches names (`*.pem`), one with `/` whole paths (`/etc/*.conf`; `*`
crosses `/`, as in `fnmatch`); a regex is searched in the `/`-rooted path. Whiteouts are
found under the path they delete, opaque markers under their directory.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from explorer.core import tarscan
from explorer.core.history import (
    HIDDEN,
    REMOVED_NAME,
    Entries,
    compare,
    kind_name,
    visible,
)
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX


class PatternError(ValueError):
    """A pattern that cannot be used (one line: what is wrong with it)."""


@dataclass(frozen=True, slots=True)
class Match:
    layer: int
    entry: int  # the entry in its layer (the whiteout or marker for removed / hidden)
    path: str  # `/`-rooted: for a whiteout the path it deletes, for a marker its directory
    action: str  # added, modified, unmodified (written in this layer), removed, hidden
    size: int
    kind: str  # file, directory, symlink... ("" for a whiteout or marker)
    detail: str = ""


def compile_pattern(text: str, regex: bool = False) -> re.Pattern[str]:
    """The regex to search `/`-rooted paths with. Raises PatternError."""
    if not text:
        raise PatternError("the pattern is empty")
    if regex:
        try:
            return re.compile(text)
        except re.error as exc:
            raise PatternError(f"not a regular expression: {text!r}: {exc}") from None
    if "/" not in text:  # a name: the last component, whole
        return re.compile(r"(?:^|/)" + fnmatch.translate(text).replace(".*", "[^/]*"))
    if not text.startswith(("/", "*")):
        text = "/" + text
    return re.compile(fnmatch.translate(text))


def _named(path: str) -> tuple[str, str] | None:
    """(`/`-rooted path named, action) for a whiteout or an opaque marker, else None."""
    parent, _, name = path.rpartition("/")
    if not name.startswith(WHITEOUT_PREFIX):
        return None
    if name == OPAQUE_MARKER:
        return "/" + parent, HIDDEN  # "/" for the root
    return (f"/{parent}/{name[4:]}" if parent else "/" + name[4:]), REMOVED_NAME


def find(entries: Entries, pattern: re.Pattern[str]) -> list[Match]:
    """Every entry of every layer whose path matches, in layer order then tar order, each
    with what it did to its path (against the filesystem of the layers below)."""
    out: list[Match] = []
    search = pattern.search
    for n, layer in enumerate(entries.layers):
        paths = layer.paths
        hits = [i for i, p in enumerate(paths) if search("/" + p)]
        if layer.whiteouts:  # whiteouts and markers match by the path they name
            marks = {i: named for i, p in enumerate(paths) if ".wh." in p and (named := _named(p))}
            hits = sorted(
                {i for i in hits if i not in marks}
                | {i for i, (where, _) in marks.items() if search(where)}
            )
        else:
            marks = {}
        for i in hits:
            named = marks.get(i)
            if named is None:
                out.append(_written(entries, n, i, paths[i]))
                continue
            where, action = named
            detail = "opaque directory" if action == HIDDEN else "whiteout"
            out.append(Match(n, i, where, action, 0, "", detail))
    return out


def _written(entries: Entries, n: int, i: int, path: str) -> Match:
    layer = entries.layers[n]
    kind, size = layer.types[i], layer.sizes[i]
    below = _below(entries, path, n, kind == tarscan.DIR)
    action, detail = compare(entries.layers, below, (n, i))
    return Match(n, i, "/" + path, action, size, kind_name(kind), detail)


def _below(entries: Entries, path: str, n: int, is_dir: bool) -> tuple[int, int] | None:
    """The version of `path` the layers below n show: only traced when some layer below
    has an entry there (most matches were written once)."""
    if not n:
        return None
    written = any(path in entries.table(m) for m in range(n))
    if not written and not (is_dir and any(path in entries.implied(m) for m in range(n))):
        return None
    return visible(entries, path, n - 1)
