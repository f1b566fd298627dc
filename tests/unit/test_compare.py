"""The compare core on small hand-made layers: mtimes, implicit directories, links, what a
directory's change is, attribution, growth per directory, the config diff."""

from __future__ import annotations

import io

from explorer.core.configdiff import MASK, config_diff
from explorer.core.fsdiff import diff_layers
from explorer.core.image import ImageMeta
from explorer.core.layerindex import index_layer
from tests.robustness import builders as b


def idx(*entries: b.Entry):
    return index_layer(io.BytesIO(b.tar_bytes(entries)), "test layer")


def changes(a: list, bb: list, shared: int = 0, **kw) -> dict[str, tuple]:
    """The changes by path, the same whether the trees are walked or the paths looked up."""
    diff = diff_layers(a, bb, shared, lookups=False, **kw)
    assert diff_layers(a, bb, shared, lookups=True, **kw).changes == diff.changes
    return {c.path: (c.status, c.layer, c.what) for c in diff.changes}


def test_mtime_only_when_asked() -> None:
    a = [idx(b.file("f", b"1", mtime=100))]
    bb = [idx(b.file("f", b"1", mtime=200))]
    assert changes(a, bb) == {}
    assert changes(a, bb, mtime=True) == {"/f": ("modified", 0, ("mtime",))}


def test_names_ascii_utf8_and_not_utf8_side_by_side() -> None:
    """Paths are put in byte order whatever they hold: ASCII, UTF-8 and raw bytes together."""
    base = idx(
        b.directory("etc"),
        b.file("etc/a", b"1"),
        b.file(b"etc/\xff\xfe-raw", b"x"),
        b.file("etc/\u00e9", b"e"),
    )
    new = idx(
        b.file(b"etc/\xff\xfe-raw", b"y"),
        b.file("etc/b", b"2"),
        b.file(b"z/\xc3(", b"q"),
        b.whiteout("etc/\u00e9"),
    )
    raw, bad = "/etc/" + b"\xff\xfe-raw".decode("utf-8", "surrogateescape"), "/z/\udcc3("
    assert changes([base], [base, new], shared=1) == {
        "/etc/b": ("added", 1, ()),
        "/etc/\u00e9": ("removed", 1, ()),
        raw: ("modified", 1, ("content",)),
        "/z": ("added", 1, ()),
        bad: ("added", 1, ()),
    }


def test_implicit_directory_is_what_engines_create() -> None:
    """A directory no entry lists is 0755 root:root: the same as one listed so."""
    a = [idx(b.file("d/f", b"1"))]
    assert changes(a, [idx(b.directory("d", mode=0o755), b.file("d/f", b"1"))]) == {}
    got = changes(a, [idx(b.directory("d", mode=0o700), b.file("d/f", b"1"))])
    assert got == {"/d": ("modified", 0, ("mode",))}


def test_a_directory_a_later_layer_only_implies_keeps_its_entry() -> None:
    """`d/g` written later without `d/`: d stays 0700 (as on disk), not an implicit 0755."""
    base = idx(b.directory("d", mode=0o700), b.file("d/f", b"1"))
    got = changes([base], [base, idx(b.file("d/g", b"2"))], shared=1)
    assert got == {"/d/g": ("added", 1, ())}


def test_directory_modified_only_by_its_own_attributes() -> None:
    base = idx(b.directory("d"), b.file("d/f", b"1"))
    got = changes([base], [base, idx(b.directory("d"), b.file("d/f", b"2"))], shared=1)
    assert got == {"/d/f": ("modified", 1, ("content",))}


def test_links_compare_by_target_not_mode() -> None:
    a = [idx(b.file("t", b"1"), b.symlink("s", "t", mode=0o777), b.hardlink("h", "t"))]
    same = [idx(b.file("t", b"1"), b.symlink("s", "t", mode=0o644), b.hardlink("h", "./t"))]
    assert changes(a, same) == {}
    moved = [idx(b.file("t", b"1"), b.symlink("s", "u"), b.hardlink("h", "s"))]
    assert changes(a, moved) == {
        "/s": ("modified", 0, ("link",)),
        "/h": ("modified", 0, ("link",)),
    }


def test_a_removed_path_b_never_had_is_where_b_departs() -> None:
    base = idx(b.directory("d"))
    a = [base, idx(b.file("d/a-only", b"1"))]
    bb = [base, idx(b.file("b-only", b"2")), idx(b.whiteout("d"))]
    got = changes(a, bb, shared=1)
    assert got["/d/a-only"] == ("removed", 1, ())  # B never had it: B departs at layer 1
    assert got["/d"] == ("removed", 2, ())  # B's layer 2 deleted it


def test_growth_per_directory() -> None:
    a = [idx(b.directory("d"), b.directory("d/e"), b.file("d/e/f", b"x" * 10))]
    bb = [idx(b.directory("d"), b.directory("d/e"), b.file("d/e/f", b"x" * 25), b.file("g", b"1"))]
    diff = diff_layers(a, bb, 0)
    assert diff.directories == {"/": 16, "/d": 15, "/d/e": 15}


def meta(config: dict, **top) -> ImageMeta:
    return ImageMeta("x", "docker-archive", [], [], {"config": config, **top})


def test_config_diff() -> None:
    a = meta(
        {"Env": ["A=1", "DB_PASSWORD=one"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}},
        os="linux",
        architecture="amd64",
    )
    bb = meta(
        {"Env": ["A=2", "DB_PASSWORD=two"], "Cmd": ["bash"], "Labels": {"v": "2"}},
        os="linux",
        architecture="arm64",
    )
    got = [(c.key, c.a, c.b) for c in config_diff(a, bb)]
    assert got == [
        ("platform", "linux/amd64", "linux/arm64"),
        ("Cmd", '["sh"]', '["bash"]'),
        ("Env A", "1", "2"),
        ("Env DB_PASSWORD", f"{MASK} (a)", f"{MASK} (b)"),
        ("ExposedPorts 80/tcp", "exposed", None),
        ("Labels v", None, "2"),
    ]
