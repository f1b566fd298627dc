"""Our hidden bytes grouped for people: by the pair of layers (the one that added the bytes,
the one that hid them), the reason, and the directory they are in. One `chmod -R` over
30,000 files is one group, not 30,000 rows; a group opens into its directories and files.

Each pair's rows make a tree of path components; a group is a directory whose chain of
single subdirectories is followed down to where the tree branches (`/srv/data`, not `/srv`).
Sizes count every hidden copy, `files` counts distinct paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.findingimage import hidden_rows
from explorer.core.reclaim import Reclaimable


@dataclass(eq=False)
class Node:
    """A directory or a file in one pair's tree (a file has no children)."""

    size: int = 0
    files: int = 0
    children: dict[str, Node] = field(default_factory=dict)
    is_file: bool = False


@dataclass(frozen=True)
class Group:
    """A directory (or a lone file) of hidden bytes: `path` as shown, its node's totals."""

    path: str
    added_by: int
    hidden_by: int
    reason: str
    node: Node

    @property
    def size(self) -> int:
        return self.node.size

    @property
    def files(self) -> int:
        return self.node.files

    @property
    def is_file(self) -> bool:
        return self.node.is_file

    def children(self) -> list[Group]:
        """What the group holds, largest first (each directory followed down as a group)."""
        out = [self._at(f"{self.path}/{name}", node) for name, node in self.node.children.items()]
        out.sort(key=lambda g: (-g.size, g.path))
        return out

    def largest_file(self) -> str:
        """The path of the group's largest file (all its hidden copies counted)."""
        path, node = self.path, self.node
        while not node.is_file:
            name, node = max(node.children.items(), key=lambda kv: (kv[1].size, kv[0]))
            path = f"{path}/{name}"
        return path

    def _at(self, path: str, node: Node) -> Group:
        while not node.is_file and len(node.children) == 1:
            name, node = next(iter(node.children.items()))
            path = f"{path}/{name}"
        return Group(path, self.added_by, self.hidden_by, self.reason, node)


def group_hidden(rec: Reclaimable) -> list[Group]:
    """The top groups of every (added by, hidden by, reason), largest first."""
    roots: dict[tuple[int, int, str], Node] = {}
    for path, size, added_by, hidden_by, reason in hidden_rows(rec):
        key = (added_by, hidden_by, reason)
        node = roots.get(key)
        if node is None:
            node = roots[key] = Node()
        parts = path.strip("/").split("/")
        new = False
        trail = [node]
        for name in parts:
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = Node()
                new = True
            node = child
            trail.append(node)
        node.is_file = True
        for at in trail:
            at.size += size
            if new:
                at.files += 1
    groups = []
    for (added_by, hidden_by, reason), root in roots.items():
        groups.extend(Group("", added_by, hidden_by, reason, root).children())
    groups.sort(key=lambda g: (-g.size, g.path, g.added_by, g.hidden_by))
    return groups
