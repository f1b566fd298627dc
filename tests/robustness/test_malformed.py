"""Malformed-input corpus (issue 5): every case generated here, run through the real CLI.

Each :class:`Case` builds one input in a temp dir, runs ``python -m explorer INPUT --json OUT``
in a subprocess (timeout, ``RLIMIT_AS`` memory cap) and expects one of two outcomes:

* :class:`Rejected` — exit 2, exactly one stderr line (``warning:`` lines aside) matching a
  pattern and naming where the problem is, no traceback, no output or temp file left;
* :class:`Analysed` — exit 0, valid dive-schema JSON with normalised names, stderr holding
  nothing but ``warning:`` lines, and a case-specific check of the JSON.

Never a traceback, a hang or a memory blow-up, and never a raw control character on stderr.
``docs/robustness.md`` is generated from :data:`CASES` (see ``test_robustness_doc.py``).
"""

from __future__ import annotations

import gzip
import json
import mmap
import os
import platform
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import builders as b
from .builders import (
    EOF_MARKER,
    MT_LAYER_GZIP,
    Entry,
    Image,
    Layer,
    Raw,
    device,
    directory,
    fifo,
    file,
    hardlink,
    opaque,
    symlink,
    whiteout,
)
from .harness import (
    DEFAULT_MEM,
    GIB,
    assert_analysed,
    assert_rejected,
    check_schema,
    load_json,
    run_cli,
)

# --------------------------------------------------------------------------- expectations

TRUNC = r"truncat|unexpected (end|eof)|premature end|incomplete|short read|ends (early|before)"
MISSING = r"missing|not found|no such|not (present|included|in the archive)|absent"
DIGEST = r"digest|does not match|mismatch|checksum|hash"
NOT_IMAGE = (
    r"not an? (valid )?(container |oci |docker |docker-archive )?image|no manifest"
    r"|unrecogni[sz]ed|unknown (archive|image) format|empty"
)
# Corruption may be caught by the codec, or by the diff_id check on what it produced.
GZIP_BAD = r"gzip|deflate|decompress|corrupt|invalid|crc|checksum|truncat|unexpected end|diff.?id"
ZSTD_BAD = r"zstd|zstandard|decompress|corrupt|invalid|checksum|truncat|unexpected end|diff.?id"
TAR_BAD = r"tar|header|checksum|corrupt|invalid|malformed"
PAX_BAD = r"pax|header|invalid|malformed|record|size|" + TRUNC
TOO_LONG = r"has a (name|link target) of [\d,]+ bytes \(the limit is 16,384\)"
DEEP = r"is [\d,]+ levels deep \(the limit is 2,048\)"
NESTED = r"JSON nested too deeply"


@dataclass(frozen=True)
class Rejected:
    """Exit 2 with one error line matching ``pattern`` (case-insensitive) that contains one of
    the names the build returned (``where`` says what they are, for the docs)."""

    pattern: str
    where: str = ""
    problem: str = ""  # for the docs, when the pattern is not one of the named ones


@dataclass(frozen=True)
class Analysed:
    """Exit 0 and JSON passing ``check`` (given the parsed document, or the output Path when
    ``load`` is False). ``warning``: True = a ``warning:`` line is required, None = optional."""

    check: Callable | None = None
    what: str = ""
    warning: bool | None = None
    load: bool = True


@dataclass
class Built:
    path: Path
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Built]
    expect: Rejected | Analysed
    doc: str
    args: tuple[str, ...] = ()
    timeout: float = 60
    mem: int = DEFAULT_MEM
    slow: bool = False
    tags: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- JSON checks


def files_of(doc: dict, layer: int) -> dict[str, dict]:
    return {f["path"]: f for f in doc["layer"][layer]["fileList"]}


def has(path: str, layer: int = -1, **fields) -> Callable[[dict], None]:
    """``path`` is listed in ``layer`` (literally), with the given field values."""

    def check(doc: dict) -> None:
        files = files_of(doc, layer)
        assert path in files, f"{path!r} not in layer {layer}: {sorted(files)[:30]!r}"
        for key, want in fields.items():
            got = files[path][key]
            ok = got in want if isinstance(want, set | tuple) else got == want
            assert ok, f"{path!r} {key}: expected {want!r}, got {got!r}"

    return check


def listed_once(path: str, layer: int = -1) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        n = sum(f["path"] == path for f in doc["layer"][layer]["fileList"])
        assert n == 1, f"{path!r} listed {n} times in layer {layer}"

    return check


def no_path(pred: Callable[[str], bool], what: str) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        bad = [f["path"] for lay in doc["layer"] for f in lay["fileList"] if pred(f["path"])]
        assert not bad, f"{what}: {bad[:5]!r}"

    return check


def rows_starting(prefix: str, n: int, layer: int = -1) -> Callable[[dict], None]:
    """Exactly ``n`` rows of ``layer`` have a path starting with ``prefix`` (none merged)."""

    def check(doc: dict) -> None:
        rows = [f["path"] for f in doc["layer"][layer]["fileList"] if f["path"].startswith(prefix)]
        assert len(rows) == n, f"expected {n} rows starting {prefix!r}, got {rows!r}"

    return check


def empty_layer(layer: int) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        rows = doc["layer"][layer]["fileList"]
        assert not rows, f"layer {layer} should list nothing, got {rows[:5]!r}"

    return check


def n_layers(n: int) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        assert len(doc["layer"]) == n, f"expected {n} layers, got {len(doc['layer'])}"

    return check


def layer_size(layer: int, size: int) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        got = doc["layer"][layer]["sizeBytes"]
        assert got == size, f"layer {layer} sizeBytes: expected {size}, got {got}"

    return check


def command_has(layer: int, text: str) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        cmd = doc["layer"][layer]["command"]
        assert text in cmd, f"layer {layer} command {cmd!r} lacks {text!r}"

    return check


def all_of(*checks: Callable[[dict], None]) -> Callable[[dict], None]:
    def check(doc: dict) -> None:
        for c in checks:
            c(doc)

    return check


# --------------------------------------------------------------------------- images

SH = b"#!" + b"x" * 100


def base_layer(compression: str = "none") -> Layer:
    return Layer(
        [
            directory("bin"),
            file("bin/sh", SH, mode=0o755),
            directory("etc"),
            file("etc/os-release", b"ID=test\n"),
        ],
        compression,
        command="/bin/sh -c #(nop) ADD file:rootfs in / ",
    )


def app_layer(compression: str = "none") -> Layer:
    return Layer(
        [
            directory("app"),
            file("app/main.py", b"print(1)\n"),
            symlink("app/sh", "/bin/sh"),
            directory("etc"),
            whiteout("etc/os-release"),
        ],
        compression,
        command="/bin/sh -c make app",
    )


def std_image(compression: str = "none", **kw) -> Image:
    return Image([base_layer(compression), app_layer(compression)], **kw)


STD_CHECK = all_of(
    n_layers(2),
    has("bin/sh", 0, size=len(SH), typeFlag=48, fileMode=0o755, isDir=False),
    has("etc/os-release", 0, size=8, typeFlag=48, fileMode=0o644),
    has("etc", 0, isDir=True),
    has("app/main.py", 1, size=9),
    has("app/sh", 1, typeFlag=50, linkName="/bin/sh"),
    has("etc/.wh.os-release", 1),
    layer_size(0, len(SH) + 8),
    command_has(1, "make app"),
)


def one_layer(*entries: Entry | Raw, **kw) -> Image:
    return Image([Layer(list(entries), command="RUN test", **kw)])


def on_base(*entries: Entry | Raw, **kw) -> Image:
    return Image([base_layer(), Layer(list(entries), command="RUN test", **kw)])


# --------------------------------------------------------------------------- build helpers

Mutate = Callable[[b.Archive], tuple[str, ...] | None]


def tar(
    make: Callable[[], b.Archive],
    mutate: Mutate | None = None,
    after: Callable[[Path, b.Archive], tuple[str, ...] | None] | None = None,
    *,
    eof: bool = True,
) -> Callable[[Path], Built]:
    """A build writing ``make()`` as ``image.tar``: ``mutate`` edits the archive before it is
    written, ``after`` edits the written file; either may return the names the error must
    mention (one of)."""

    def build(tmp: Path) -> Built:
        arc = make()
        names = (mutate(arc) if mutate else None) or ()
        path = arc.write_tar(tmp / "image.tar", eof=eof)
        names += (after(path, arc) if after else None) or ()
        return Built(path, tuple(names))

    return build


def oci_dir(make: Callable[[], b.Archive], mutate: Mutate | None = None) -> Callable:
    def build(tmp: Path) -> Built:
        arc = make()
        names = (mutate(arc) if mutate else None) or ()
        return Built(arc.write_dir(tmp / "oci-layout"), tuple(names))

    return build


def raw_file(data: bytes) -> Callable[[Path], Built]:
    def build(tmp: Path) -> Built:
        path = tmp / "image.tar"
        path.write_bytes(data)
        return Built(path, ("image.tar",))

    return build


def legacy(image: Callable[[], Image] = std_image, **kw) -> Callable[[], b.Archive]:
    return lambda: b.docker_archive(image(), **kw)


def oci(*images: Callable[[], Image], **kw) -> Callable[[], b.Archive]:
    return lambda: b.oci_archive(*(i() for i in images), **kw)


def d25(image: Callable[[], Image] = std_image) -> Callable[[], b.Archive]:
    return lambda: b.docker25_archive(image())


def v1(arc: b.Archive, i: int) -> str:
    return arc.layer_paths[i].split("/")[0][:12]


def layer_names(arc: b.Archive, i: int) -> tuple[str, ...]:
    """Ways an error may name layer i: its v1 dir / blob digest / diff_id (12 hex), its index."""
    lay = arc.layers[i]
    return (
        arc.layer_paths[i].split("/")[0][:12],
        lay.hex[:12],
        lay.diff_id.split(":")[-1][:12],
    )


def cut_member(name_of: Callable[[b.Archive], str], where: str = "data") -> Callable:
    """``after`` hook: truncate the written tar in the middle of a member's data (or header)."""

    def after(path: Path, arc: b.Archive) -> tuple[str, ...]:
        member = name_of(arc)
        hdr, data, size = b.member_span(path, member)
        b.truncate(path, data + size // 2 if where == "data" else hdr + 200)
        return ("image.tar", member.split("/")[0][:12], member.split("/")[-1][:12])

    return after


def drop(name_of: Callable[[b.Archive], str], names: Callable[[b.Archive], tuple]) -> Mutate:
    def mutate(arc: b.Archive) -> tuple[str, ...]:
        found = names(arc)
        arc.remove(name_of(arc))
        return found

    return mutate


def edit(name_of: Callable[[b.Archive], str], fn: Callable[[bytes], bytes], names) -> Mutate:
    def mutate(arc: b.Archive) -> tuple[str, ...]:
        found = names(arc)
        arc[name_of(arc)] = fn(arc[name_of(arc)])
        return found

    return mutate


def set_config(image: Callable[[], Image], fn: Callable[[dict], dict | bytes]) -> Callable:
    """An image whose config is ``fn(generated config)`` (bytes kept as they are)."""

    def make() -> Image:
        img = image()
        new = fn(b.config_dict(img))
        img.config = new if isinstance(new, bytes) else b.jdump(new)
        return img

    return make


def platform_image(arch: str, variant: str | None = None) -> Callable[[], Image]:
    tag = f"{arch}{variant or ''}"
    return lambda: Image(
        [Layer([file(f"marker-{tag}", tag.encode())], command=f"build {tag}")],
        architecture=arch,
        variant=variant,
    )


HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine().lower()
)
OTHER_ARCHES = [a for a in ("amd64", "arm64", "s390x", "ppc64le") if a != HOST_ARCH]


def legacy_symlinked(target: Callable[[b.Archive], str]) -> Mutate:
    """Replace layer 1's ``layer.tar`` by a symlink (relative, as docker save writes them)."""

    def mutate(arc: b.Archive) -> tuple[str, ...]:
        arc.add_symlink(arc.layer_paths[1], target(arc))
        return (v1(arc, 1), "layer.tar")

    return mutate


def two_identical_layers() -> Image:
    return Image([base_layer(), base_layer()])


def set_manifest_layer(i: int, value: str) -> Mutate:
    def mutate(arc: b.Archive) -> tuple[str, ...]:
        manifest = json.loads(arc["manifest.json"])
        manifest[0]["Layers"][i] = value
        arc.set_json("manifest.json", manifest)
        return ("evil",)

    return mutate


def index_manifest_digest(digest: str) -> Mutate:
    def mutate(arc: b.Archive) -> tuple[str, ...]:
        index = json.loads(arc["index.json"])
        index["manifests"][0]["digest"] = digest
        arc.set_json("index.json", index)
        return ()

    return mutate


def gz_data() -> bytes:
    return b"".join(b"line %d of some text that compresses\n" % i for i in range(2000))


def gz_image(compression: str = "gzip", **kw) -> Callable[[], Image]:
    """One layer with a 76 kB compressible file and a 4 kB incompressible one."""
    entries = [directory("data"), file("data/text", gz_data()), file("data/noise", b.noise(4096))]
    return lambda: Image([Layer(list(entries), compression, command="RUN gen", **kw)])


def million_check(out: Path) -> None:
    """Count fileList rows without loading the 150 MB export into this process."""
    with open(out, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        rows = sum(1 for _ in re.finditer(rb'"path"\s*:', mm))
        assert rows >= 1_000_000, f"only {rows} fileList rows"
        assert mm.find(b"d00999/f000999") != -1, "last entry missing"
        assert mm.find(b"d00000/f000000") != -1, "first entry missing"
        assert mm[-200:].rstrip().endswith(b"}"), "export does not end like JSON"
        assert mm.find(b"efficiencyScore") != -1


MIB = 1 << 20
ZSTD_SKIPPABLE_FRAME = b"\x5a\x2a\x4d\x18" + (6).to_bytes(4, "little") + b"notes!"


def gz_tar(
    make: Callable[[], b.Archive],
    mutate: Mutate | None = None,
    extra: Callable[[], Iterator[bytes]] | None = None,
) -> Callable[[Path], Built]:
    """A build writing ``make()`` as a gzip-compressed ``image.tar.gz`` (read in one forward
    pass, as an engine's export), the raw tar members ``extra`` yields streamed in first."""

    def build(tmp: Path) -> Built:
        arc = make()
        names = (mutate(arc) if mutate else None) or ()
        plain = arc.write_tar(tmp / "image.tar", eof=False)
        path = tmp / "image.tar.gz"
        with gzip.open(path, "wb", compresslevel=1) as out:
            for member in extra() if extra else ():
                out.write(member)
            with open(plain, "rb") as src:
                shutil.copyfileobj(src, out, MIB)
            out.write(EOF_MARKER)
        plain.unlink()
        return Built(path, (*names, "image.tar.gz"))

    return build


def many_members(count: int, name: str, body: bytes) -> Callable[[], Iterator[bytes]]:
    """``count`` members named ``name % n`` (names of one length) holding ``body``: headers
    from a template, fast enough for 200,000."""

    def members() -> Iterator[bytes]:
        tpl = bytearray(b.tar_header(name % 0, size=len(body)))
        tpl[148:156] = b" " * 8
        base = sum(tpl) - sum((name % 0).encode())
        data = body + b.padding(len(body))
        for n in range(count):
            member = (name % n).encode()
            header = bytearray(tpl)
            header[: len(member)] = member
            header[148:156] = b"%06o\x00 " % (base + sum(member))
            yield bytes(header) + data

    return members


SMALL_JSON = b"[" + b",".join([b'{"k":0}'] * 32) + b"]"  # 32 objects in 257 bytes


def nested_empty_lists(size: int) -> Callable[[b.Archive], tuple[str, ...]]:
    """A manifest.json of ``size`` bytes: ``[[],[],...]``, a list object per 3 bytes."""

    def mutate(arc: b.Archive) -> tuple[str, ...]:
        arc["manifest.json"] = b"[" + b"[]," * (size // 3) + b"[]]"
        return ("manifest.json",)

    return mutate


def ambiguous_index(arc: b.Archive) -> tuple[str, ...]:
    return tuple(d["digest"][7:19] for d in json.loads(arc["index.json"])["manifests"])


def fifo_of(make: Callable[[], b.Archive]) -> Callable[[Path], Built]:
    """``make()`` written into a named pipe by a thread (as `<(cat image.tar)` would)."""

    def build(tmp: Path) -> Built:
        data = make().write_tar(tmp / "image.tar").read_bytes()
        path = tmp / "image.fifo"
        os.mkfifo(path)

        def feed() -> None:
            with open(path, "wb") as pipe:  # waits for the reader
                pipe.write(data)

        threading.Thread(target=feed, daemon=True).start()
        return Built(path, ("image.fifo",))

    return build


def lazy_image(make: Callable[[], Image]) -> Callable[[], Image]:
    return make


# A name long enough to need PAX/GNU records, and past PATH_MAX.
LONG = "long-" + "n" * 295
DEEP_WIDE = "/".join(["d" * 99] * 45) + "/leaf"
DEEP_NARROW = "/".join(["a"] * 2047) + "/leaf"  # 2,048 levels: the deepest path allowed
TOO_DEEP = "a/" + DEEP_NARROW
MIB_PATH = "/".join(["c" * 99] * 10_000) + "/leaf"  # 1 MB, 10,000 levels
MIB_AAA = "a/" * 500_000 + "z"  # 1 MB, 500,001 levels
MAX_PATH = "x0000/" + "/".join(["p" * 255] * 64)[: (16 << 10) - 6]  # 16,384 bytes


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_nesting(text: bytes, depth: int) -> bytes:
    """A JSON document (object or list) with one more value nested ``depth`` deep."""
    if text.lstrip().startswith(b"["):
        return b"[" + nested(depth).encode() + b"," + text.lstrip()[1:]
    return b'{"deep": ' + nested(depth).encode() + b"," + text.lstrip()[1:]


def deep_chains(n: int, levels: int) -> Callable[[], Image]:
    """``n`` files each ``levels`` deep below their own top directory, no directory entries
    (every level an implicit directory), in a gzip layer of a few KB."""
    chain = "/".join(["a"] * (levels - 2))
    entries = [file(f"x{i}/{chain}/leaf", b"deep") for i in range(n)]
    return lambda: Image([Layer(entries, "gzip", command="RUN deep")])


def long_paths(n: int, path: Callable[[int], str]) -> Callable[[], Image]:
    """A gzip layer of ``n`` files named by ``path(i)``, generated lazily."""
    entries = (file(path(i), b"") for i in range(n))
    return lambda: Image([Layer(entries, "gzip", command="RUN long")])


def odd_metadata(config: dict) -> dict:
    """Values of odd types and odd times where text belongs (issue 12: the TUI crashed)."""
    config.update(os=5, architecture=["amd64"], variant={"v": "\x1b[31m8"})
    history = config["history"]
    history[0].update(created="99999999999999999999", created_by=["/bin/sh", "-c", "ls"])
    history[1].update(created="\u00b2", comment={"by": "me"})
    history.append({"created": 12, "created_by": 5, "empty_layer": True, "comment": None})
    return config


def odd_tag(arc: b.Archive) -> None:
    index = json.loads(arc["index.json"])
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": 5}
    arc.set_json("index.json", index)


OSC52 = "\x1b]52;c;ZXZpbA==\x07"
CTRL_NAMES = [
    "ctl/tab\there",
    "ctl/new\nline",
    "ctl/bell\x07",
    "ctl/cr\rret",
    "ctl/del\x7f",
    "ctl/c1\x9b31m",
]
ANSI_NAMES = [
    "ansi/\x1b[31mred\x1b[0m",
    f"ansi/{OSC52}osc52",
    "ansi/\x1b]8;;https:evil.example\x1b\\link",
    "ansi/\x1b[2J\x1b[Hclear",
]
MARKUP_NAMES = [
    "markup/[bold]x[/bold]",
    "markup/[link=https:evil.example]y[/link]",
    "markup/[/]",
    "markup/[@click=app.quit]z",
    "markup/\\[esc]",
]
BAD_CMD = f"RUN echo {OSC52} [bold]boom[/bold] \x1b[31mred[/] [@click=app.quit]"


# --------------------------------------------------------------------------- the corpus

CASES: list[Case] = [
    # ---- controls: the builders make valid images of every format
    Case(
        "control-docker-archive",
        tar(legacy()),
        Analysed(STD_CHECK, "all entries, sizes, modes, links, whiteout, command"),
        "valid legacy `docker save` archive, 2 layers",
    ),
    Case(
        "control-docker25-gzip",
        tar(d25(lambda: std_image("gzip"))),
        Analysed(STD_CHECK, "as the legacy control"),
        "valid Docker 25+ archive (OCI layout + manifest.json), gzip layers",
    ),
    Case(
        "control-oci-archive-zstd",
        tar(oci(lambda: std_image("zstd"))),
        Analysed(STD_CHECK, "as the legacy control"),
        "valid OCI archive, zstd layers",
    ),
    Case(
        "control-oci-dir",
        oci_dir(oci(lambda: std_image("gzip"))),
        Analysed(STD_CHECK, "as the legacy control"),
        "valid OCI layout directory, gzip layers",
    ),
    Case(
        "control-estargz",
        tar(oci(lambda: std_image("estargz"))),
        Analysed(
            all_of(STD_CHECK, no_path(lambda p: "stargz.index.json" in p, "TOC listed as a file")),
            "as the legacy control; the TOC is not a file",
        ),
        "valid OCI archive, estargz layers (TOC after the end-of-archive blocks, footer)",
    ),
    # ---- outer archive
    Case(
        "empty-file",
        raw_file(b""),
        Rejected(
            NOT_IMAGE + "|" + TRUNC, "the input file", problem="empty / not a container image"
        ),
        "0-byte file",
    ),
    Case(
        "empty-tar",
        raw_file(EOF_MARKER * 5),
        Rejected(NOT_IMAGE, "the input file"),
        "tar with no members (only zero blocks)",
    ),
    Case(
        "not-a-tar",
        raw_file(b"this is not an image, just some text\n" * 40),
        Rejected(
            NOT_IMAGE + "|not a tar", "the input file", problem="not a tar / not a container image"
        ),
        "a text file",
    ),
    Case(
        "plain-rootfs-tar",
        raw_file(
            b.tar_bytes(
                [
                    directory("bin"),
                    file("bin/sh", SH),
                    directory("etc"),
                    file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                    file("README.md", b"# hi\n"),
                ]
            )
        ),
        Rejected(NOT_IMAGE, "the input file"),
        "a plain rootfs tar (no manifest.json / index.json)",
    ),
    Case(
        "truncated-outer-tar",
        tar(legacy(), after=cut_member(lambda a: a.layer_paths[1])),
        Rejected(TRUNC, "the archive or the member"),
        "legacy archive cut mid 2nd layer.tar (manifest.json, at the end, lost too)",
    ),
    Case(
        "truncated-outer-tar-manifest-first",
        tar(legacy(manifest_first=True), after=cut_member(lambda a: a.layer_paths[0])),
        Rejected(TRUNC, "the archive or the member"),
        "legacy archive, manifest.json first, cut in the middle of the 1st layer.tar",
    ),
    Case(
        "truncated-outer-tar-mid-header",
        tar(legacy(manifest_first=True), after=cut_member(lambda a: a.layer_paths[1], "header")),
        Rejected(TRUNC, "the archive or the member"),
        "legacy archive cut inside a member header",
    ),
    Case(
        "truncated-oci-archive",
        tar(
            oci(gz_image()),
            lambda a: (a.move_to_front("oci-layout"), a.move_to_front("index.json"))[0],
            after=cut_member(lambda a: a.layer_paths[0]),
        ),
        Rejected(TRUNC, "the archive or the blob"),
        "OCI archive (index.json first) cut in the middle of a layer blob",
    ),
    Case(
        "outer-tar-without-eof-marker",
        tar(legacy(), eof=False),
        Analysed(STD_CHECK, "as the control"),
        "legacy archive without the two end-of-archive zero blocks",
    ),
    Case(
        "outer-member-4gb-size",
        tar(
            legacy(manifest_first=True),
            after=lambda p, a: b.rewrite_header(
                p, b.member_span(p, a.layer_paths[0])[0], size=4 << 30
            ),
        ),
        Rejected(
            TRUNC + "|size", "the archive or the member", problem="truncated (size beyond the end)"
        ),
        "a tiny archive whose layer.tar header claims 4 GiB",
    ),
    Case(
        "duplicate-outer-members",
        tar(
            oci(std_image),
            lambda a: a.members.append(b.Member(a.layer_paths[0], a[a.layer_paths[0]])) or None,
        ),
        Analysed(STD_CHECK, "as the control"),
        "OCI archive holding the same blob twice (identical copies)",
    ),
    # ---- manifest.json / index.json / config
    Case(
        "manifest-json-garbage",
        tar(
            legacy(),
            edit(lambda a: "manifest.json", lambda d: b"{not json", lambda a: ("manifest.json",)),
        ),
        Rejected(r"manifest|json", "manifest.json", problem="manifest.json is invalid JSON"),
        "manifest.json is not JSON",
    ),
    Case(
        "manifest-json-empty-list",
        tar(
            legacy(), edit(lambda a: "manifest.json", lambda d: b"[]", lambda a: ("manifest.json",))
        ),
        Rejected(
            r"manifest|no image|empty", "manifest.json", problem="manifest.json lists no image"
        ),
        "manifest.json is `[]`",
    ),
    Case(
        "manifest-json-wrong-shape",
        tar(
            legacy(),
            edit(
                lambda a: "manifest.json",
                lambda d: b'{"Config": "x.json", "Layers": "a/layer.tar"}',
                lambda a: ("manifest.json",),
            ),
        ),
        Rejected(
            r"manifest|json|invalid|expected", "manifest.json", problem="manifest.json is invalid"
        ),
        "manifest.json is an object, `Layers` a string",
    ),
    Case(
        "legacy-missing-config",
        tar(legacy(), drop(lambda a: a.config_path, lambda a: (a.config_digest[7:19],))),
        Rejected(MISSING, "the config file"),
        "manifest.json points at a config file that is not in the archive",
    ),
    Case(
        "oci-missing-config",
        tar(oci(std_image), drop(lambda a: a.config_path, lambda a: (a.config_digest[7:19],))),
        Rejected(MISSING, "the config digest"),
        "OCI manifest points at a config blob that is not in the archive",
    ),
    Case(
        "config-not-json",
        tar(
            oci(set_config(std_image, lambda c: b"\x00\x01 definitely not json")),
            lambda a: (a.config_digest[7:19],),
        ),
        Rejected(r"config|json", "the config digest", problem="config is not JSON"),
        "config blob is binary garbage (digest consistent)",
    ),
    Case(
        "config-not-an-image-config",
        tar(
            legacy(
                set_config(
                    std_image,
                    lambda c: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}},
                )
            ),
            lambda a: (a.config_digest[7:19],),
        ),
        Rejected(
            r"config|not an image|rootfs|diff.?id", "the config file", problem="not an image config"
        ),
        "config is valid JSON but a Kubernetes Pod, not an image config",
    ),
    Case(
        "config-diff-ids-count-mismatch",
        tar(
            legacy(
                set_config(
                    std_image,
                    lambda c: (
                        c | {"rootfs": {"type": "layers", "diff_ids": c["rootfs"]["diff_ids"][:1]}}
                    ),
                )
            )
        ),
        Rejected(
            r"diff.?ids?|layer count|number of layers|\d+ layers",
            "",
            problem="layer count differs from diff_ids",
        ),
        "config lists 1 diff_id, manifest 2 layers",
    ),
    Case(
        "oci-index-no-manifests",
        tar(
            oci(std_image),
            lambda a: a.set_json("index.json", {"schemaVersion": 2, "manifests": []}),
        ),
        Rejected(r"no (image|manifest)|empty|index", "", problem="index lists no manifest"),
        "index.json with an empty `manifests` list",
    ),
    Case(
        "oci-index-json-missing",
        tar(oci(std_image), lambda a: a.remove("index.json")),
        Rejected(r"index\.json|" + NOT_IMAGE, "", problem="no index.json / not a container image"),
        "OCI archive (oci-layout, blobs) without index.json",
    ),
    Case(
        "oci-dir-digest-path-traversal",
        oci_dir(
            oci(std_image),
            index_manifest_digest("sha256:../../../../../../../../../../etc/hostname"),
        ),
        Rejected(r"digest|invalid", "", problem="invalid digest"),
        "OCI dir whose index points at `sha256:../../../../etc/hostname`",
    ),
    Case(
        "oci-dir-missing-blob",
        oci_dir(
            oci(std_image), drop(lambda a: a.layer_paths[1], lambda a: (a.layers[1].hex[:12],))
        ),
        Rejected(MISSING, "the layer digest"),
        "OCI layout directory with a layer blob missing",
    ),
    # ---- platforms
    Case(
        "platform-not-in-index",
        tar(oci(platform_image("amd64"), platform_image("arm64")), lambda a: ("s390x",)),
        Rejected(
            r"platform|no (matching )?manifest",
            "the requested platform",
            problem="no image for that platform",
        ),
        "multi-platform index (amd64, arm64), `--platform linux/s390x`",
        args=("--platform", "linux/s390x"),
    ),
    Case(
        "platform-selected",
        tar(oci(platform_image("amd64"), platform_image("arm64"))),
        Analysed(all_of(n_layers(1), has("marker-arm64", 0)), "the arm64 image"),
        "multi-platform index, `--platform linux/arm64`",
        args=("--platform", "linux/arm64"),
    ),
    Case(
        "platform-nested-index-variant",
        tar(
            oci(
                platform_image("arm", "v6"),
                platform_image("arm", "v7"),
                platform_image("amd64"),
                nested=True,
            )
        ),
        Analysed(has("marker-armv7", 0), "the linux/arm/v7 image"),
        "index -> nested index -> (arm/v6, arm/v7, amd64), `--platform linux/arm/v7`",
        args=("--platform", "linux/arm/v7"),
    ),
    Case(
        "platform-default-host",
        tar(
            oci(
                platform_image(OTHER_ARCHES[1]),
                platform_image(HOST_ARCH),
                platform_image(OTHER_ARCHES[2]),
            )
        ),
        Analysed(has(f"marker-{HOST_ARCH}", 0), "the host's platform"),
        "multi-platform index including the host's platform, no `--platform`",
    ),
    Case(
        "platform-no-host-match",
        tar(
            oci(platform_image(OTHER_ARCHES[1]), platform_image(OTHER_ARCHES[2])),
            lambda a: (HOST_ARCH, *OTHER_ARCHES[1:3]),
        ),
        Rejected(
            r"platform|no (matching )?manifest",
            "a platform",
            problem="no image for the host's platform",
        ),
        "multi-platform index without the host's platform, no `--platform`",
    ),
    Case(
        "platform-single-foreign",
        tar(oci(platform_image(OTHER_ARCHES[1]))),
        Analysed(has(f"marker-{OTHER_ARCHES[1]}", 0), "the only image (as dive does)"),
        "index with a single manifest for another platform, no `--platform`",
    ),
    # ---- missing blobs, digests, diff_ids
    Case(
        "docker25-missing-layer-blob",
        tar(d25(), drop(lambda a: a.layer_paths[1], lambda a: (a.layers[1].hex[:12],))),
        Rejected(MISSING, "the layer digest"),
        "Docker 25 archive missing a layer blob (containerd image store export)",
    ),
    Case(
        "legacy-missing-layer",
        tar(legacy(), drop(lambda a: a.layer_paths[1], lambda a: (v1(a, 1),))),
        Rejected(MISSING, "the layer path"),
        "legacy manifest.json lists a layer.tar that is not in the archive",
    ),
    Case(
        "missing-layer-name-with-escapes",
        tar(legacy(), set_manifest_layer(1, f"{OSC52}\x1b[2Jevil\nname/layer.tar")),
        Rejected(MISSING, "the (escaped) name"),
        "missing layer named with OSC 52, ESC[2J and a newline (error stays one escaped line)",
    ),
    Case(
        "oci-layer-digest-mismatch",
        tar(
            oci(std_image),
            edit(
                lambda a: a.layer_paths[1],
                lambda d: b.flip(d, 1100),
                lambda a: (a.layers[1].hex[:12],),
            ),
        ),
        Rejected(DIGEST, "the layer digest"),
        "a layer blob whose content does not hash to its name",
    ),
    Case(
        "oci-config-digest-mismatch",
        tar(
            oci(std_image),
            edit(
                lambda a: a.config_path,
                lambda d: d.replace(b'"linux"', b'"Linux"'),
                lambda a: (a.config_digest[7:19],),
            ),
        ),
        Rejected(DIGEST, "the config digest"),
        "config blob edited (still valid JSON), name unchanged",
    ),
    Case(
        "oci-manifest-digest-mismatch",
        tar(
            oci(std_image),
            edit(
                lambda a: a.manifest_path, lambda d: d + b"\n", lambda a: (a.manifest_digest[7:19],)
            ),
        ),
        Rejected(DIGEST, "the manifest digest"),
        "manifest blob edited (a trailing newline), name unchanged",
    ),
    Case(
        "docker25-layer-digest-mismatch",
        tar(
            d25(),
            edit(
                lambda a: a.layer_paths[0],
                lambda d: b.flip(d, 1100),
                lambda a: (a.layers[0].hex[:12],),
            ),
        ),
        Rejected(DIGEST, "the layer digest"),
        "Docker 25 archive, a layer blob's content does not match its name",
    ),
    Case(
        "legacy-diff-id-mismatch",
        tar(
            legacy(
                lambda: Image(
                    [
                        base_layer(),
                        Layer(
                            app_layer().entries,
                            command="x",
                            diff_id="sha256:" + b.sha256_hex(b"another layer"),
                        ),
                    ]
                )
            ),
            lambda a: (*layer_names(a, 1), b.sha256_hex(b"another layer")[:12]),
        ),
        Rejected(r"diff.?id|does not match|mismatch", "the layer", problem="diff_id mismatch"),
        "legacy layer.tar whose sha256 is not the config's diff_id",
    ),
    Case(
        "oci-gzip-diff-id-mismatch",
        tar(
            oci(
                lambda: Image(
                    [Layer(base_layer().entries, "gzip", diff_id="sha256:" + b.sha256_hex(b"x"))]
                )
            ),
            lambda a: (*layer_names(a, 0), b.sha256_hex(b"x")[:12]),
        ),
        Rejected(r"diff.?id|does not match|mismatch", "the layer", problem="diff_id mismatch"),
        "gzip layer whose blob digest is right but whose uncompressed sha256 is not the diff_id",
    ),
    # ---- compression
    Case(
        "corrupt-gzip-layer",
        tar(
            oci(gz_image(corrupt=lambda d: b.flip(d, len(d) // 2, 16))), lambda a: layer_names(a, 0)
        ),
        Rejected(GZIP_BAD, "the layer digest"),
        "gzip layer with 16 bytes inverted mid-stream (digest consistent)",
    ),
    Case(
        "truncated-gzip-layer",
        tar(oci(gz_image(corrupt=lambda d: d[: len(d) // 2])), lambda a: layer_names(a, 0)),
        Rejected(GZIP_BAD, "the layer digest"),
        "gzip layer cut in half (digest consistent)",
    ),
    Case(
        "gzip-bad-crc",
        tar(oci(gz_image(corrupt=lambda d: b.flip(d, len(d) - 6))), lambda a: layer_names(a, 0)),
        Rejected(GZIP_BAD, "the layer digest"),
        "gzip layer whose CRC32 trailer is wrong (data inflates fine)",
    ),
    Case(
        "corrupt-zstd-layer",
        tar(
            oci(gz_image("zstd", corrupt=lambda d: b.flip(d, len(d) // 2, 16))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(ZSTD_BAD, "the layer digest"),
        "zstd layer with 16 bytes inverted mid-stream",
    ),
    Case(
        "truncated-zstd-layer",
        tar(oci(gz_image("zstd", corrupt=lambda d: d[: len(d) // 2])), lambda a: layer_names(a, 0)),
        Rejected(ZSTD_BAD, "the layer digest"),
        "zstd layer cut in half",
    ),
    Case(
        "corrupt-estargz-layer",
        tar(
            oci(gz_image("estargz", corrupt=lambda d: b.flip(d, len(d) // 3, 16))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(GZIP_BAD, "the layer digest"),
        "estargz layer with a corrupted gzip member",
    ),
    Case(
        "gzip-media-type-on-plain-tar",
        tar(oci(gz_image("none", media_type=MT_LAYER_GZIP))),
        Analysed(has("data/text", 0, size=len(gz_data())), "sniffed as a plain tar"),
        "media type says +gzip, blob is an uncompressed tar",
    ),
    Case(
        "zstd-blob-labelled-gzip",
        tar(oci(gz_image("zstd", media_type=MT_LAYER_GZIP))),
        Analysed(has("data/text", 0, size=len(gz_data())), "sniffed as zstd"),
        "media type says +gzip, blob is zstd",
    ),
    Case(
        "unknown-layer-media-type",
        tar(
            oci(
                lambda: Image(
                    [Layer(tar=b.noise(3000), media_type="application/vnd.example.unknown")]
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(
            r"media.?type|unsupported|unknown|not a tar|unrecogni[sz]ed",
            "the layer digest",
            problem="unsupported media type / not a tar",
        ),
        "layer of unknown media type holding random bytes",
    ),
    # ---- layer tar structure
    Case(
        "layer-not-a-tar",
        tar(
            legacy(lambda: Image([Layer(tar=b"GIF89a" + b.noise(5000))])),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TAR_BAD + "|not a tar", "the layer", problem="not a tar"),
        "layer.tar holding random bytes (diff_id consistent)",
    ),
    Case(
        "layer-bad-header-checksum",
        tar(
            legacy(
                lambda: one_layer(
                    Raw(b.tar_header("etc/passwd", size=5, chksum=12345) + b"root\n" + b.padding(5))
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TAR_BAD, "the layer"),
        "layer header with a wrong checksum",
    ),
    Case(
        "layer-truncated-mid-data",
        tar(
            legacy(
                lambda: Image(
                    [
                        Layer(
                            tar=b.tar_bytes([file("a", b"a" * 100), file("big", b.noise(20000))])[
                                : 1024 + 512 + 9000
                            ]
                        )
                    ]
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TRUNC, "the layer"),
        "layer tar cut inside a file's data (diff_id consistent)",
    ),
    Case(
        "layer-truncated-mid-header",
        tar(
            legacy(
                lambda: Image(
                    [Layer(tar=b.tar_bytes([file("a", b"a" * 100), file("b", b"b")])[: 1024 + 200])]
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TRUNC, "the layer"),
        "layer tar cut inside a header block",
    ),
    Case(
        "layer-without-eof-marker",
        tar(legacy(lambda: Image([Layer(base_layer().entries, eof=False)]))),
        Analysed(has("etc/os-release", 0, size=8), "all entries"),
        "layer tar without end-of-archive blocks (ends at a header boundary)",
    ),
    Case(
        "layer-trailing-garbage",
        tar(legacy(lambda: Image([Layer(tar=b.tar_bytes(base_layer().entries) + b.noise(3000))]))),
        Analysed(
            has("etc/os-release", 0, size=8), "all entries; bytes after the end marker ignored"
        ),
        "layer tar with 3 kB of garbage after the end-of-archive blocks",
    ),
    Case(
        "layer-empty-tar",
        tar(legacy(lambda: Image([base_layer(), Layer(tar=EOF_MARKER, command="RUN true")]))),
        Analysed(
            all_of(
                n_layers(2),
                empty_layer(1),
            ),
            "an empty layer",
        ),
        "a layer that is an empty tar",
    ),
    Case(
        "legacy-layer-symlink",
        tar(legacy(two_identical_layers), legacy_symlinked(lambda a: "../" + a.layer_paths[0])),
        Analysed(
            all_of(n_layers(2), has("etc/os-release", 0), has("etc/os-release", 1)),
            "both layers with their files (the link followed)",
        ),
        "legacy archive whose 2nd layer.tar is a symlink to an identical layer",
    ),
    Case(
        "legacy-layer-symlink-dangling",
        tar(legacy(), legacy_symlinked(lambda a: "../0000nothere/layer.tar")),
        Rejected(
            MISSING + "|symlink|dangling|link", "the layer", problem="missing (dangling link)"
        ),
        "layer.tar is a symlink to a member that does not exist",
    ),
    Case(
        "legacy-layer-symlink-loop",
        tar(
            legacy(),
            lambda a: (
                a.add_symlink("loop/layer.tar", "../" + a.layer_paths[1]),
                legacy_symlinked(lambda a: "../loop/layer.tar")(a),
            )[1],
        ),
        Rejected(r"loop|symlink|link|too many|" + MISSING, "the layer", problem="symlink loop"),
        "layer.tar -> loop/layer.tar -> layer.tar",
    ),
    Case(
        "legacy-layer-symlink-escape",
        tar(legacy(), legacy_symlinked(lambda a: "../../../../../../etc/passwd")),
        Rejected(
            MISSING + "|outside|escape|invalid|symlink|link",
            "the layer",
            problem="missing (link leaves the archive)",
        ),
        "layer.tar is a symlink to ../../../../etc/passwd",
    ),
    # ---- entries: names
    Case(
        "duplicate-entries-in-layer",
        tar(
            legacy(
                lambda: one_layer(
                    directory("etc"), file("etc/conf", b"old"), file("etc/conf", b"newer content")
                )
            )
        ),
        Analysed(
            all_of(listed_once("etc/conf", 0), has("etc/conf", 0, size=13)),
            "listed once, the last copy wins",
        ),
        "the same path twice in one layer",
    ),
    Case(
        "duplicate-path-file-then-dir",
        tar(legacy(lambda: one_layer(file("x", b"1"), directory("x"), file("x/y", b"22")))),
        Analysed(
            all_of(has("x", 0, isDir=True), has("x/y", 0, size=2)),
            "the directory replaces the file",
        ),
        "a file, then a directory of the same name, in one layer",
    ),
    Case(
        "absolute-names",
        tar(
            legacy(
                lambda: one_layer(
                    file("/etc/abs", b"1"),
                    directory("/opt"),
                    file("/opt/x", b"22"),
                    file("//double//slash", b"333"),
                )
            )
        ),
        Analysed(
            all_of(has("etc/abs", 0), has("opt/x", 0, size=2), has("double/slash", 0, size=3)),
            "names normalised (no leading /)",
        ),
        "absolute entry names (`/etc/abs`, `//double//slash`)",
    ),
    Case(
        "dotdot-names",
        tar(
            legacy(
                lambda: one_layer(
                    file("../../escape", b"1"), file("a/../../b", b"22"), file("./x/./y", b"333")
                )
            )
        ),
        Analysed(
            all_of(has("escape", 0), has("b", 0, size=2), has("x/y", 0, size=3)),
            "names normalised, clamped at the root",
        ),
        "`../` entry names (`../../escape`, `a/../../b`, `./x/./y`)",
    ),
    Case(
        "root-dot-entry",
        tar(legacy(lambda: one_layer(directory("./"), directory("./etc"), file("./etc/x", b"1")))),
        Analysed(has("etc/x", 0), "`./` is the root, not an entry"),
        "entries `./`, `./etc/`, `./etc/x` (as many tools write)",
    ),
    Case(
        "control-char-names",
        tar(legacy(lambda: one_layer(directory("ctl"), *(file(n, b"c") for n in CTRL_NAMES)))),
        Analysed(all_of(*(has(n, 0) for n in CTRL_NAMES)), "literal names in the JSON"),
        "names with tab, newline, BEL, CR, DEL, C1 CSI",
    ),
    Case(
        "ansi-escape-names",
        tar(
            legacy(
                lambda: one_layer(
                    directory("ansi"),
                    *(file(n, b"a") for n in ANSI_NAMES),
                    hardlink("ansi/\x1b[2Jlink", f"{OSC52}missing"),
                )
            )
        ),
        Analysed(
            all_of(*(has(n, 0) for n in ANSI_NAMES)),
            "literal names in the JSON, nothing raw on stderr",
        ),
        "names with ANSI CSI, OSC 52, OSC 8, clear-screen; such a hardlink to a missing target",
    ),
    Case(
        "markup-names",
        tar(legacy(lambda: one_layer(directory("markup"), *(file(n, b"m") for n in MARKUP_NAMES)))),
        Analysed(all_of(*(has(n, 0) for n in MARKUP_NAMES)), "literal names"),
        "names that are Rich/Textual markup (`[bold]`, `[link=…]`, `[@click=…]`, `[/]`)",
    ),
    Case(
        "non-utf8-names",
        tar(
            legacy(
                lambda: one_layer(
                    file(b"caf\xe9", b"1"),
                    file(b"caf\xe8", b"2"),
                    file(b"\xff\xfe", b"3"),
                    file("ok-\u00e9", b"4"),
                )
            )
        ),
        Analysed(
            all_of(
                has("ok-\u00e9", 0),
                rows_starting("caf", 2, 0),
                rows_starting("\ufffd", 1, 0),
            ),
            "two distinct `caf?` rows (shown with U+FFFD, as dive), strict UTF-8 JSON",
        ),
        "Latin-1 and invalid UTF-8 names (`caf\\xe9`, `caf\\xe8`, `\\xff\\xfe`)",
    ),
    Case(
        "history-escapes-and-markup",
        tar(legacy(lambda: Image([Layer(base_layer().entries, command=BAD_CMD)]))),
        Analysed(
            all_of(command_has(0, "[bold]boom[/bold]"), command_has(0, OSC52)),
            "the command kept literally",
        ),
        "history command holding OSC 52, CSI and markup",
    ),
    Case(
        "pax-long-unicode-path",
        tar(legacy(lambda: one_layer(file("\u00fc/" * 60 + "datei.txt", b"x")))),
        Analysed(has("\u00fc/" * 60 + "datei.txt", 0), "the full name"),
        "a 189-byte non-ASCII name in a PAX `path` record",
    ),
    Case(
        "gnu-long-names",
        tar(
            legacy(
                lambda: one_layer(
                    file(LONG, b"1"),
                    symlink("short", LONG),
                    hardlink(LONG + "-hl", LONG),
                    long_names="gnu",
                )
            )
        ),
        Analysed(
            all_of(
                has(LONG, 0),
                has("short", 0, linkName=LONG),
                has(LONG + "-hl", 0, linkName=LONG, typeFlag=49),
            ),
            "full names and link targets",
        ),
        "GNU `L`/`K` long name and long link name records",
    ),
    Case(
        "deep-path-4500-bytes",
        tar(legacy(lambda: one_layer(file(DEEP_WIDE, b"deep")))),
        Analysed(has(DEEP_WIDE, 0, size=4), "the full path"),
        "a 4,504-byte path (45 components of 99 bytes)",
    ),
    Case(
        "deep-path-2048-levels",
        tar(legacy(lambda: one_layer(file(DEEP_NARROW, b"deep")))),
        Analysed(has(DEEP_NARROW, 0, size=4), "the full path (no recursion limit)"),
        "a 4,099-byte path 2,048 levels deep, the deepest allowed (implicit parents)",
    ),
    # ---- bounded cost: paths, JSON nesting, odd metadata (issue 12)
    Case(
        "deep-path-2049-levels",
        tar(legacy(lambda: one_layer(file(TOO_DEEP, b"deep"))), lambda a: layer_names(a, 0)),
        Rejected(DEEP, "the layer", problem="levels deep (the limit is 2,048)"),
        "a path 2,049 levels deep: one more than a path within Linux's PATH_MAX can have",
    ),
    Case(
        "deep-paths-200-chains",
        tar(oci(deep_chains(200, 2048)), lambda a: layer_names(a, 0)),
        Analysed(has("x199/" + "a/" * 2046 + "leaf", 0, size=4), "all 409,600 levels"),
        "a 13 KB archive: 200 files 2,048 levels deep, no directory entries",
        mem=GIB // 2,
    ),
    Case(
        "path-1mb-10000-levels",
        tar(
            oci(lambda: one_layer(file(MIB_PATH, b"x"), compression="gzip")),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TOO_LONG, "the layer", problem="a name of 1,000,004 bytes (limit 16,384)"),
        "a 10 KB archive holding one 1 MB PAX path, 10,000 levels deep (gzip)",
        mem=GIB // 2,
    ),
    Case(
        "path-1mb-a-a-a",
        tar(
            oci(lambda: one_layer(file(MIB_AAA, b"x"), long_names="gnu", compression="gzip")),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TOO_LONG, "the layer", problem="a name of 1,000,001 bytes (limit 16,384)"),
        "a 1 MB `a/a/…` GNU long name, 500,001 levels deep (gzip)",
        mem=GIB // 2,
    ),
    Case(
        "pax-link-target-over-16kib",
        tar(
            legacy(lambda: one_layer(symlink("link", "t/" * 8193))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TOO_LONG, "the layer", problem="a link target of 16,386 bytes (limit 16,384)"),
        "a symlink whose PAX `linkpath` is 16,386 bytes",
    ),
    Case(
        "pax-paths-3000-at-the-limit",
        tar(oci(long_paths(3000, lambda i: f"x{i:04d}" + MAX_PATH[5:]))),
        Analysed(all_of(n_layers(1), has("x2999" + MAX_PATH[5:], 0)), "every full path"),
        "3,000 entries with 16,384-byte PAX paths (the longest allowed), gzip",
        mem=GIB // 2,
    ),
    Case(
        "pax-paths-3000-of-1mb",
        tar(oci(long_paths(3000, lambda i: f"x{i:04d}/" + MIB_PATH)), lambda a: layer_names(a, 0)),
        Rejected(TOO_LONG, "the layer", problem="a name of 1,000,010 bytes (limit 16,384)"),
        "3,000 entries with 1 MB PAX paths (3 GB of tar, gzip)",
        mem=GIB // 2,
        timeout=300,
        slow=True,
    ),
    Case(
        "config-json-nested-100000-deep",
        tar(
            legacy(set_config(std_image, lambda c: with_nesting(b.jdump(c), 100_000))),
            lambda a: (a.config_path,),
        ),
        Rejected(NESTED, "the config file", problem="JSON nested too deeply"),
        "a config holding a value nested 100,000 deep",
    ),
    Case(
        "manifest-json-nested-100000-deep",
        tar(
            legacy(),
            edit(
                lambda a: "manifest.json",
                lambda d: with_nesting(d, 100_000),
                lambda a: ("manifest.json",),
            ),
        ),
        Rejected(NESTED, "manifest.json", problem="JSON nested too deeply"),
        "manifest.json holding a list nested 100,000 deep",
    ),
    Case(
        "index-json-nested-100000-deep",
        tar(
            oci(std_image),
            edit(
                lambda a: "index.json",
                lambda d: with_nesting(d, 100_000),
                lambda a: ("index.json",),
            ),
        ),
        Rejected(NESTED, "index.json", problem="JSON nested too deeply"),
        "OCI index.json holding a value nested 100,000 deep",
    ),
    Case(
        "odd-metadata-values",
        tar(legacy(set_config(std_image, odd_metadata))),
        Analysed(
            all_of(n_layers(2), command_has(0, '["/bin/sh", "-c", "ls"]'), command_has(1, "make")),
            "the values kept as text",
        ),
        "history `created` of `99999999999999999999` and `²`, `created_by` a list and a "
        "number, a comment object; config `os` 5, `architecture` a list, `variant` an object",
    ),
    Case(
        "odd-oci-tag-annotation",
        tar(oci(std_image), odd_tag),
        Analysed(STD_CHECK, "as the control"),
        "the index's `org.opencontainers.image.ref.name` annotation is the number 5",
    ),
    # ---- entries: PAX / GNU / sizes
    Case(
        "pax-bogus-numeric-values",
        tar(
            legacy(
                lambda: one_layer(
                    file(
                        "odd",
                        b"12345",
                        pax={
                            "mtime": "abc",
                            "uid": "99999999999999999999999",
                            "gid": "-3",
                            "atime": "x",
                        },
                    ),
                    file("after", b"1"),
                )
            )
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX mtime/atime not numbers, uid 10^22, gid -3",
    ),
    Case(
        "pax-huge-size",
        tar(
            legacy(
                lambda: one_layer(
                    file("big", b"tiny", pax={"size": "100000000000000000000"}), file("after", b"1")
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX `size=10^20` on a 4-byte entry",
    ),
    Case(
        "pax-bogus-size",
        tar(
            legacy(
                lambda: one_layer(file("big", b"tiny", pax={"size": "12abc"}), file("after", b"1"))
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX `size=12abc`",
    ),
    Case(
        "pax-malformed-record",
        tar(
            legacy(lambda: one_layer(Raw(b.pax_header(b"abc path=x\n")), file("x", b"1"))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX record with a non-numeric length",
    ),
    Case(
        "pax-huge-record-length",
        tar(
            legacy(lambda: one_layer(Raw(b.pax_header(b"99999999999 path=x\n")), file("x", b"1"))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX record claiming 99,999,999,999 bytes",
    ),
    Case(
        "pax-header-8gib",
        tar(
            legacy(
                lambda: one_layer(Raw(b.pax_header({"path": "x"}, size=8 << 30)), file("x", b"1"))
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(PAX_BAD, "the layer"),
        "PAX header block claiming 8 GiB of records in a tiny layer",
    ),
    Case(
        "global-pax-header",
        tar(
            legacy(
                lambda: one_layer(
                    Raw(
                        b.pax_header(
                            {"comment": "0123abcd"}, typeflag=b"g", name="pax_global_header"
                        )
                    ),
                    file("real", b"1"),
                    file("other", b"22"),
                )
            )
        ),
        Analysed(
            all_of(
                has("real", 0),
                has("other", 0, size=2),
                no_path(lambda p: "pax_global_header" in p, "global header listed as a file"),
            ),
            "entries present; the global header is not a file",
        ),
        "a global PAX header (as `git archive` writes) before the entries",
    ),
    Case(
        "gnu-sparse-old",
        tar(
            legacy(
                lambda: one_layer(
                    directory("sparse"),
                    b.gnu_sparse("sparse/old", 1 << 30, [(0, b"head"), ((1 << 30) - 4, b"tail")]),
                    file("after", b"1"),
                )
            )
        ),
        Analysed(
            all_of(has("sparse/old", 0, size={1 << 30, 8}), has("after", 0)),
            "listed (apparent or stored size)",
        ),
        "old GNU sparse entry (`S`): 1 GiB apparent, 8 bytes stored",
    ),
    Case(
        "pax-sparse-1.0",
        tar(
            legacy(
                lambda: one_layer(
                    directory("sparse"),
                    b.pax_sparse("sparse/new", 1 << 30, [(0, b"head"), ((1 << 30) - 4, b"tail")]),
                    file("after", b"1"),
                )
            )
        ),
        Analysed(
            all_of(
                has("sparse/new", 0),
                no_path(lambda p: "GNUSparseFile" in p, "sparse placeholder name shown"),
            ),
            "listed under its real name",
        ),
        "GNU sparse 1.0 in PAX (`GNU.sparse.name`, map in the data)",
    ),
    Case(
        "huge-size-field-tiny-file",
        tar(
            legacy(lambda: one_layer(Entry("huge", data=b"tiny", size=4 << 30))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TRUNC + "|size", "the layer", problem="truncated (size beyond the end)"),
        "an entry claiming 4 GiB in a tiny layer",
    ),
    Case(
        "base256-size-field",
        tar(
            legacy(lambda: one_layer(Entry("huge", data=b"tiny", size=1 << 62))),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TRUNC + "|size", "the layer", problem="truncated (size beyond the end)"),
        "an entry whose base-256 size field says 2^62",
    ),
    Case(
        "unknown-typeflag",
        tar(legacy(lambda: one_layer(Entry("odd/thing", b"Z", b"abc"), file("after", b"1")))),
        Analysed(
            all_of(has("odd/thing", 0), has("after", 0)), "listed (POSIX: unknown = regular file)"
        ),
        "an entry with typeflag `Z`",
    ),
    # ---- entries: links, special files, whiteouts
    Case(
        "hardlink-missing-target",
        tar(
            legacy(
                lambda: one_layer(
                    directory("bin"),
                    hardlink("bin/ln", "bin/never-existed"),
                    file("bin/real", b"1"),
                )
            )
        ),
        Analysed(
            has("bin/ln", 0, typeFlag=49, linkName="bin/never-existed"),
            "listed as a hardlink",
            warning=True,
        ),
        "hardlink to a path that exists nowhere",
    ),
    Case(
        "hardlink-to-lower-layer",
        tar(legacy(lambda: on_base(directory("bin"), hardlink("bin/sh2", "bin/sh")))),
        Analysed(has("bin/sh2", 1, typeFlag=49, linkName="bin/sh"), "listed as a hardlink"),
        "hardlink to a file of a lower layer",
    ),
    Case(
        "symlink-loops",
        tar(
            legacy(
                lambda: one_layer(
                    directory("loop"),
                    symlink("loop/a", "b"),
                    symlink("loop/b", "a"),
                    symlink("loop/self", "self"),
                    symlink("loop/up", ".."),
                    symlink("loop/root", "/"),
                )
            )
        ),
        Analysed(
            all_of(
                has("loop/a", 0, linkName="b"),
                has("loop/self", 0, linkName="self"),
                has("loop/up", 0, typeFlag=50),
            ),
            "links listed, not followed",
        ),
        "symlink cycles a->b->a, self->self, ..->parent",
    ),
    Case(
        "symlink-escapes",
        tar(
            legacy(
                lambda: one_layer(
                    directory("etc"),
                    symlink("etc/shadow-link", "../../../../etc/shadow"),
                    symlink("abs", "/../../etc/passwd"),
                )
            )
        ),
        Analysed(
            all_of(
                has("etc/shadow-link", 0, linkName="../../../../etc/shadow"),
                has("abs", 0, linkName="/../../etc/passwd"),
            ),
            "targets shown as written",
        ),
        "symlinks pointing above the root",
    ),
    Case(
        "devices-and-fifos",
        tar(
            legacy(
                lambda: one_layer(
                    directory("dev"),
                    device("dev/null", "char", 1, 3),
                    device("dev/sda", "block", 8, 0),
                    directory("run"),
                    fifo("run/fifo"),
                )
            )
        ),
        Analysed(
            all_of(
                has("dev/null", 0, typeFlag=51),
                has("dev/sda", 0, typeFlag=52),
                has("run/fifo", 0, typeFlag=54),
            ),
            "listed with their types",
        ),
        "char and block devices, a fifo",
    ),
    Case(
        "whiteout-of-missing-path",
        tar(
            legacy(lambda: on_base(whiteout("never/existed"), whiteout("ghost"), file("new", b"x")))
        ),
        Analysed(all_of(n_layers(2), has("new", 1)), "the whiteout is harmless"),
        "whiteouts of paths no lower layer has (`.wh.ghost`, `never/.wh.existed`)",
    ),
    Case(
        "opaque-marker-at-root",
        tar(legacy(lambda: on_base(opaque(""), file("fresh", b"x")))),
        Analysed(
            all_of(n_layers(2), has("fresh", 1), has("bin/sh", 0)),
            "root made opaque; layer 0 unaffected",
        ),
        "`.wh..wh..opq` at the root of layer 1",
    ),
    Case(
        "whiteout-weird-names",
        tar(
            legacy(
                lambda: on_base(
                    Entry(".wh.", mode=0),
                    Entry("etc/.wh.", mode=0),
                    Entry(".wh...", mode=0),
                    Entry("etc/.wh...", mode=0),
                    file("kept", b"k"),
                )
            )
        ),
        Analysed(
            all_of(has("kept", 1), has("etc/os-release", 0)),
            "no crash, nothing deleted above the root",
        ),
        "whiteouts named `.wh.`, `.wh...` (whiting out '' and '..')",
    ),
    Case(
        "config-without-history",
        tar(
            legacy(set_config(std_image, lambda c: {k: v for k, v in c.items() if k != "history"}))
        ),
        Analysed(all_of(n_layers(2), has("app/main.py", 1)), "layers with empty commands"),
        "config with no `history` at all",
    ),
    Case(
        "history-longer-than-layers",
        tar(
            legacy(
                set_config(
                    std_image,
                    lambda c: c | {"history": [*c["history"], {"created_by": "RUN ghost"}] * 2},
                )
            )
        ),
        Analysed(all_of(n_layers(2), has("app/main.py", 1)), "2 layers; extra history ignored"),
        "history has 4 non-empty entries for 2 layers",
    ),
    Case(
        "layer-garbage-mode-field",
        tar(
            legacy(
                lambda: one_layer(
                    Raw(
                        b.tar_header("etc/x", size=1, patch={"mode": b"zzzzzzz\x00"})
                        + b"x"
                        + b.padding(1)
                    )
                )
            ),
            lambda a: layer_names(a, 0),
        ),
        Rejected(TAR_BAD, "the layer"),
        "a header whose mode field is `zzzzzzz` (checksum valid)",
    ),
    # ---- hostile streams: each with a memory cap and a time limit
    Case(
        "zstd-bomb-4gib-zeros",
        tar(oci(lambda: Image([Layer([file("zeros", b.Zeros(4 << 30))], "zstd")]))),
        Analysed(has("zeros", 0, size=4 << 30), "the 4 GiB file listed; bounded output per read"),
        "a ~131 KB zstd layer holding a 4 GiB file of zeros",
        timeout=120,
        mem=GIB // 2,
        slow=True,
    ),
    Case(
        "zstd-skippable-frame-first",
        tar(oci(gz_image("zstd", corrupt=lambda blob: ZSTD_SKIPPABLE_FRAME + blob))),
        Analysed(has("data/text", 0, size=len(gz_data())), "as `zstd -d` reads it"),
        "a zstd layer that starts with a skippable frame (digest consistent)",
        mem=GIB // 2,
    ),
    Case(
        "streamed-json-across-reads",
        gz_tar(legacy(lambda: Image([base_layer()], config_extra={"author": "a" * (3 * MIB)}))),
        Analysed(has("bin/sh", 0), "the 3 MiB config read whole"),
        "`.tar.gz` legacy archive whose config (3 MiB) crosses several 1 MiB reads",
        mem=GIB // 2,
    ),
    Case(
        "streamed-layer-named-like-json",
        gz_tar(d25(lambda: one_layer(file('{"x', b"1"), file("[y", b"2")))),
        Analysed(all_of(has('{"x', 0), has("[y", 0)), "a layer, by name and position"),
        '`.tar.gz` Docker 25 archive, a layer whose first entries are named `{"x` and `[y`',
        mem=GIB // 2,
    ),
    Case(
        "streamed-200k-unreferenced-json",
        gz_tar(legacy(), extra=many_members(200_000, "meta/%06d.json", SMALL_JSON)),
        Analysed(STD_CHECK, "passed over, never parsed"),
        "`.tar.gz` (3 MB) with 200,000 small JSON members (32 objects each) no layout names",
        timeout=120,
        mem=GIB // 2,
    ),
    Case(
        "streamed-top-level-members-over-cap",
        gz_tar(legacy(), extra=many_members(200_000, "%06d.json", b"{" + b" " * 1022 + b"}")),
        Rejected(
            r"more than 128 MiB of small members", "the archive", "too much possible metadata"
        ),
        "`.tar.gz` with 200,000 top-level 1 KB JSON members (each could be a config)",
        timeout=120,
        mem=GIB // 2,
    ),
    Case(
        "manifest-json-60mb-empty-lists",
        tar(legacy(), nested_empty_lists(60 * MIB)),
        Rejected(r"too large to be image metadata", "manifest.json", "too large (16 MiB cap)"),
        "a 60 MB manifest.json of `[[],[],…]`",
        mem=GIB // 2,
    ),
    Case(
        "streamed-manifest-json-60mb-empty-lists",
        gz_tar(legacy(), nested_empty_lists(60 * MIB)),
        Rejected(r"too large to be image metadata", "manifest.json", "too large (16 MiB cap)"),
        "the same, `.tar.gz`",
        mem=GIB // 2,
    ),
    Case(
        "manifest-json-600k-empty-lists",
        tar(legacy(), nested_empty_lists(1_800_000)),
        Rejected(r"more than 500,000 JSON objects", "manifest.json", "too many JSON objects"),
        "a 1.8 MB manifest.json of 600,000 `[]` (under the size cap)",
        mem=GIB // 2,
    ),
    Case(
        "oci-index-ambiguous-platform",
        tar(oci(platform_image("amd64"), lambda: one_layer(file("other", b"o"))), ambiguous_index),
        Rejected(r"2 different manifests for platform linux/amd64.*ambiguous", "both digests"),
        "an index with two different manifests for linux/amd64",
        args=("--platform", "linux/amd64"),
    ),
    Case(
        "platform-mismatch-single-image",
        tar(legacy(), lambda a: ("linux/amd64",)),
        Rejected(r"no image for platform linux/s390x", "the image's platform"),
        "legacy archive of a linux/amd64 image, `--platform linux/s390x`",
        args=("--platform", "linux/s390x"),
    ),
    Case(
        "fifo-docker-archive",
        fifo_of(legacy()),
        Analysed(STD_CHECK, "as the control, read in one pass"),
        "legacy archive written into a named pipe (as `<(cat image.tar)`)",
        mem=GIB // 2,
    ),
    # ---- scale: memory and time
    Case(
        "million-entry-layer",
        tar(oci(lambda: Image([Layer(b.many_files(1000, 1000), "gzip", command="RUN touch")]))),
        Analysed(million_check, "1,001,000 rows, in 2 GiB", load=False),
        "one gzip layer of 1,000 dirs x 1,000 files, generated lazily",
        timeout=600,
        slow=True,
    ),
    Case(
        "large-file-streamed",
        tar(
            oci(
                lambda: Image(
                    [Layer([directory("big"), file("big/zeros", b.Zeros(3 << 29))], "gzip")]
                )
            )
        ),
        Analysed(
            all_of(has("big/zeros", 0, size=3 << 29), layer_size(0, 3 << 29)),
            "1.5 GiB file analysed in a 1 GiB address space",
        ),
        "gzip layer holding a 1.5 GiB file (memory cap 1 GiB)",
        timeout=300,
        mem=GIB,
        slow=True,
    ),
]


# --------------------------------------------------------------------------- the test

# Where the CLI differs from the expectation today (strict: a fix shows up as XPASS, which
# fails until its line is removed here).
KNOWN_FAILURES: dict[str, str] = {}


def params():
    for case in CASES:
        marks = [pytest.mark.slow] if case.slow else []
        if case.name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case.name], strict=True))
        yield pytest.param(case, id=case.name, marks=marks)


def test_case_names_unique_and_enough():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    malformed = [c for c in CASES if not c.name.startswith("control-")]
    assert len(malformed) >= 40


@pytest.mark.parametrize("case", params())
def test_malformed(case: Case, tmp_path: Path) -> None:
    src, out_dir, cache = tmp_path / "in", tmp_path / "out", tmp_path / "cache"
    for d in (src, out_dir, cache):
        d.mkdir()
    built = case.build(src)
    out = out_dir / "export.json"
    res = run_cli(built.path, out, *case.args, cache_dir=cache, timeout=case.timeout, mem=case.mem)
    expect = case.expect
    if isinstance(expect, Rejected):
        assert_rejected(res, out, expect.pattern, built.names, previous=None, image=built.path)
        return
    assert_analysed(res, out, expect.warning)
    if not expect.load:
        expect.check(out)
        return
    doc = load_json(out)
    check_schema(doc)
    if expect.check:
        expect.check(doc)


def test_a_short_text_file_named_tar_is_not_a_tar_archive(tmp_path, capsys):
    """Under one tar block of text: not "truncated" (nothing in it looks like an archive)."""
    path = tmp_path / "notes.tar"
    path.write_text("hello world\n")
    from explorer.cli import main

    out = tmp_path / "out.json"
    assert main([str(path), "--json", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a tar archive" in err and "truncated" not in err
