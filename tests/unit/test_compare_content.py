"""Two compared images' files as one stack of layers (A's, then B's), as the compare screen's
viewer reads them: final versions, layer names, reads through each image's own access."""

from __future__ import annotations

import threading
from functools import partial

from explorer.core.comparecontent import open_pair
from explorer.core.loading import load
from explorer.core.sources import open_source
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

BASE = [b.directory("etc"), b.file("etc/conf", b"one\n"), b.file("etc/gone", b"A only\n")]
B_OWN = [b.file("etc/conf", b"two\n"), b.whiteout("etc/gone"), b.file("etc/new", b"B only\n")]


def test_final_versions_and_reads_from_each_image(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sides = []
    for name, layers in (("a.tar", [BASE]), ("b.tar", [BASE, B_OWN])):
        factory = partial(open_source, str(image_archive(tmp_path, *layers, name=name)))
        result = load(factory, lambda _event: None, threading.Event())
        sides.append((factory, result.meta, result.layers))
    pair = open_pair(*sides)
    try:
        assert pair.offset == 1 and len(pair.layers) == 3
        conf = pair.final_versions("etc/conf")
        assert [layer for layer, _ in conf] == [0, 2]  # A's layer 0, B's layer 1
        assert [pair.layer_name(layer) for layer, _ in conf] == ["A layer 0", "B layer 1"]
        assert [layer for layer, _ in pair.final_versions("/etc/gone")] == [0]
        assert [layer for layer, _ in pair.final_versions("etc/new")] == [2]
        assert pair.final_versions("etc/nothing") == []
        read = []
        for layer, _ in conf:
            entry = pair.entry(layer, "etc/conf")
            assert entry is not None and entry.layer == layer
            pair.prepare([layer])
            with pair.open_entry(entry) as stream:
                read.append(stream.read(100))
        assert read == [b"one\n", b"two\n"]
    finally:
        pair.close()
