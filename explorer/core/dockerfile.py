"""A Dockerfile reconstructed from an image's history.

What builders record in `created_by` is turned back into instructions: the classic builder's
`/bin/sh -c #(nop) ` prefix of metadata instructions and `/bin/sh -c ` of RUN are removed,
BuildKit's ` # buildkit` suffix too; `|N A=1 B=2` build args before a RUN become ARG lines
(once per value); `COPY file:<sha256> in /dst` loses its ` in ` and most of its hash; Go's
renderings of EXPOSE (`map[80/tcp:{}]`) and HEALTHCHECK (`&{[...] "30s" ...}`) are read back.
Entries that made no layer stay (they are instructions), marked as such. Every secret is
masked (`explorer.core.masking`); the texts are otherwise as recorded (not made safe: the
caller shows them through `safe`, line by line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from explorer.core.image import SHELL_PREFIX, HistoryEntry, ImageMeta
from explorer.core.masking import mask_text, mask_value

NOP = "#(nop)"
BUILDKIT_SUFFIX = "# buildkit"
INSTRUCTIONS = frozenset(
    {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT"}
    | {"VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
)
_BUILD_ARGS = re.compile(r"^(?:RUN\s+)?\|(\d+)\s+(.*)$", re.S)
_ARG_START = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_NEXT_ARG = re.compile(r"\s(?=[A-Za-z_][A-Za-z0-9_]*=)")
_CONTEXT_HASH = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")
_COPY_IN = re.compile(r"^((?:COPY|ADD)\s+.*?)\s+in\s+(\S.*?)\s*$", re.S)
_EXPOSE_MAP = re.compile(r"^EXPOSE\s+map\[(.*)\]\s*$")
_HEALTHCHECK = re.compile(
    r'^HEALTHCHECK\s+&\{\[(?P<test>.*)\]\s+(?P<durations>(?:"[^"]*"\s*)+)'
    r"(?:'(?P<retries>[^']*)')?\s*\}\s*$",
    re.S,
)
_GO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DURATION_FLAGS = ("--interval", "--timeout", "--start-period", "--start-interval")


@dataclass(frozen=True)
class Line:
    """One instruction: `text` may span lines (a heredoc); `layer` is the layer it made."""

    text: str
    layer: int | None = None
    empty: bool = False  # recorded as making no layer
    derived: bool = False  # an ARG line read from a RUN's build args
    comment: bool = False  # not an instruction: what the history says instead of one


def split_build_args(text: str) -> tuple[list[tuple[str, str]], str] | None:
    """`|N A=1 B=2 command` as ([(A, 1), (B, 2)], command); None if it is not that form.
    Values may hold spaces: a value ends where the next NAME= starts, the last one where
    the shell (`/bin/sh -c`) or, without one, the command starts."""
    match = _BUILD_ARGS.match(text)
    if not match:
        return None
    count, rest = int(match.group(1)), match.group(2)
    args: list[tuple[str, str]] = []
    at = 0
    for i in range(count):
        start = _ARG_START.match(rest, at)
        if start is None:
            return None
        begin = start.end()
        if i < count - 1:
            nxt = _NEXT_ARG.search(rest, begin)
            if nxt is None:
                return None
            end, at = nxt.start(), nxt.end()
        else:
            shell = rest.find(" " + SHELL_PREFIX.strip(), begin - 1)
            space = re.search(r"\s", rest[begin:])
            end = shell if shell >= 0 else (begin + space.start() if space else len(rest))
            at = end
        args.append((start.group(1), rest[begin:end]))
    return args, rest[at:].strip()


def _healthcheck(text: str) -> str:
    match = _HEALTHCHECK.match(text)
    if not match:
        return text
    test = [json.loads(f'"{s}"') if _valid(s) else s for s in _GO_STRING.findall(match["test"])]
    if not test or test[0] == "NONE":
        return "HEALTHCHECK NONE"
    flags = []
    for flag, value in zip(_DURATION_FLAGS, _GO_STRING.findall(match["durations"]), strict=False):
        if value not in ("0s", ""):
            flags.append(f"{flag}={value}")
    retries = _rune(match["retries"] or "")
    if retries:
        flags.append(f"--retries={retries}")
    if test[0] == "CMD-SHELL":
        command = " ".join(test[1:])
    elif test[0] == "CMD":
        command = json.dumps(test[1:])
    else:
        command = json.dumps(test)
    return " ".join(["HEALTHCHECK", *flags, "CMD", command])


def _valid(go_string: str) -> bool:
    try:
        json.loads(f'"{go_string}"')
    except ValueError:
        return False
    return True


def _rune(text: str) -> int:
    """Go's %v of a rune-sized retry count: '\\x03' or a literal character."""
    if text.startswith("\\x") and len(text) == 4:
        try:
            return int(text[2:], 16)
        except ValueError:
            return 0
    return ord(text) if len(text) == 1 else 0


def _normalise(text: str) -> str:
    """A recorded metadata instruction as written in a Dockerfile."""
    word = text.split(None, 1)[0] if text.split() else ""
    if word in ("COPY", "ADD"):
        text = _CONTEXT_HASH.sub(r"\1:\2", text)
        match = _COPY_IN.match(text)
        if match:
            text = f"{match.group(1)} {match.group(2)}"
    elif word == "EXPOSE":
        match = _EXPOSE_MAP.match(text)
        if match:
            ports = [p.removesuffix(":{}") for p in match.group(1).split()]
            text = "EXPOSE " + " ".join(ports)
    elif word == "HEALTHCHECK":
        text = _healthcheck(text)
    return text.strip()


def parse(created_by: str) -> tuple[str, list[tuple[str, str]]]:
    """The instruction a history entry's `created_by` records, and the build args its RUN
    was given (unmasked: see `reconstruct`). "" when nothing is recorded."""
    text = created_by.strip()
    if text.endswith(BUILDKIT_SUFFIX):
        text = text[: -len(BUILDKIT_SUFFIX)].rstrip()
    if text.startswith(SHELL_PREFIX) and text[len(SHELL_PREFIX) :].lstrip().startswith(NOP):
        return _normalise(text[len(SHELL_PREFIX) :].lstrip()[len(NOP) :].strip()), []
    if text.startswith(NOP):
        return _normalise(text[len(NOP) :].strip()), []
    args: list[tuple[str, str]] = []
    split = split_build_args(text)
    if split is not None:
        args, text = split
    elif text.startswith("RUN "):
        text = text[4:].lstrip()
    elif text.split(None, 1)[0:1] and text.split(None, 1)[0] in INSTRUCTIONS:
        return _normalise(text), []
    if not text:
        return "", args
    if text.startswith(SHELL_PREFIX):
        text = text[len(SHELL_PREFIX) :]
    return "RUN " + text.strip(), args


_ARG_LINE = re.compile(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.S)


def reconstruct(meta: ImageMeta) -> list[Line]:
    """The image's Dockerfile, one `Line` per history entry (plus ARG lines for build args
    whose value changes); layers the history does not describe keep their own command."""
    lines: list[Line] = []
    args: dict[str, str | None] = {}  # ARG name -> the value last shown
    described = {e.layer for e in meta.history if e.layer is not None}
    entries = list(meta.history)
    for lm in meta.layers:
        if lm.index not in described:  # a short or missing history
            after = (i for i, e in enumerate(entries) if e.layer is not None and e.layer > lm.index)
            at = next(after, None)
            entry = HistoryEntry(lm.command, lm.created, False, lm.index)
            entries.insert(len(entries) if at is None else at, entry)
    for entry in entries:
        text, build_args = parse(entry.created_by)
        for name, value in build_args:
            if name not in args or args[name] != value:
                args[name] = value
                lines.append(Line(f"ARG {name}={mask_value(name, value)}", None, True, True))
        declared = _ARG_LINE.match(text)
        if declared:
            args[declared.group(1)] = declared.group(2)
        if text:
            lines.append(Line(mask_text(text), entry.layer, entry.empty))
        else:
            comment = entry.comment.strip() or "no command recorded"
            lines.append(Line(f"# {mask_text(comment)}", entry.layer, entry.empty, comment=True))
    return lines


def render(lines: list[Line]) -> str:
    """The Dockerfile as text (as recorded: the caller makes it safe to show)."""
    return "".join(line.text + "\n" for line in lines)
