"""Names, link targets, commands and tags from an image are hostile: they must show literally,
never as markup, and never reach the terminal as control sequences."""

from __future__ import annotations

from tests.robustness import builders as b

from .conftest import app_for, main_screen, screen_text, settle, wait_for

SIZE = (140, 40)

MARKUP = "[bold red]boom"
CLEAR = "\x1b[2Jwiped"
OSC52 = "\x1b]52;c;ZXZpbA==\x07clip"
BIDI = "invoice\u202egpj.exe"


def hostile_image(tag: str = "test/image:1") -> b.Image:
    add = [
        b.directory("x"),
        b.file(f"x/{MARKUP}", b"a"),
        b.file(f"x/{CLEAR}", b"b"),
        b.file(f"x/{OSC52}", b"c"),
        b.file(f"x/{BIDI}", b"d"),
        b.symlink("x/link", "[link=https://evil.example]click[/link]\x1b]8;;x\x07"),
    ]
    return b.Image(
        layers=[b.Layer(add), b.Layer([b.file("y", b"z")])],
        history=[
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": "/bin/sh -c echo '[reverse]owned[/reverse]' \x1b[31m"},
            {"created_by": "/bin/sh -c #(nop)  LABEL a=[blink]b[/blink]", "empty_layer": True},
        ],
        tag=tag,
    )


async def test_hostile_names_render_literally(build_archive):
    path = build_archive(hostile_image("[i]evil[/i]:\x1b[5mtag"))
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        names = {r.name for r in tree.rows}
        assert MARKUP in names  # the model keeps the real name
        text = screen_text(app)
        # markup shows as typed, escapes as visible text
        assert MARKUP in text
        assert "\\x1b[2Jwiped" in text
        assert "\\x1b]52;c;ZXZpbA==\\x07clip" in text
        assert "invoice\\u202egpj.exe" in text
        assert "link → [link=https://evil.example]…" in text  # cut to the pane
        assert "[i]evil[/i]:\\x1b[5mtag" in text  # the tag, in the header and details
        assert "LABEL a=[blink]b[/blink]" in text
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        await pilot.press("tab", "end")  # the full target, in the path bar
        await pilot.pause()
        assert "/x/link → [link=https://evil.example]click[/link]\\x1b]8;;x\\x07" in screen_text(
            app
        )
        # the command, in the list and (full) in the details
        await pilot.press("tab", "down")
        await settle(pilot)
        text = screen_text(app)
        assert "RUN echo '[reverse]owned[/reverse]' \\x1b[31m" in text


async def test_hostile_names_never_reach_the_terminal_raw(build_archive):
    """What the app writes to the terminal for the hostile image carries no ESC from it."""
    path = build_archive(hostile_image())
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab", "down", "down")
        await pilot.pause()
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg


async def test_hostile_filter_text_is_literal(build_archive):
    path = build_archive(hostile_image())
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f", *"[bold]")
        await wait_for(pilot, lambda: main_screen(app).file_tree.state.filter == "[bold]")
        await settle(pilot)
        assert "filter /[bold]/" in screen_text(app)


async def test_odd_metadata_is_shown_as_recorded(tmp_path):
    """History times no date can hold, values of odd types in the config and the index:
    shown as they are (escaped), never fatal (the app crashed with a traceback on each)."""
    from tests.robustness.test_malformed import CASES

    cases = {c.name: c for c in CASES}
    path = cases["odd-metadata-values"].build(tmp_path).path
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.failure is None and screen.analysis is not None
        text = screen_text(app)
        assert 'Platform 5/["amd64"]/{"v": "\\u001b[31m8"}' in text  # an object: its JSON
        assert "\x1b" not in text
        assert "Created  99999999999999999999" in text
        assert 'RUN ["/bin/sh", "-c", "ls"]' not in text  # a list is no shell command
        assert '["/bin/sh", "-c", "ls"]' in text
        await pilot.press("down")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 1
        assert "Created  ²" in screen_text(app)
        await pilot.press("q")

    (tmp_path / "oci").mkdir()
    tagged = cases["odd-oci-tag-annotation"].build(tmp_path / "oci").path
    app = app_for(tagged)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert main_screen(app).failure is None
        assert "Tags     5" in screen_text(app)
