"""The package diff of two images built in Python: B upgrades a dpkg package and a Python
dist-info, downgrades one, adds and removes others; each change attributed to B's layer."""

from __future__ import annotations

import io

from explorer.core.comparepackages import (
    ADDED,
    DOWNGRADED,
    REMOVED,
    UPGRADED,
    count_kinds,
    package_diff,
)
from explorer.core.layerindex import index_layer
from explorer.core.packages import find_packages
from tests.robustness import builders as b

SITE = "usr/lib/python3/site-packages"


def idx(*entries: b.Entry):
    return index_layer(io.BytesIO(b.tar_bytes(entries)), "test layer")


def status(*packages: tuple[str, str]) -> b.Entry:
    text = "\n".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
        for name, version in packages
    )
    return b.file("var/lib/dpkg/status", text.encode())


def dist(name: str, version: str) -> b.Entry:
    return b.file(
        f"{SITE}/{name}-{version}.dist-info/METADATA",
        f"Name: {name}\nVersion: {version}\n".encode(),
    )


BASE = idx(
    status(("bash", "5.2.15-2"), ("curl", "7.88.1-10+deb12u5"), ("libold", "1.0")),
    dist("requests", "2.31.0"),
    dist("urllib3", "2.0.7"),
)


def rows(changes) -> set[tuple]:
    return {(c.kind, c.ecosystem, c.name, c.old, c.new, c.layer) for c in changes}


def test_added_removed_upgraded_downgraded_with_b_layers() -> None:
    a = [BASE, idx(dist("a-only", "1.0"))]
    bb = [
        BASE,
        idx(
            status(("bash", "5.2.15-2"), ("curl", "7.88.1-10+deb12u12"), ("libnew", "2:0.1")),
            b.whiteout(f"{SITE}/requests-2.31.0.dist-info"),
            dist("requests", "2.32.3"),
        ),
        idx(b.whiteout(f"{SITE}/urllib3-2.0.7.dist-info"), dist("urllib3", "1.26.18")),
    ]
    got = package_diff(a, bb, diverges_at=1)
    assert rows(got) == {
        (UPGRADED, "deb", "curl", "7.88.1-10+deb12u5", "7.88.1-10+deb12u12", 1),
        (ADDED, "deb", "libnew", None, "2:0.1", 1),
        (REMOVED, "deb", "libold", "1.0", None, 1),
        (UPGRADED, "python", "requests", "2.31.0", "2.32.3", 1),
        (DOWNGRADED, "python", "urllib3", "2.0.7", "1.26.18", 2),
        (REMOVED, "python", "a-only", "1.0", None, 1),  # B never had it: where B departs
    }
    assert [c.name for c in got] == ["curl", "libnew", "libold", "a-only", "requests", "urllib3"]
    assert count_kinds(got) == {ADDED: 1, REMOVED: 2, UPGRADED: 2, DOWNGRADED: 1}
    upgraded = next(c for c in got if c.name == "requests")
    assert upgraded.path == f"/{SITE}/requests-2.32.3.dist-info/METADATA"


def test_the_same_packages_are_no_change() -> None:
    other = idx(status(("bash", "5.2.15-2")), dist("requests", "2.31.0"))
    assert package_diff([BASE], [BASE, idx(b.file("etc/motd", b"hi"))], 1) == []
    # the same versions, recorded by other layers (a rebuilt base): still no change
    again = idx(status(("bash", "5.2.15-2")), dist("requests", "2.31.0"))
    assert package_diff([other], [again], 0) == []


def test_version_order_decides_upgrade_or_downgrade() -> None:
    """dpkg's order, not the characters': 1.0~rc1 is older than 1.0, an epoch wins."""
    a = [idx(status(("x", "1.0~rc1"), ("y", "3.0"), ("z", "1.0-2")))]
    bb = [idx(status(("x", "1.0"), ("y", "2:1.0"), ("z", "1.0-1")))]
    assert {(c.name, c.kind) for c in package_diff(a, bb, 0)} == {
        ("x", UPGRADED),
        ("y", UPGRADED),
        ("z", DOWNGRADED),
    }


def test_a_removal_is_the_layer_of_b_that_removed_it() -> None:
    a = [BASE]
    bb = [BASE, idx(b.file("etc/motd", b"hi")), idx(status(("bash", "5.2.15-2")))]
    removed = {c.name: c.layer for c in package_diff(a, bb, 1) if c.kind == REMOVED}
    assert removed == {"curl": 2, "libold": 2}


def test_b_with_no_layer_of_its_own_removes_at_no_layer() -> None:
    a = [BASE, idx(dist("extra", "1.0"))]
    assert rows(package_diff(a, [BASE], 1)) == {(REMOVED, "python", "extra", "1.0", None, None)}


def test_the_same_name_in_two_site_packages_are_two_packages() -> None:
    other = "opt/venv/lib/python3/site-packages"
    a = [idx(dist("six", "1.16.0"))]
    bb = [
        idx(
            dist("six", "1.16.0"),
            b.file(f"{other}/six-1.15.0.dist-info/METADATA", b"Name: six\nVersion: 1.15.0\n"),
        )
    ]
    got = package_diff(a, bb, 0)
    assert rows(got) == {(ADDED, "python", "six", None, "1.15.0", 0)}
    assert got[0].path.startswith("/opt/venv/")


def test_a_pip_upgrade_is_an_upgrade_in_the_layer_view_too() -> None:
    """A new `*.dist-info` directory in the same site-packages is the same package."""
    layers = [
        BASE,
        idx(b.whiteout(f"{SITE}/requests-2.31.0.dist-info"), dist("requests", "2.32.3")),
    ]
    (requests,) = [p for p in find_packages(layers) if p.name == "requests"]
    assert (requests.layer, requests.version, requests.upgraded) == (0, "2.32.3", [1])
    assert requests.removed is None


def test_apk_and_npm_packages() -> None:
    def apk(*packages: tuple[str, str]) -> b.Entry:
        text = "\n".join(f"P:{name}\nV:{version}\nA:x86_64\n" for name, version in packages)
        return b.file("lib/apk/db/installed", text.encode())

    def npm(name: str, version: str) -> b.Entry:
        doc = f'{{"name": "{name}", "version": "{version}"}}'
        return b.file(f"app/node_modules/{name}/package.json", doc.encode())

    a = [idx(apk(("musl", "1.2.4-r2"), ("zlib", "1.3.1-r0")), npm("left-pad", "1.3.0"))]
    bb = [idx(apk(("musl", "1.2.4-r10"), ("zlib", "1.3-r0")), npm("left-pad", "1.10.0-rc.1"))]
    assert rows(package_diff(a, bb, 0)) == {
        (UPGRADED, "apk", "musl", "1.2.4-r2", "1.2.4-r10", 0),
        (DOWNGRADED, "apk", "zlib", "1.3.1-r0", "1.3-r0", 0),
        (UPGRADED, "npm", "left-pad", "1.3.0", "1.10.0-rc.1", 0),
    }
