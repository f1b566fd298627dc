"""What the library screen shows, headless: the images sorted and filtered, a row's cells, and
the panel below them (the selected image's sharing, advice, history or inspect), as plain
strings (the TUI only lays them out)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from explorer.core.advice import image_advice, library_advice
from explorer.core.dockerunits import ago, docker_size
from explorer.core.library import Library, LibraryImage
from explorer.core.safetext import safe

SORTS = ("size", "unique", "created", "name")
PANELS = ("sharing", "advice", "history", "inspect")  # what the panel below the list shows
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class View:
    sort: str = "size"
    text: str = ""  # a substring of a tag, the ID or the source; with * ? [ a reference glob
    dangling_only: bool = False

    def next_sort(self) -> View:
        return View(SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)], self.text, self.dangling_only)

    def describe(self) -> str:
        parts = [f"sort: {self.sort}"]
        if self.text:
            parts.append(f"filter: {safe(self.text)}")
        if self.dangling_only:
            parts.append("dangling only")
        return " · ".join(parts)


def matches(im: LibraryImage, text: str) -> bool:
    if not text:
        return True
    names = im.tags or ["<none>:<none>"]
    if _GLOB & set(text):  # docker's `--filter reference=` form: a glob over the references
        pattern = text if ":" in text else f"{text}:*"
        return any(fnmatch.fnmatchcase(t, pattern) or fnmatch.fnmatchcase(t, text) for t in names)
    needle = text.lower()
    haystack = [*names, im.id.removeprefix("sha256:"), im.source, im.platform]
    return any(needle in h.lower() for h in haystack)


def arrange(images: list[LibraryImage], view: View) -> list[LibraryImage]:
    shown = [
        im for im in images if matches(im, view.text) and (im.dangling or not view.dangling_only)
    ]
    if view.sort == "name":
        return sorted(shown, key=lambda im: (not im.tags, im.name, im.id))
    if view.sort == "created":
        return sorted(shown, key=lambda im: (-im.created, im.name))
    if view.sort == "unique":
        return sorted(shown, key=lambda im: (-im.unique_size, im.name))
    return sorted(shown, key=lambda im: (-im.size, im.name))


MARKS = 2  # the images marked for a comparison, at most


def toggle_mark(marks: list[str], key: str) -> tuple[list[str], str | None]:
    """`marks` (image keys, oldest mark first) with `key` marked, or unmarked when it was;
    a third mark drops the oldest, whose key comes back with the new marks."""
    if key in marks:
        return [k for k in marks if k != key], None
    marks = [*marks, key]
    return (marks[1:], marks[0]) if len(marks) > MARKS else (marks, None)


def marked(library: Library, marks: list[str]) -> list[LibraryImage]:
    """The marked images still in the library, in marking order."""
    by_key = {im.key: im for im in library.images}
    return [by_key[key] for key in marks if key in by_key]


def compare_pair(images: list[LibraryImage]) -> tuple[LibraryImage, LibraryImage] | None:
    """Two marked images as (A, B): the older-created is A, so that the comparison reads as
    what changed since; of two created at the same second, the first marked is A."""
    if len(images) != MARKS:
        return None
    a, b = sorted(images, key=lambda im: im.created)  # stable: marking order on a tie
    return a, b


def marks_line(library: Library, marks: list[str], dropped: str | None = None) -> str:
    """What the marks mean now (the status line after Space); `dropped`: the key a third
    mark unmarked."""
    images = marked(library, marks)
    pair = compare_pair(images)
    if pair is None:
        return f"marked {_named(images[0])}: mark another with Space, then c" if images else ""
    text = f"c compares A {_named(pair[0])} (older) with B {_named(pair[1])} (newer)"
    gone = marked(library, [dropped] if dropped else [])
    return f"unmarked {_named(gone[0])}, two at most · {text}" if gone else text


def _named(im: LibraryImage) -> str:
    return safe(im.name if im.tags else im.short_id)


COLUMNS = ("IMAGE", "ID", "CREATED", "SIZE", "SHARED", "UNIQUE", "CTRS")


def cells(im: LibraryImage, now: float) -> tuple[str, ...]:
    """One row: its name (every tag), short ID, created, sizes, containers running/all."""
    tags = im.tags or ["<none>:<none>"]
    name = safe(tags[0]) + (f" +{len(tags) - 1}" if len(tags) > 1 else "")
    used = f"{im.running}/{im.containers}" if im.containers else "-"
    return (
        name,
        im.short_id,
        ago(im.created, now).removesuffix(" ago"),
        docker_size(im.size),
        docker_size(im.shared_size),
        docker_size(im.unique_size),
        used,
    )


def summary(library: Library, shown: int) -> str:
    n = len(library.images)
    listed, disk = library.listed_total, library.disk_total
    line = (
        f"{shown}/{n} images · listed {docker_size(listed)}, on disk {docker_size(disk)}:"
        f" sharing saves {docker_size(listed - disk)}"
    )
    dangling = sum(1 for im in library.images if im.dangling)
    if dangling:
        line += f" · {dangling} dangling: {docker_size(library.dangling_bytes)}"
    return line


def sharing_lines(library: Library, im: LibraryImage) -> list[tuple[str, str]]:
    """(text, kind) lines about the layers of `im` and who else holds them; kind is
    `head`, `shared`, `alone` or `dim`."""
    name = safe(im.name)
    rows = library.sharing(im)
    saved = library.saved_by_sharing(im)
    lines: list[tuple[str, str]] = []
    if any(others for _layer, others in rows):
        lines.append(
            (
                f"{name}: {docker_size(im.shared_size)} shared, {docker_size(im.unique_size)} "
                f"its own; sharing saves {docker_size(saved)} of disk",
                "head",
            )
        )
    else:
        base = im.layers[0].size if im.layers else 0
        lines.append(
            (
                f"{name} shares no layer with another image: on a base another image uses, "
                f"it would save up to {docker_size(base)} (its base layer)",
                "head",
            )
        )
    for i, (layer, others) in enumerate(rows):
        command = safe(layer.created_by.removeprefix("/bin/sh -c ")) or "(no command recorded)"
        if others:
            who = ", ".join(safe(o.name if o.tags else o.short_id) for o in others[:3])
            more = f" +{len(others) - 3}" if len(others) > 3 else ""
            lines.append(
                (
                    f"{i:>3} {docker_size(layer.size):>7}  shared with {who}{more} · {command}",
                    "shared",
                )
            )
        else:
            lines.append((f"{i:>3} {docker_size(layer.size):>7}  only here · {command}", "alone"))
    if im.approximate:
        lines.append(
            (
                "which history steps made the layers is ambiguous: sizes of 0-byte steps may "
                "be placed on a neighbouring layer",
                "dim",
            )
        )
    return lines


def history_lines(im: LibraryImage) -> list[tuple[str, str]]:
    """`docker history`, oldest first: the layer each step made, its size and command."""
    lines = [(f"{len(im.history)} steps, {len(im.layers)} layers (newest last)", "head")]
    for row in im.history:
        mark = f"L{row.layer:<3}" if row.layer is not None else "    "
        command = safe(row.created_by.removeprefix("/bin/sh -c ")) or "(no command)"
        kind = "alone" if row.layer is not None else "dim-row"  # one line each, as the others
        lines.append((f"{mark} {docker_size(row.size):>7}  {command}", kind))
    return lines


def inspect_lines(im: LibraryImage) -> list[tuple[str, str]]:
    """`docker inspect`, the parts that matter: config, platform, labels, RootFS layers."""
    config = im.inspect.get("Config") or {}
    lines = [
        (f"ID {im.id}", "head"),
        (f"tags: {safe(', '.join(im.tags)) or '<none>'}", "alone"),
        (f"platform: {safe(im.platform) or 'unknown'}", "alone"),
        (f"user: {safe(im.user) or '(root)'}", "alone"),
    ]
    for key in ("Entrypoint", "Cmd", "WorkingDir", "Env", "ExposedPorts"):
        value = config.get(key)
        if value:
            lines.append((f"{key}: {safe(str(value))}", "alone"))
    lines += [(f"label {safe(k)}={safe(v)}", "dim") for k, v in sorted(im.labels.items())]
    lines.append((f"RootFS: {len(im.layers)} layers", "head"))
    lines += [(f"  {layer.diff_id}", "dim") for layer in im.layers]
    return lines


def panel_lines(
    panel: str, library: Library, im: LibraryImage | None
) -> tuple[list[tuple[str, str]], bool]:
    """The panel's lines for the selected image (None: none selected), and whether they wrap
    (prose does; a list's rows stay one line each)."""
    if panel == "advice":
        advice = (image_advice(library, im) if im is not None else []) + library_advice(library)
        lines = [(f"{a.title}: {a.detail}", a.kind) for a in advice]
        return lines or [("nothing to advise", "dim")], True
    if im is None:
        return [], False
    if panel == "history":
        return history_lines(im), False
    if panel == "inspect":
        return inspect_lines(im), True
    return sharing_lines(library, im), False
