"""The image library: every local image of an engine, from its metadata only (list, inspect,
history, containers; never an export), with the bytes each image shares with others and the
bytes only it holds.

How the engine counts (moby's daemon/images/image_list.go, the graph drivers' store, which
`/system/df` and `GET /images/json?shared-size=1` answer from): a layer on disk is identified
by its **chain ID** — the same diff_id on top of a different base is another layer, stored
again. A layer is shared when more than one listed image holds its chain ID; an image's shared
size is the sum of its shared layers' sizes, its unique size is its size minus that. Each
layer's size is its DiffSize, which the history API reports for every entry that made a layer.
The API's history has no empty-layer flag; which entries made the layers is worked out from
the sizes (an entry with bytes made a layer), the instructions, and the number of diff_ids.
Where zero-byte steps stay ambiguous (`RUN true` makes no layer, `RUN rm x` a layer of 0
bytes), the steps' own images — local for the classic builder, named by the history's `Id` —
settle it by their layer counts (a few more inspects, for those images only).
`Library.approximate` lists the images still ambiguous: only the placement of 0-byte layers
is then in doubt, which moves bytes only when a sized layer sits between them.

The containerd image store (Docker 25+ with `containerd-snapshotter`) reports other numbers
(moby#52476: its SharedSize counts content blobs, not the snapshots on disk): ours are the
ones of the layers on disk, whatever the store. Podman's history gives each layer's
uncompressed size and its image size adds the config and manifest, so those few bytes count
as the image's own; its compat `/system/df` reports no shared sizes at all (4.3: 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from explorer.core.errors import EngineError
from explorer.core.sources.endpoint import Endpoint, endpoint

_META = frozenset(
    {"ENV", "LABEL", "USER", "WORKDIR", "CMD", "ENTRYPOINT", "EXPOSE", "ARG", "STOPSIGNAL",
     "HEALTHCHECK", "SHELL", "VOLUME", "ONBUILD", "MAINTAINER"}
)  # fmt: skip


@dataclass
class Layer:
    diff_id: str
    chain_id: str
    size: int
    created_by: str = ""


@dataclass
class HistoryRow:
    created: int
    created_by: str
    size: int
    layer: int | None  # the index of the layer it made, None for a metadata-only step
    comment: str = ""


@dataclass
class LibraryImage:
    id: str  # sha256:<64 hex>
    tags: list[str]
    digests: list[str]
    created: int  # seconds since the epoch
    size: int
    layers: list[Layer]
    history: list[HistoryRow]  # oldest first
    platform: str = ""
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    source: str = "docker"
    intermediate: bool = False  # untagged, with children (listed with --all only)
    running: int = 0
    stopped: int = 0
    shared_size: int = 0
    unique_size: int = 0
    approximate: bool = False  # which history entries made the layers was ambiguous
    inspect: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    @property
    def dangling(self) -> bool:
        return not self.tags and not self.intermediate

    @property
    def containers(self) -> int:
        return self.running + self.stopped

    @property
    def repository(self) -> str:
        return self.tags[0].rsplit(":", 1)[0] if self.tags else "<none>"

    @property
    def name(self) -> str:
        """The first tag, or `<none>:<none>`."""
        return self.tags[0] if self.tags else "<none>:<none>"

    @property
    def key(self) -> str:
        """Unique across engines: the source and the ID."""
        return f"{self.source}/{self.id}"

    def reference(self) -> str:
        """What to name the image by: its first tag, else its ID."""
        return self.tags[0] if self.tags else self.id


@dataclass
class Library:
    images: list[LibraryImage]
    holders: dict[tuple[str, str], list[str]]  # (source, chain ID) -> keys of its holders
    layer_size: dict[tuple[str, str], int]  # (source, chain ID) -> its DiffSize
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # an engine that did not answer

    @property
    def listed_total(self) -> int:
        """What `docker images` adds up: each image's full size, shared layers again and again."""
        return sum(im.size for im in self.images)

    @property
    def disk_total(self) -> int:
        """What the listed images' layers really hold on disk: each layer once."""
        return sum(self.layer_size.values())

    @property
    def dangling_bytes(self) -> int:
        return sum(im.unique_size for im in self.images if im.dangling)

    def by_key(self, key: str) -> LibraryImage | None:
        return next((im for im in self.images if im.key == key), None)

    def approximate(self) -> list[LibraryImage]:
        return [im for im in self.images if im.approximate]

    def sharing(self, image: LibraryImage) -> list[tuple[Layer, list[LibraryImage]]]:
        """Each layer of `image` with the other listed images holding it."""
        keyed = {im.key: im for im in self.images}
        return [
            (
                layer,
                [
                    keyed[k]
                    for k in self.holders.get((image.source, layer.chain_id), [])
                    if k != image.key
                ],
            )
            for layer in image.layers
        ]

    def saved_by_sharing(self, image: LibraryImage) -> int:
        """Bytes the disk does not hold twice because `image` shares its layers: each shared
        layer's size times the number of other holders."""
        return sum(layer.size * len(others) for layer, others in self.sharing(image))


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """The OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " +
    DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            digest = hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
            out.append(f"sha256:{digest}")
    return out


def _is_metadata(created_by: str) -> bool:
    """A step that writes no layer, by its instruction (classic builder `#(nop)`, BuildKit's
    bare instruction)."""
    if "#(nop)" in created_by:
        after = created_by.split("#(nop)", 1)[1].split()
        return not after or after[0] not in ("ADD", "COPY")
    return created_by.split(" ", 1)[0] in _META


def _history_rows(
    history: list[dict[str, Any]], n_layers: int, anchors: dict[str, int] | None = None
) -> tuple[list[HistoryRow], bool]:
    """The history oldest first, each entry given the layer it made; and whether that was
    ambiguous. `anchors` (image ID -> its number of layers) settles the entries whose `Id`
    is a local image (the classic builder's steps): a step made a layer when its image has
    one more than the step before. Otherwise entries with bytes made a layer; of the empty
    ones, those that are not metadata instructions come next, then WORKDIR, then the other
    metadata ones."""
    items = [h for h in reversed(history or []) if isinstance(h, dict)]
    sizes = [max(0, int(h.get("Size") or 0)) for h in items]
    commands = [str(h.get("CreatedBy") or "") for h in items]
    decided = _anchored(items, anchors or {})
    made = [decided.get(i, s > 0) for i, s in enumerate(sizes)]
    need = n_layers - sum(made)
    ambiguous = need < 0
    zero = [i for i, s in enumerate(sizes) if s == 0 and i not in decided]
    workdir = [i for i in zero if _is_metadata(commands[i]) and "WORKDIR" in commands[i]]
    for tier in (
        [i for i in zero if not _is_metadata(commands[i])],
        workdir,  # a WORKDIR that creates its directory makes a layer
        [i for i in reversed(zero) if _is_metadata(commands[i]) and i not in workdir],
    ):
        if need <= 0:
            break
        ambiguous = ambiguous or len(tier) > need
        for i in tier[:need]:
            made[i] = True
        need -= min(need, len(tier))
    ambiguous = ambiguous or need > 0
    rows: list[HistoryRow] = []
    layer = 0
    for i, h in enumerate(items):
        index = None
        if made[i] and layer < n_layers:
            index, layer = layer, layer + 1
        rows.append(
            HistoryRow(
                created=_epoch(h.get("Created")),
                created_by=commands[i],
                size=sizes[i],
                layer=index,
                comment=str(h.get("Comment") or ""),
            )
        )
    return rows, ambiguous


def _anchored(items: list[dict[str, Any]], anchors: dict[str, int]) -> dict[int, bool]:
    """Entries (oldest first) whose making a layer the anchors settle: one whose image's
    layer count is known, right after another known one (or the first entry)."""
    decided: dict[int, bool] = {}
    before, last = 0, -1
    for i, item in enumerate(items):
        count = anchors.get(str(item.get("Id") or ""))
        if count is None:
            continue
        if i == last + 1:
            decided[i] = count > before
        before, last = count, i
    return decided


def ambiguous_history(history: list[dict[str, Any]], n_layers: int) -> list[str]:
    """The local image IDs in a history whose layers cannot be told from sizes alone: their
    layer counts would settle it (empty when nothing is ambiguous)."""
    if not _history_rows(history, n_layers)[1]:
        return []
    return [str(h["Id"]) for h in history if str(h.get("Id") or "").startswith("sha256:")]


def _epoch(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        from datetime import datetime

        try:
            return int(datetime.fromisoformat(value[:19] + "+00:00").timestamp())
        except ValueError:
            return 0
    return 0


def _tags(values: Any) -> list[str]:
    return [str(t) for t in values or [] if t and str(t) not in ("<none>:<none>", "<none>@<none>")]


def build(data: dict[str, Any], source: str = "docker") -> list[LibraryImage]:
    """The images of one engine from its raw answers: `images` (GET /images/json), `inspect`
    and `history` (by image ID), `containers` (GET /containers/json?all=1)."""
    running: dict[str, int] = {}
    stopped: dict[str, int] = {}
    for c in data.get("containers") or []:
        image_id = str(c.get("ImageID") or "")
        counts = running if c.get("State") == "running" else stopped
        counts[image_id] = counts.get(image_id, 0) + 1
    out = []
    for entry in data.get("images") or []:
        image_id = str(entry.get("Id") or "")
        if not image_id.startswith("sha256:"):
            image_id = f"sha256:{image_id}"
        info = (data.get("inspect") or {}).get(image_id)
        if not isinstance(info, dict):
            continue  # removed between the list and the inspect
        diff_ids = _diff_ids(info)
        history, approximate = _history_rows(
            (data.get("history") or {}).get(image_id) or [], len(diff_ids), data.get("anchors")
        )
        sizes = [0] * len(diff_ids)
        commands = [""] * len(diff_ids)
        for row in history:
            if row.layer is not None:
                sizes[row.layer], commands[row.layer] = row.size, row.created_by
        layers = [
            Layer(d, c, s, cmd)
            for d, c, s, cmd in zip(diff_ids, chain_ids(diff_ids), sizes, commands, strict=True)
        ]
        tags = _tags(entry.get("RepoTags"))
        config = info.get("Config") or {}
        platform = "/".join(
            str(info.get(k)) for k in ("Os", "Architecture", "Variant") if info.get(k)
        )
        size = int(entry.get("Size") or info.get("Size") or 0)
        out.append(
            LibraryImage(
                id=image_id,
                tags=tags,
                digests=_tags(entry.get("RepoDigests")),
                created=_epoch(entry.get("Created")) or _epoch(info.get("Created")),
                size=size,
                layers=layers,
                history=history,
                platform=platform,
                user=str(config.get("User") or ""),
                labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
                source=source,
                intermediate=not tags
                and not _tags(entry.get("RepoDigests"))
                and bool(entry.get("Intermediate")),
                running=running.get(image_id, 0),
                stopped=stopped.get(image_id, 0),
                approximate=approximate,
                inspect=info,
            )
        )
    return out


def assemble(
    images: list[LibraryImage], sources: list[str], problems: list[str] | None = None
) -> Library:
    """Shared and unique sizes over the listed images, as the engine counts them (two
    engines never share bytes: their layers are keyed by source too)."""
    holders: dict[tuple[str, str], list[str]] = {}
    layer_size: dict[tuple[str, str], int] = {}
    for im in images:
        for layer in im.layers:
            keys = holders.setdefault((im.source, layer.chain_id), [])
            if im.key not in keys:
                keys.append(im.key)
            layer_size[(im.source, layer.chain_id)] = layer.size
    for im in images:
        chains = {layer.chain_id: layer.size for layer in im.layers}
        im.shared_size = sum(
            size for chain, size in chains.items() if len(holders[(im.source, chain)]) > 1
        )
        im.unique_size = im.size - im.shared_size
    return Library(images, holders, layer_size, sources, problems or [])


# ------------------------------------------------------------------------- from the engines


def engines() -> list[Endpoint]:
    """The engines to list: Docker's (as the docker CLI chooses it), and Podman's when its
    socket is somewhere else and exists."""
    import os

    chosen = [endpoint("docker")]
    podman = endpoint("podman")
    path = podman.socket_path
    if (podman.via or (path and os.path.exists(path))) and podman.host != chosen[0].host:
        chosen.append(podman)
    return chosen


def fetch(at: Endpoint, all_images: bool = False, workers: int = 4) -> dict[str, Any]:
    """The raw answers `build` reads, from one engine: metadata requests only."""
    from explorer.core.sources.engine import engine_error

    try:
        client = at.client()
    except Exception as exc:
        raise engine_error(at.kind, "the image list", exc, at) from None
    try:
        api = client.api
        top = api.images(all=False)
        images = top
        if all_images:
            top_ids = {im.get("Id") for im in top}
            images = [
                {**im, "Intermediate": im.get("Id") not in top_ids} for im in api.images(all=True)
            ]
        containers = api.containers(all=True)

        def details(image_id: str) -> tuple[str, Any, Any]:
            try:
                return image_id, api.inspect_image(image_id), api.history(image_id)
            except Exception as exc:  # removed meanwhile: left out of the list
                import docker.errors

                if isinstance(exc, docker.errors.NotFound):
                    return image_id, None, None
                raise

        ids = [str(im.get("Id") or "") for im in images]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(details, ids))
            inspected = {i: info for i, info, _ in answers if info is not None}
            # Ambiguous histories: the layer counts of their steps' local images settle them.
            wanted = {
                step
                for i, info, history in answers
                if info is not None and history is not None
                for step in ambiguous_history(history, len(_diff_ids(info)))
                if step not in inspected
            }
            extra = list(pool.map(details, sorted(wanted)))
    except EngineError:
        raise
    except Exception as exc:
        raise engine_error(at.kind, "the image list", exc, at) from None
    finally:
        client.close()
    known = [*inspected.items(), *((i, info) for i, info, _ in extra if info is not None)]
    return {
        "images": images,
        "containers": containers,
        "inspect": inspected,
        "history": {i: h for i, _, h in answers if h is not None},
        "anchors": {i: len(_diff_ids(info)) for i, info in known},
    }


def _diff_ids(info: dict[str, Any]) -> list[str]:
    return [str(d) for d in (info.get("RootFS") or {}).get("Layers") or []]


def load_library(
    all_images: bool = False,
    at: list[Endpoint] | None = None,
    fetcher: Callable[[Endpoint, bool], dict[str, Any]] = fetch,
) -> Library:
    """Every local image of every engine that answers (`at`, else `engines()`); an error only
    when none does."""
    images: list[LibraryImage] = []
    sources: list[str] = []
    problems: list[str] = []
    first_error: EngineError | None = None
    for where in at if at is not None else engines():
        try:
            data = fetcher(where, all_images)
        except EngineError as exc:
            first_error = first_error or exc
            problems.append(str(exc))
            continue
        sources.append(where.kind)
        images += build(data, where.kind)
    if not sources and first_error is not None:
        raise first_error
    images.sort(key=lambda im: (-im.created, im.name))
    return assemble(images, sources, problems if sources else [])
