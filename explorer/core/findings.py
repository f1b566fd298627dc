"""Findings, headless: what an image ships that it should not, each with a stable rule id
(`RULES`, documented in docs/findings.md, mapped to dockle's CIS-DI ids where one exists),
a severity, the layer that shipped it, the path (or config key, or history entry), a message,
a remedy, the bytes it costs and whether the final image still shows it.

Rules run over every layer's entries, not only the final filesystem: a secret a later layer
deleted is still shipped in the layer that added it ("deleted in layer 5, still shipped in
layer 2"). Content rules read what the indexer found while each layer streamed past
(`LayerIndex.secrets`, see contentscan). A rule that fails is reported as a `rule-error`
finding; it never breaks the analysis. No finding holds a secret's value in full.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from explorer.core import tarscan
from explorer.core.image import ImageMeta
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.reclaim import Reclaimable

if TYPE_CHECKING:
    from explorer.core.analysis import Analysis

CRITICAL, HIGH, MEDIUM, LOW, INFO = "critical", "high", "medium", "low", "info"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW, INFO)  # most severe first


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    remedy: str
    dockle: str = ""  # dockle's id for the same check, when it has one


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    layer: int | None  # 0-based index of the layer that shipped it; None: config or image
    path: str  # "/a/file"; "Env:NAME", "Labels:KEY", "User", "Healthcheck", "Tags"; "history:N"
    message: str
    remedy: str
    bytes: int = 0  # what it costs, where it costs space
    visible: bool = True  # the final image still shows it


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


RULES = _rules(
    Rule(
        "secret-in-file",
        CRITICAL,
        "A file holds a secret (token, private key, password)",
        "remove it from every layer (a later `rm` does not: the layer still ships it); pass "
        "secrets at build time with `RUN --mount=type=secret` and at run time from outside",
        "CIS-DI-0010",
    ),
    Rule(
        "secret-file-name",
        HIGH,
        "A file whose name says it holds a secret (private key, keystore, credentials)",
        "do not copy it into the image (.dockerignore it); mount it at run time",
        "CIS-DI-0010",
    ),
    Rule(
        "secret-in-env",
        HIGH,
        "An environment variable holds a secret",
        "do not bake secrets into ENV: pass them when the container starts",
        "CIS-DI-0010",
    ),
    Rule(
        "secret-in-label",
        HIGH,
        "A label holds a secret",
        "remove the secret from the LABEL",
        "CIS-DI-0010",
    ),
    Rule(
        "secret-in-history",
        HIGH,
        "A build argument or command in the history holds a secret",
        "build args are recorded in the image's history: use `RUN --mount=type=secret` instead "
        "of ARG for secrets",
        "CIS-DI-0010",
    ),
    Rule(
        "setuid-setgid",
        LOW,
        "A setuid or setgid file",
        "remove the bit where it is not needed (`chmod u-s,g-s`)",
        "CIS-DI-0008",
    ),
    Rule(
        "world-writable",
        MEDIUM,
        "A world-writable file or directory without the sticky bit",
        "remove write permission for others (`chmod o-w`), or set the sticky bit on a "
        "shared directory",
    ),
    Rule(
        "vcs-metadata",
        MEDIUM,
        "Version-control metadata (.git, .svn, .hg) shipped",
        "add it to .dockerignore, or copy only what the image needs",
        "DKL-LI-0003",
    ),
    Rule(
        "package-cache",
        LOW,
        "A package manager's cache left behind",
        "clean it in the same RUN that fills it (`rm -rf /var/lib/apt/lists/*`, "
        "`pip install --no-cache-dir`, `apk add --no-cache`, `npm cache clean --force`), or "
        "use a cache mount (`RUN --mount=type=cache`)",
        "DKL-DI-0005",
    ),
    Rule(
        "duplicate-files",
        LOW,
        "The same content at several paths",
        "keep one copy (a symlink or hardlink), or copy it once",
    ),
    Rule(
        "added-then-removed",
        LOW,
        "Files added in one layer and removed in a later one (still shipped)",
        "delete them in the same RUN that creates them, or build them in another stage",
    ),
    Rule(
        "rewritten-later",
        LOW,
        "Files written again by a later layer (a chmod or chown copies every file)",
        "write them once: do the chmod/chown in the step that creates them "
        "(COPY --chmod / --chown)",
    ),
    Rule(
        "large-layer",
        INFO,
        "A very large layer",
        "split what changes often from what does not, or trim what the layer installs",
    ),
    Rule(
        "many-tiny-layers",
        INFO,
        "Many tiny layers",
        "merge the small steps into one RUN",
    ),
    Rule(
        "cache-unfriendly-order",
        LOW,
        "The whole build context is copied before dependencies are installed",
        "copy the dependency manifests first (requirements.txt, package.json...), install, "
        "then copy the rest: a source change no longer reinstalls every dependency",
    ),
    Rule(
        "runs-as-root",
        MEDIUM,
        "The container runs as root",
        "add a user and switch to it (`USER app`)",
        "CIS-DI-0001",
    ),
    Rule(
        "latest-tag",
        LOW,
        "The image is only tagged `latest`, or not at all",
        "tag releases with a version (or a digest) as well",
        "DKL-DI-0006",
    ),
    Rule(
        "no-healthcheck",
        INFO,
        "No HEALTHCHECK",
        "add a HEALTHCHECK so that the runtime can tell a stuck container",
        "CIS-DI-0006",
    ),
    Rule(
        "rule-error",
        INFO,
        "A rule could not run",
        "report it: the other rules ran",
    ),
)


def finding(rule: str, layer: int | None, path: str, message: str, **kw: object) -> Finding:
    """A finding of `rule`, with the rule's severity and remedy unless given."""
    r = RULES[rule]
    remedy = kw.pop("remedy", r.remedy)
    return Finding(rule, r.severity, layer, path, message, str(remedy), **kw)  # type: ignore[arg-type]


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' * (count != 1)}"


# -- visibility ----------------------------------------------------------------------------


class Stack:
    """Where an entry of layer k stands in the layers above it: shown at the end, or hidden
    by a later layer (written again, deleted, under an opaque directory or a path that
    became a file). Each layer's lookups are built the first time one is asked for."""

    def __init__(self, layers: Sequence[LayerIndex]) -> None:
        self.layers = layers
        self._paths: dict[int, dict[str, int]] = {}
        self._removed: dict[int, tuple[set[str], set[str]]] = {}

    def _of(self, n: int) -> tuple[dict[str, int], set[str], set[str]]:
        if n not in self._paths:
            layer = self.layers[n]
            self._paths[n] = {p: i for i, p in enumerate(layer.paths)}
            deleted: set[str] = set()
            opaque: set[str] = set()
            if layer.whiteouts:
                for path in layer.paths:
                    parent, _, base = path.rpartition("/")
                    if base == OPAQUE_MARKER:
                        opaque.add(parent)
                    elif base.startswith(WHITEOUT_PREFIX):
                        deleted.add(f"{parent}/{base[len(WHITEOUT_PREFIX) :]}".lstrip("/"))
            self._removed[n] = (deleted, opaque)
        return (self._paths[n], *self._removed[n])

    def hidden_by(self, k: int, path: str, directory: bool = False) -> tuple[int, str] | None:
        """(the first layer above k that hides `path`, how), or None when it is shown. A
        `directory` is not hidden by a later entry of a directory at its path (a chmod)."""
        path = path.lstrip("/")
        ancestors = []
        at = path
        while at:
            at = at.rpartition("/")[0]
            ancestors.append(at)
        for j in range(k + 1, len(self.layers)):
            paths, deleted, opaque = self._of(j)
            if path in deleted or any(a in deleted for a in ancestors if a):
                return j, "deleted"
            if any(a in opaque for a in ancestors):
                return j, "hidden by an opaque directory"
            i = paths.get(path)
            if i is not None and not (directory and self.layers[j].types[i] == tarscan.DIR):
                return j, "written again"
            for a in ancestors:
                i = paths.get(a) if a else None
                if i is not None and self.layers[j].types[i] != tarscan.DIR:
                    return j, "replaced by a file"
        return None

    def where(self, k: int, path: str, directory: bool = False) -> tuple[bool, str]:
        """(visible, the words for where it stands) for an entry of layer k."""
        hidden = self.hidden_by(k, path, directory)
        if hidden is None:
            return True, f"in layer {k}"
        j, how = hidden
        return False, f"{how} in layer {j} but still shipped in layer {k}"


# -- all of it -------------------------------------------------------------------------------


def find(
    meta: ImageMeta, layers: Sequence[LayerIndex], reclaimable: Reclaimable | None = None
) -> list[Finding]:
    """Every rule over the image: its layers' entries (and what their contents held), our
    reclaimable-bytes account (when given), its config, history and tags. Ordered by
    severity, rule, layer and path."""
    return sort_findings(layer_findings(layers, reclaimable) + image_findings(meta, layers))


def findings_of(analysis: Analysis) -> list[Finding]:
    """`find` for an analysed image: the findings of its layers come with the analysis (and
    with it from the cache), those of its config and history are worked out (microseconds)."""
    return sort_findings(analysis.layer_findings + image_findings(analysis.meta, analysis.layers))


def layer_findings(
    layers: Sequence[LayerIndex], reclaimable: Reclaimable | None = None
) -> list[Finding]:
    """The findings that depend on the layers alone (cached with the analysis, under the
    layers' diff_ids): secrets and names in files, modes, repositories, caches, duplicates,
    hidden bytes, large and tiny layers."""
    # The rules build their findings with this module's types: imported here, not above.
    from explorer.core import findingfiles as files
    from explorer.core import findingimage as image

    stack = Stack(layers)
    return _run(
        [
            ("secrets in files", lambda: files.secret_findings(layers, stack)),
            ("file modes", lambda: files.mode_findings(layers, stack)),
            ("version-control metadata", lambda: files.vcs_findings(layers, stack)),
            ("package caches", lambda: files.cache_findings(layers, stack)),
            ("duplicate files", lambda: files.duplicate_findings(layers, stack)),
            ("layer economics", lambda: image.economy_findings(layers, reclaimable)),
        ]
    )


def image_findings(meta: ImageMeta, layers: Sequence[LayerIndex]) -> list[Finding]:
    """The findings of the config, the history and the tags."""
    from explorer.core import findingimage as image

    return _run(
        [
            ("config and history", lambda: image.config_findings(meta)),
            ("order of the steps", lambda: image.order_findings(meta)),
        ]
    )


def _run(runs: list[tuple[str, Callable[[], Iterator[Finding]]]]) -> list[Finding]:
    out: list[Finding] = []
    for name, run in runs:
        try:
            out.extend(run())
        except Exception as exc:  # a rule never breaks the analysis
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = (
                f"the rules of {name} could not run ({type(exc).__name__} at "
                f"{where.name}:{where.lineno}); the other rules ran"
            )
            out.append(finding("rule-error", None, "", message))
    return out


def sort_findings(findings: list[Finding]) -> list[Finding]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(
        findings,
        key=lambda f: (rank.get(f.severity, 9), f.rule, -1 if f.layer is None else f.layer, f.path),
    )
