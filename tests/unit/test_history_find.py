"""A path's history and find across layers, on images built in Python (OCI stacking rules:
whiteouts, opaque directories, type changes, implicit directories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.find import PatternError, compile_pattern, find
from explorer.core.history import Entries, history, normalize, versions, visible
from explorer.core.sources import open_source
from tests.robustness import builders as b
from tests.unit.helpers import image_archive


def entries_of(tmp_path: Path, *layers: list) -> Entries:
    _meta, indexes = index_all(open_source(str(image_archive(tmp_path, *layers))))
    return Entries(indexes)


def actions(entries: Entries, path: str) -> list[tuple[int, str, str, bool]]:
    return [(e.layer, e.action, e.detail, e.shown) for e in history(entries, path)]


@pytest.fixture
def image(tmp_path: Path) -> Entries:
    return entries_of(
        tmp_path,
        [  # 0
            b.directory("etc", mode=0o755),
            b.file("etc/motd", b"hello\n", mode=0o644),
            b.file("etc/shadow", b"secret\n", mode=0o600),
            b.directory("opt"),
            b.file("opt/a/conf", b"a"),  # opt/a is implicit
            b.symlink("usr/lib/link", "target-one"),
            b.directory("srv/data"),
            b.file("srv/data/blob", b"x" * 100),
        ],
        [  # 1
            b.file("etc/motd", b"hello\n", mode=0o600),  # mode only
            b.file("etc/shadow", b"secret\n", mode=0o600),  # rewritten, unchanged
            b.symlink("usr/lib/link", "target-two"),  # link target
            b.file("opt/a/conf", b"a", uid=1000, gid=1000),  # owner
        ],
        [  # 2
            b.whiteout("etc/shadow"),
            b.whiteout("opt"),  # opt/a/conf goes with its directory
            b.opaque("srv/data"),  # hides srv/data/blob
            b.file("etc/motd", b"bye\n", mode=0o600),  # content
        ],
        [  # 3
            b.file("srv", b"now a file"),  # srv/data/... hidden by a type change (already gone)
            b.file("opt/a/conf", b"back"),  # re-added below an implicit directory
            b.file("etc/shadow", b"again\n"),
        ],
    )


def test_history_of_a_file_changed_in_each_way(image: Entries) -> None:
    assert actions(image, "etc/motd") == [
        (0, "added", "", False),
        (1, "modified", "mode (644 → 600)", False),
        (2, "modified", "content", True),
    ]
    assert actions(image, "usr/lib/link") == [
        (0, "added", "", False),
        (1, "modified", "link target", True),
    ]
    assert actions(image, "opt/a/conf")[1] == (1, "modified", "owner (0:0 → 1000:1000)", False)


def test_deleted_then_added_again(image: Entries) -> None:
    assert actions(image, "etc/shadow") == [
        (0, "added", "", False),
        (1, "unmodified", "written again, unchanged", False),
        (2, "removed", "whiteout", False),
        (3, "added", "", True),
    ]
    assert actions(image, "opt/a/conf") == [
        (0, "added", "", False),
        (1, "modified", "owner (0:0 → 1000:1000)", False),
        (2, "removed", "whiteout of /opt", False),
        (3, "added", "", True),
    ]
    # The directory that the re-added file makes again, without an entry of its own.
    assert [(e.layer, e.action, e.entry) for e in history(image, "opt/a")] == [
        (0, "added", -1),
        (2, "removed", -1),
        (3, "added", -1),
    ]


def test_hidden_by_an_opaque_directory_and_a_type_change(image: Entries) -> None:
    assert actions(image, "srv/data/blob") == [
        (0, "added", "", False),
        (2, "hidden", "opaque /srv/data", False),
    ]
    assert actions(image, "srv/data") == [
        (0, "added", "", False),
        (3, "hidden", "/srv became a file", False),
    ]
    assert [(e.layer, e.action, e.detail) for e in history(image, "srv")] == [
        (0, "added", "directory made by what is written below it"),
        (3, "modified", "its own entry recorded"),
    ]


def test_versions_and_what_a_layer_shows(image: Entries) -> None:
    motd = [(layer, image.layers[layer].paths[i]) for layer, i in versions(image, "etc/motd")]
    assert motd == [(0, "etc/motd"), (1, "etc/motd"), (2, "etc/motd")]
    assert visible(image, "etc/shadow", 1) == versions(image, "etc/shadow")[1]
    assert visible(image, "etc/shadow", 2) is None
    assert visible(image, "etc/shadow", 3) == versions(image, "etc/shadow")[2]
    assert visible(image, "nowhere", 3) is None
    assert history(image, "nowhere") == []


def test_normalize_user_paths() -> None:
    assert normalize("/etc//motd/") == "etc/motd"
    assert normalize("./etc/./motd") == "etc/motd"
    assert normalize("/") == ""


def rows(entries: Entries, pattern: str, regex: bool = False) -> list[tuple[int, str, str]]:
    return [(m.layer, m.path, m.action) for m in find(entries, compile_pattern(pattern, regex))]


def test_find_every_layer_and_what_each_entry_did(image: Entries) -> None:
    assert rows(image, "shadow") == [
        (0, "/etc/shadow", "added"),
        (1, "/etc/shadow", "unmodified"),
        (2, "/etc/shadow", "removed"),
        (3, "/etc/shadow", "added"),
    ]
    # Whiteouts are found under the path they delete, opaque markers under their directory.
    assert rows(image, "/opt*") == [
        (0, "/opt", "added"),
        (0, "/opt/a/conf", "added"),
        (1, "/opt/a/conf", "modified"),
        (2, "/opt", "removed"),
        (3, "/opt/a/conf", "added"),
    ]
    assert rows(image, "/srv/data") == [(0, "/srv/data", "added"), (2, "/srv/data", "hidden")]


def test_find_globs_and_regexes(image: Entries) -> None:
    # a name glob matches the last component only, whole
    assert rows(image, "mot?") == [
        (n, "/etc/motd", a) for n, a in enumerate(["added", "modified", "modified"])
    ]
    assert rows(image, "etc") == [(0, "/etc", "added")]
    assert rows(image, "*conf") == rows(image, "conf")
    # a path glob is anchored at the root; `*` crosses directories
    assert [p for _, p, _ in rows(image, "/usr/*")] == ["/usr/lib/link"] * 2
    assert rows(image, "usr/*") == rows(image, "/usr/*")
    assert [p for _, p, _ in rows(image, r"^/etc/m.*d$", regex=True)] == ["/etc/motd"] * 3
    assert rows(image, r"\.nothing$", regex=True) == []
    with pytest.raises(PatternError, match="not a regular expression"):
        compile_pattern("(", regex=True)
    with pytest.raises(PatternError, match="empty"):
        compile_pattern("")


def test_find_sizes_and_kinds(image: Entries) -> None:
    found = find(image, compile_pattern("blob"))
    assert [(m.size, m.kind) for m in found] == [(100, "file")]
    (link,) = [m for m in find(image, compile_pattern("link")) if m.layer == 1]
    assert (link.kind, link.detail) == ("symlink", "link target")
