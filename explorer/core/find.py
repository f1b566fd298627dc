"""Find: a glob or a regex over every layer's entries, not only the final filesystem: a
file a later layer deleted or overwrote is found in the layer that shipped it.

A glob without `/` matches names (`*.pem`), one with `/` whole paths (`/etc/*.conf`; `*`
crosses `/`, as in `fnmatch`); a regex is searched in the `/`-rooted path. Whiteouts are
found under the path they delete, opaque markers under their directory.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

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


def find(entries: Entries, pattern: re.Pattern[str]) -> Found:
    """Every entry of every layer whose path matches, in layer order then tar order."""
    hits: list[tuple[int, int, tuple[str, str] | None]] = []
    search = pattern.search
    for n, layer in enumerate(entries.layers):
        paths = layer.paths
        found = [i for i, p in enumerate(paths) if search("/" + p)]
        if not layer.whiteouts:
            hits.extend((n, i, None) for i in found)
            continue
        # whiteouts and opaque markers match by the path they name
        marks = {i: named for i, p in enumerate(paths) if ".wh." in p and (named := _named(p))}
        found = [i for i in found if i not in marks]
        found += [i for i, (where, _) in marks.items() if search(where)]
        hits.extend((n, i, marks.get(i)) for i in sorted(found))
    return Found(entries, hits)


class Found(Sequence[Match]):
    """The matches, each worked out (what it did to its path) when first read: a screen of
    a million matches costs what its visible rows do."""

    def __init__(
        self, entries: Entries, hits: list[tuple[int, int, tuple[str, str] | None]]
    ) -> None:
        self._entries = entries
        self._hits = hits
        self._made: dict[int, Match] = {}

    def __len__(self) -> int:
        return len(self._hits)

    @overload
    def __getitem__(self, k: int) -> Match: ...
    @overload
    def __getitem__(self, k: slice) -> list[Match]: ...
    def __getitem__(self, k: int | slice) -> Match | list[Match]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        match = self._made.get(k)
        if match is None:
            n, i, named = self._hits[k]
            if named is None:
                match = _written(self._entries, n, i, self._entries.layers[n].paths[i])
            else:
                where, action = named
                detail = "opaque directory" if action == HIDDEN else "whiteout"
                match = Match(n, i, where, action, 0, "", detail)
            self._made[k] = match
        return match


def _written(entries: Entries, n: int, i: int, path: str) -> Match:
    layer = entries.layers[n]
    kind, size = layer.types[i], layer.sizes[i]
    below = _below(entries, path, n, kind == tarscan.DIR)
    action, detail = compare(entries.layers, below, (n, i))
    return Match(n, i, "/" + path, action, size, kind_name(kind), detail)


def _below(entries: Entries, path: str, n: int, is_dir: bool) -> tuple[int, int] | None:
    """The version of `path` the layers below n show. Most matches were written once, or
    again by the layer just below (a `chmod -R`): the exact trace (`visible`) is only needed
    when a layer in between removed something, or for a directory made implicitly."""
    for m in range(n - 1, -1, -1):
        entry = entries.table(m).get(path)
        if entry is not None:
            break
    else:
        if is_dir and any(path in entries.implied(k) for k in range(n)):
            return visible(entries, path, n - 1)
        return None
    if any(entries.removal(k, path) is not None for k in range(m + 1, n)):
        return visible(entries, path, n - 1)
    return m, entry
