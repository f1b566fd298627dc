"""The file viewer, over the explorer: one version of a path (what one layer wrote), as
syntax-coloured text or a hex dump, read in windows by workers (never on the UI thread), with
search, the path's other versions a key away, and a diff against the previous one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from explorer.core import tarscan
from explorer.core.content import ContentProgress, Entry, EntryStream, Stream
from explorer.core.errors import ImageError
from explorer.core.history import kind_name
from explorer.core.layerindex import LayerIndex
from explorer.core.pager import SNIFF, HexPager, TextPager, language_of, looks_binary
from explorer.core.safetext import safe
from explorer.core.sparse import SparseStream
from explorer.core.versiondiff import diff_versions
from explorer.tui import format as fmt
from explorer.tui.widgets.footer import KeyFooter
from explorer.tui.widgets.viewer import BlockReady, FileView, display_line

COPY_LIMIT = 1 << 20  # bytes: larger files are not copied to the clipboard
Version = tuple[int, int]  # (layer, entry)
FILES = (tarscan.REG, tarscan.CONTIG, tarscan.HARDLINK)  # what has content to show


class FileContent(Protocol):
    """What the viewer reads files through: one image's `ContentAccess`, or two compared
    images' as one stack of layers (`comparecontent.PairContent`)."""

    def entry(self, layer: int, path: str) -> Entry | None: ...

    def open_entry(self, entry: Entry) -> Stream: ...

    def prepare(
        self,
        layers: Iterable[int],
        progress: ContentProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> None: ...


def layer_number(layer: int) -> str:
    return f"layer {layer}"


@dataclass
class Opened(Message):
    """A version is open: its pager (text or hex) or lines to show instead."""

    version: Version
    text: TextPager | None = None
    hex: HexPager | None = None
    lines: list[tuple[str, str]] | None = None
    first: list[Content] | None = None  # the first block of text, plain


@dataclass
class Coloured(Message):
    """The language of a text, and its first block coloured."""

    version: Version
    language: str | None
    first: list[Content]


@dataclass
class DiffReady(Message):
    version: Version  # the newer of the two
    lines: list[tuple[str, str]]


@dataclass
class Found(Message):
    needle: str
    at: int | None


@dataclass
class Status(Message):
    text: str


def reader(stream: EntryStream | SparseStream) -> Callable[[int, int], bytes]:
    """`(offset, size) -> bytes` over a stream shared by workers."""
    lock = threading.Lock()

    def read(offset: int, size: int) -> bytes:
        with lock:
            stream.seek(offset)
            return stream.read(size)

    return read


class ViewerScreen(Screen[None]):
    DEFAULT_CSS = """
    ViewerScreen {
        #viewer-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
        #viewer { height: 1fr; }
        #viewer-search { display: none; }
        #viewer-search.-open { display: block; }
        #viewer-status { height: 1; color: $text-muted; padding: 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", tooltip="Back to the explorer", id="viewer.back"),
        Binding("slash", "search", "Search", tooltip="Search in the file", id="viewer.search"),
        Binding("n", "next(True)", "Next", tooltip="Next match", id="viewer.next"),
        Binding(
            "N",
            "next(False)",
            "Previous",
            show=False,
            tooltip="Previous match",
            id="viewer.previous",
        ),
        Binding(
            "left_square_bracket",
            "version(-1)",
            "Older",
            tooltip="The previous version of this path (the layer below that wrote it)",
            id="viewer.older",
        ),
        Binding(
            "right_square_bracket",
            "version(1)",
            "Newer",
            tooltip="The next version of this path (the layer above that wrote it)",
            id="viewer.newer",
        ),
        Binding(
            "d",
            "diff",
            "Diff",
            tooltip="Diff against the previous version (again: back to the content)",
            id="viewer.diff",
        ),
        Binding("x", "hex", "Hex", tooltip="Hex dump / text", id="viewer.hex"),
        Binding("w", "wrap", "Wrap", tooltip="Wrap long lines", id="viewer.wrap"),
        Binding(
            "y",
            "copy_path",
            "Copy path",
            show=False,
            tooltip="Copy the path to the clipboard",
            id="viewer.copy-path",
        ),
        Binding(
            "Y",
            "copy_content",
            "Copy",
            show=False,
            tooltip="Copy the file's content to the clipboard (text under 1 MiB)",
            id="viewer.copy-content",
        ),
    ]

    def __init__(
        self,
        access: Callable[[], FileContent],
        layers: list[LayerIndex],
        path: str,
        versions: list[Version],
        at: int,
        *,
        layer_name: Callable[[int], str] = layer_number,
        diff: bool = False,
    ) -> None:
        super().__init__()
        self.access = access  # called in workers: opens the image's content on first use
        self.indexes = layers
        self.layer_name = layer_name  # how a layer is named in the title and the diff
        self.diff_first = diff  # open on the diff against the previous version
        self.path = path  # normalized (relative)
        self.versions = versions
        self.at = at
        self.needle = ""
        self.diffing = False
        self.shape: str | None = None  # "hex" or "text" when asked for, else by content
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="viewer-title")
        yield FileView(id="viewer")
        yield Input(placeholder="search (lower case: any case)", id="viewer-search")
        yield Static("", id="viewer-status")
        yield KeyFooter()

    @property
    def view(self) -> FileView:
        return self.query_one(FileView)

    @property
    def version(self) -> Version:
        return self.versions[self.at]

    def on_mount(self) -> None:
        self.view.focus()
        self.open_version()
        if self.diff_first:
            self.action_diff()

    def on_unmount(self) -> None:
        self._cancel.set()

    # -- opening ---------------------------------------------------------------------------
    def open_version(self) -> None:
        layer, entry = self.version
        idx = self.indexes[layer]
        count = f"version {self.at + 1} of {len(self.versions)}"
        what = f"{fmt.size(idx.sizes[entry])} {kind_name(idx.types[entry])}"
        self.query_one("#viewer-title", Static).update(
            Content(safe(f"/{self.path}  ·  {self.layer_name(layer)}  ·  {count}  ·  {what}"))
        )
        self.diffing = False
        self.view.show_lines([("reading…", "guide")])
        self._status("reading…")
        self._open(self.version, self.shape)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="viewer-open", description="_open"
    )
    def _open(self, version: Version, shape: str | None) -> None:
        layer, entry = version
        idx = self.indexes[layer]
        kind = idx.types[entry]
        try:
            acc = self.access()
            found = acc.entry(layer, self.path)
            if found is None or found.type not in FILES or kind not in FILES:
                self.post_message(Opened(version, lines=_not_a_file(idx, entry)))
                return

            def progress(_layer: int, got: int) -> None:
                self.post_message(Status(f"reading layer {layer}: {fmt.size(got)}…"))

            acc.prepare([layer], progress, self._cancel)
            stream = acc.open_entry(found)
        except (ImageError, OSError) as exc:  # bad input: said in the view, one line
            self.post_message(Opened(version, lines=[(f"cannot read it: {exc}", "removed")]))
            return
        read = reader(stream)
        head = read(0, SNIFF)
        if shape == "hex" or (shape is None and looks_binary(head)):
            self.post_message(Opened(version, hex=HexPager(read, stream.size)))
            return
        text = TextPager(read, stream.size)
        text.scan(self._cancel, blocks=1)  # the first screenful: shown at once, plain
        first = text.load(0) if text.blocks else []
        self.post_message(Opened(version, text=text, first=FileView.colour(first, None)))
        language = language_of(self.path, head)  # then coloured
        self.post_message(Coloured(version, language, FileView.colour(first, language)))
        text.scan(self._cancel)

    def on_opened(self, message: Opened) -> None:
        if message.version != self.version or self.diffing:
            return
        view = self.view
        if message.text is not None:
            view.show_text(message.text, self._load_block, message.first)
            self._follow_scan(message.text)
        elif message.hex is not None:
            view.show_hex(message.hex, self._load_page)
            self._status(f"hex · {message.hex.size:,} bytes")
        else:
            view.show_lines(message.lines or [])
            self._status("")

    def on_coloured(self, message: Coloured) -> None:
        if message.version == self.version and self.view.text is not None:
            self.view.language = message.language
            self.view.on_block_ready(BlockReady(0, message.first))
            pager = self.view.text
            if pager.complete:
                self._status(f"{fmt.count(pager.lines)} lines · {message.language or 'text'}")

    def _follow_scan(self, pager: TextPager) -> None:
        """The line count grows while the scan runs: the view follows it."""

        def tick() -> None:
            if self.view.text is not pager:
                timer.stop()
                return
            self.view.grow()
            language = self.view.language or "text"
            if pager.complete:
                timer.stop()
                self._status(f"{fmt.count(pager.lines)} lines · {language}")
            else:
                share = pager.scanned / max(pager.size, 1)
                self._status(f"{fmt.count(pager.lines)} lines so far ({share:.0%}) · {language}")

        timer = self.set_interval(0.1, tick)
        tick()

    def _load_block(self, block: int) -> None:
        pager = self.view.text
        if pager is not None:
            self._load_text(pager, block)

    @work(thread=True, exit_on_error=False, group="viewer-load", description="_load_text")
    def _load_text(self, pager: TextPager, block: int) -> None:
        lines = self.view.colour(pager.load(block), self.view.language)
        self.view.post_message(BlockReady(block, lines))

    def _load_page(self, page: int) -> None:
        pager = self.view.hex
        if pager is not None:
            self._load_hex(pager, page)

    @work(thread=True, exit_on_error=False, group="viewer-load", description="_load_hex")
    def _load_hex(self, pager: HexPager, page: int) -> None:
        pager.load(page)
        self.view.post_message(BlockReady(page, []))

    def on_status(self, message: Status) -> None:
        self._status(message.text)

    def _status(self, text: str) -> None:
        self.query_one("#viewer-status", Static).update(Content(safe(text)))

    # -- keys ------------------------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#viewer-search", Input)
        if search.has_class("-open"):
            search.remove_class("-open")
            self.view.focus()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        search = self.query_one("#viewer-search", Input)
        search.add_class("-open")
        search.focus()

    @on(Input.Submitted, "#viewer-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("-open")
        self.view.focus()
        self.needle = event.value
        self.action_next(True)

    def action_next(self, forward: bool) -> None:
        if not self.needle:
            self.action_search()
            return
        view = self.view
        start = view.match if view.match is not None else view.top_line() - (1 if forward else 0)
        self._status(f"searching for {self.needle!r}…")
        self._find(self.needle, start, forward)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="viewer-search", description="_find"
    )
    def _find(self, needle: str, start: int, forward: bool) -> None:
        view = self.view
        at: int | None = None
        if view.text is not None:
            at = view.text.search(needle, start, forward, self._cancel)
        elif view.hex is not None:
            raw = needle.encode("utf-8", "surrogateescape")
            at = view.hex.search(raw, start, forward, self._cancel)
        self.post_message(Found(needle, at))

    def on_found(self, message: Found) -> None:
        if message.at is None:
            self._status(f"{message.needle!r}: not found")
            return
        self.view.go_to(message.at)
        where = "offset row" if self.view.hex is not None else "line"
        self._status(f"{message.needle!r}: {where} {message.at + 1:,}")

    def action_version(self, step: int) -> None:
        at = self.at + step
        if not 0 <= at < len(self.versions):
            which = "older" if step < 0 else "newer"
            self.notify(f"no {which} version of this path", severity="warning", timeout=3)
            return
        self.at = at
        self.open_version()

    def action_hex(self) -> None:
        self.shape = "text" if self.view.hex is not None else "hex"
        self.open_version()

    def action_wrap(self) -> None:
        view = self.view
        if view.wrap:
            view.set_wrapped(None)
        elif view.can_wrap():
            self._wrap(view.wrap_width())
        else:
            self.notify("wrapping needs a text file under 1 MiB, read to its end", timeout=4)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="viewer-wrap", description="_wrap"
    )
    def _wrap(self, width: int) -> None:
        pager = self.view.text
        if pager is None:
            return
        rows: list[tuple[int, int]] = []
        for block in range(pager.blocks):
            first, _ = pager.block_range(block)
            for k, line in enumerate(pager.load(block)):
                shown = cell_len(display_line(line))
                rows.extend((first + k, col) for col in range(0, max(shown, 1), width))
        self.app.call_from_thread(self.view.set_wrapped, rows)

    def action_diff(self) -> None:
        if self.diffing:
            self.open_version()
            return
        if self.at == 0:
            self.notify("this is the oldest version: nothing to diff against", timeout=3)
            return
        self.diffing = True
        self.view.show_lines([("working out the diff…", "guide")])
        self._diff(self.versions[self.at - 1], self.version)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="viewer-diff", description="_diff"
    )
    def _diff(self, old: Version, new: Version) -> None:
        acc = self.access()

        def side(version: Version) -> tuple[tuple[str, int, int], Callable[[int], bytes]]:
            layer, entry = version
            idx = self.indexes[layer]
            label = f"{self.layer_name(layer)}: /{self.path}"
            found = acc.entry(layer, self.path)

            def read(n: int) -> bytes:
                if found is None or found.type != tarscan.REG:
                    return b""
                with acc.open_entry(found) as f:
                    return f.read(n)

            return (label, idx.sizes[entry], idx.hashes[entry]), read

        try:
            (a, read_a), (b, read_b) = side(old), side(new)
            lines = diff_versions(read_a, read_b, a, b)
        except (ImageError, OSError) as exc:  # bad input: said in the view
            lines = [(f"cannot diff: {exc}", "removed")]
        self.post_message(DiffReady(new, lines))

    def on_diff_ready(self, message: DiffReady) -> None:
        if self.diffing and message.version == self.version:
            self.view.show_lines(message.lines)
            self._status(f"diff against version {self.at} of {len(self.versions)}")

    def action_copy_path(self) -> None:
        self.app.copy_to_clipboard("/" + self.path)
        self.notify(f"copied /{safe(self.path)}", markup=False, timeout=3)

    def action_copy_content(self) -> None:
        view = self.view
        pager = view.text
        if pager is None or not pager.complete or pager.size > COPY_LIMIT:
            self.notify("only a text file under 1 MiB, read to its end, is copied", timeout=4)
            return
        self._copy(pager)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="viewer-copy", description="_copy"
    )
    def _copy(self, pager: TextPager) -> None:
        self.app.call_from_thread(self.app.copy_to_clipboard, pager.whole())
        self.app.call_from_thread(self.notify, f"copied {fmt.size(pager.size)} of text", timeout=3)


def _not_a_file(idx: LayerIndex, entry: int) -> list[tuple[str, str]]:
    kind = idx.types[entry]
    lines = [(f"This is a {kind_name(kind)}: nothing to show.", "guide")]
    if kind in (tarscan.SYMLINK, tarscan.HARDLINK):
        lines.append((f"It points to {idx.link(entry)}", ""))
    return lines
