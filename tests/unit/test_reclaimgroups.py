"""Hidden bytes grouped by layer pair, reason and directory: one chmod -R is one group."""

from __future__ import annotations

from array import array

from explorer.core.reclaim import DELETED, OVERWRITTEN, HiddenBytes, HiddenRows, Reclaimable
from explorer.core.reclaimgroups import group_hidden


def rec(rows: list[HiddenBytes]) -> Reclaimable:
    return Reclaimable(sum(r.size for r in rows), rows)


def test_a_chmod_of_thirty_thousand_files_is_one_group_that_opens_by_directory():
    rows = [
        HiddenBytes(f"/app/d{d}/sub/f{i}.py", 10, 1, 2, OVERWRITTEN)
        for d in range(100)
        for i in range(300)
    ]
    rows.append(HiddenBytes("/opt/big.bin", 5000, 1, 3, DELETED))
    groups = group_hidden(rec(rows))
    assert [(g.path, g.files, g.size, g.added_by, g.hidden_by) for g in groups] == [
        ("/app", 30_000, 300_000, 1, 2),
        ("/opt/big.bin", 1, 5000, 1, 3),
    ]
    assert groups[1].is_file and not groups[0].is_file
    inside = groups[0].children()
    assert len(inside) == 100
    # a chain of single directories is followed down: d0/sub, not d0
    assert inside[0].path == "/app/d0/sub" and inside[0].files == 300
    assert inside[0].children()[0].is_file
    assert groups[1].largest_file() == "/opt/big.bin"


def test_the_largest_file_of_a_group_counts_every_hidden_copy():
    rows = [
        HiddenBytes("/srv/a/one", 30, 0, 1, OVERWRITTEN),
        HiddenBytes("/srv/b/two", 20, 0, 1, OVERWRITTEN),
        HiddenBytes("/srv/b/two", 20, 0, 1, OVERWRITTEN),  # rewritten twice: 40 hidden
    ]
    (group,) = group_hidden(rec(rows))
    assert (group.path, group.largest_file()) == ("/srv", "/srv/b/two")


def test_pairs_and_reasons_are_kept_apart_and_files_counted_once():
    rows = [
        HiddenBytes("/etc/a", 5, 0, 1, OVERWRITTEN),
        HiddenBytes("/etc/a", 5, 0, 1, OVERWRITTEN),  # the same path twice in one layer
        HiddenBytes("/etc/b", 7, 0, 1, OVERWRITTEN),
        HiddenBytes("/etc/a", 5, 1, 2, DELETED),
    ]
    groups = group_hidden(rec(rows))
    assert [(g.path, g.files, g.size, g.reason) for g in groups] == [
        ("/etc", 2, 17, OVERWRITTEN),
        ("/etc/a", 1, 5, DELETED),
    ]


def test_rows_read_as_columns_from_the_cache():
    columns = HiddenRows(
        ["/x/a", "/x/b"],
        array("q", [3, 4]),
        array("q", [0, 0]),
        array("q", [2, 2]),
        [DELETED],
        array("b", [0, 0]),
    )
    groups = group_hidden(Reclaimable(7, columns))
    assert [(g.path, g.files, g.size) for g in groups] == [("/x", 2, 7)]


def test_no_rows_no_groups():
    assert group_hidden(Reclaimable(0, [])) == []
