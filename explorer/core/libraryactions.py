"""What the library does to an engine's images: tag, remove, prune dangling images, save to a
tar, load one. Each action has the command it stands for (`docker …`, `podman …`), shown
before it is done, and every engine fault becomes one EngineError/ImageError sentence.

Prune removes exactly the images the preview listed, one by one and without force: an image
a container started using since the preview is refused by the engine and reported; one that
turned up since the preview is never touched.
"""

from __future__ import annotations

import contextlib
import gzip
import shlex
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from explorer.core.dockerunits import docker_size
from explorer.core.errors import Cancelled, ImageError
from explorer.core.library import Library, LibraryImage
from explorer.core.sources.endpoint import Endpoint, check_reference, endpoint

Progress = Callable[[int, int], None]  # bytes done, bytes expected (0: unknown)
CHUNK = 1 << 20


def cli(kind: str, *args: str) -> str:
    """The command line the engine's own CLI would run, quoted for a shell."""
    return " ".join([kind, *(shlex.quote(a) for a in args)])


def _error(kind: str, what: str, exc: Exception, at: Endpoint) -> ImageError:
    from explorer.core.sources.engine import engine_error

    if isinstance(exc, ImageError):
        return exc
    return engine_error(kind, what, exc, at)


@contextlib.contextmanager
def _client(kind: str, what: str, timeout: float | None = None) -> Iterator[tuple[Any, Endpoint]]:
    """An SDK client of the engine `kind`; any fault inside is one sentence."""
    at = endpoint(kind)
    client = None
    try:
        client = at.client(timeout) if timeout else at.client()
        yield client, at
    except (ImageError, Cancelled):
        raise
    except Exception as exc:
        raise _error(kind, what, exc, at) from None
    finally:
        if client is not None:
            client.close()


# ------------------------------------------------------------------------------------ tag


@dataclass(frozen=True)
class TagCheck:
    error: str = ""
    warning: str = ""
    repository: str = ""
    tag: str = ""


def check_tag(new: str) -> TagCheck:
    """Is `new` a reference an image can be tagged with? (the distribution grammar, no
    digest; lower-case name). Without a tag the engine uses `latest`: say so."""
    new = new.strip()
    if not new:
        return TagCheck(error="type a reference: [registry/]name[:tag]")
    if "@" in new:
        return TagCheck(error="a tag cannot have a digest (@sha256:…)")
    try:
        check_reference("tag", new)
    except ImageError as exc:
        return TagCheck(error=str(exc).removeprefix("tag: "))
    last = new.rsplit("/", 1)[-1]
    repository, tag = new.rsplit(":", 1) if ":" in last else (new, "latest")
    if tag == "latest":
        return TagCheck(
            warning="`latest` is only a convention, not a version: anyone pulling it gets "
            "whatever was tagged last; a version tag says what it is",
            repository=repository,
            tag=tag,
        )
    return TagCheck(repository=repository, tag=tag)


def tag_command(im: LibraryImage, new: str) -> str:
    return cli(im.source, "tag", im.reference(), new.strip())


def tag(im: LibraryImage, new: str) -> None:
    checked = check_tag(new)
    if checked.error:
        raise ImageError(f"tag {new!r}: {checked.error}")
    with _client(im.source, im.reference()) as (client, _at):
        client.api.tag(im.id, checked.repository, checked.tag)


# --------------------------------------------------------------------------------- remove


def removal_refusal(im: LibraryImage, force: bool) -> str:
    """Why removing `im` is refused without force ('' when it is not)."""
    if im.containers and not force:
        return (
            f"{im.name} is used by {im.containers} container{'s' * (im.containers != 1)} "
            f"({im.running} running): remove {'them' if im.containers != 1 else 'it'} first, "
            "or force the removal (the containers keep their layers)"
        )
    return ""


def remove_command(im: LibraryImage, target: str, force: bool) -> str:
    shown = im.short_id if target == im.id else target  # the engine takes the short ID too
    return cli(im.source, "rmi", *(["--force"] if force else []), shown)


def remove(im: LibraryImage, target: str, force: bool = False) -> list[str]:
    """Remove one tag of `im` (`target` a tag) or the image (`target` its ID): what the engine
    says it untagged and deleted."""
    refusal = removal_refusal(im, force)
    if refusal:
        raise ImageError(refusal)
    with _client(im.source, target) as (client, _at):
        answer = client.api.remove_image(target, force=force)
    return [f"{k}: {v}" for item in answer or [] for k, v in item.items()]


# ---------------------------------------------------------------------------------- prune


@dataclass(frozen=True)
class PrunePlan:
    images: list[LibraryImage]  # the dangling images, as listed
    reclaimed: int  # bytes freed: their layers no other image holds

    def command(self) -> str:
        kinds = sorted({im.source for im in self.images}) or ["docker"]
        return " && ".join(
            cli(k, "rmi", *(im.short_id for im in self.images if im.source == k)) for k in kinds
        )


def prune_plan(library: Library) -> PrunePlan:
    dangling = [im for im in library.images if im.dangling]
    keys = {im.key for im in dangling}
    reclaimed = sum(
        library.layer_size[chain]
        for chain, holders in library.holders.items()
        if set(holders) <= keys
    )
    return PrunePlan(dangling, reclaimed)


def prune(plan: PrunePlan) -> tuple[list[str], list[str]]:
    """(IDs removed, one sentence per image refused)."""
    removed, refused = [], []
    for im in plan.images:
        try:
            with _client(im.source, im.short_id) as (client, _at):
                client.api.remove_image(im.id)
            removed.append(im.id)
        except ImageError as exc:
            refused.append(f"{im.short_id}: {exc}")
    return removed, refused


def describe_prune(plan: PrunePlan) -> list[str]:
    lines = [
        f"{im.short_id}  {docker_size(im.size):>7}  {docker_size(im.unique_size):>7} its own"
        for im in plan.images
    ]
    lines.append(f"reclaims {docker_size(plan.reclaimed)}")
    return lines


# ----------------------------------------------------------------------------- save, load


def save_command(im: LibraryImage, path: str, compress: bool) -> str:
    base = cli(im.source, "save", im.reference())
    return f"{base} | gzip > {shlex.quote(path)}" if compress else f"{base} -o {shlex.quote(path)}"


def save(
    im: LibraryImage,
    path: str,
    compress: bool,
    progress: Progress,
    cancel: threading.Event,
) -> int:
    """`docker save` the image into `path` (gzip when `compress`), atomically: a cancelled or
    failed save leaves no file. Bytes written (before compression)."""
    from explorer.core.outfile import open_binary
    from explorer.core.sources.endpoint import EXPORT_STALL

    ref = im.tags[0] if im.tags else im.id  # by name: an ID alone fails on containerd
    done = 0
    with _client(im.source, ref, EXPORT_STALL) as (client, _at), open_binary(path) as raw:
        packed = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else None
        with packed or contextlib.nullcontext():
            out = packed or raw
            for chunk in client.api.get_image(ref, chunk_size=CHUNK):
                if cancel.is_set():
                    raise Cancelled()
                out.write(chunk)
                done += len(chunk)
                progress(done, im.size)
    return done


def load_command(kind: str, path: str) -> str:
    return cli(kind, "load", "-i", path)


class _Reader:
    """A file read in chunks for the engine's load, reporting progress, stopping on cancel."""

    def __init__(self, f: BinaryIO, total: int, progress: Progress, cancel: threading.Event):
        self.f, self.total, self.progress, self.cancel = f, total, progress, cancel
        self.done = 0

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.f.read(CHUNK):
            if self.cancel.is_set():
                raise Cancelled()
            self.done += len(chunk)
            self.progress(self.done, self.total)
            yield chunk


def load(kind: str, path: str, progress: Progress, cancel: threading.Event) -> list[str]:
    """`docker load -i path`: what the engine says it loaded."""
    import json
    import os

    from explorer.core.sources.endpoint import EXPORT_STALL

    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ImageError(f"{path}: cannot read it ({exc.strerror})") from None
    with f, _client(kind, path, EXPORT_STALL) as (client, _at):
        reader = _Reader(f, os.fstat(f.fileno()).st_size, progress, cancel)
        answer = client.api.load_image(iter(reader), quiet=False)
        said = []
        for item in answer if not isinstance(answer, dict) else [answer]:
            doc = item if isinstance(item, dict) else json.loads(item)
            if doc.get("error") or doc.get("errorDetail"):
                raise ImageError(f"{kind}: the engine refused {path}: {doc.get('error')}")
            if doc.get("stream"):
                said.append(str(doc["stream"]).strip())
    return said
