"""One row of the file-tree pane, and how dive's text view prints it."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.core.humanize_go import go_bytes
from explorer.core.tree import Node


@dataclass(frozen=True, slots=True)
class Row:
    node: Node
    depth: int
    prefix: str  # tree glyphs before the name, e.g. "│   ├── "
    name: str
    diff: int
    is_dir: bool
    collapsed: bool
    mode: str  # e.g. "drwxr-xr-x"
    owner: str  # "uid:gid"
    size: int  # directories: everything below that is not removed
    link: str  # symlink / hardlink target, "" otherwise
    path: str


def permission_string(go_mode: int, is_dir: bool) -> str:
    """dive's attribute column: type char plus rwx bits with setuid/setgid/sticky."""
    chars = []
    for shift, letters in ((6, "rwx"), (3, "rwx"), (0, "rwx")):
        for bit, letter in zip((4, 2, 1), letters, strict=True):
            chars.append(letter if go_mode >> shift & bit else "-")
    if go_mode & (1 << 23):
        chars[2] = "s" if chars[2] == "x" else "S"
    if go_mode & (1 << 22):
        chars[5] = "s" if chars[5] == "x" else "S"
    if go_mode & (1 << 20):
        chars[8] = "t" if chars[8] == "x" else "T"
    return ("d" if is_dir else "-") + "".join(chars)


def render_row(row: Row, attributes: bool = True) -> str:
    """One row as dive's text view prints it (no colour)."""
    name = row.name + (f" → {row.link}" if row.link else "")
    tree = row.prefix + name
    if not attributes:
        return tree
    return f"{row.mode} {row.owner:>11} {go_bytes(row.size):>10}  {tree}"
