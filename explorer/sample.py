"""A small, deterministic sample image, built in Python: what `layerscope` opens when it is
given no image. Its config and `docker save` layout (`image_config`, `docker_save_members`) are
also what the tests' image builder (tests/robustness/builders.py) lays its archives out with.

The sample is a legacy `docker save` archive (manifest.json, <id>.json config, <id>/layer.tar)
with a base layer of directories and files, an added file and a symlink, a chmod-ed copy of an
existing file (the classic wasted-space pattern), a deleted file and a deleted directory
(whiteouts), and metadata-only history entries (ENV, LABEL, USER, CMD). Every byte is a
function of the code below: same input, same archive.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_NAME = "layerscope/sample:latest"
EPOCH = 1_700_000_000  # fixed mtime: the archive must not depend on the clock


@dataclass(frozen=True)
class Entry:
    """One layer tar entry: `kind` is file, dir, symlink or hardlink."""

    name: str
    kind: str = "file"
    data: bytes = b""
    mode: int = 0o644
    link: str = ""
    uid: int = 0
    gid: int = 0


def file(name: str, data: bytes | str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    raw = data.encode() if isinstance(data, str) else data
    return Entry(name, "file", raw, mode, uid=uid, gid=gid)


def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(name.rstrip("/") + "/", "dir", mode=mode, uid=uid, gid=gid)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, "symlink", mode=0o777, link=target)


def whiteout(path: str) -> Entry:
    """Deletes `path` (file or directory) from the layers below."""
    head, _, base = path.rstrip("/").rpartition("/")
    return Entry(f"{head}/.wh.{base}" if head else f".wh.{base}")


@dataclass
class Step:
    """One history entry: `entries` is None for a metadata-only instruction (ENV, LABEL...)."""

    created_by: str
    entries: list[Entry] | None = None
    created: str = "2024-01-01T00:00:00Z"


@dataclass
class ImageSpec:
    steps: list[Step]
    tags: list[str] = field(default_factory=lambda: [SAMPLE_NAME])
    config: dict = field(default_factory=dict)


def layer_tar(entries: list[Entry]) -> bytes:
    """A layer tar in the given entry order (PAX format, fixed owner and mtime)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.mtime = EPOCH
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.uname = info.gname = ""
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
            elif e.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, e.link
            elif e.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, e.link
            else:
                info.size = len(e.data)
            tar.addfile(info, io.BytesIO(e.data) if info.size else None)
    return buf.getvalue()


PLATFORM = {"architecture": "amd64", "os": "linux"}


def image_config(
    diff_ids: list[str],
    history: list[dict],
    *,
    created: str,
    config: dict,
    platform: dict = PLATFORM,
    extra: dict | None = None,
) -> bytes:
    """An image config: `platform`, `created`, the runtime `config`, the layers' diff_ids and
    the `history`; `extra` replaces or adds top-level keys."""
    doc = {
        **platform,
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    return json.dumps(doc | (extra or {}), sort_keys=True, indent=2).encode()


def docker_save_members(
    layers: list[tuple[bytes, str]], config: bytes, tags: list[str]
) -> list[tuple[str, bytes | None]]:
    """The members of a legacy `docker save` archive, in docker's order: for each layer
    (blob, diff_id) a `<v1 id>/` directory (None) with VERSION, json and layer.tar, then the
    `<config hex>.json` config, manifest.json and repositories."""
    members: list[tuple[str, bytes | None]] = []
    parent, layer_names = "", []
    for blob, diff_id in layers:
        v1 = hashlib.sha256((parent + diff_id).encode()).hexdigest()  # chained over the layers
        v1_json = {"id": v1, "parent": parent} if parent else {"id": v1}
        members += [
            (f"{v1}/", None),
            (f"{v1}/VERSION", b"1.0"),
            (f"{v1}/json", _json(v1_json)),
            (f"{v1}/layer.tar", blob),
        ]
        layer_names.append(f"{v1}/layer.tar")
        parent = v1
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    repositories: dict[str, dict[str, str]] = {}
    for name in tags:
        repo, _, tag = name.rpartition(":")
        repositories.setdefault(repo, {})[tag] = parent
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]
    members += [
        (config_name, config),
        ("manifest.json", _json(manifest)),
        ("repositories", _json(repositories)),
    ]
    return members


def _json(doc: object) -> bytes:
    return json.dumps(doc, indent=2).encode()


def docker_archive(spec: ImageSpec) -> bytes:
    """A legacy `docker save` archive of `spec`."""
    layers = []
    for step in spec.steps:
        if step.entries is not None:
            blob = layer_tar(step.entries)
            layers.append((blob, "sha256:" + hashlib.sha256(blob).hexdigest()))
    history = []
    for step in spec.steps:
        item: dict[str, str | bool] = {"created": step.created, "created_by": step.created_by}
        if step.entries is None:
            item["empty_layer"] = True
        history.append(item)
    config = image_config(
        [diff_id for _, diff_id in layers],
        history,
        created=spec.steps[-1].created if spec.steps else "",
        config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], **spec.config},
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in docker_save_members(layers, config, spec.tags):
            info = tarfile.TarInfo(name)
            info.mtime = EPOCH
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size, info.mode = len(data), 0o644
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return out.getvalue()


def sample_spec() -> ImageSpec:
    """The bundled sample: small, but every diff kind and a few kinds of waste show up."""
    package_index = b"".join(b"package-%04d 1.%d.0 amd64\n" % (i, i % 7) for i in range(2500))
    app = bytes(range(256)) * 96  # 24 KiB "binary"
    base = [
        directory("bin"),
        file("bin/app", app, 0o755),
        file("bin/sh", b"#!/bin/busybox sh\n" * 64, 0o755),
        directory("etc"),
        file("etc/hostname", "sample\n"),
        file("etc/motd", "Welcome to the LayerScope sample image.\n" * 4),
        file("etc/os-release", 'NAME="Sample Linux"\nVERSION_ID=1\n'),
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        directory("home"),
        directory("home/app", 0o750, uid=1000, gid=1000),
        file("home/app/.profile", "export PS1='$ '\n", uid=1000, gid=1000),
        directory("tmp", 0o1777),
        directory("usr"),
        directory("usr/bin"),
        directory("usr/share"),
        directory("usr/share/doc"),
        file("usr/share/doc/README", "Sample documentation.\n" * 40),
        directory("var"),
        directory("var/cache"),
        directory("var/cache/pkg"),
        file("var/cache/pkg/index", package_index),
        file("var/cache/pkg/sample-tool_1.0_amd64.deb", bytes(40_000)),
    ]
    tool = b"\x7fELF" + b"sample tool " * 1500
    add_tool = [
        directory("opt"),
        directory("opt/tool"),
        file("opt/tool/config.json", json.dumps({"verbose": False, "threads": 4}) + "\n"),
        directory("tmp", 0o1777),
        file("tmp/build.log", "compiling tool...\n" * 300),
        directory("usr"),
        directory("usr/local"),
        directory("usr/local/bin"),
        file("usr/local/bin/tool", tool, 0o4755),
        directory("usr/bin"),
        symlink("usr/bin/tool", "../local/bin/tool"),
    ]
    chmod_copy = [directory("bin"), file("bin/app", app, 0o700)]
    cleanup = [
        directory("tmp", 0o1777),
        whiteout("tmp/build.log"),
        directory("var"),
        directory("var/cache"),
        whiteout("var/cache/pkg"),
        directory("etc"),
        file("etc/motd", "Have a nice day.\n"),
    ]
    return ImageSpec(
        steps=[
            Step("/bin/sh -c #(nop) ADD file:5a1e0c0ffee in / ", base, "2024-01-01T00:00:00Z"),
            Step("/bin/sh -c #(nop)  ENV LANG=C.UTF-8", None, "2024-01-01T00:00:01Z"),
            Step("COPY tool /usr/local/bin/tool # buildkit", add_tool, "2024-01-02T00:00:00Z"),
            Step("/bin/sh -c chmod 700 /bin/app", chmod_copy, "2024-01-02T00:00:01Z"),
            Step('LABEL org.opencontainers.image.title="sample"', None, "2024-01-02T00:00:02Z"),
            Step(
                "/bin/sh -c rm -rf /var/cache/pkg /tmp/build.log && echo 'Have a nice day.' "
                "> /etc/motd",
                cleanup,
                "2024-01-02T00:00:03Z",
            ),
            Step("USER app", None, "2024-01-02T00:00:04Z"),
            Step('/bin/sh -c #(nop)  CMD ["/bin/app"]', None, "2024-01-02T00:00:05Z"),
        ],
        config={
            "User": "app",
            "Cmd": ["/bin/app"],
            "Labels": {"org.opencontainers.image.title": "sample"},
        },
    )


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layerscope"


def _holds(target: Path, data: bytes) -> bool:
    """Is `target` already a regular file holding `data`? A symlink or FIFO planted under
    the name is neither followed nor waited on (it is replaced)."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        return stat.S_ISREG(st.st_mode) and st.st_size == len(data) and f.read() == data


def ensure_sample(path: Path | None = None) -> Path:
    """Write the sample archive (default `$XDG_CACHE_HOME/layerscope/sample.tar`) unless an
    identical one is already there; returns its path."""
    target = path or cache_dir() / "sample.tar"
    data = docker_archive(sample_spec())
    if _holds(target, data):
        return target
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A new file under an unpredictable name (O_EXCL: nothing planted there is followed),
    # then renamed over the target (atomic: a concurrent reader never sees half an archive).
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
