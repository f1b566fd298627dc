"""Property-based tests of the layer indexer and the OCI stacking, on random valid layers.

1. One layer of arbitrary entries: ``index_layer`` lists exactly what Python's ``tarfile``
   reads from the same bytes (normalised names, types, sizes, modes, owners, mtimes, link
   targets, content hashes), from a seekable and from a forward-only stream.
2. A few layers that stack: the product's final filesystem (``stack(..., correct=True)``)
   is what a real extraction gives (each layer written into a directory, whiteouts and opaque
   markers applied by hand) — same paths, types, sizes, symlink targets, modes and owners —
   and ``reclaimable`` counts exactly the shipped bytes the final filesystem no longer shows.

Runs under the profile of ``tests/fuzz/profiles.py`` (``LAYERSCOPE_FUZZ=long`` for more).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import note as _note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from explorer.core.layerindex import index_layer
from explorer.core.reclaim import reclaimable
from tests.fuzz import model
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import free_layers, images
from tests.robustness import builders as b


def note(text: str) -> None:
    if currently_in_test_context():  # the helpers also serve plain example tests
        _note(text)


def index_bytes(data: bytes, seekable: bool):
    stream = io.BytesIO(data) if seekable else io.BufferedReader(model.ForwardOnly(data))
    with model.alarm(20):
        return index_layer(stream, "fuzz layer")


def _compare_rows(expected: list[model.Row], got: list[model.Row]) -> None:
    assert [r.path for r in got] == [r.path for r in expected], "paths differ"
    for e, g in zip(expected, got, strict=True):
        if e.hash is None:  # sparse: tarfile expands the holes, the index hashes what is stored
            g = model.Row(*[*g.__dict__.values()][:-1], None)
        assert g == e, f"entry {e.path!r}: index {g} != tarfile {e}"


@settings(max_examples=examples(ci=600, long=5000))
@given(layer=free_layers(), seekable=st.booleans())
def test_index_agrees_with_tarfile(layer, seekable) -> None:
    """index_layer lists the same entries as tarfile, in the same order, with the same
    normalised names, types, sizes, modes, owners, mtimes, link targets and content."""
    entries, long_names, eof = layer
    data = b.tar_bytes(entries, long_names=long_names, eof=eof)
    expected = model.tar_listing(data)
    note(f"tarfile: {expected}")
    got = model.index_rows(index_bytes(data, seekable))
    _compare_rows(expected, got)


def _stack_check(plan) -> None:
    note(plan.describe())
    check_stack(plan.tars, reclaim=not plan.hardlinks and not plan.duplicates)


def check_stack(tars: list[bytes], reclaim: bool = True) -> None:
    layers = [index_bytes(t, True) for t in tars]
    with tempfile.TemporaryDirectory(prefix="layerscope-fuzz-") as tmp:
        try:
            on_disk = model.extract_image(Path(tmp) / "root", tars)
        except model.Conflict as exc:  # the generator made something no filesystem holds
            pytest.fail(f"generator bug, not a product bug: {exc}")
    note(f"on disk: {on_disk}")
    with model.alarm(20):
        final = model.product_tree(layers)
        shown = model.walk_tree(final)
    note(f"product: {shown}")
    diffs = model.differences(on_disk, shown)
    assert not diffs, "final filesystem differs from the extraction:\n" + "\n".join(diffs)
    if reclaim:
        shipped = sum(r.size for t in tars for r in model.tar_listing(t) if r.type == ord("0"))
        visible = sum(n.size or 0 for n in on_disk.values() if n.kind == "file")
        with model.alarm(20):
            total = reclaimable(layers).total
        assert total == shipped - visible, (
            f"reclaimable {total} != shipped {shipped} - visible on disk {visible}"
        )


@settings(max_examples=examples(ci=500, long=4000))
@given(plan=images())
def test_stack_agrees_with_extraction(plan) -> None:
    """stack(..., correct=True) over all layers gives the filesystem a real extraction with
    OCI whiteout semantics gives: same paths, types, sizes, link targets, modes, owners; and
    reclaimable() = bytes shipped - bytes visible (without hardlinks or rewritten paths)."""
    _stack_check(plan)


# --------------------------------------------------------------------------- regressions
# Stacking bugs the property found (fixed in 6db19e0), as small examples:
# - an opaque marker was applied only to a directory with other entries below it in the same
#   layer: a directory removed and re-created empty (`d/`, `d/.wh..wh..opq`, what overlayfs
#   gives for `rm -rf d && mkdir d`) kept what lower layers had in it, and reclaimable()
#   dropped the hidden bytes of a file with a hardlink;
# - a layer's whiteout `.wh.<name>` deleted the same layer's <name> when <name> sorts before
#   `.wh.` (`-x`, `.bashrc`, `.cache`...): siblings were applied in byte order;
# - a whiteout `d/.wh.x` re-created its parent d when the same layer deleted d (`.wh.d`) or
#   hid it (an opaque marker on an ancestor).


def test_opaque_directory_recreated_empty() -> None:
    """`rm -rf d && mkdir d` on overlayfs: the layer holds `d/` and `d/.wh..wh..opq` only."""
    check_stack(
        [
            b.tar_bytes([b.directory("d"), b.file("d/old", b"x" * 100)]),
            b.tar_bytes([b.directory("d"), b.opaque("d")]),
        ]
    )


def test_opaque_directory_recreated_empty_hardlink() -> None:
    """The same, the hidden file having a hardlink: its 100 bytes are reclaimable."""
    layers = [
        b.tar_bytes([b.directory("d"), b.file("d/f", b"x" * 100), b.hardlink("d/h", "d/f")]),
        b.tar_bytes([b.directory("d"), b.opaque("d")]),
    ]
    total = reclaimable([index_bytes(t, True) for t in layers]).total
    assert total == 100, f"reclaimable {total}, expected the 100 bytes the opaque d hides"


@pytest.mark.parametrize("name", ["-x", ".bashrc", " lead", "+plus"])
def test_whiteout_and_new_entry_in_one_layer(name: str) -> None:
    """A layer that whites out <name> and writes a new <name>: the new one stays."""
    check_stack(
        [
            b.tar_bytes([b.file(name, b"o" * 100)]),
            b.tar_bytes([b.whiteout(name), b.file(name, b"n" * 50)]),
            b.tar_bytes([b.file(name, b"m" * 10)]),
        ]
    )


def test_whiteout_and_new_entry_in_one_layer_late_name() -> None:
    """The same with a name sorting after '.wh.' works (the control of the case above)."""
    check_stack(
        [
            b.tar_bytes([b.file("x", b"o" * 100)]),
            b.tar_bytes([b.whiteout("x"), b.file("x", b"n" * 50)]),
            b.tar_bytes([b.file("x", b"m" * 10)]),
        ]
    )


def test_whiteout_and_recreated_directory_in_one_layer() -> None:
    """A layer that whites out `.cache` and writes a new `.cache/` with new content."""
    check_stack(
        [
            b.tar_bytes([b.directory(".cache"), b.file(".cache/old", b"o" * 100)]),
            b.tar_bytes([b.whiteout(".cache"), b.directory(".cache"), b.file(".cache/new", b"n")]),
        ]
    )


def test_whiteout_below_a_deleted_directory() -> None:
    """A layer with `.wh.d` and `d/.wh.x` (and no `d/` entry): d is gone."""
    check_stack(
        [
            b.tar_bytes([b.directory("d"), b.file("d/x", b"x")]),
            b.tar_bytes([b.Entry("d/.wh.x", mode=0), b.whiteout("d")]),
        ]
    )
