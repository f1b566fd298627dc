"""Build container image archives — valid or deliberately broken — entirely in Python: the
one image builder of the test suite.

No binary fixture is ever committed: every test input is made by these helpers at test time.
The image config and the legacy ``docker save`` layout are the bundled sample's
(:mod:`explorer.sample`): the product and the tests define each once.
The API has three levels, each usable on its own (unit tests and fuzzers reuse them):

**Tar level.** An :class:`Entry` describes one layer entry (name, type, data, mode, owner,
link target, extra PAX records, a size field that lies...). Short-hands: :func:`file`,
:func:`directory`, :func:`symlink`, :func:`hardlink`, :func:`device`, :func:`fifo`,
:func:`whiteout`, :func:`opaque`. :func:`tar_stream` / :func:`tar_bytes` encode entries
(plus :class:`Raw` byte blocks) into a tar stream; names over 100 bytes get a PAX ``path``
record (as Docker writes them) or GNU ``L``/``K`` headers. Where :mod:`tarfile` refuses, write
headers by hand: :func:`tar_header` (any field patched with raw bytes, base-256 numbers, a
wrong checksum), :func:`pax_records` / :func:`pax_header` (bogus values, bad lengths, global
``g`` headers), :func:`gnu_sparse` and :func:`pax_sparse` (sparse files).

**Layer level.** :class:`Layer` (entries or exact tar bytes, compression ``none`` / ``gzip``
/ ``zstd`` / ``estargz``, the history command, and hooks to corrupt the blob or lie about its
diff_id or media type). :func:`encode_layer` streams it into an :class:`EncodedLayer` (blob,
digest, diff_id); entries may be a lazy iterator, so a million-entry layer never exists
uncompressed in memory.

**Image level.** :class:`Image` (layers, platform, config overrides) is laid out by
:func:`docker_archive` (legacy ``docker save``), :func:`docker25_archive` (Docker 25+: OCI layout
plus ``manifest.json``) or :func:`oci_archive` (one image, or several platforms behind a flat or
nested index). Each returns an :class:`Archive`: an ordered, editable list of members (replace,
drop, flip bytes, add symlinks) plus the paths and digests of what it holds, written out with
:meth:`Archive.write_tar` or :meth:`Archive.write_dir`. :func:`member_span` and :func:`truncate`
then cut the written file exactly where a test wants it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import zstandard

from explorer import sample
from explorer.sample import docker_save_members, image_config

BLOCK = 512
EOF_MARKER = bytes(2 * BLOCK)
CREATED = "2024-01-01T00:00:00Z"

MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = MT_LAYER + "+gzip"
MT_LAYER_ZSTD = MT_LAYER + "+zstd"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"

TYPEFLAGS = {
    "file": b"0",
    "hardlink": b"1",
    "symlink": b"2",
    "char": b"3",
    "block": b"4",
    "dir": b"5",
    "fifo": b"6",
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_bytes(value: str | bytes) -> bytes:
    """Encode a name: ``str`` as UTF-8 (lone surrogates from surrogateescape become raw bytes)."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- tar level


class Zeros:
    """Entry data of ``size`` zero bytes, produced in chunks (never held in memory at once)."""

    def __init__(self, size: int, chunk: int = 1 << 20):
        self.size, self.chunk = size, chunk

    def chunks(self) -> Iterator[bytes]:
        block, left = bytes(self.chunk), self.size
        while left:
            n = min(left, self.chunk)
            yield block if n == self.chunk else bytes(n)
            left -= n


@dataclass
class Entry:
    """One layer tar entry.

    ``type`` is one of :data:`TYPEFLAGS` or a raw one-byte typeflag (``b"Z"``). ``size``, when
    given, is written to the header instead of ``len(data)`` (a header that lies). ``pax`` adds
    PAX records (``str`` or ``bytes`` values) in an ``x`` header before the entry.
    """

    name: str | bytes
    type: str | bytes = "file"
    data: bytes | Zeros = b""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    linkname: str | bytes = ""
    devmajor: int = 0
    devminor: int = 0
    size: int | None = None
    pax: dict[str, str | bytes] | None = None


@dataclass
class Raw:
    """Bytes inserted verbatim into a tar stream (hand-made headers, garbage, padding)."""

    data: bytes


def file(name: str | bytes, data: bytes | Zeros = b"", **kw) -> Entry:
    return Entry(name, "file", data, **kw)


def directory(name: str | bytes, **kw) -> Entry:
    return Entry(name, "dir", **kw)


def symlink(name: str | bytes, target: str | bytes, **kw) -> Entry:
    return Entry(name, "symlink", linkname=target, **kw)


def hardlink(name: str | bytes, target: str | bytes, **kw) -> Entry:
    return Entry(name, "hardlink", linkname=target, **kw)


def device(name: str, kind: str = "char", major: int = 1, minor: int = 3, **kw) -> Entry:
    return Entry(name, kind, devmajor=major, devminor=minor, **kw)


def fifo(name: str, **kw) -> Entry:
    return Entry(name, "fifo", **kw)


def whiteout(path: str) -> Entry:
    """The AUFS/OCI whiteout deleting ``path`` (``a/b`` -> ``a/.wh.b``)."""
    return Entry(sample.whiteout(path).name, "file", mode=0)


def opaque(dirpath: str = "") -> Entry:
    """The opaque marker hiding everything lower layers had in ``dirpath`` ("" = the root)."""
    return Entry(f"{dirpath.rstrip('/')}/.wh..wh..opq" if dirpath else ".wh..wh..opq", mode=0)


# Header layout: field -> (offset, length). GNU extension fields overlap the POSIX prefix.
FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "chksum": (148, 8),
    "typeflag": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "uname": (265, 32),
    "gname": (297, 32),
    "devmajor": (329, 8),
    "devminor": (337, 8),
    "prefix": (345, 155),
    "gnu_offset": (369, 12),
    "gnu_sparse": (386, 96),
    "gnu_isextended": (482, 1),
    "gnu_realsize": (483, 12),
}
USTAR_MAGIC = b"ustar\x0000"
GNU_MAGIC = b"ustar  \x00"


def number_field(value: int, length: int) -> bytes:
    """Octal, NUL-terminated when it fits; otherwise GNU base-256 (first byte 0x80)."""
    if 0 <= value < 8 ** (length - 1):
        return b"%0*o\x00" % (length - 1, value)
    if value < 0:
        value += 256 ** (length - 1) * 2  # two's complement, base-256 with the sign bit
        return bytes([0xFF]) + value.to_bytes(length, "big")[1:]
    return b"\x80" + value.to_bytes(length - 1, "big")


def tar_header(
    name: str | bytes,
    *,
    size: int = 0,
    typeflag: bytes = b"0",
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    mtime: int = 0,
    linkname: str | bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
    gnu: bool = False,
    patch: dict[str | int, bytes] | None = None,
    chksum: int | None = None,
) -> bytes:
    """One 512-byte header block, written by hand.

    Names are truncated to 100 bytes (use PAX/GNU records for longer ones). ``patch`` writes raw
    bytes at a field (a :data:`FIELDS` name) or an absolute offset, before the checksum is
    computed; ``chksum`` forces a (wrong) checksum value.
    """
    h = bytearray(BLOCK)

    def put(key: str | int, raw: bytes) -> None:
        off, length = FIELDS[key] if isinstance(key, str) else (key, len(raw))
        h[off : off + min(length, len(raw))] = raw[:length]

    put("name", as_bytes(name))
    put("mode", number_field(mode, 8))
    put("uid", number_field(uid, 8))
    put("gid", number_field(gid, 8))
    put("size", number_field(size, 12))
    put("mtime", number_field(mtime, 12))
    put("typeflag", typeflag)
    put("linkname", as_bytes(linkname))
    put("magic", GNU_MAGIC if gnu else USTAR_MAGIC)
    put("uname", b"root")
    put("gname", b"root")
    if typeflag in (b"3", b"4"):
        put("devmajor", number_field(devmajor, 8))
        put("devminor", number_field(devminor, 8))
    for key, raw in (patch or {}).items():
        put(key, raw)
    h[148:156] = b" " * 8
    value = sum(h) if chksum is None else chksum
    h[148:156] = b"%06o\x00 " % value
    return bytes(h)


def padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


def pax_records(records: dict[str, str | bytes]) -> bytes:
    """Encode PAX records, each ``"<len> <key>=<value>\\n"`` with its self-counting length."""
    out = b""
    for key, value in records.items():
        kv = b" " + as_bytes(key) + b"=" + as_bytes(value) + b"\n"
        n = len(kv) + 1
        while len(str(n)) + len(kv) != n:
            n += 1
        out += str(n).encode() + kv
    return out


def pax_header(
    records: dict[str, str | bytes] | bytes,
    *,
    typeflag: bytes = b"x",
    name: str | bytes = "PaxHeaders.0/entry",
    size: int | None = None,
) -> bytes:
    """An ``x`` (or global ``g``) header with its records; ``records`` may be raw bytes, and
    ``size`` may lie about their length."""
    body = records if isinstance(records, bytes) else pax_records(records)
    hdr = tar_header(name, size=len(body) if size is None else size, typeflag=typeflag)
    return hdr + body + padding(len(body))


def gnu_long(kind: bytes, value: bytes) -> bytes:
    """GNU ``L`` (long name) or ``K`` (long link name) pseudo-entry."""
    body = value + b"\x00"
    return (
        tar_header("././@LongLink", size=len(body), typeflag=kind, gnu=True)
        + body
        + padding(len(body))
    )


def gnu_sparse(name: str, realsize: int, chunks: list[tuple[int, bytes]], **kw) -> Raw:
    """Old-GNU sparse entry (typeflag ``S``, up to 4 chunks in the header): a file of
    ``realsize`` bytes of which only ``chunks`` (offset, data) are stored."""
    assert len(chunks) <= 4
    sparse = b"".join(number_field(off, 12) + number_field(len(d), 12) for off, d in chunks)
    data = b"".join(d for _, d in chunks)
    patch = {"gnu_sparse": sparse, "gnu_realsize": number_field(realsize, 12)}
    hdr = tar_header(name, size=len(data), typeflag=b"S", gnu=True, patch=patch, **kw)
    return Raw(hdr + data + padding(len(data)))


def pax_sparse(name: str, realsize: int, chunks: list[tuple[int, bytes]]) -> Raw:
    """GNU sparse format 1.0 in PAX (``GNU.sparse.*`` records, what ``tar --sparse
    --format=pax`` writes): the header name is ``GNUSparseFile.0/<base>`` and the real name is in
    ``GNU.sparse.name``; the data starts with a decimal sparse map padded to a block."""
    base = name.rsplit("/", 1)[-1]
    records = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(realsize),
    }
    smap = f"{len(chunks)}\n" + "".join(f"{off}\n{len(d)}\n" for off, d in chunks)
    body = smap.encode() + padding(len(smap)) + b"".join(d for _, d in chunks)
    hdr = tar_header(f"GNUSparseFile.0/{base}", size=len(body))
    return Raw(pax_header(records) + hdr + body + padding(len(body)))


def encode_entry(e: Entry, long_names: str = "pax") -> Iterator[bytes]:
    """Yield the blocks of one entry (extension headers, header, data, padding)."""
    typeflag = TYPEFLAGS.get(e.type, e.type) if isinstance(e.type, str) else e.type
    name, link = as_bytes(e.name), as_bytes(e.linkname)
    if typeflag == b"5" and not name.endswith(b"/"):
        name += b"/"
    mode = e.mode if e.mode is not None else (0o755 if typeflag == b"5" else 0o644)
    data_size = e.data.size if isinstance(e.data, Zeros) else len(e.data)
    pax = dict(e.pax or {})
    if len(name) > 100 or len(link) > 100:
        if long_names == "gnu":
            if len(link) > 100:
                yield gnu_long(b"K", link)
            if len(name) > 100:
                yield gnu_long(b"L", name)
        else:
            if len(name) > 100:
                pax.setdefault("path", name)
            if len(link) > 100:
                pax.setdefault("linkpath", link)
    if pax:
        yield pax_header(pax, name=b"PaxHeaders.0/" + name.rstrip(b"/").rsplit(b"/", 1)[-1][:80])
    size = data_size if e.size is None else e.size
    yield tar_header(
        name[:100],
        size=size,
        typeflag=typeflag,
        mode=mode,
        uid=e.uid,
        gid=e.gid,
        mtime=e.mtime,
        linkname=link[:100],
        devmajor=e.devmajor,
        devminor=e.devminor,
        gnu=long_names == "gnu",
    )
    if isinstance(e.data, Zeros):
        yield from e.data.chunks()
    elif e.data:
        yield e.data
    yield padding(data_size)


def tar_stream(
    entries: Iterable[Entry | Raw], *, long_names: str = "pax", eof: bool = True
) -> Iterator[bytes]:
    """Encode entries lazily; ``eof=False`` leaves out the two zero end-of-archive blocks."""
    for e in entries:
        if isinstance(e, Raw):
            yield e.data
        else:
            yield from encode_entry(e, long_names)
    if eof:
        yield EOF_MARKER


def tar_bytes(entries: Iterable[Entry | Raw], **kw) -> bytes:
    return b"".join(tar_stream(entries, **kw))


def many_files(n_dirs: int, per_dir: int) -> Iterator[Raw]:
    """Lazily yield ``n_dirs`` directories holding ``per_dir`` empty files each, as raw header
    blocks built from a template (fast enough for a million entries)."""
    file_tpl = bytearray(tar_header("x", mode=0o644))
    file_tpl[148:156] = b" " * 8
    base_sum = sum(file_tpl) - ord("x")
    for d in range(n_dirs):
        dname = b"d%05d/" % d
        yield Raw(tar_header(dname, typeflag=b"5", mode=0o755))
        for f in range(per_dir):
            name = dname + b"f%06d" % f
            h = bytearray(file_tpl)
            h[0 : len(name)] = name
            h[148:156] = b"%06o\x00 " % (base_sum + sum(name))
            yield Raw(bytes(h))


# --------------------------------------------------------------------------- layer level


@dataclass
class Layer:
    """One image layer.

    ``entries`` (any iterable of :class:`Entry` / :class:`Raw`, consumed once) or ``tar`` (the
    exact uncompressed bytes) give its content. ``compression``: ``none``, ``gzip``, ``zstd`` or
    ``estargz`` (an estargz-like gzip: one gzip member per header and per payload, a
    ``stargz.index.json`` TOC after the end-of-archive blocks and a 51-byte footer).
    ``corrupt`` maps the finished blob to the bytes actually shipped (its digest is taken after,
    so the blob stays consistent with its name). ``diff_id`` and ``media_type`` override what the
    config and manifest claim.
    """

    entries: Iterable[Entry | Raw] = ()
    compression: str = "none"
    command: str = ""
    tar: bytes | None = None
    eof: bool = True
    long_names: str = "pax"
    corrupt: Callable[[bytes], bytes] | None = None
    diff_id: str | None = None
    media_type: str | None = None


@dataclass
class EncodedLayer:
    blob: bytes
    digest: str  # sha256:<hex> of blob
    diff_id: str  # what the config claims (sha256 of the uncompressed tar unless overridden)
    media_type: str
    command: str

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zstd_bytes(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


def _estargz(chunks: list[bytes]) -> tuple[bytes, bytes]:
    """(blob, uncompressed stream) of an estargz-like layer made of per-entry tar chunks."""
    members: list[bytes] = []
    names = []
    for chunk in chunks:
        hdr, body = chunk[:BLOCK], chunk[BLOCK:]
        members.append(hdr)
        if body:
            members.append(body)
        names.append(hdr[:100].rstrip(b"\0").decode("utf-8", "replace"))
    members.append(EOF_MARKER)
    toc = json.dumps(
        {"version": 1, "entries": [{"name": n, "type": "reg"} for n in names]}, indent="\t"
    ).encode()
    members.append(tar_bytes([file("stargz.index.json", toc)]))
    blob = b"".join(gzip_bytes(m) for m in members)
    toc_offset = len(blob) - len(gzip_bytes(members[-1]))
    extra = b"SG" + (22).to_bytes(2, "little") + b"%016xSTARGZ" % toc_offset
    footer = (
        b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff"
        + len(extra).to_bytes(2, "little")
        + extra
        + b"\x01\x00\x00\xff\xff"
        + bytes(8)
    )
    assert len(footer) == 51
    return blob + footer, b"".join(members)


def encode_layer(layer: Layer) -> EncodedLayer:
    """Stream a layer through its compressor, hashing the uncompressed tar for the diff_id."""
    media = {"none": MT_LAYER, "gzip": MT_LAYER_GZIP, "estargz": MT_LAYER_GZIP}
    media["zstd"] = MT_LAYER_ZSTD
    if layer.compression == "estargz":
        if layer.tar is not None:
            raise ValueError("estargz layers are built from entries")
        chunks = [b"".join(encode_entry(e, layer.long_names)) for e in layer.entries]
        blob, raw = _estargz(chunks)
        diff_hex = sha256_hex(raw)
    else:
        stream = (
            iter([layer.tar])
            if layer.tar is not None
            else tar_stream(layer.entries, long_names=layer.long_names, eof=layer.eof)
        )
        h, out = hashlib.sha256(), io.BytesIO()
        if layer.compression == "gzip":
            comp = zlib.compressobj(6, zlib.DEFLATED, 31)
        elif layer.compression == "zstd":
            comp = zstandard.ZstdCompressor(write_checksum=True).compressobj()
        elif layer.compression == "none":
            comp = None
        else:
            raise ValueError(layer.compression)
        for chunk in stream:
            h.update(chunk)
            out.write(comp.compress(chunk) if comp else chunk)
        if comp:
            out.write(comp.flush())
        blob, diff_hex = out.getvalue(), h.hexdigest()
    if layer.corrupt:
        blob = layer.corrupt(blob)
    return EncodedLayer(
        blob=blob,
        digest="sha256:" + sha256_hex(blob),
        diff_id=layer.diff_id or "sha256:" + diff_hex,
        media_type=layer.media_type or media[layer.compression],
        command=layer.command,
    )


# --------------------------------------------------------------------------- image level


@dataclass
class Image:
    """An image: ordered layers plus config. ``config`` (exact bytes) replaces the generated
    config; ``config_extra`` is merged into it; ``history`` replaces the one made from the
    layers' commands."""

    layers: list[Layer] = field(default_factory=list)
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    tag: str = "layerscope-test/image:latest"
    config: bytes | None = None
    config_extra: dict = field(default_factory=dict)
    history: list[dict] | None = None

    @property
    def platform(self) -> dict:
        p = {"architecture": self.architecture, "os": self.os}
        return p | ({"variant": self.variant} if self.variant else {})


def config_dict(image: Image, layers: list[EncodedLayer] | None = None) -> dict:
    """The config that would be generated for ``image`` (to tweak and set as ``image.config``)."""
    layers = [encode_layer(lay) for lay in image.layers] if layers is None else layers
    return json.loads(make_config(replace(image, config=None), layers))


def make_config(image: Image, layers: list[EncodedLayer]) -> bytes:
    if image.config is not None:
        return image.config
    history = image.history
    if history is None:
        history = [{"created": CREATED, "created_by": lay.command} for lay in layers]
    return image_config(
        [lay.diff_id for lay in layers],
        history,
        created=CREATED,
        config={"Env": ["PATH=/usr/bin:/bin"]},
        platform=image.platform,
        extra=image.config_extra,
    )


def jdump(obj) -> bytes:
    return json.dumps(obj, indent=2).encode()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    d = {"mediaType": media_type, "digest": "sha256:" + sha256_hex(data), "size": len(data)}
    return d | extra


@dataclass
class Member:
    """One member of an outer archive: a file (bytes, or a Path to stream from), a directory,
    or a symlink."""

    name: str
    data: bytes | Path | None = None
    type: str = "file"
    linkname: str = ""


@dataclass
class Archive:
    """An image laid out as archive members, editable before it is written.

    ``layers`` / ``layer_paths`` (member names, in manifest order), ``config_path`` /
    ``config_digest`` and ``manifest_path`` / ``manifest_digest`` (OCI formats) say where
    things are, so tests can break exactly one of them.
    """

    members: list[Member] = field(default_factory=list)
    layers: list[EncodedLayer] = field(default_factory=list)
    layer_paths: list[str] = field(default_factory=list)
    config_path: str = ""
    config_digest: str = ""
    manifest_path: str = ""
    manifest_digest: str = ""

    def _find(self, name: str) -> int:
        for i, m in enumerate(self.members):
            if m.name == name:
                return i
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(m.name == name for m in self.members)

    def __getitem__(self, name: str) -> bytes:
        data = self.members[self._find(name)].data
        return data.read_bytes() if isinstance(data, Path) else data

    def __setitem__(self, name: str, data: bytes | Path) -> None:
        """Replace a member's content, or append a new file member."""
        try:
            self.members[self._find(name)] = Member(name, data)
        except KeyError:
            self.members.append(Member(name, data))

    def set_json(self, name: str, obj) -> None:
        self[name] = jdump(obj)

    def remove(self, name: str) -> None:
        del self.members[self._find(name)]

    def add_symlink(self, name: str, target: str) -> None:
        if name in self:
            self.remove(name)
        self.members.append(Member(name, None, "symlink", target))

    def move_to_front(self, name: str) -> None:
        self.members.insert(0, self.members.pop(self._find(name)))

    def write_tar(self, path: Path, *, eof: bool = True) -> Path:
        """Write as a tar (POSIX ustar/PAX, like ``docker save``); Path members are streamed."""
        with open(path, "wb") as out:
            for m in self.members:
                if m.type == "dir":
                    out.write(tar_header(m.name.rstrip("/") + "/", typeflag=b"5", mode=0o755))
                elif m.type == "symlink":
                    out.write(b"".join(encode_entry(symlink(m.name, m.linkname))))
                elif isinstance(m.data, Path):
                    size = m.data.stat().st_size
                    out.write(tar_header(m.name, size=size))
                    with open(m.data, "rb") as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                    out.write(padding(size))
                else:
                    for chunk in encode_entry(file(m.name, m.data)):
                        out.write(chunk)
            if eof:
                out.write(EOF_MARKER)
        return path

    def write_dir(self, path: Path) -> Path:
        """Write as a directory tree (an OCI image layout directory)."""
        path.mkdir(parents=True, exist_ok=True)
        for m in self.members:
            target = path / m.name
            if m.type == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if m.type == "symlink":
                os.symlink(m.linkname, target)
            elif isinstance(m.data, Path):
                target.write_bytes(m.data.read_bytes())
            else:
                target.write_bytes(m.data)
        return path


def _encode_image(image: Image) -> tuple[list[EncodedLayer], bytes]:
    layers = [encode_layer(lay) for lay in image.layers]
    return layers, make_config(image, layers)


def docker_archive(image: Image, *, manifest_first: bool = False) -> Archive:
    """Legacy ``docker save`` (engines < 25): ``<v1id>/{VERSION,json,layer.tar}``, then
    ``<config-hex>.json``, ``manifest.json`` and ``repositories`` (in docker's own order unless
    ``manifest_first``)."""
    layers, config = _encode_image(image)
    members = docker_save_members([(lay.blob, lay.diff_id) for lay in layers], config, [image.tag])
    arc = Archive(
        members=[Member(name, data, "dir" if data is None else "file") for name, data in members],
        layers=layers,
        config_digest="sha256:" + sha256_hex(config),
        manifest_path="manifest.json",
    )
    (manifest,) = json.loads(arc["manifest.json"])
    arc.config_path, arc.layer_paths = manifest["Config"], manifest["Layers"]
    if manifest_first:
        arc.move_to_front("manifest.json")
    return arc


def _oci_manifest(layers: list[EncodedLayer], config: bytes) -> bytes:
    return jdump(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": descriptor(MT_CONFIG, config),
            "layers": [
                {"mediaType": lay.media_type, "digest": lay.digest, "size": len(lay.blob)}
                for lay in layers
            ],
        }
    )


def _blob(arc: Archive, data: bytes) -> str:
    name = "blobs/sha256/" + sha256_hex(data)
    if name not in arc:
        arc.members.append(Member(name, data))
    return name


def oci_archive(*images: Image, nested: bool = False, platforms: bool | None = None) -> Archive:
    """OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/...``), as a tar or a
    directory. Several images make a multi-platform index: flat in ``index.json``, or
    ``nested`` (``index.json`` -> an image index blob -> the manifests). ``platforms``
    (default: when there are several images) puts each image's platform in its descriptor."""
    arc = Archive(members=[Member("blobs/", type="dir"), Member("blobs/sha256/", type="dir")])
    platforms = len(images) > 1 if platforms is None else platforms
    descs = []
    for image in images:
        layers, config = _encode_image(image)
        for lay in layers:
            arc.layer_paths.append(_blob(arc, lay.blob))
        arc.layers += layers
        arc.config_path = _blob(arc, config)
        arc.config_digest = "sha256:" + sha256_hex(config)
        manifest = _oci_manifest(layers, config)
        arc.manifest_path = _blob(arc, manifest)
        arc.manifest_digest = "sha256:" + sha256_hex(manifest)
        desc = descriptor(MT_MANIFEST, manifest)
        if platforms:
            desc["platform"] = image.platform
        desc["annotations"] = {"org.opencontainers.image.ref.name": image.tag.rpartition(":")[2]}
        descs.append(desc)
    if nested:
        inner = jdump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descs})
        _blob(arc, inner)
        descs = [descriptor(MT_INDEX, inner)]
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descs}
    arc.members += [
        Member("index.json", jdump(index)),
        Member("oci-layout", jdump({"imageLayoutVersion": "1.0.0"})),
    ]
    return arc


def docker25_archive(image: Image) -> Archive:
    """Docker 25+ ``docker save``: an OCI layout plus a legacy-style ``manifest.json`` whose
    ``Config`` and ``Layers`` point at ``blobs/sha256/<hex>``."""
    arc = oci_archive(image)
    arc.members.insert(
        -1,
        Member(
            "manifest.json",
            jdump(
                [
                    {
                        "Config": arc.config_path,
                        "RepoTags": [image.tag],
                        "Layers": list(arc.layer_paths),
                    }
                ]
            ),
        ),
    )
    return arc


# --------------------------------------------------------------------------- corruption


def flip(data: bytes, at: int | None = None, count: int = 1) -> bytes:
    """Invert ``count`` bytes starting at ``at`` (default: the middle)."""
    at = len(data) // 2 if at is None else at
    b = bytearray(data)
    for i in range(at, min(at + count, len(b))):
        b[i] ^= 0xFF
    return bytes(b)


def cut(data: bytes, at: int) -> bytes:
    """The first ``at`` bytes (negative: drop that many from the end)."""
    return data[:at]


def noise(size: int, seed: bytes = b"") -> bytes:
    """Deterministic incompressible bytes."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:size])


def truncate(path: Path, size: int) -> Path:
    with open(path, "r+b") as f:
        f.truncate(size)
    return path


def rewrite_header(tar_path: Path, offset: int, **fields: int) -> None:
    """Rewrite numeric fields (``size=...``, ``mode=...``) of the header block at ``offset`` of
    a written tar, fixing its checksum (base-256 when the value does not fit)."""
    with open(tar_path, "r+b") as f:
        f.seek(offset)
        h = bytearray(f.read(BLOCK))
        for key, value in fields.items():
            off, length = FIELDS[key]
            h[off : off + length] = number_field(value, length)
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\x00 " % sum(h)
        f.seek(offset)
        f.write(h)


def member_span(tar_path: Path, name: str) -> tuple[int, int, int]:
    """(header offset, data offset, data size) of a member in a written tar."""
    with tarfile.open(tar_path) as t:
        m = t.getmember(name)
        return m.offset, m.offset_data, m.size
