"""Compare two images: a diff tree of A → B (changed paths; unchanged ones on Ctrl+U) with the
explorer's tree keys, a summary (size delta, shared layers, growing directories, package
changes, config, the verdict; `comparetext`) and what changed in the path under the cursor;
Enter on a file opens it in the viewer (a modified one on the diff of A's version against
B's).

Reached with `layerscope compare A B` on a terminal, and from the explorer's palette
("Compare with…"). Both images are opened through the loading pipeline in a worker, A first
(B's shared layers then come from the layer cache); the comparison and its tree are built
there too, never on the UI's thread.
"""

from __future__ import annotations

import argparse
import gc
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from explorer.core.compare import Comparison, Thresholds, Verdict, compare, gate, result_of
from explorer.core.comparecontent import PairContent, open_pair
from explorer.core.comparetree import CompareViewModel
from explorer.core.errors import Cancelled
from explorer.core.fsdiff import Change
from explorer.core.history import normalize
from explorer.core.loading import Event, LayerIndexed, Loading, Opened, Result, describe, load
from explorer.core.safetext import safe
from explorer.core.sources import open_source
from explorer.core.tree import DIFF_KINDS, UNMODIFIED
from explorer.tui.app import LayerScopeApp
from explorer.tui.comparetext import describe_change, summary
from explorer.tui.screens.viewer import ViewerScreen
from explorer.tui.treestate import TreeState
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.footer import KeyFooter
from explorer.tui.widgets.header import AppHeader
from explorer.tui.widgets.panes import TreePane


@dataclass
class CompareProgress(Message):
    side: str  # "A" or "B"
    text: str


@dataclass
class CompareReady(Message):
    comparison: Comparison
    model: CompareViewModel
    verdict: Verdict


@dataclass
class CompareFailed(Message):
    text: str


@dataclass
class ViewReady(Message):
    """A path's final versions, A's then B's (the one image's only, if the other has not it)."""

    path: str
    versions: list[tuple[int, int]]
    content: PairContent | None = None
    error: str | None = None


@dataclass
class EveryPathWanted(Message):
    """Ctrl+U, the first time: the tree of every path (not only the changed ones) is wanted."""


@dataclass
class EveryPath(Message):
    model: CompareViewModel | None  # None: it could not be built (`error`)
    error: str = ""


class CompareTreeState(TreeState):
    """The explorer's tree state, its model showing a tree of the comparison."""

    def use(self, model: CompareViewModel) -> None:
        """Show `model`'s tree, as the current one was shown (hidden kinds, filter, sort, the
        directories closed)."""
        with self._lock:  # a worker may be applying the current one's operations
            closed = set(self._model.collapsed) if self._model is not None else set()
        self.reset(len(model.layers))
        self.layers[:] = model.layers
        self._model = model
        hidden, pattern, sort = set(self.hidden), self.filter, self.sort
        self._push(lambda m: m.set_hidden(hidden))
        self._push(lambda m: m.set_filter(pattern))
        self._push(lambda m: m.set_sort(sort))
        self._push(lambda m: m.collapse(closed))


class CompareTreeView(FileTreeView):
    """The explorer's file tree on a tree of the comparison (its keys, its rows): the changed
    paths' tree first, every path's when the unchanged ones are first asked for."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.compare_state = CompareTreeState()
        self.state = self.compare_state
        self.state.toggle_kind(UNMODIFIED)  # changed paths first; Ctrl+U shows the rest
        self.every_path = False  # does the tree hold the unchanged paths?
        self.notice = [("reading the images…", "guide")]
        self.heading = "Changes"

    def title(self) -> str:
        return self.heading

    def action_toggle_kind(self, kind: str) -> None:
        if DIFF_KINDS[kind] == UNMODIFIED and not self.every_path:
            self.post_message(EveryPathWanted())
            return
        super().action_toggle_kind(kind)


class ComparePane(TreePane):
    def compose(self) -> ComposeResult:
        yield Static("", id="tree-columns")
        yield CompareTreeView(id="tree")
        yield Static("", id="tree-path")
        yield from list(super().compose())[3:]  # the filter bar


class CompareScreen(Screen[None]):
    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    #compare-left { width: 40%; min-width: 30; max-width: 60; }
    #compare-summary, #compare-change {
        border: round $foreground 30%;
        border-title-color: $text-muted;
        padding: 0 1;
        background: $background;
    }
    #compare-summary { height: 1fr; }
    #compare-change { height: 7; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+f,slash",
            "filter",
            "Filter",
            tooltip="Filter the changes by a path regex",
            id="compare.filter",
        ),
        Binding("escape", "back", "Back", tooltip="Back to the explorer", id="compare.back"),
        Binding(
            "tab",
            "switch_pane",
            "Pane",
            show=False,
            tooltip="Move between the summary and the tree",
            id="compare.pane",
        ),
    ]

    def __init__(
        self,
        target_a: str,
        target_b: str,
        kind: str | None = None,
        platform: str | None = None,
        *,
        loading_b: Loading | None = None,
        limits: Thresholds | None = None,
        mtime: bool = False,
    ) -> None:
        super().__init__()
        self.targets = (target_a, target_b)
        self.kind = kind
        self.platform = platform
        self.loading_b = loading_b  # B opened already (the palette's dialog)
        self.limits = limits or Thresholds()
        self.mtime = mtime
        self.comparison: Comparison | None = None
        self.changes: dict[str, Change] = {}
        self.verdict: Verdict | None = None
        self._every_path_asked = False
        self.failure: str | None = None
        self._cancel = threading.Event()
        self._pair: PairContent | None = None  # both images' files, opened on first use
        self._pair_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with Horizontal(id="body"):
            with Vertical(id="compare-left"):
                with VerticalScroll(id="compare-summary"):
                    yield Static("", id="compare-summary-text")
                yield Static("", id="compare-change")
            yield ComparePane(id="tree-pane")
        yield KeyFooter()

    @property
    def file_tree(self) -> CompareTreeView:
        return self.query_one(CompareTreeView)

    @property
    def done(self) -> bool:
        """Is the comparison shown (or its failure)?"""
        return self.failure is not None or (
            self.comparison is not None and not self.file_tree.computing
        )

    def on_mount(self) -> None:
        a, b = self.targets
        self.query_one(AppHeader).set_image(f"{a} → {b}")
        self.query_one("#compare-summary").border_title = "Summary"
        self.query_one("#compare-change").border_title = "Selected"
        self._summary(Content.styled(f"reading A: {safe(a)}…", "$text-muted"))
        self.file_tree.focus()
        self._run()

    def on_unmount(self) -> None:
        self._cancel.set()
        if self.loading_b is not None:
            self.loading_b.cancel.set()  # B may still be loading when A is (Esc while reading A)
        with self._pair_lock:
            if self._pair is not None:
                self._pair.close()
                self._pair = None

    # -- the worker ----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="compare")
    def _run(self) -> None:
        target_a, target_b = self.targets
        try:
            a = self._load("A", target_a)
            if self.loading_b is not None:
                b = result_of(self.loading_b.events(self._cancel))
            else:
                b = self._load("B", target_b)
            comparison = compare(a, b, mtime=self.mtime)
            model = CompareViewModel(comparison, unchanged=False)
            verdict = gate(comparison, self.limits)
        except Cancelled:
            return
        except Exception as exc:  # bad input (one line) or a bug of ours: never a traceback
            self.post_message(CompareFailed(describe(exc, f"{target_a} / {target_b}")))
            return
        self.post_message(CompareReady(comparison, model, verdict))

    def _load(self, side: str, target: str) -> Result:
        count = [0, 0]

        def emit(event: Event) -> None:
            if isinstance(event, Opened):
                count[1] = len(event.meta.layers)
            elif isinstance(event, LayerIndexed):
                count[0] += 1
                text = f"reading {side}: {count[0]} of {count[1]} layers"
                self.post_message(CompareProgress(side, text))

        factory = partial(open_source, target, self.kind, self.platform)
        return load(factory, emit, self._cancel)

    # -- messages ------------------------------------------------------------------------------
    def on_compare_progress(self, message: CompareProgress) -> None:
        self.query_one(AppHeader).set_status(message.text)

    def on_compare_failed(self, message: CompareFailed) -> None:
        self.failure = message.text
        header = self.query_one(AppHeader)
        header.set_progress(None, None)
        header.set_status(message.text, error=True)
        self.file_tree.set_notice([(message.text, "error")])
        self._summary(Content.styled(safe(message.text), "$error"))
        if isinstance(self.app, LayerScopeApp):
            self.app.failed = True

    def on_compare_ready(self, message: CompareReady) -> None:
        cmp = message.comparison
        self.comparison = cmp
        self.changes = {c.path: c for c in cmp.changes}
        header = self.query_one(AppHeader)
        header.set_progress(None, None)
        header.set_status(message.verdict.line)
        self.verdict = message.verdict
        tree = self.file_tree
        tree.heading = f"Changes, A → B ({len(cmp.changes):,})"
        tree.compare_state.use(message.model)
        tree.show_layer(0)
        self._summary(summary(cmp, message.verdict))
        self._selected()

    def on_every_path_wanted(self, message: EveryPathWanted) -> None:
        if self.comparison is None or self._every_path_asked:
            return
        self._every_path_asked = True
        self.query_one(AppHeader).set_status("working out the unchanged paths…")
        self._every_path()  # no argument: a worker's description is its arguments' repr

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare-every-path")
    def _every_path(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        # Both final trees: hundreds of thousands of nodes, none in a cycle, kept for good:
        # the cyclic collector would only interrupt building them (as when loading).
        collecting = gc.isenabled()
        gc.disable()
        try:
            model = CompareViewModel(comparison, unchanged=True)
        except Exception as exc:  # a bug of ours: one line, never a traceback
            self.post_message(EveryPath(None, describe(exc, "the unchanged paths")))
            return
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        self.post_message(EveryPath(model))

    def on_every_path(self, message: EveryPath) -> None:
        header = self.query_one(AppHeader)
        if message.model is None:
            header.set_status(message.error, error=True)
            return
        if self.verdict is not None:
            header.set_status(self.verdict.line)
        tree = self.file_tree
        tree.compare_state.use(message.model)
        tree.every_path = True
        tree.action_toggle_kind("unmodified")

    @on(FileTreeView.Highlighted)
    def _moved(self) -> None:
        self._selected()

    def _summary(self, content: Content) -> None:
        self.query_one("#compare-summary-text", Static).update(content)

    def _selected(self) -> None:
        row = self.file_tree.current
        change = self.changes.get(row.path) if row is not None else None
        text = describe_change(change) if change is not None else Content("")
        if row is not None and change is None and self.comparison is not None:
            text = Content.styled("unchanged" if row.diff == UNMODIFIED else "", "$text-muted")
        self.query_one("#compare-change", Static).update(text)

    # -- the viewer ----------------------------------------------------------------------------
    def action_view_file(self) -> None:
        """Enter: a directory collapses or opens; a file opens in the viewer — one whose
        content changed on the diff of A's version against B's, an added one as B has it, a
        removed one as A had it, any other as B has it (`[`: A's)."""
        row = self.file_tree.current
        if row is None or self.comparison is None:
            return
        if row.is_dir:
            self.file_tree.action_toggle_collapse()
            return
        self._find_versions(normalize(row.path))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="compare-view",
        description="_find_versions",
    )
    def _find_versions(self, path: str) -> None:
        try:
            content = self.pair_content()
            versions = content.final_versions(path)
        except Exception as exc:  # bad input (one line) or a bug of ours: never a traceback
            self.post_message(ViewReady(path, [], error=describe(exc, "/" + path)))
            return
        self.post_message(ViewReady(path, versions, content))

    def pair_content(self) -> PairContent:
        """Both images' files (called in workers; their sources opened again on first use)."""
        with self._pair_lock:
            if self._pair is None:
                if self.comparison is None:
                    raise Cancelled
                a, b = self.comparison.a.result, self.comparison.b.result
                target_a, target_b = self.targets
                kind_b = None if self.loading_b is not None else self.kind  # as it was opened
                self._pair = open_pair(
                    (partial(open_source, target_a, self.kind, self.platform), a.meta, a.layers),
                    (partial(open_source, target_b, kind_b, self.platform), b.meta, b.layers),
                )
            return self._pair

    def on_view_ready(self, message: ViewReady) -> None:
        pair, versions = message.content, message.versions
        if pair is None or not versions:
            text = message.error or "neither image has a version of this path"
            self.notify(safe(text), severity="error", markup=False)
            return
        change = self.changes.get("/" + message.path)
        diff = len(versions) == 2 and change is not None and "content" in change.what
        screen = ViewerScreen(
            self.pair_content,
            pair.layers,
            message.path,
            versions,
            len(versions) - 1,
            layer_name=pair.layer_name,
            diff=diff,
        )
        self.app.push_screen(screen)

    # -- actions -------------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one(ComparePane).open_filter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # over the explorer only (`layerscope compare` has none)
            return len(self.app.screen_stack) > 1
        return True

    def action_back(self) -> None:
        self._cancel.set()
        self.app.pop_screen()

    def action_switch_pane(self) -> None:
        summary = self.query_one("#compare-summary")
        (self.file_tree if summary.has_focus else summary).focus()


class CompareApp(LayerScopeApp):
    """`layerscope compare A B` on a terminal: the compare screen as the app's first."""

    CSS_PATH = str(Path(__file__).resolve().parents[1] / "app.tcss")  # the app's stylesheet

    def __init__(self, target_b: str, limits: Thresholds, mtime: bool, **options: Any) -> None:
        super().__init__(**options)
        self.target_b = target_b
        self.limits = limits
        self.mtime = mtime

    def get_default_screen(self) -> Screen:
        return CompareScreen(
            self.target,
            self.target_b,
            self.kind,
            self.platform,
            limits=self.limits,
            mtime=self.mtime,
        )

    @property
    def settled(self) -> bool:
        screen = self.screen
        return isinstance(screen, CompareScreen) and screen.done

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_image":
            return False  # one comparison per run: `layerscope A` explores one image
        return super().check_action(action, parameters)


def run_compare_app(args: argparse.Namespace, limits: Thresholds) -> int:
    """The compare screen for `layerscope compare A B` (exit 2 when it could not compare)."""
    import os

    from explorer.tui.keymap import keymap_path, load_keymap
    from explorer.tui.settings import load_settings, settings_path

    if os.path.exists(args.a) or os.path.exists(args.b):
        from explorer.core.sources.workers import start_worker_server

        start_worker_server()
    path = keymap_path()
    keymap, problems = load_keymap(path)
    settings, more = load_settings(settings_path())
    app = CompareApp(
        args.b,
        limits,
        args.mtime,
        target=args.a,
        kind=args.source,
        platform=args.platform,
        keymap=keymap,
        keymap_file=path,
        notices=[f"keymap ignored: {p}" for p in problems + more],
        theme=settings.get("theme"),
        settings_file=settings_path(),
    )
    app.run()
    return 2 if app.failed else 0
