"""Hypothesis strategies for valid layer tars and images, built with ``tests/robustness/builders``.

Two shapes:

* :func:`free_layers` — one layer of arbitrary entries (every tar flavour the indexer claims to
  read: ustar prefix, PAX and GNU long names and links, base-256 numbers, PAX overrides, old
  GNU and PAX 1.0 sparse files, AREGTYPE / CONTTYPE, devices, FIFOs, whiteouts, opaque
  markers...), with no filesystem meaning required: for the index-vs-``tarfile`` property.
* :func:`images` — a few layers that make sense as a stack (parents exist, hardlinks point at
  files that exist, whiteouts and opaque markers hide things below, paths change type), for
  the stack-vs-extraction property. The generator keeps its own view of the filesystem only
  to choose sensible operations; the oracle the tests compare with is a real extraction.

Names are bytes (valid UTF-8 or not): plain, markup-like, control characters, unicode, long
(forcing PAX / GNU records), rendered with ``./``, ``/``, ``//`` or ``/./`` now and then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.robustness import builders as b

OPQ = b".wh..wh..opq"

ODD_NAMES = [
    "[bold]x[/bold]",
    "[red",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "a\nb",
    "tab\there",
    "cr\r",
    "\u202eevil.txt",
    "ünïcödé",
    "日本語",
    "🐳",
    "e\u0301",
    "\x7f",
    "\x9b1m",
    " lead",
    "trail ",
    "-",
    "#x",
    "!",
    "~",
    "...",
    ".hidden",
    "a b",
    "%s%n",
    "$(id)",
    "\\",
    "+plus",
    ".w",
    ".wh",
    "wh.x",
]
RAW_NAMES = [b"caf\xe9", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"ok\x80ok"]


def _ok(name: bytes) -> bool:
    return (
        0 < len(name) <= 255
        and b"/" not in name
        and b"\0" not in name
        and name not in (b".", b"..")
        and not name.startswith(b".wh.")
    )


components = (
    st.one_of(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8),
        st.sampled_from(ODD_NAMES),
        st.sampled_from(RAW_NAMES),
        st.text(
            st.characters(exclude_categories=("Cs",), exclude_characters="/\0"),
            min_size=1,
            max_size=6,
        ),
        st.binary(min_size=1, max_size=6).map(lambda n: n.replace(b"/", b"|").replace(b"\0", b"@")),
        st.integers(60, 140).map(lambda n: "L" * n),
    )
    .map(b.as_bytes)
    .filter(_ok)
)

FILE_MODES = [0o644, 0o600, 0o755, 0o444, 0o000, 0o4755, 0o2711, 0o1644, 0o7777]
DIR_MODES = [0o755, 0o700, 0o750, 0o1777, 0o2775, 0o711]
IDS = [0, 1, 1000, 65534, 2097151, 2097152, 2**32 - 2]  # 2097152 = 8**7: base-256 in a header
MTIMES = [0, 1, 1_700_000_000, 8**11 - 1, 8**11]  # 8**11 does not fit 11 octal digits

file_data = st.one_of(
    st.binary(max_size=700),
    st.integers(0, 3).map(lambda k: bytes(512 * k)),
    st.integers(1, 2500).map(lambda n: b.noise(n)),
)


@st.composite
def render(draw, path: bytes) -> bytes:
    """How the name is spelt in the tar: mostly as is, sometimes with ``./``, ``/``, ``//``,
    ``/./`` (all of which normalise to the same path)."""
    style = draw(st.sampled_from(["plain"] * 6 + ["dot", "abs", "double", "dotmid"]))
    if style == "dot":
        return b"./" + path
    if style == "abs":
        return b"/" + path
    if style == "double" and b"/" in path:
        return path.replace(b"/", b"//", 1)
    if style == "dotmid" and b"/" in path:
        return path.replace(b"/", b"/./", 1)
    return path


def join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def split(path: bytes) -> tuple[bytes, bytes]:
    head, _, base = path.rpartition(b"/")
    return head, base


# --------------------------------------------------------------------------- one free layer


@st.composite
def free_paths(draw) -> bytes:
    parts = draw(st.lists(components, min_size=1, max_size=4))
    return b"/".join(parts)


def _sparse_chunks(draw) -> tuple[int, list[tuple[int, bytes]]]:
    chunks = []
    offset = 0
    for _ in range(draw(st.integers(0, 4))):
        offset += draw(st.integers(0, 3000))
        data = draw(st.binary(min_size=1, max_size=300))
        chunks.append((offset, data))
        offset += len(data)
    return offset + draw(st.integers(0, 5000)), chunks


@st.composite
def free_entry(draw, earlier: list[bytes]) -> b.Entry | b.Raw:
    path = draw(free_paths())
    name = draw(render(path))
    ids = dict(uid=draw(st.sampled_from(IDS)), gid=draw(st.sampled_from(IDS)))
    mtime = draw(st.sampled_from(MTIMES))
    kind = draw(
        st.sampled_from(
            ["file"] * 5
            + ["dir"] * 2
            + ["symlink", "hardlink", "fifo", "char", "block", "whiteout", "opaque"]
            + ["aregtype", "contig", "gnu_sparse", "pax_sparse", "prefix", "pax_ids", "pax_size"]
        )
    )
    mode = draw(st.sampled_from(FILE_MODES))
    if kind == "file":
        return b.file(name, draw(file_data), mode=mode, mtime=mtime, **ids)
    if kind == "dir":
        return b.directory(name, mode=draw(st.sampled_from(DIR_MODES)), mtime=mtime, **ids)
    if kind == "symlink":
        target = draw(st.one_of(free_paths(), free_paths().map(lambda p: b"/" + p)))
        return b.symlink(name, draw(st.sampled_from([target, b"../" + target, b"."])), **ids)
    if kind == "hardlink":
        target = draw(st.sampled_from(earlier)) if earlier else draw(free_paths())
        return b.hardlink(name, target, **ids)
    if kind == "fifo":
        return b.Entry(name, "fifo", mode=mode, **ids)
    if kind in ("char", "block"):
        major, minor = draw(st.integers(0, 300)), draw(st.integers(0, 2**20))
        return b.Entry(name, kind, mode=mode, devmajor=major, devminor=minor, **ids)
    if kind == "whiteout":
        head, base = split(path)
        return b.Entry(join(head, b".wh." + base), "file", mode=0)
    if kind == "opaque":
        return b.Entry(join(path, OPQ), "file", mode=0)
    if kind == "aregtype" and len(name) <= 100:
        # typeflag NUL: a regular file (a directory if the name ends in /). Not with a PAX name:
        # tarfile then decides on the truncated header name, Go (and dive) on the PAX one.
        return b.Entry(name, b"\0", draw(file_data), mode=mode, **ids)
    if kind in ("aregtype", "contig"):
        return b.Entry(name, b"7", draw(file_data), mode=mode, **ids)
    if kind == "gnu_sparse":
        realsize, chunks = _sparse_chunks(draw)
        short = path if len(path) <= 100 else b"sparse"
        return b.gnu_sparse(short.decode("utf-8", "surrogateescape"), realsize, chunks)
    if kind == "pax_sparse":
        realsize, chunks = _sparse_chunks(draw)
        return b.pax_sparse(path.decode("utf-8", "surrogateescape"), realsize, chunks)
    if kind == "prefix":  # ustar: the name split over the prefix and name fields
        data = draw(file_data)
        prefix = b"/".join(draw(st.lists(components, min_size=1, max_size=3)))[:155]
        tail = split(path)[1][:100]
        if {b"", b".", b".."} & {*prefix.split(b"/"), tail}:
            return b.file(name, data)
        hdr = b.tar_header(tail, size=len(data), patch={"prefix": prefix}, **ids)
        return b.Raw(hdr + data + b.padding(len(data)))
    if kind == "pax_ids":  # ids and mtime only in PAX records (beyond what a header holds)
        pax = {
            "uid": str(draw(st.integers(0, 2**40))),
            "gid": str(draw(st.integers(0, 2**40))),
            "mtime": draw(st.sampled_from(["0", "1700000000.123456789", "99999999999"])),
            "comment": draw(st.binary(max_size=40)),
        }
        return b.file(name, draw(file_data), pax=pax)
    data = draw(file_data)  # pax_size: the header says 0, a PAX record gives the real size
    return b.file(name, data, size=0, pax={"size": str(len(data))})


@st.composite
def free_layers(draw) -> tuple[list[b.Entry | b.Raw], str, bool]:
    """(entries, long-name style, end-of-archive blocks written)."""
    entries: list[b.Entry | b.Raw] = []
    earlier: list[bytes] = []
    for _ in range(draw(st.integers(0, 12))):
        e = draw(free_entry(earlier))
        entries.append(e)
        if isinstance(e, b.Entry):
            earlier.append(b.as_bytes(e.name))
    return entries, draw(st.sampled_from(["pax", "gnu"])), draw(st.booleans())


# --------------------------------------------------------------------------- stacked images

KINDS = ("file", "dir", "symlink", "hardlink", "fifo")


@dataclass
class LayerPlan:
    entries: list[b.Entry] = field(default_factory=list)
    duplicates: bool = False  # a path written twice in this layer (the last one wins)
    same_layer_whiteout: bool = False  # a whiteout and an entry for the same path
    opaque_alone: bool = False  # an opaque directory with no other entry below it


@dataclass
class ImagePlan:
    layers: list[LayerPlan]

    @property
    def tars(self) -> list[bytes]:
        return [b.tar_bytes(layer.entries) for layer in self.layers]

    def describe(self) -> str:
        """One line per layer: the entries as (type, name[, link target])."""
        lines = []
        for n, layer in enumerate(self.layers):
            items = []
            for e in layer.entries:
                item = f"{e.type}:{b.as_bytes(e.name)!r}"
                if e.linkname:
                    item += f"->{b.as_bytes(e.linkname)!r}"
                items.append(item)
            lines.append(f"layer {n}: " + ", ".join(items))
        return "\n".join(lines)

    @property
    def hardlinks(self) -> bool:
        return any(e.type == "hardlink" for layer in self.layers for e in layer.entries)

    @property
    def duplicates(self) -> bool:
        return any(layer.duplicates for layer in self.layers)


def _under(path: bytes, root: bytes) -> bool:
    return path.startswith(root + b"/")


@dataclass(frozen=True)
class Allow:
    """Legal constructs that can be left out of the generated images: while the product gets
    one wrong (a strict xfail example pins it), turning it off here keeps the property
    guarding everything else. All on: the stacking bugs they found are fixed (6db19e0)."""

    same_layer_whiteouts: bool = True  # a whiteout and an entry for one path in one layer
    opaque_alone: bool = True  # an opaque directory with nothing else below it in its layer
    orphan_whiteouts: bool = True  # a whiteout under a directory the same layer hides


@st.composite
def images(draw, max_layers: int = 5, allow: Allow = Allow()) -> ImagePlan:
    """Layers that stack sensibly (OCI semantics, as docker writes them)."""
    pool = draw(st.lists(components, min_size=2, max_size=6, unique=True))
    names = st.one_of(st.sampled_from(pool), st.sampled_from(pool), components)
    view: dict[bytes, str] = {}  # path -> kind, the filesystem as the generator sees it
    plans = []
    for _ in range(draw(st.integers(1, max_layers))):
        plans.append(_layer(draw, view, names, allow))
    return ImagePlan(plans)


def _layer(draw, view: dict[bytes, str], names, allow: Allow) -> LayerPlan:
    plan = LayerPlan()
    lower = dict(view)
    new: dict[bytes, str] = {}  # written by this layer
    hidden: set[bytes] = set()  # lower paths this layer whites out or hides
    declared: set[bytes] = set()  # directories with an entry in this layer
    whited: set[bytes] = set()  # paths this layer has a whiteout for
    opaque_dirs: list[bytes] = []

    def visible() -> dict[bytes, str]:
        out = {p: k for p, k in lower.items() if p not in hidden}
        out.update(new)
        return out

    def hide(path: bytes) -> None:
        for p in lower:
            if p == path or _under(p, path):
                hidden.add(p)

    def declare_parents(path: bytes) -> None:
        """Docker writes an entry for the parent directory of what a layer changes."""
        head = split(path)[0]
        chain = []
        while head and head not in declared:
            chain.append(head)
            head = split(head)[0]
        for d in reversed(chain):
            if draw(st.integers(0, 9)) < 7:  # sometimes left out: the directory is merged
                declared.add(d)
                new[d] = "dir"
                plan.entries.append(
                    b.directory(draw(render(d)), mode=draw(st.sampled_from(DIR_MODES)))
                )

    def add(path: bytes, kind: str) -> None:
        existing = visible().get(path)
        if existing == "dir" and kind != "dir":
            hide(path)  # a directory replaced by a non-directory loses what it had
            for p in [p for p in new if _under(p, path)]:
                del new[p]
        if existing is not None and existing != "dir" and kind == "dir":
            pass  # a file replaced by a directory
        if path in new:
            plan.duplicates = True
        declare_parents(path)
        ids = dict(uid=draw(st.sampled_from(IDS)), gid=draw(st.sampled_from(IDS)))
        name = draw(render(path))
        if kind == "file":
            mode = draw(st.sampled_from(FILE_MODES))
            plan.entries.append(b.file(name, draw(file_data), mode=mode, **ids))
        elif kind == "dir":
            declared.add(path)
            mode = draw(st.sampled_from(DIR_MODES))
            plan.entries.append(b.directory(name, mode=mode, **ids))
        elif kind == "symlink":
            target = draw(
                st.one_of(st.just(b"/etc/passwd"), names, names.map(lambda n: b"../" + n))
            )
            if draw(st.booleans()):
                target = b"/".join(draw(st.lists(names, min_size=1, max_size=4)))
            if draw(st.integers(0, 9)) == 0:
                target = b"t" * draw(st.integers(101, 300))  # a PAX linkpath
            plan.entries.append(b.symlink(name, target, **ids))
        elif kind == "hardlink":
            # a target written earlier in this layer: docker writes a hardlink only when both
            # names are in the same layer tar (to a lower file it writes a copy)
            files = sorted(p for p, k in new.items() if k in ("file", "hardlink"))
            target = draw(st.sampled_from(files))
            plan.entries.append(b.hardlink(name, draw(render(target)), **ids))
        else:
            plan.entries.append(b.fifo(name, mode=draw(st.sampled_from([0o644, 0o600]))))
        new[path] = kind

    for _ in range(draw(st.integers(0, 7))):
        op = draw(st.sampled_from(["add"] * 6 + ["whiteout"] * 2 + ["opaque", "implicit"]))
        now = visible()
        if op == "whiteout":
            # a lower path (or, rarely, one that exists nowhere: a no-op)
            choices = sorted(
                p
                for p in lower
                if p not in hidden
                and p not in new
                and p not in declared
                and p not in whited
                and not any(_under(n, p) for n in new)
                and (allow.orphan_whiteouts or not any(_under(w, p) for w in whited))
            )
            if not choices or draw(st.integers(0, 9)) == 0:
                dirs = [b"", *sorted(p for p, k in now.items() if k == "dir")]
                path = join(draw(st.sampled_from(dirs)), draw(names))
                if path in now or path in lower or path in whited:
                    continue
            else:
                path = draw(st.sampled_from(choices))
            declare_parents(path)
            head, base = split(path)
            plan.entries.append(b.Entry(draw(render(join(head, b".wh." + base))), mode=0))
            whited.add(path)
            hide(path)
            continue
        if op == "opaque":
            dirs = sorted(p for p in lower if lower[p] == "dir" and p not in hidden)
            dirs = [d for d in dirs if d not in new or new[d] == "dir"]
            if draw(st.integers(0, 19)) == 0:
                dirs.append(b"")  # the root itself
            if not dirs:
                continue
            d = draw(st.sampled_from(dirs))
            if not allow.orphan_whiteouts and any(_under(w, d) or not d for w in whited):
                continue  # it would hide the parent of a whiteout of this layer
            if d and d not in declared:
                declare_parents(d)
                declared.add(d)
                new[d] = "dir"
                plan.entries.append(b.directory(draw(render(d))))
            plan.entries.append(b.Entry(draw(render(join(d, OPQ))), mode=0))
            opaque_dirs.append(d)
            for p in lower:
                if _under(p, d) or (not d and p):
                    hidden.add(p)
            continue
        if op == "implicit":  # a file under a directory no layer has an entry for
            d = draw(names)
            dirs = [b"", *sorted(p for p, k in now.items() if k == "dir")]
            parent = join(draw(st.sampled_from(dirs)), d)
            if parent in now or parent in lower or any(_under(p, parent) for p in now):
                continue
            if parent in whited:
                continue
            path = join(parent, draw(names))
            declared.add(parent)  # no entry: it must not be declared later in this layer
            plan.entries.append(b.file(draw(render(path)), draw(file_data)))
            new[parent] = "dir"
            new[path] = "file"
            continue
        dirs = [b"", *sorted(p for p, k in now.items() if k == "dir")]
        path = join(draw(st.sampled_from(dirs)), draw(names))
        kind = draw(st.sampled_from(["file"] * 4 + ["dir"] * 3 + ["symlink", "hardlink", "fifo"]))
        if kind == "hardlink" and not any(k in ("file", "hardlink") for k in new.values()):
            kind = "file"
        if path in whited:  # a whiteout for this very path in this layer
            if not allow.same_layer_whiteouts:
                continue
            plan.same_layer_whiteout = True
        if path in new and (new[path] != "file" or kind != "file"):
            continue  # only regular files are written twice (the last one wins)
        if kind != "dir" and any(_under(p, path) for p in new):
            continue  # a directory this layer filled, replaced by a file in the same layer
        if kind != "dir" and not allow.orphan_whiteouts and any(_under(w, path) for w in whited):
            continue  # it would hide the parent of a whiteout of this layer
        if kind == "hardlink" and path in now:
            continue  # a hardlink over its own target, or over a linked file: not worth it
        add(path, kind)
    for d in opaque_dirs:
        if any(_under(p, d) for p in new) or not d or visible().get(d) != "dir":
            continue
        if allow.opaque_alone:
            plan.opaque_alone = True
            continue
        # a directory made opaque usually gets new content in the same layer
        path = join(d, b"filler")
        if path not in whited:
            plan.entries.append(b.file(draw(render(path)), draw(file_data)))
            new[path] = "file"
    view.clear()
    view.update(visible())
    return plan
