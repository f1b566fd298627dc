"""Images in a Docker or Podman engine, through the docker SDK.

`inspect` and `history` give the layer list at once; the export (`docker save` of a named
reference) is streamed through the indexer — never written to disk — and each layer is
placed by its diff_id as soon as it has passed.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from typing import Any

from explorer.core.errors import EngineError, ImageError
from explorer.core.image import HistoryEntry, ImageMeta, LayerMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.archive import LayerProgress, Source, StreamedArchive


def podman_socket() -> str:
    for env in ("LAYERSCOPE_PODMAN_HOST", "CONTAINER_HOST"):
        if os.environ.get(env):
            return os.environ[env]
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    for path in (f"{runtime}/podman/podman.sock", "/run/podman/podman.sock"):
        if os.path.exists(path):
            return f"unix://{path}"
    return "unix:///run/podman/podman.sock"


class _ChunkStream(io.RawIOBase):
    """A file-like view of the SDK's chunk generator."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
            if n < 0:
                continue
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


def _engine_errors(kind: str, where: str, exc: Exception, host: str = "") -> ImageError:
    """One sentence for what went wrong talking to the engine."""
    import docker.errors

    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageError(f"{kind}: image {where!r} not found")
    if isinstance(exc, docker.errors.APIError) and not isinstance(exc.response, type(None)):
        text = (exc.explanation or str(exc)).strip().splitlines()[0][:300]
        return EngineError(f"{kind}: the engine refused the request for {where!r}: {text}")
    text = str(exc)
    at = f" at {host}" if host else ""
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return EngineError(f"{kind}: permission denied on the engine socket{at}")
    if "FileNotFoundError" in text or "No such file" in text:
        return EngineError(f"{kind}: no engine socket{at}; is the {kind} engine running?")
    if "Connection refused" in text or "ConnectionRefused" in text:
        return EngineError(f"{kind}: connection refused{at}; is the {kind} engine running?")
    if "Connection aborted" in text or "RemoteDisconnected" in text or "IncompleteRead" in text:
        return EngineError(
            f"{kind}: the engine{at} closed the connection while exporting {where!r}"
        )
    first = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
    return EngineError(f"{kind}: cannot talk to the engine{at} ({first})")


class EngineSource(Source):
    def __init__(self, reference: str, kind: str = "docker", platform: str | None = None) -> None:
        self.reference = reference
        self.kind = kind
        self.name = reference
        self.platform = platform
        self.meta: ImageMeta | None = None
        self._client: Any = None
        self.host = ""

    def _connect(self) -> Any:
        import docker

        self.host = podman_socket() if self.kind == "podman" else os.environ.get("DOCKER_HOST", "")
        try:
            if self.kind == "podman":
                client = docker.DockerClient(base_url=self.host, timeout=300)
            else:
                client = docker.from_env(timeout=300)
                self.host = client.api.base_url.replace(
                    "http+docker://localhost", "unix:///var/run/docker.sock"
                )
            client.ping()
        except Exception as exc:
            raise _engine_errors(self.kind, self.reference, exc, self.host) from None
        return client

    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        self._client = self._connect()
        try:
            info = self._client.api.inspect_image(self.reference)
            history = self._client.api.history(self.reference)
        except Exception as exc:
            raise _engine_errors(self.kind, self.reference, exc, self.host) from None
        diff_ids = list((info.get("RootFS") or {}).get("Layers") or [])
        entries = _history_entries(history, len(diff_ids))
        layers = []
        for i, diff_id in enumerate(diff_ids):
            command, created = "", ""
            for e in entries:
                if e.layer == i:
                    command = e.created_by.removeprefix("/bin/sh -c ")
                    created = e.created
            layers.append(LayerMeta(i, "", diff_id, command, created))
        tags = list(info.get("RepoTags") or [])
        config = {
            "os": info.get("Os", ""),
            "architecture": info.get("Architecture", ""),
            "config": info.get("Config") or {},
        }
        self.meta = ImageMeta(self.reference, self.kind, layers, entries, config, tags)
        self._image_id = info.get("Id", "")
        return self.meta

    def _export_reference(self) -> str:
        # Export by name: a bare image ID fails on the containerd image store.
        meta = self.open()
        if self.reference.startswith("sha256:") or (
            meta.tags and self._image_id.startswith("sha256:" + self.reference)
        ):
            return meta.tags[0] if meta.tags else self.reference
        return self.reference

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        ref = self._export_reference()
        try:
            chunks = self._client.api.get_image(ref, chunk_size=1 << 20)
        except Exception as exc:
            raise _engine_errors(self.kind, ref, exc, self.host) from None
        streamed = StreamedArchive(None, self.platform, _ChunkStream(_guard(chunks, self, ref)))
        streamed.where = f"{self.kind}://{ref}"
        pending = {i: lm.digest for i, lm in enumerate(meta.layers)}
        counter = {"layer": 0}

        def on_progress(entries: int, nbytes: int) -> None:
            if progress is not None:
                progress(counter["layer"], entries, nbytes)

        for _member, diff_id, index in streamed.walk(on_progress, cancel):
            for i in [i for i, d in pending.items() if d == diff_id]:
                del pending[i]
                yield i, index
            counter["layer"] = min(pending) if pending else 0
        exact = streamed.resolve(self.reference, self.kind)
        for lm, exact_lm in zip(meta.layers, exact.layers, strict=False):
            lm.id, lm.command = exact_lm.id, exact_lm.command
        meta.history, meta.config = exact.history, exact.config
        for i, index in streamed.layers():
            if i in pending:
                del pending[i]
                yield i, index

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _guard(chunks: Iterator[bytes], source: EngineSource, ref: str) -> Iterator[bytes]:
    """Engine failures in the middle of a stream become one clear error."""
    try:
        yield from chunks
    except Exception as exc:
        raise _engine_errors(source.kind, ref, exc, source.host) from None


def _history_entries(history: list[dict[str, Any]], n_layers: int) -> list[HistoryEntry]:
    """The API's history has no empty_layer flag: guess it (metadata instructions have size
    0 and `#(nop)` without ADD/COPY) — the exact one arrives with the export's config."""
    oldest_first = list(reversed(history or []))
    entries = []
    layer = 0
    for item in oldest_first:
        created_by = str(item.get("CreatedBy", ""))
        nop = "#(nop)" in created_by and not any(
            k in created_by for k in ("#(nop) ADD", "#(nop) COPY", "#(nop)  ADD", "#(nop)  COPY")
        )
        buildkit_meta = created_by.split(" ", 1)[0] in {
            "ENV", "LABEL", "USER", "WORKDIR", "CMD", "ENTRYPOINT", "EXPOSE", "ARG",
            "STOPSIGNAL", "HEALTHCHECK", "SHELL", "VOLUME", "ONBUILD", "MAINTAINER",
        }  # fmt: skip
        empty = item.get("Size", 0) == 0 and (nop or buildkit_meta)
        empty = empty or layer >= n_layers
        entries.append(
            HistoryEntry(
                created_by=created_by,
                created=str(item.get("Created", "")),
                empty=empty,
                layer=None if empty else layer,
                comment=str(item.get("Comment", "")),
            )
        )
        if not empty:
            layer += 1
    return entries
