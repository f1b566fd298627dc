"""The final filesystems' difference without building them: what each image has at a path is
looked up in its layers, top down, for the paths that can differ only.

Two images that share their first `shared` layers can differ only at the paths their own
layers (the others) touch: the paths those layers list and their parents, the paths they
white out, and everything below a path they white out, make opaque or make something other
than a directory. For a one-line change that is a handful of paths, where the trees of both
images would be every path they hold (`fsdiff.final_tree`): the lookups follow the same OCI
stacking rules, path by path.
"""

from __future__ import annotations

from collections.abc import Iterator

from explorer.core import tarscan
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.tree import NO_INFO, ref

_META = ".wh..wh."


class Look:
    """One layer, for lookups: its entries by path (the last one for a path counts), what
    its whiteouts delete, the directories it makes opaque, and (worked out when first asked)
    the directories it lists something below, with what is directly below each."""

    __slots__ = ("_kids", "entries", "opaque", "types", "whiteouts")

    def __init__(self, layer: LayerIndex) -> None:
        self.types = layer.types
        self.whiteouts: set[str] = set()
        self.opaque: set[str] = set()
        self._kids: dict[str, set[str]] | None = None
        paths = layer.paths
        if not layer.whiteouts:
            self.entries = dict(zip(paths, range(len(paths)), strict=True))
            return
        self.entries = {}
        for i, path in enumerate(paths):
            head, _, name = path.rpartition("/")
            if name == OPAQUE_MARKER:
                self.opaque.add(head)
            elif name.startswith(WHITEOUT_PREFIX):
                if not name.startswith(_META):
                    self.whiteouts.add(f"{head}/{name[4:]}" if head else name[4:])
            else:
                self.entries[path] = i

    def kids(self) -> dict[str, set[str]]:
        """Directory -> the paths directly below it that this layer lists or implies ("" is
        the root)."""
        if self._kids is None:
            kids: dict[str, set[str]] = {}
            for path in self.entries:
                child = path
                while True:
                    head = child.rpartition("/")[0]
                    below = kids.get(head)
                    if below is not None:
                        below.add(child)
                        break
                    kids[head] = {child}
                    if not head:
                        break
                    child = head
            self._kids = kids
        return self._kids

    def is_dir(self, i: int) -> bool:
        return self.types[i] == tarscan.DIR

    def hides(self, path: str, ancestors: list[str]) -> bool:
        """Does this layer hide what the layers below have at `path`: a whiteout of it or
        of a parent, an opaque parent, a parent it makes something other than a directory?"""
        if path in self.whiteouts:
            return True
        for parent in ancestors:
            if parent in self.opaque:
                return True
            if parent:
                if parent in self.whiteouts:
                    return True
                i = self.entries.get(parent)
                if i is not None and not self.is_dir(i):
                    return True
        return False


def odd(layer: LayerIndex) -> bool:
    """Does the layer hold a `.wh.` name with paths below it (not what a build writes: the
    trees decide what that means)?"""
    if not layer.whiteouts:
        return False
    return any(
        part.startswith(WHITEOUT_PREFIX)
        for path in layer.paths
        if WHITEOUT_PREFIX in path
        for part in path.split("/")[:-1]
    )


def ancestors(path: str) -> list[str]:
    """The directories above `path`, nearest first, ending with the root ("")."""
    out = []
    while path:
        path = path.rpartition("/")[0]
        out.append(path)
    return out


class Stack:
    """An image's layers, for looking up what its final filesystem (or that of its first
    layers) has at a path, as `fsdiff.final_tree` would have it."""

    def __init__(self, looks: list[Look]) -> None:
        self.looks = looks

    def state(self, path: str, top: int | None = None) -> int | None:
        """The ref of the entry the stack of layers below `top` (default: all) shows at
        `path` (relative); NO_INFO for a directory only implied; None when it has nothing."""
        above = ancestors(path)
        implied = False  # a layer above implies a directory here: a lower one may list it
        for n in range(len(self.looks) if top is None else top, 0, -1):
            look = self.looks[n - 1]
            i = look.entries.get(path)
            if i is not None:
                return NO_INFO if implied and not look.is_dir(i) else ref(n - 1, i)
            hidden = look.hides(path, above)
            if path in look.kids():
                if hidden:
                    return NO_INFO
                implied = True
            elif hidden:
                break
        return NO_INFO if implied else None


def candidates(own: list[Look], every: list[Look]) -> list[str]:
    """The paths where two stacks that differ only by the layers `own` can differ, in tree
    order (parents first, siblings in byte order); `every`: all the layers of both."""
    out: set[str] = set()
    roots: set[str] = set()  # what is below these goes (or may)
    for look in own:
        for path, i in look.entries.items():
            if not look.is_dir(i):
                roots.add(path)
            while path and path not in out:
                out.add(path)
                path = path.rpartition("/")[0]
        out |= look.whiteouts
        roots |= look.whiteouts
        roots |= look.opaque
    for look in every if roots else ():
        kids = look.kids()
        todo = list(roots)
        while todo:
            for child in kids.get(todo.pop(), ()):
                out.add(child)
                todo.append(child)
    return sorted(out, key=_tree_order)


def _tree_order(path: str) -> list[bytes]:
    """Parents first, siblings in byte order: one key type for every path (ASCII or not)."""
    return path.encode("utf-8", "surrogateescape").split(b"/")


def pairs(
    a: list[LayerIndex], b: list[LayerIndex], shared: int
) -> tuple[Stack, Stack, Iterator[tuple[str, int | None, int | None]]]:
    """Both stacks, and (path, A's ref, B's ref) at every path where they can differ."""
    looks_a = [Look(layer) for layer in a]
    looks_b = looks_a[:shared] + [Look(layer) for layer in b[shared:]]
    stack_a, stack_b = Stack(looks_a), Stack(looks_b)
    own = looks_a[shared:] + looks_b[shared:]

    def walk() -> Iterator[tuple[str, int | None, int | None]]:
        for path in candidates(own, looks_a + looks_b[shared:]):
            yield f"/{path}", stack_a.state(path), stack_b.state(path)

    return stack_a, stack_b, walk()
