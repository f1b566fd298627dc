"""Images read straight from a registry (`registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`), over
the OCI distribution API: no engine, no copy on disk.

`open` fetches the manifest (an index or manifest list picks the platform as an archive's
does, `--platform` included) and the config: the layer list is known. `index_layers` streams
each layer blob straight into the indexer, several at once (LAYERSCOPE_REGISTRY_STREAMS, 3 by
default), checking its stored bytes against the blob's digest and its uncompressed ones
against the config's diff_id; a dropped connection resumes with a Range request.

With the layer cache, a layer is not downloaded at all when its blob was verified before to
be that diff_id (the record `learn_blob` keeps, keyed by the blob digest; an uncompressed
blob's digest is its diff_id): the registry serves blobs by digest, so these bytes are the
ones that were indexed. A warm re-open fetches the manifest and the config only; a new tag on
a cached base downloads only its new layers. A diff_id cached from another source but never
seen as this blob is downloaded and checked, as an archive's would be hashed.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.base import DEFAULT_CACHE, LayerProgress, Source
from explorer.core.sources.blobs import MAX_JSON, check_json_blob
from explorer.core.sources.layout import (
    INDEX_TYPES,
    _check_platform,
    _choose_manifest,
    _meta,
    load_json,
)
from explorer.core.sources.proofs import blob_diff_id, learn_blob
from explorer.core.sources.regclient import MANIFEST_ACCEPT, RegistryClient, RegistryError
from explorer.core.sources.workers import index_blob

ENV_STREAMS = "LAYERSCOPE_REGISTRY_STREAMS"
DEFAULT_STREAMS = 3
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_HUB = "registry-1.docker.io"


def parse_reference(text: str) -> tuple[str, str, str]:
    """(host, repository, tag or digest) of `HOST[:PORT]/REPO[:TAG|@DIGEST]`; the tag is
    `latest` when none is given. Docker Hub's `docker.io/NAME` is `library/NAME` there."""
    bad = f"registry://{text}: expected registry://HOST[:PORT]/REPO[:TAG|@DIGEST]"
    host, slash, rest = text.partition("/")
    if not slash or not rest or not _HOST.match(host):
        raise ImageError(bad)
    if "@" in rest:
        repo, _, ref = rest.partition("@")
        if not _DIGEST.match(ref):
            raise ImageError(f"registry://{text}: invalid digest {ref[:80]!r} (sha256:<64 hex>)")
    else:
        last = rest.rsplit("/", 1)[-1]
        repo, ref = rest.rsplit(":", 1) if ":" in last else (rest, "latest")
        if not _TAG.match(ref):
            raise ImageError(f"registry://{text}: invalid tag {ref[:80]!r}")
    if not _REPO.match(repo):
        raise ImageError(f"registry://{text}: invalid repository name {repo[:80]!r}")
    if host.lower() in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
        if "/" not in repo:
            repo = f"library/{repo}"
    return host, repo, ref


def _streams() -> int:
    text = os.environ.get(ENV_STREAMS, "")
    return max(1, min(int(text), 16)) if text.strip().isdigit() else DEFAULT_STREAMS


class RegistrySource(Source):
    def __init__(
        self, reference: str, platform: str | None = None, cache: Any = DEFAULT_CACHE
    ) -> None:
        self.reference = reference
        self.name = f"registry://{reference}"
        self.cache_choice = cache
        self.platform = platform
        self.meta: ImageMeta | None = None
        self.blobs: list[str] = []  # each layer's blob digest
        self.sizes: list[int | None] = []
        self.downloaded: list[str] = []  # blobs the last index_layers fetched (tests, bench)
        self._client: RegistryClient | None = None

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            host, repo, _ = parse_reference(self.reference)
            self._client = RegistryClient(host, repo)
        return self._client

    # -- metadata ------------------------------------------------------------------------------
    def _manifest(self, ref: str) -> tuple[Any, str]:
        """A manifest or index by tag or digest: (parsed JSON, its media type). One fetched
        by digest must hash to it."""
        what = f"manifest {self.client.repo}{'@' if ref.startswith('sha256:') else ':'}{ref}"
        data, response = self.client.read_small(
            f"{self.client.repo}/manifests/{ref}", what, MAX_JSON, {"Accept": MANIFEST_ACCEPT}
        )
        if ref.startswith("sha256:") and "sha256:" + hashlib.sha256(data).hexdigest() != ref:
            raise RegistryError(f"{self.client.where}: {what} does not match its digest")
        check_json_blob("", data, f"{self.client.where}: {what}")
        parsed = load_json(data, f"{self.client.where}: {what}")
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if isinstance(parsed, dict) and isinstance(parsed.get("mediaType"), str):
            media = parsed["mediaType"]
        if isinstance(parsed, dict) and parsed.get("schemaVersion") == 1:
            raise RegistryError(
                f"{self.client.where}: {what} is a Docker schema 1 manifest (deprecated, "
                f"not supported)"
            )
        return parsed, media

    def _blob_json(self, digest: str, what: str) -> Any:
        if not _DIGEST.match(str(digest)):
            raise RegistryError(f"{self.client.where}: invalid {what} digest {str(digest)[:80]!r}")
        data, _ = self.client.read_small(
            f"{self.client.repo}/blobs/{digest}", f"{what} {digest}", MAX_JSON
        )
        check_json_blob(f"blobs/sha256/{digest[7:]}", data, f"{self.client.where}")
        return load_json(data, f"{self.client.where}: {what} {digest}")

    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        _, _, ref = parse_reference(self.reference)
        where = self.name
        try:
            manifest, media = self._manifest(ref)
            if media in INDEX_TYPES or (
                isinstance(manifest, dict) and "manifests" in manifest and "layers" not in manifest
            ):

                def read_index(name: str) -> Any:  # a nested index, by `blobs/sha256/<hex>`
                    return self._manifest("sha256:" + name.rsplit("/", 1)[-1])[0]

                desc = _choose_manifest(read_index, manifest, where, self.platform)
                if "layers" not in desc:
                    manifest = self._manifest(str(desc.get("digest", "")))[0]
                else:
                    manifest = desc
                platform_known = bool(desc.get("_platform"))
            else:
                platform_known = False
            if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
                raise ImageError(f"{where}: the manifest has no layers")
            config_desc = manifest.get("config")
            if not isinstance(config_desc, dict):
                raise ImageError(f"{where}: the manifest has no config")
            config = self._blob_json(str(config_desc.get("digest", "")), "config")
            if not platform_known:
                _check_platform(config, self.platform, where)
            descriptors = [d for d in manifest["layers"] if isinstance(d, dict)]
            self.blobs = [str(d.get("digest", "")) for d in descriptors]
            for blob in self.blobs:
                if not _DIGEST.match(blob):
                    raise ImageError(f"{where}: invalid layer digest {blob[:80]!r}")
            self.sizes = [d["size"] if type(d.get("size")) is int else None for d in descriptors]
            ids = [blob.partition(":")[2] for blob in self.blobs]
            meta = _meta(self.name, "registry", config, f"{where}: config", ids, descriptors, [])
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            raise ImageError(
                f"{where}: malformed manifest (a value of the wrong type: {type(exc).__name__})"
            ) from None
        if not ref.startswith("sha256:"):
            meta.tags = [self.reference]
        self.meta = meta
        return meta

    # -- layers --------------------------------------------------------------------------------
    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        cache = self.cache
        self.downloaded = []
        jobs: dict[str, list[int]] = {}  # blob -> the layers it is
        claimed: dict[str, str] = {}
        for i, lm in enumerate(meta.layers):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            blob = self.blobs[i]
            if claimed.setdefault(blob, lm.digest) != lm.digest:
                raise ImageError(
                    f"{self.name}: layer {i} ({blob}) does not match the config's diff_id "
                    f"{lm.digest} (the same blob is claimed as {claimed[blob]} too)"
                )
            if blob in jobs:
                jobs[blob].append(i)
                continue
            index = self._cached(cache, blob, lm.digest, i)
            if index is not None:
                yield i, index
                continue
            jobs[blob] = [i]
        if jobs:
            yield from self._download(jobs, cache, progress, cancel)

    def _cached(
        self, cache: LayerCache | None, blob: str, diff_id: str, i: int
    ) -> LayerIndex | None:
        """The cached index of a layer whose blob is known to be `diff_id`, or None."""
        if cache is None or blob_diff_id(cache, blob) != diff_id:
            return None
        return cache.get(diff_id, f"{self.name}: layer {i}", verified=True)

    def _download(
        self,
        jobs: dict[str, list[int]],
        cache: LayerCache | None,
        progress: LayerProgress | None,
        cancel: threading.Event | None,
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        client = self.client
        stop = client.cancel  # set on cancel, on a failure, or by close
        writing = threading.Lock()

        def one(blob: str, layers: list[int]) -> LayerIndex:
            first = layers[0]
            diff_id = meta.layers[first].digest
            where = f"{self.name}: layer {first} ({blob})"

            # Progress in bytes downloaded (what a slow registry makes the user wait for),
            # with the entries the indexer has read so far.
            entries = [0]

            def on_progress(count: int, _nbytes: int) -> None:
                entries[0] = count

            def on_bytes(received: int) -> None:
                if progress is not None:
                    progress(first, entries[0], received)

            reader = client.blob(blob, self.sizes[first], on_bytes)
            try:
                index = index_blob(reader, where, blob, diff_id, progress=on_progress, cancel=stop)
            finally:
                reader.close()
            assert index is not None  # indexed, not only checked
            if cache is not None:
                with writing:  # one writer at a time: the cache's eviction is not threaded
                    cache.put(diff_id, index, where, verified=True)
                    learn_blob(cache, blob, diff_id)
            self.downloaded.append(blob)
            return index

        pool = cf.ThreadPoolExecutor(min(_streams(), len(jobs)), thread_name_prefix="registry")
        # bottom layers first: the analysis and the TUI take the layers bottom up
        order = sorted(jobs.items(), key=lambda item: item[1][0])
        running = {pool.submit(one, blob, layers): layers for blob, layers in order}
        try:
            while running:
                done, _ = cf.wait(running, timeout=0.1, return_when=cf.FIRST_COMPLETED)
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                for future in done:
                    layers = running.pop(future)
                    index = future.result()  # its error, if it failed
                    for i in layers:
                        yield i, index
        finally:
            if running:
                stop.set()  # the other downloads stop at their next read
                client.close()
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
