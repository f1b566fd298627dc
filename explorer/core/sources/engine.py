"""Images in a Docker or Podman engine, through the docker SDK.

`inspect` and `history` give the layer list at once; the export (`docker save` of a named
reference) is streamed through the indexer — never written to disk — and each layer is
placed by its diff_id as soon as it has passed.

With the layer cache: when every diff_id is cached and an earlier export of the same image
left its record (exact layer ids, history, config), the image opens without any export. When
some layers are cached, the export is still streamed (the engine cannot export one layer),
but the cached layers' members are skipped over without parsing or hashing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

from explorer.core.cache import LayerCache
from explorer.core.errors import EngineError, ImageError
from explorer.core.image import HistoryEntry, ImageMeta, LayerMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.base import DEFAULT_CACHE, LayerProgress, Source
from explorer.core.sources.endpoint import (
    CONTROL_TIMEOUT,
    EXPORT_STALL,
    Endpoint,
    check_platform,
    check_reference,
    endpoint,
)
from explorer.core.sources.streamed import StreamedArchive


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


def engine_error(
    kind: str, where: str, exc: Exception, at: Endpoint | None, exporting: bool = False
) -> ImageError:
    """One sentence for what went wrong talking to the engine about `where` (an image, or what
    was asked), naming the endpoint: the error every engine call raises (sources, the
    library, its actions)."""
    import docker.errors

    on = f" at {at}" if at else ""
    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageError(f"{kind}: image {where!r} not found on the engine{on}")
    if isinstance(exc, docker.errors.APIError) and not isinstance(exc.response, type(None)):
        text = (exc.explanation or str(exc)).strip().splitlines()[0][:300]
        return EngineError(f"{kind}: the engine{on} refused the request for {where!r}: {text}")
    text = str(exc)
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return EngineError(f"{kind}: permission denied on the engine socket{on}")
    if "FileNotFoundError" in text or "No such file" in text:
        return EngineError(f"{kind}: no engine socket{on}; is the {kind} engine running?")
    if "Connection refused" in text or "ConnectionRefused" in text:
        return EngineError(f"{kind}: connection refused{on}; is the {kind} engine running?")
    if isinstance(exc, TimeoutError) or "timed out" in text:
        waited, doing = (
            (EXPORT_STALL, "exporting") if exporting else (CONTROL_TIMEOUT, "asked about")
        )
        return EngineError(
            f"{kind}: the engine{on} did not answer for {waited:g} s ({doing} {where!r})"
        )
    closed = ("Connection aborted", "RemoteDisconnected", "IncompleteRead", "ended prematurely")
    if any(sign in text for sign in closed):
        return EngineError(
            f"{kind}: the engine{on} closed the connection while exporting {where!r}"
        )
    first = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
    return EngineError(f"{kind}: cannot talk to the engine{on} about {where!r} ({first})")


class EngineSource(Source):
    def __init__(
        self,
        reference: str,
        kind: str = "docker",
        platform: str | None = None,
        cache: Any = DEFAULT_CACHE,
    ) -> None:
        self.reference = reference
        self.cache_choice = cache
        self.exported = False  # did the last index_layers need the engine's export?
        self.streamed: StreamedArchive | None = None  # that export (what it skipped, indexed)
        self.kind = kind
        self.name = reference
        self.platform = platform
        self.meta: ImageMeta | None = None
        self._client: Any = None
        self.endpoint: Endpoint | None = None  # chosen at open
        self._exported: _Record | None = None  # what an earlier export recorded (at open)

    def _connect(self) -> Any:
        """An SDK client with short timeouts: a hung engine fails within seconds."""
        assert self.endpoint is not None, "chosen at open"
        try:
            client = self.endpoint.client(CONTROL_TIMEOUT)
            client.ping()
        except Exception as exc:
            raise engine_error(self.kind, self.reference, exc, self.endpoint) from None
        return client

    def _inspect_direct(self, path: str) -> tuple[Any, Any] | None:
        """`inspect` and `history` over the engine's unix socket, without the SDK (whose
        import alone costs about 0.1 s: an image whose layers are all cached opens in well
        under a second, and needs nothing else). None unless both answer 200: the SDK then
        asks again, and its errors are the ones reported — but an engine that does not
        answer at all is reported at once."""
        from urllib.parse import quote

        name = quote(self.reference, safe="/:@")
        try:
            info = _unix_get_json(path, f"/images/{name}/json")
            history = _unix_get_json(path, f"/images/{name}/history")
        except TimeoutError as exc:
            raise engine_error(self.kind, self.reference, exc, self.endpoint) from None
        except Exception:
            return None
        if not isinstance(info, dict) or not isinstance(history, list):
            return None
        return info, history

    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        check_reference(self.kind, self.reference)  # before anything reaches the engine
        self.endpoint = endpoint(self.kind)
        path = self.endpoint.socket_path
        direct = self._inspect_direct(path) if self.kind == "docker" and path else None
        if direct is not None:
            info, history = direct
        else:
            self._client = self._connect()
            try:
                info = self._client.api.inspect_image(self.reference)
                history = self._client.api.history(self.reference)
            except Exception as exc:
                raise engine_error(self.kind, self.reference, exc, self.endpoint) from None
        if self.platform:
            check_platform(self.kind, self.reference, self.platform, info)
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
            "variant": info.get("Variant", ""),
            "created": info.get("Created", ""),
            "author": info.get("Author", ""),
            "config": info.get("Config") or {},
        }
        self.meta = ImageMeta(self.reference, self.kind, layers, entries, config, tags)
        self._image_id = str(info.get("Id", ""))
        self.meta.id = self._image_id
        self._exported = self._record(self.cache)
        if self._exported is not None:  # exported before: what its config said
            _apply(self.meta, self._exported)
        else:
            self.meta.provisional = True
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
        cache = self.cache
        self.exported = False
        pending = {i: lm.digest for i, lm in enumerate(meta.layers)}
        loaded: dict[str, LayerIndex] = {}
        record = self._exported
        if cache is not None and record is not None:
            ref = self._export_reference()
            where = {d: f"{self.kind}://{ref}: {m}" for m, d in record.members.items()}
            if all(cache.has(d, verified=True) for d in pending.values()):
                for i, diff_id in list(pending.items()):
                    index = loaded.get(diff_id) or cache.get(
                        diff_id, where.get(diff_id, ""), verified=True
                    )
                    if index is None:  # evicted meanwhile: the export will bring it
                        break
                    loaded[diff_id] = index
                    del pending[i]
                    yield i, index
                if not pending:
                    return
        yield from self._export(meta, cache, pending, loaded, record, progress, cancel)

    def _record(self, cache: LayerCache | None) -> _Record | None:
        """What an earlier export of this very image (by ID) recorded, checked."""
        if cache is None or not self._image_id:
            return None
        raw = cache.get_image(self.kind, _image_key(self._image_id))
        record = None if raw is None else _parse_record(raw, len(self.open().layers))
        if record is None or record.diff_ids != [lm.digest for lm in self.open().layers]:
            return None
        return record

    def _export(
        self,
        meta: ImageMeta,
        cache: LayerCache | None,
        pending: dict[int, str],
        loaded: dict[str, LayerIndex],
        record: _Record | None,
        progress: LayerProgress | None,
        cancel: threading.Event | None,
    ) -> Iterator[tuple[int, LayerIndex]]:
        ref = self._export_reference()
        stream = self.image_stream()
        self.exported = True
        aliases: dict[str, str] = {}
        if cache is not None:
            aliases = cache.aliases(self.kind)
            if record is not None:
                aliases.update(record.members)
        expected = [lm.digest for lm in meta.layers]
        streamed = StreamedArchive(
            None,
            None,  # the engine exports the one platform it holds (checked at open)
            stream,
            cache=cache,
            expected=expected,
            aliases=aliases,
            preloaded=loaded,
            verified_only=True,  # what an archive's config merely claims is not used here
        )
        streamed.where = f"{self.kind}://{ref}"
        self.streamed = streamed
        counter = {"layer": min(pending) if pending else 0}

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
        meta.provisional = False
        unmatched = bool(pending)
        for i, index in streamed.layers():
            if i in pending:
                del pending[i]
                yield i, index
        if cache is not None and self._image_id and not unmatched:
            # Only members whose bytes hashed to an expected diff_id (or that were identified
            # as such and served from the cache) are remembered by name.
            members = {
                m: d
                for m, d in streamed.diff_ids.items()
                if d in expected and m in streamed.indexes
            }
            cache.put_image(self.kind, _image_key(self._image_id), _make_record(meta, members))

    def image_stream(self) -> BinaryIO:
        """The engine's export of the image (`docker save`), streamed."""
        ref = self._export_reference()
        if self._client is None:
            self._client = self._connect()  # opened without the SDK: the export needs it
        # From here on the client only streams the export: an engine may prepare a big one
        # for minutes before its first byte; a stream that stalls that long fails.
        self._client.api.timeout = EXPORT_STALL
        try:
            chunks = self._client.api.get_image(ref, chunk_size=1 << 20)
        except Exception as exc:
            raise engine_error(self.kind, ref, exc, self.endpoint, exporting=True) from None
        return _ChunkStream(_guard(chunks, self, ref))  # type: ignore[return-value]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _unix_get_json(path: str, url: str, timeout: float = CONTROL_TIMEOUT) -> Any:
    """GET `url` from the HTTP server on the unix socket at `path`: its JSON, or raise."""
    import http.client
    import json
    import socket

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            self.sock = sock

    conn = Connection("localhost", timeout=timeout)
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"{url}: HTTP {response.status}")
        return json.loads(body)
    finally:
        conn.close()


def _image_key(image_id: str) -> str:
    return image_id if ":" in image_id else f"sha256:{image_id}"


def _make_record(meta: ImageMeta, members: dict[str, str]) -> dict[str, Any]:
    return {
        "ids": [lm.id for lm in meta.layers],
        "commands": [lm.command for lm in meta.layers],
        "history": [[h.created_by, h.created, h.empty, h.layer, h.comment] for h in meta.history],
        "config": meta.config,
        "diff_ids": [lm.digest for lm in meta.layers],
        "members": members,
    }


class _Record(NamedTuple):
    """What an export said about an image, kept in the cache under the image ID."""

    ids: list[str]
    commands: list[str]
    history: list[HistoryEntry]
    config: dict[str, Any]
    diff_ids: list[str]
    members: dict[str, str]  # export member -> diff_id (hashed, or identified and cached)


def _parse_record(raw: dict[str, Any], n_layers: int) -> _Record | None:
    """A cached image record, or None when it does not have the right shape."""
    try:
        ids, commands = raw["ids"], raw["commands"]
        diff_ids, config, members = raw["diff_ids"], raw["config"], raw["members"]
        history = [
            HistoryEntry(str(b), str(c), bool(e), None if x is None else int(x), str(m))
            for b, c, e, x, m in raw["history"]
        ]
    except (KeyError, TypeError, ValueError):
        return None
    lists = (ids, commands, diff_ids)
    if not all(isinstance(v, list) and len(v) == n_layers for v in lists):
        return None
    if not all(isinstance(v, str) for v in (*ids, *commands, *diff_ids)):
        return None
    if not isinstance(config, dict) or not isinstance(members, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in members.items()):
        return None
    return _Record(ids, commands, history, config, diff_ids, members)


def _apply(meta: ImageMeta, record: _Record) -> None:
    """What the export would have told: exact layer ids, commands, history and config."""
    for lm, layer_id, command in zip(meta.layers, record.ids, record.commands, strict=True):
        lm.id, lm.command = layer_id, command
    meta.history, meta.config = record.history, record.config
    meta.provisional = False


def _guard(chunks: Iterator[bytes], source: EngineSource, ref: str) -> Iterator[bytes]:
    """Engine failures in the middle of a stream become one clear error."""
    try:
        yield from chunks
    except Exception as exc:
        raise engine_error(source.kind, ref, exc, source.endpoint, exporting=True) from None


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
