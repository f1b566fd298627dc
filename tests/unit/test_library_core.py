"""The library's accounting from the engines' raw answers (no engine): which history entries
made the layers, chain IDs, shared and unique sizes, docker's number formats."""

from __future__ import annotations

import hashlib

import pytest

from explorer.core.dockerunits import ago, docker_duration, docker_size
from explorer.core.library import (
    _history_rows,
    ambiguous_history,
    assemble,
    build,
    chain_ids,
)


def _h(created_by: str, size: int) -> dict:
    return {"CreatedBy": created_by, "Size": size, "Created": 1700000000}


def test_chain_ids_are_the_oci_ones() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    second = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, second]
    assert chain_ids([b, b])[1] != second


def test_history_rows_classic_builder() -> None:
    """Sized entries made layers; the zero-sized `RUN rm` too (whiteouts only), metadata
    `#(nop)` steps did not; newest first in the API, oldest first here."""
    history = [
        _h('/bin/sh -c #(nop)  CMD ["sh"]', 0),
        _h("/bin/sh -c rm /big", 0),
        _h("/bin/sh -c #(nop) COPY file:x in /", 5),
        _h("/bin/sh -c #(nop)  ENV A=1", 0),
        _h("/bin/sh -c #(nop) ADD file:y in /", 100),
    ]
    rows, ambiguous = _history_rows(history, 3)
    assert [r.layer for r in rows] == [0, None, 1, 2, None]
    assert [r.size for r in rows] == [100, 0, 5, 0, 0]
    assert not ambiguous


def test_history_rows_buildkit_workdir_layer() -> None:
    """BuildKit's WORKDIR makes a layer of 0 bytes when it creates the directory: one layer
    missing, and WORKDIR is the metadata step that can make one."""
    history = [_h("COPY x /app/ # buildkit", 7), _h("ENV A=1", 0), _h("WORKDIR /app", 0)]
    history.append(_h("ADD rootfs /", 100))
    rows, ambiguous = _history_rows(history, 3)
    assert [r.layer for r in rows] == [0, 1, None, 2]
    assert [r.created_by for r in rows][1] == "WORKDIR /app"
    assert not ambiguous


def test_history_rows_ambiguous_between_empty_runs() -> None:
    """`RUN true` (no layer: an empty diff) and `RUN rm /x` (a layer of whiteouts, 0 bytes)
    look alike; the classic builder's step images, when local, tell them apart."""
    history = [_h("/bin/sh -c true", 0), _h("/bin/sh -c rm /x", 0), _h("ADD a /", 9)]
    _rows, ambiguous = _history_rows(history, 2)
    assert ambiguous and ambiguous_history(history, 2) == []  # no local step images
    for h, image_id in zip(history, ("sha256:3", "sha256:2", "sha256:1"), strict=True):
        h["Id"] = image_id
    assert ambiguous_history(history, 2) == ["sha256:3", "sha256:2", "sha256:1"]
    rows, ambiguous = _history_rows(history, 2, {"sha256:1": 1, "sha256:2": 2, "sha256:3": 2})
    assert [(r.created_by, r.layer) for r in rows] == [
        ("ADD a /", 0), ("/bin/sh -c rm /x", 1), ("/bin/sh -c true", None)
    ]  # fmt: skip
    assert not ambiguous


def _data(images: dict[str, tuple[list[str], list[int], list[str]]]) -> dict:
    data: dict = {"images": [], "inspect": {}, "history": {}, "containers": []}
    for n, (image_id, (diff_ids, sizes, tags)) in enumerate(images.items()):
        data["images"].append(
            {"Id": image_id, "RepoTags": tags or None, "Created": 1000 + n, "Size": sum(sizes)}
        )
        data["inspect"][image_id] = {
            "Id": image_id, "RootFS": {"Layers": diff_ids}, "Os": "linux",
            "Architecture": "amd64", "Config": {"User": ""},
        }  # fmt: skip
        rows = [_h(f"ADD {d[7:12]} /", s) for d, s in zip(diff_ids, sizes, strict=True)]
        data["history"][image_id] = rows[::-1]  # newest first, as the API answers
    return data


def test_shared_and_unique_sizes() -> None:
    base, app, top = ("sha256:" + c * 64 for c in "abc")
    data = _data(
        {
            "sha256:" + "1" * 64: ([base], [100], ["base:1"]),
            "sha256:" + "2" * 64: ([base, app], [100, 30], ["app:1", "app:latest"]),
            "sha256:" + "3" * 64: ([top, app], [50, 30], []),
        }
    )
    data["containers"] = [
        {"ImageID": "sha256:" + "2" * 64, "State": "running"},
        {"ImageID": "sha256:" + "2" * 64, "State": "exited"},
    ]
    library = assemble(build(data), ["docker"])
    by_name = {im.name: im for im in library.images}
    assert (by_name["base:1"].shared_size, by_name["base:1"].unique_size) == (100, 0)
    assert (by_name["app:1"].shared_size, by_name["app:1"].unique_size) == (100, 30)
    assert (by_name["app:1"].running, by_name["app:1"].stopped) == (1, 1)
    lone = by_name["<none>:<none>"]
    assert lone.dangling and (lone.shared_size, lone.unique_size) == (0, 80)
    assert library.listed_total == 310 and library.disk_total == 210
    assert library.dangling_bytes == 80
    assert library.saved_by_sharing(by_name["app:1"]) == 100


def test_two_engines_never_share_bytes() -> None:
    base = "sha256:" + "a" * 64
    one = build(_data({"sha256:" + "1" * 64: ([base], [10], ["x:1"])}), "docker")
    two = build(_data({"sha256:" + "1" * 64: ([base], [10], ["x:1"])}), "podman")
    library = assemble(one + two, ["docker", "podman"])
    assert [im.shared_size for im in library.images] == [0, 0]
    assert len({im.key for im in library.images}) == 2


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0B"), (171, "171B"), (1984162, "1.98MB"), (116668967, "117MB"), (999_950, "1e+03kB")],
)
def test_docker_size(n: int, text: str) -> None:
    assert docker_size(n) == text


def test_docker_duration() -> None:
    assert docker_duration(0.5) == "Less than a second"
    assert docker_duration(90) == "About a minute"
    assert docker_duration(4 * 3600) == "4 hours"
    assert docker_duration(20 * 86400) == "2 weeks"
    assert ago(0, 100) == "N/A" and ago(100, 160) == "About a minute ago"
