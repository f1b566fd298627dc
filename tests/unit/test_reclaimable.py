"""Our own wasted-space accounting on small images with known answers."""

from __future__ import annotations

from explorer.core.reclaim import DELETED, OPAQUE, OVERWRITTEN, REPLACED
from tests.robustness.builders import directory, file, hardlink, opaque, whiteout

from .helpers import analysed


def rows(analysis):
    return sorted(
        (r.path, r.size, r.added_by, r.hidden_by, r.reason) for r in analysis.reclaimable.rows
    )


def test_file_overwritten_twice(tmp_path):
    a = analysed(
        tmp_path,
        [file("a", b"1" * 100)],
        [file("a", b"2" * 200)],
        [file("a", b"3" * 300)],
    )
    assert rows(a) == [("/a", 100, 0, 1, OVERWRITTEN), ("/a", 200, 1, 2, OVERWRITTEN)]
    assert a.reclaimable.total == 300
    assert a.reclaimable.by_layer() == {0: 100, 1: 200}


def test_chmod_copies_the_whole_file(tmp_path):
    a = analysed(
        tmp_path, [file("f", b"x" * 1000, mode=0o644)], [file("f", b"x" * 1000, mode=0o600)]
    )
    assert rows(a) == [("/f", 1000, 0, 1, OVERWRITTEN)]


def test_deleted_directory_counts_everything_below_it(tmp_path):
    a = analysed(
        tmp_path,
        [directory("d"), file("d/x", b"x" * 10), directory("d/sub"), file("d/sub/y", b"y" * 20)],
        [whiteout("d")],
    )
    assert rows(a) == [("/d/sub/y", 20, 0, 1, DELETED), ("/d/x", 10, 0, 1, DELETED)]
    assert a.reclaimable.total == 30


def test_deleted_file_and_rewritten_in_the_same_layer_counts_once(tmp_path):
    a = analysed(tmp_path, [file("f", b"x" * 10)], [whiteout("f"), file("f", b"y" * 5)])
    assert a.reclaimable.total == 10


def test_opaque_directory_hides_what_was_below(tmp_path):
    a = analysed(
        tmp_path,
        [directory("o"), file("o/a", b"a" * 5), file("o/b", b"b" * 7), file("keep", b"k" * 3)],
        [directory("o"), opaque("o"), file("o/c", b"c" * 3)],
    )
    assert rows(a) == [("/o/a", 5, 0, 1, OPAQUE), ("/o/b", 7, 0, 1, OPAQUE)]
    # dive ignores opaque markers: it sees no waste here at all
    assert a.efficiency.wasted_bytes == 0


def test_file_to_directory_and_back(tmp_path):
    a = analysed(
        tmp_path,
        [file("p", b"p" * 50), directory("r"), file("r/s", b"s" * 6)],
        [directory("p"), file("p/q", b"q" * 4), file("r", b"r" * 8)],
    )
    assert rows(a) == [("/p", 50, 0, 1, OVERWRITTEN), ("/r/s", 6, 0, 1, REPLACED)]


def test_hardlink_keeps_deleted_data_alive(tmp_path):
    a = analysed(tmp_path, [file("h1", b"h" * 100), hardlink("h2", "h1")], [whiteout("h1")])
    assert a.reclaimable.total == 0
    b = analysed(
        tmp_path / "both",
        [file("h1", b"h" * 100), hardlink("h2", "h1")],
        [whiteout("h1"), whiteout("h2")],
    )
    assert rows(b) == [("/h1", 100, 0, 1, DELETED)]


def test_nothing_hidden_nothing_reclaimable(tmp_path):
    a = analysed(tmp_path, [file("a", b"a")], [file("b", b"b")])
    assert a.reclaimable.total == 0 and a.reclaimable.rows == []
