"""Property-based test of content access (issue 13) on random images that stack: what
`ContentAccess` says the final image holds — `visible`, `tree`, and every file's bytes — is
what a real extraction gives (each layer written into a directory, whiteouts and opaque
markers applied by hand: tests/fuzz/model.py), a path the extraction does not have is not
visible, and our own extraction of the image (`explorer.core.extract`) writes that tree."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note, settings

from explorer.core import extract
from explorer.core.content import open_content
from tests.fuzz import model
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import images
from tests.robustness import builders as b


@settings(max_examples=examples(ci=120, long=1500))
@given(plan=images())
def test_content_agrees_with_extraction(plan) -> None:
    """Every non-directory path of the extraction is visible with the same kind, and a file
    reads the same bytes; the visible tree's files, links and FIFOs are exactly the
    extraction's; every other path a layer wrote is not visible; `extract` of the whole image
    writes the same paths, kinds, sizes, link targets, bytes and modes (less setuid, setgid,
    sticky), FIFOs skipped."""
    note(plan.describe())
    tars = plan.tars
    with tempfile.TemporaryDirectory(prefix="layerscope-fuzz-content-") as tmp:
        root = Path(tmp) / "root"
        try:
            on_disk = model.extract_image(root, tars)
        except model.Conflict as exc:
            pytest.fail(f"generator bug, not a product bug: {exc}")
        image = b.Image(layers=[b.Layer(tar=t) for t in tars])
        archive = b.docker_archive(image).write_tar(Path(tmp) / "image.tar")
        with model.alarm(20), open_content(str(archive)) as acc:
            shown = {e.path: e for e in acc.tree("")}
            for path, node in on_disk.items():
                entry = acc.visible(path)
                if node.kind == "dir":
                    assert entry is None or entry.kind == "dir", path
                    continue
                assert entry is not None, f"{path!r} is on disk, not visible"
                kind = "file" if entry.kind == "hardlink" else entry.kind
                assert kind == node.kind, f"{path!r}: {entry.kind} != {node.kind}"
                if node.kind == "file":
                    data = (root / path).read_bytes()
                    assert acc.open_entry(entry).read() == data, path
                if node.kind == "symlink":
                    assert entry.link == node.link
            files = {p for p, n in on_disk.items() if n.kind != "dir"}
            assert {p for p, e in shown.items() if e.kind != "dir"} == files
            written = {p for layer in acc.layers for p in layer.paths}
            for path in written - set(on_disk):
                if ".wh." not in path:
                    assert acc.visible(path) is None, f"{path!r} is not on disk, but visible"
            # extracted: the same tree (FIFOs skipped), bytes, links, modes less setuid bits
            out = Path(tmp) / "out"
            extract.extract(acc, extract.plan(acc, [""], None), str(out))
        ours = model.walk_fs(out)
        for path, node in on_disk.items():
            if node.kind == "fifo" or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
                assert path not in ours  # skipped: FIFOs, names with control characters
                continue
            got = ours.get(path)
            if got is None and node.kind == "dir" and path not in shown:
                continue  # implied by what is below it, all of it skipped
            assert got is not None, f"{path!r} was not extracted"
            assert (got.kind, got.size, got.link) == (node.kind, node.size, node.link), path
            if node.mode is not None and got.mode is not None:
                assert got.mode == node.mode & 0o777, path
            if node.kind == "file":
                assert (out / path).read_bytes() == (root / path).read_bytes(), path
        assert set(ours) <= set(on_disk)
