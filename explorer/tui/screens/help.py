"""The help screen (? or F1): every key by pane, with the binding ids a keymap file uses."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from explorer.tui.bindings import Pane, effective_keys, own_bindings, panes
from explorer.tui.keymap import keymap_path

KEY_WIDTH = 16
MOUSE = [
    ("click", "select a layer / file / row"),
    ("double-click", "collapse or expand a directory"),
    ("wheel", "scroll the pane under the pointer"),
]
NOTES = [
    "Colours: added green, removed red, modified yellow, unmodified plain.",
    "Ctrl+M is Enter in most terminals, so modified files toggle with Ctrl+N.",
    "Ctrl+P opens the command palette: every action, and themes.",
    "The theme chosen with Ctrl+T is remembered (settings.json, next to the keymap).",
]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help {
            width: 96;
            max-width: 100%;
            height: 95%;
            border: round $accent;
            border-title-color: $text;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close"),
        Binding("up,k", "scroll('up')", "Scroll up", show=False, id="help.up"),
        Binding("down,j", "scroll('down')", "Scroll down", show=False, id="help.down"),
        Binding("home", "scroll('home')", "Top", show=False, id="help.home"),
        Binding("end", "scroll('end')", "Bottom", show=False, id="help.end"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as scroll:
            scroll.border_title = "LayerScope keys"
            scroll.border_subtitle = "Esc closes"
            yield Static(self.help_text())

    def help_text(self) -> Content:
        from explorer.tui.screens.library import LibraryScreen

        parts: list[Content] = []
        library = any(isinstance(s, LibraryScreen) for s in self.app.screen_stack)
        for pane in [Pane("Library", (LibraryScreen,))] * library + panes():
            bindings = [b for cls in pane.classes for b in own_bindings(cls) if b.description]
            if not bindings:
                continue
            parts.append(Content.styled(pane.title, "bold $accent"))
            for b in bindings:
                keys = effective_keys(self.app, b)
                text = b.tooltip or b.description
                parts.append(
                    Content.assemble(
                        (f"  {keys:<{KEY_WIDTH}}", "bold"),
                        f"{text}",
                        (f"  [{b.id}]" if b.id else "", "$text-muted"),
                    )
                )
            parts.append(Content(""))
        parts.append(Content.styled("Mouse", "bold $accent"))
        for what, does in MOUSE:
            parts.append(Content.assemble((f"  {what:<{KEY_WIDTH}}", "bold"), does))
        parts.append(Content(""))
        for note in NOTES:
            parts.append(Content.styled(note, "$text-muted"))
        parts.append(
            Content.assemble(
                ("Rebind keys in ", "$text-muted"),
                (str(getattr(self.app, "keymap_file", keymap_path())), "bold"),
                (' (binding id = "keys", ids in brackets above).', "$text-muted"),
            )
        )
        return Content("\n").join(parts)

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        {
            "up": scroll.scroll_up,
            "down": scroll.scroll_down,
            "home": scroll.scroll_home,
            "end": scroll.scroll_end,
        }[direction](animate=False)
