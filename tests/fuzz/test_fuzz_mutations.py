"""Mutation fuzzing: valid layer tars and whole image archives, then bytes flipped, cut,
inserted or deleted, header fields rewritten (checksum fixed, so the edit gets past the
checksum check) and JSON documents edited.

Whatever the damage, the reader either succeeds or raises ``ImageError`` — never another
exception, never a hang (an alarm fires after a few seconds), never a memory blow-up (the
traced peak of a layer read is bounded). When it succeeds, everything downstream (stacking,
both efficiency accounts, the export, the tree view model of every layer in both modes) must
run too. A few mutated archives also go through the real CLI in a subprocess (exit 0 or 2,
one error line, no traceback, no file left behind).
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import tempfile
import traceback
import tracemalloc
from pathlib import Path

from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from explorer.core.analysis import analyze, index_all
from explorer.core.errors import ImageError
from explorer.core.export import write_export
from explorer.core.layerindex import index_layer
from explorer.core.sources import open_source
from explorer.core.tree import FileTree, layer_tree, stack
from explorer.core.treeview import AGGREGATED, LAYER_CHANGES, TreeViewModel
from tests.fuzz import model
from tests.fuzz.model import FIELD_SPANS, Mutation
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import free_layers, images
from tests.robustness import builders as b
from tests.robustness.harness import assert_analysed, assert_common, check_schema, run_cli

MIB = 1 << 20

# Known bugs, pinned by strict xfails in test_fuzz_findings.py, tolerated here (and counted in
# hypothesis' statistics) so these properties keep guarding everything else; drop an entry
# once its bug is fixed (the strict xfails will say so):
# - header numbers outside the index arrays' range raise OverflowError (array.append);
# - a JSON value of the wrong type at some places of index.json / manifest.json raises
#   TypeError or AttributeError in sources/layout.py.
KNOWN: dict[str, tuple[tuple[type[BaseException], ...], str, str]] = {}  # none left


def known_bug(exc: BaseException, where: str = "") -> str | None:
    """The name of the known bug ``exc`` is, or None."""
    frame = traceback.extract_tb(exc.__traceback__)[-1].filename if exc.__traceback__ else ""
    for name, (types, place, _) in KNOWN.items():
        if name == "json-shapes" and where != "json":
            continue
        if isinstance(exc, types) and place in frame.replace(os.sep, "/"):
            return name
    return None


def known_cli_bug(stderr: str, where: str) -> str | None:
    for name, (types, _, text) in KNOWN.items():
        if name == "json-shapes" and where != "json":
            continue
        if any(f"{text}{t.__name__}" in stderr for t in types):
            return name
    return None


# --------------------------------------------------------------------------- mutations

NUMBERS = st.one_of(
    st.integers(0, 8**11).map(lambda v: b"%o" % v),
    st.integers(0, 2**62).map(lambda v: b"\x80" + v.to_bytes(11, "big")),
    st.sampled_from(
        [
            b"77777777777",
            b"-1",
            b"\xff" * 12,  # base-256 minus one
            b"\x80" + b"\xff" * 11,  # base-256, huge
            b" 0 ",
            b"9",
            b"0x10",
            b"",
            b"\x00" * 12,
        ]
    ),
    st.binary(max_size=12),
)
NAMES = st.one_of(
    st.sampled_from(
        [
            b"..",
            b"../../etc/passwd",
            b"/",
            b"",
            b".",
            b"./",
            b"//",
            b".wh..wh..opq",
            b"a/.wh..wh..opq",
            b".wh.",
            b".wh..",
            b"a/.wh...",
            b"a/../../b",
            b"\x1b]52;c;ZXZpbA==\x07",
            b"[bold]x",
            b"\xff\xfe",
        ]
    ),
    st.binary(max_size=100),
)
TYPEFLAGS = st.sampled_from(list(b"0123456789xgLKSAVDMNZ\x00\xff")).map(lambda c: bytes([c]))


def field_mutation(field: str) -> st.SearchStrategy[Mutation]:
    values = {"name": NAMES, "linkname": NAMES, "prefix": NAMES, "typeflag": TYPEFLAGS}
    values["magic"] = st.sampled_from([b"ustar\x0000", b"ustar  \x00", b"\x00" * 8, b"garbage!"])
    return st.builds(
        Mutation,
        kind=st.just("field"),
        at=st.integers(0, 64),
        value=values.get(field, NUMBERS),
        field=st.just(field),
        fix_checksum=st.integers(0, 9).map(lambda n: n > 0),
    )


POSITIONS = st.integers(0, 1 << 24)
mutations = st.one_of(
    st.builds(
        Mutation, kind=st.just("flip"), at=POSITIONS, value=st.binary(min_size=1, max_size=1)
    ),
    st.builds(Mutation, kind=st.just("truncate"), at=POSITIONS),
    st.builds(
        Mutation,
        kind=st.just("insert"),
        at=POSITIONS,
        value=st.one_of(
            st.binary(min_size=1, max_size=600),
            st.just(bytes(512)),
            st.integers(0, 2**40).map(lambda n: b.tar_header("x", size=n)),
            st.binary(max_size=200).map(lambda r: b.pax_header(r)),
            st.binary(max_size=200).map(lambda r: b.pax_header(r, typeflag=b"g")),
            st.binary(max_size=200).map(lambda r: b.gnu_long(b"L", r)),
        ),
    ),
    st.builds(Mutation, kind=st.just("delete"), at=POSITIONS, value=st.binary(max_size=600)),
    st.sampled_from(sorted(FIELD_SPANS)).flatmap(field_mutation),
)


# --------------------------------------------------------------------------- checks


def _kind_of(exc: Exception) -> str:
    """The error message without its variable parts (for hypothesis' statistics)."""
    text = re.sub(r"sha256:[0-9a-f]+|[0-9a-f]{64}|\d+|'[^']*'", "#", str(exc))
    return text.rsplit(": ", 1)[-1][:60]


def run_everything(layers) -> None:
    """What follows a successful read: stacking both ways, both efficiency accounts, and the
    tree view of every layer in both modes, with its rows."""
    for correct in (False, True):
        tree = FileTree(layers)
        for n in range(len(layers)):
            stack(tree, layer_tree(layers, n), correct=correct)
    view = TreeViewModel(layers)
    for mode in (LAYER_CHANGES, AGGREGATED):
        for n in range(len(layers)):
            view.set_layer(n, mode)
            for row in view.rows():
                assert isinstance(row.path, str)


def check_normalised(idx) -> None:
    for p in idx.paths:
        assert p and not p.startswith("/"), f"path not normalised: {p!r}"
        assert not {"", ".", ".."} & set(p.split("/")), f"path not normalised: {p!r}"
    n = len(idx.paths)
    arrays = (idx.types, idx.sizes, idx.modes, idx.uids, idx.gids, idx.mtimes, idx.hashes)
    assert all(len(a) == n for a in arrays), "index arrays of different lengths"
    assert all(0 <= i < n for i in idx.links)


@settings(max_examples=examples(ci=800, long=6000))
@given(layer=free_layers(), muts=st.lists(mutations, min_size=1, max_size=4), seek=st.booleans())
def test_mutated_layer_tar(layer, muts, seek) -> None:
    """index_layer on a damaged layer tar: an index of normalised paths, or ImageError; then
    stacking, efficiency and the tree view run on what it read. Traced memory stays under
    32 MiB + 4 x the input, whatever the header fields claim."""
    entries, long_names, eof = layer
    data = model.mutate(b.tar_bytes(entries, long_names=long_names, eof=eof), muts)
    note(f"{len(data)} bytes: {data[:2048]!r}")
    stream = io.BytesIO(data) if seek else io.BufferedReader(model.ForwardOnly(data))
    tracemalloc.start()
    try:
        with model.alarm(10):
            idx = index_layer(stream, "fuzz layer")
        peak = tracemalloc.get_traced_memory()[1]
    except ImageError as exc:
        assert str(exc).startswith("fuzz layer"), f"error does not say where: {exc}"
        event(f"rejected: {_kind_of(exc)}")
        return
    except Exception as exc:
        if known_bug(exc) is None:
            raise
        event(f"known bug: {known_bug(exc)}")
        return
    finally:
        tracemalloc.stop()
    assert peak < 32 * MIB + 4 * len(data), f"{peak} bytes traced reading {len(data)} bytes"
    event("read")
    check_normalised(idx)
    with model.alarm(20):
        run_everything([idx, idx])


# --------------------------------------------------------------------------- whole archives

FORMATS = ("docker-archive", "docker25", "oci-archive", "oci-dir")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3)
    ),
    max_leaves=6,
)


def _edit_json(doc, route: list[int], value):
    """Replace the value found by following ``route`` (indexes into lists / keys) with
    ``value``; a route ending early replaces the whole document."""
    if not route or not isinstance(doc, dict | list) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[route[0] % len(keys)]
    doc[key] = _edit_json(doc[key], route[1:], value)
    return doc


@st.composite
def damaged_archives(draw):
    """(plan, format, Archive, what was damaged, mutations, which file of an OCI directory).

    Damage goes to: the archive's bytes (``outer``); one layer's tar before it is compressed
    and hashed (``layer-tar``: digests and diff_id consistent, so the damaged tar reaches the
    indexer); one layer's blob after (``layer-blob``: the digest matches, the diff_id does
    not); or one JSON document, one value replaced by random JSON (``json``)."""
    plan = draw(images(max_layers=3))
    fmt = draw(st.sampled_from(FORMATS))
    compression = draw(st.sampled_from(["none", "gzip", "zstd"]))
    if fmt == "docker-archive":
        compression = "none"
    where = draw(st.sampled_from(["outer", "layer-tar", "layer-tar", "layer-blob", "json"]))
    muts = draw(st.lists(mutations, min_size=1, max_size=3))
    tars = plan.tars
    victim = draw(st.integers(0, len(tars) - 1))
    layers = []
    for i, tar in enumerate(tars):
        layer = b.Layer(tar=tar, compression=compression, command=f"RUN step {i}")
        if i == victim and where == "layer-tar":
            layer.tar = model.mutate(tar, muts)
        if i == victim and where == "layer-blob":
            layer.corrupt = lambda blob, muts=muts: model.mutate(blob, muts)
        layers.append(layer)
    arc = {
        "docker-archive": b.docker_archive,
        "docker25": b.docker25_archive,
        "oci-archive": b.oci_archive,
        "oci-dir": b.oci_archive,
    }[fmt](b.Image(layers=layers))
    json_edit = None
    if where == "json":
        docs = [
            m.name for m in arc.members if m.name.endswith(".json") or m.name == arc.config_path
        ]
        name = draw(st.sampled_from(docs))
        route = draw(st.lists(st.integers(0, 20), max_size=5))
        json_edit = (name, route, draw(JSON_VALUES))
    member = draw(st.integers(0, 1000))  # which file of an OCI directory the bytes hit
    return plan, fmt, arc, where, json_edit, muts, member


def write_damaged(tmp: Path, fmt: str, arc, where, json_edit, muts, member: int) -> Path:
    if json_edit is not None:
        name, route, value = json_edit
        doc = json.loads(arc[name])
        arc[name] = json.dumps(_edit_json(doc, route, value)).encode()
    if fmt == "oci-dir":
        path = arc.write_dir(tmp / "layout")
        if where == "outer":
            files = sorted(p for p in path.rglob("*") if p.is_file())
            victim = files[member % len(files)]
            victim.write_bytes(model.mutate(victim.read_bytes(), muts))
        return path
    path = arc.write_tar(tmp / "image.tar")
    if where == "outer":
        path.write_bytes(model.mutate(path.read_bytes(), muts))
    return path


def analyse_archive(path: Path, out: Path) -> None:
    source = open_source(str(path))
    try:
        meta, layers = index_all(source)
    finally:
        source.close()
    for idx in layers:
        check_normalised(idx)
    analyze(meta, layers)
    write_export(str(out), meta, layers)
    json.loads(out.read_bytes().decode("utf-8"))
    run_everything(layers)


@settings(max_examples=examples(ci=400, long=4000))
@given(case=damaged_archives())
def test_mutated_archive(case) -> None:
    """A damaged image archive (legacy docker-archive, Docker 25+, OCI archive, OCI layout
    directory; plain, gzip or zstd layers; bytes or JSON edited): open + index + analysis +
    export either succeed — with a strict-UTF-8 JSON export — or raise ImageError."""
    plan, fmt, arc, where, json_edit, muts, member = case
    note(plan.describe())
    note(f"{fmt}, damage to {where}: json edit {json_edit}, mutations {muts}")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="layerscope-fuzz-") as tmp:
        path = write_damaged(Path(tmp), fmt, arc, where, json_edit, muts, member)
        try:
            with model.alarm(30):
                analyse_archive(path, Path(tmp) / "out.json")
            event(f"{where}: analysed")
        except ImageError as exc:
            note(f"rejected: {exc}")
            event(f"{where}: rejected: {_kind_of(exc)}")
        except Exception as exc:
            if known_bug(exc, where) is None:
                raise
            event(f"known bug: {known_bug(exc, where)}")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert grown < 512 * 1024, f"peak RSS grew by {grown} KiB on a tiny archive"


@settings(max_examples=examples(ci=10, long=100))
@given(case=damaged_archives())
def test_mutated_archive_cli(case) -> None:
    """The same damage through the real CLI (subprocess, 2 GiB address-space cap): exit 0 with
    a valid dive-schema export, or exit 2 with exactly one error line and no file left;
    never a traceback, a hang or a raw control character on stderr."""
    plan, fmt, arc, where, json_edit, muts, member = case
    note(plan.describe())
    note(f"{fmt}, damage to {where}: json edit {json_edit}, mutations {muts}")
    with tempfile.TemporaryDirectory(prefix="layerscope-fuzz-") as tmp:
        path = write_damaged(Path(tmp), fmt, arc, where, json_edit, muts, member)
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        out = out_dir / "export.json"
        res = run_cli(path, out, cache_dir=Path(tmp) / "cache", timeout=60)
        note(res.describe())
        assert_common(res)
        if res.returncode == 3 and known_cli_bug(res.stderr, where):
            event(f"known bug: {known_cli_bug(res.stderr, where)} (exit 3)")
            return
        assert res.returncode in (0, 2), res.describe()
        if res.returncode == 0:
            assert_analysed(res, out)
            check_schema(json.loads(out.read_bytes().decode("utf-8")))
        else:
            assert len(res.errors) == 1, f"expected one error line: {res.describe()}"
            assert not out.exists() and not os.listdir(out_dir), "files left after a rejection"
