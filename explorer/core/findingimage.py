"""The findings rules over the image as a whole: layer economics (our reclaimable bytes,
very large and many tiny layers, a cache-unfriendly order of steps) and the config and
history (secrets in Env, Labels and build args; root user; tags; HEALTHCHECK)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from explorer.core import contentscan
from explorer.core.findings import Finding, finding, plural
from explorer.core.image import ImageMeta, text_of
from explorer.core.layerindex import LayerIndex
from explorer.core.reclaim import OVERWRITTEN, REMEDY, HiddenRows, Reclaimable

LARGE_LAYER = 512 << 20
TINY_LAYER = 16 << 10
TINY_LAYERS = 10  # this many tiny layers or more are worth merging

# -- layer economics -------------------------------------------------------------------------


def hidden_rows(rec: Reclaimable) -> Iterator[tuple[str, int, int, int, str]]:
    """(path, size, added_by, hidden_by, reason) of each reclaimable row, without building an
    object per row when the rows are columns (as read from the cache)."""
    rows = rec.rows
    if isinstance(rows, HiddenRows):
        reasons = rows.reasons
        yield from zip(
            rows.paths,
            rows.sizes,
            rows.added_by,
            rows.hidden_by,
            (reasons[c] for c in rows.codes),
            strict=False,
        )
    else:
        for r in rows:
            yield r.path, r.size, r.added_by, r.hidden_by, r.reason


def economy_findings(
    layers: Sequence[LayerIndex], reclaimable: Reclaimable | None
) -> Iterator[Finding]:
    """Hidden bytes, large layers, many tiny layers: from the layers alone."""
    if reclaimable is not None:
        yield from _hidden(reclaimable)
    sizes = [layer.size for layer in layers]
    for n, size in enumerate(sizes):
        if size >= LARGE_LAYER:
            message = f"{size:,} bytes in {len(layers[n]):,} tar entries"
            yield finding("large-layer", n, "", message, bytes=size)
    tiny = [n for n, size in enumerate(sizes) if size < TINY_LAYER]
    if len(tiny) >= TINY_LAYERS:
        message = f"{len(tiny)} of {len(sizes)} layers hold under {TINY_LAYER // 1024} KiB each"
        yield finding("many-tiny-layers", None, "", message)


def _hidden(rec: Reclaimable) -> Iterator[Finding]:
    """One finding per pair of layers (the one that added, the one that hid) and kind."""
    groups: dict[tuple[int, int, str], list[Any]] = {}  # -> [files, bytes, largest, reason]
    for path, size, added, hidden, reason in hidden_rows(rec):
        rule = "rewritten-later" if reason == OVERWRITTEN else "added-then-removed"
        group = groups.setdefault((added, hidden, rule), [0, 0, path, size, reason])
        group[0] += 1
        group[1] += size
        if size > group[3]:
            group[2], group[3], group[4] = path, size, reason
    for (added, hidden, rule), (files, size, largest, _, reason) in groups.items():
        verb = "written again" if rule == "rewritten-later" else "removed"
        message = (
            f"{plural(files, 'file')}, {size:,} bytes, added in layer {added} and {verb} in layer "
            f"{hidden} (largest: {largest})"
        )
        yield finding(
            rule, added, largest, message, bytes=size, visible=False, remedy=REMEDY[reason]
        )


_WHOLE_CONTEXT = re.compile(r"^(?:COPY|ADD) (?:--\S+ )*(?:dir:[0-9a-f]+ in |\. |\./ )")
_INSTALL = re.compile(
    r"\b(?:pip3? install|python3? -m pip install|npm (?:ci|install)|yarn(?: install)?\b|"
    r"pnpm install|poetry install|uv sync|pipenv install|go mod download|go build|"
    r"mvn |gradle|bundle install|composer install|cargo build)"
)


def order_findings(meta: ImageMeta) -> Iterator[Finding]:
    """A copy of the whole build context followed by a dependency install."""
    for k, entry in enumerate(meta.history):
        if not _WHOLE_CONTEXT.match(entry.instruction):
            continue
        for j in range(k + 1, len(meta.history)):
            later = meta.history[j].short_instruction  # RUN without the build args
            m = _INSTALL.search(later) if later.startswith("RUN ") else None
            if m is None:
                continue
            message = (
                f"`{entry.instruction[:60]}` copies the whole context before "
                f"`{m.group(0).strip()}` (history {j}): any change of a source file "
                "installs every dependency again"
            )
            yield finding("cache-unfriendly-order", entry.layer, f"history:{k}", message)
            return


# -- config and history ----------------------------------------------------------------------

_NOT_SECRET_NAME = re.compile(r"(?i)(_FILE|_PATH|_DIR|_URL_?|_ENDPOINT|_HOST|_USER(NAME)?)$")
_PLACEHOLDER = re.compile(r"^(?:\$|<|\{|changeme|example|xxx|dummy|placeholder|none|null)", re.I)
_BUILD_ARGS = re.compile(r"^(?:RUN )?\|(\d+) (.*)$", re.S)


def secret_value(name: str, value: str) -> str | None:
    """What to show of `value` when it is a secret (masked), else None."""
    hits = contentscan.scan_text(value)
    if hits:
        return hits[0][1]
    if (
        contentscan.credential_name(name)
        and not _NOT_SECRET_NAME.search(name)
        and len(value) >= 6
        and not _PLACEHOLDER.match(value)
    ):
        return contentscan.mask(value)
    return None


def config_findings(meta: ImageMeta) -> Iterator[Finding]:
    runtime = meta.config.get("config") if isinstance(meta.config, dict) else None
    cfg: dict[str, Any] = runtime if isinstance(runtime, dict) else {}
    env = cfg.get("Env")
    for item in env if isinstance(env, list) else []:
        name, _, value = text_of(item).partition("=")
        shown = secret_value(name, value)
        if shown is not None:
            yield finding("secret-in-env", None, f"Env:{name}", f"{name}={shown}")
    labels = cfg.get("Labels")
    for key, raw in (labels if isinstance(labels, dict) else {}).items():
        shown = secret_value(str(key), text_of(raw))
        if shown is not None:
            yield finding("secret-in-label", None, f"Labels:{key}", f"{key}={shown}")
    for k, entry in enumerate(meta.history):
        yield from _history(k, entry.created_by, entry.layer)
    user = text_of(cfg.get("User")).strip()
    if user.partition(":")[0] in ("", "root", "0"):
        said = f"USER is {user}" if user else "no USER is set"
        yield finding("runs-as-root", None, "User", f"{said}: the container runs as root")
    tags = [t for t in meta.tags if isinstance(t, str)]
    if not tags:
        yield finding("latest-tag", None, "Tags", "the image has no tag")
    elif all(t.rpartition(":")[2] == "latest" for t in tags):
        yield finding("latest-tag", None, "Tags", f"only tagged latest: {', '.join(tags)}")
    health = cfg.get("Healthcheck")
    test = health.get("Test") if isinstance(health, dict) else None
    if not isinstance(test, list) or not test or test[0] == "NONE":
        yield finding("no-healthcheck", None, "Healthcheck", "the image sets no HEALTHCHECK")


def redact_command(command: str) -> str:
    """A history command with its secret build args and tokens masked (for display)."""
    m = _BUILD_ARGS.match(command.strip())
    if m:
        count = int(m.group(1))
        words = m.group(2).split(" ")
        for i, word in enumerate(words[:count]):
            name, sep, value = word.partition("=")
            shown = secret_value(name, value)
            if sep and shown is not None:
                words[i] = f"{name}={shown}"
        command = f"|{count} " + " ".join(words)
    return contentscan.redact(command)


def _history(k: int, created_by: str, layer: int | None) -> Iterator[Finding]:
    """Build args the classic builder recorded (`|2 A=1 B=2 /bin/sh -c …`) whose name or
    value says secret, and tokens anywhere in a command."""
    seen: set[str] = set()
    m = _BUILD_ARGS.match(created_by.strip())
    if m:
        for word in m.group(2).split(" ")[: int(m.group(1))]:
            name, _, value = word.partition("=")
            shown = secret_value(name, value)
            if shown is not None:
                seen.add(shown)
                message = f"build arg {name}={shown}"
                yield finding("secret-in-history", layer, f"history:{k}", message)
    for _, shown in contentscan.scan_text(created_by):
        if shown not in seen:
            yield finding("secret-in-history", layer, f"history:{k}", f"in the command: {shown}")
