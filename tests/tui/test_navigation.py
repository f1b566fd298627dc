"""Moving around: layers, panes, compare modes, paging, quitting."""

from __future__ import annotations

from explorer.core.treeview import AGGREGATED, LAYER_CHANGES
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.layers import LayerList

from .conftest import app_for, main_screen, screen_text, settle, tree_text, wait_for

SIZE = (120, 40)


async def test_layer_list_shows_layers_and_metadata_entries(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        items = screen.layer_list.items
        assert [it.layer for it in items] == [0, None, 1, 2, None, 3, None, None]
        assert items[1].instruction == "ENV LANG=C.UTF-8"
        text = screen_text(app)
        assert "ENV LANG=C.UTF-8" in text
        assert "RUN chmod 700 /bin/app" in text  # /bin/sh -c stripped, RUN shown
        assert "ADD file:5a1e0c0ffee in /" in text  # #(nop) shown as the instruction
        assert "layerscope/sample:latest · sample.tar" in text  # header: tag and file


async def test_down_skips_metadata_entries_and_changes_the_tree(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert isinstance(app.focused, LayerList)
        await pilot.press("down")  # over the ENV entry, onto layer 1
        await settle(pilot)
        assert screen.layer_list.selected_layer == 1
        assert screen.file_tree.shown == (1, LAYER_CHANGES)
        assert any("config.json" in line for line in tree_text(app))
        await pilot.press("j", "j")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 3
        await pilot.press("k")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 2
        await pilot.press("end")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 3
        await pilot.press("home")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 0
        await pilot.press("pagedown")
        await settle(pilot)
        assert screen.layer_list.selected_layer == 3


async def test_layer_details_follow_the_selection(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)
        text = screen_text(app)
        assert "RUN chmod 700 /bin/app" in text
        meta = main_screen(app).meta
        assert meta is not None
        assert meta.layers[2].digest[:30] in text


async def test_tab_switches_panes_and_arrows_move_between_them(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, LayerList)
        await pilot.press("tab")
        assert isinstance(app.focused, FileTreeView)
        await pilot.press("tab")
        assert isinstance(app.focused, LayerList)
        await pilot.press("l")  # right from the layers goes to the files
        assert isinstance(app.focused, FileTreeView)
        layer = main_screen(app).layer_list.selected_layer
        await pilot.press("h", "down")  # left at the top level stays in the tree
        assert isinstance(app.focused, FileTreeView)
        assert main_screen(app).layer_list.selected_layer == layer  # the layer is unchanged


async def test_compare_modes(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("end", "ctrl+a")
        await settle(pilot)
        assert screen.file_tree.shown == (3, AGGREGATED)
        assert "Aggregated contents, layers 0–3" in screen_text(app)
        # aggregated: the tool added in layer 1 shows as added at layer 3
        rows = {r.path: r for r in screen.file_tree.rows}
        assert rows["/usr/local/bin/tool"].diff == 2  # ADDED
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert screen.file_tree.shown == (3, LAYER_CHANGES)
        rows = {r.path: r for r in screen.file_tree.rows}
        assert rows["/usr/local/bin/tool"].diff != 2
        assert rows["/var/cache/pkg"].diff == 3  # REMOVED by the whiteout in layer 3


async def test_compare_mode_marks_the_range_in_the_layer_list(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("end", "ctrl+a")
        await settle(pilot)
        layers = main_screen(app).layer_list
        lines = [layers.render_line(y).text for y in range(len(layers.items))]
        marked = [line.startswith("▌") for line in lines]
        # layers 0..3 are in the aggregated range; metadata rows never are
        assert marked == [True, False, True, True, False, True, False, False]


async def test_tree_cursor_keys(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("tab")
        assert tree.current is not None and tree.current.path == "/bin"
        await pilot.press("l")  # into /bin
        assert tree.current.path == "/bin/app"
        await pilot.press("down", "h")  # /bin/sh, then to its parent
        assert tree.current.path == "/bin"
        await pilot.press("pagedown")
        assert tree.cursor > 10
        await pilot.press("pageup")
        assert tree.cursor == 0
        await pilot.press("end")
        assert tree.cursor == tree.count - 1


async def test_mouse_click_selects_a_layer(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        # row 2 of the list is layer 1 (row 1 is the ENV entry)
        await pilot.click(LayerList, offset=(10, 3))
        await settle(pilot)
        assert screen.layer_list.selected_layer == 1


async def test_quit_keys(sample_archive):
    for key in ("q", "ctrl+c"):
        app = app_for(sample_archive)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press(key)
            await pilot.pause()
            assert app._exit or not app.is_running, key


async def test_help_screen_opens_and_closes(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "[filter]" in text
        await pilot.press("end")
        await pilot.pause()
        assert "Ctrl+M is Enter" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "[filter]" not in screen_text(app)
        await pilot.press("f1")
        await pilot.pause()
        assert "LayerScope keys" in screen_text(app)


async def test_mouse_wheel_scrolls_the_tree(dive_image):
    from textual import events

    app = app_for(dive_image)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        assert tree.scroll_y == 0
        for _ in range(3):
            tree.post_message(
                events.MouseScrollDown(
                    tree, 5, 5, 0, 0, 0, False, False, False, screen_x=60, screen_y=10
                )
            )
        await wait_for(pilot, lambda: tree.scroll_y > 0)
        assert tree.cursor == 0  # the wheel scrolls, the cursor stays


async def test_zoom_maximizes_the_focused_pane(sample_archive):
    from explorer.tui.widgets.panes import ImagePane, TreePane

    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("tab", "z")
        assert isinstance(screen.maximized, TreePane)  # the pane, header and path bar too
        await pilot.press("z")
        assert screen.maximized is None
        await pilot.press("e")  # no room for the waste table at 80x24: its pane zooms
        assert isinstance(screen.maximized, ImagePane)
        assert "/bin/app" in screen_text(app)
        await pilot.press("z")
        assert screen.maximized is None
        await pilot.press("tab", "z")  # the layer list, at full height
        assert screen.maximized is screen.layer_list
        assert screen.layer_list.size.height > 10


async def test_keys_typed_ahead_reach_the_new_pane(sample_archive):
    """Tab then Ctrl+U arriving together (a fast typist, a pasted sequence): the toggle
    applies to the tree, which Tab focused."""
    from textual import events

    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(events.Key("tab", None))
        app.post_message(events.Key("ctrl+u", None))
        await wait_for(pilot, lambda: main_screen(app).file_tree.state.hidden == {0}, timeout=5)
        await settle(pilot)
        assert main_screen(app).file_tree.state.hidden == {0}


async def test_footer_shows_the_main_keys_quit_first(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer.startswith("q Quit? Help")  # first: a narrow bar cuts its end
        for key in ("o Open", "e Waste", "z Zoom"):
            assert key in footer, key


async def test_footer_leaves_nothing_behind_after_a_resize(sample_archive):
    from textual.widgets._footer import FooterKey

    app = app_for(sample_archive)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert "^p palette" in screen_text(app)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.screen.size.width == 80)
        await pilot.pause()
        assert not app.screen.query(FooterKey).filter(".-command-palette")
        assert "palette" not in screen_text(app)


async def test_help_wording_matches_the_panes(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("end", "ctrl+a")
        await settle(pilot)
        assert "Aggregated contents, layers 0–3" in screen_text(app)
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        assert "Compare: aggregated contents of layers 0–N" in text
        assert "Move between the Layers pane and the file tree" in text
        whole = app.screen.help_text().plain
        assert "Clear the filter and close the bar" in whole  # Esc, in the filter
        # the compare screen's own keys, with their ids
        assert "Filter the changes by a path regex  [compare.filter]" in whole


async def test_layer_details_show_the_whole_digest_and_id_and_scroll(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        layer = screen.meta.layers[0]
        assert layer.id  # a docker save archive names its layers
        details = screen.details
        lines = details.text.splitlines()
        digest_at = next(i for i, line in enumerate(lines) if line.startswith("Digest"))
        assert lines[digest_at].split()[1].startswith("sha256:")  # beside its label
        joined = "".join(line[9:] for line in lines[digest_at:])
        assert layer.digest + layer.id in joined  # whole, nothing cut off
        assert any(line.startswith("Id ") for line in lines)
        assert len(lines) > details.scrollable_content_region.height  # more than fits
        await pilot.press("d")
        assert app.focused is details
        await pilot.press("end")
        assert details.scroll_y > 0
        assert "Id" in screen_text(app)
        await pilot.press("z")
        assert screen.maximized is details
        await pilot.press("shift+tab")  # on to the other panes, restored
        assert screen.maximized is None and app.focused is not details


async def test_e_brings_the_waste_table_into_view_on_a_small_terminal(sample_archive):
    from explorer.tui.widgets.efficiency import WasteTable

    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        table = screen.query_one(WasteTable)
        path = screen.analysis.efficiency.rows[0].path
        assert path not in screen_text(app)  # no room for it at first
        await pilot.press("e")
        await pilot.pause()
        assert app.focused is table
        assert path in screen_text(app)
        assert table.region.height >= 3
        await pilot.press("tab")  # leaving it restores the layout
        assert screen.maximized is None


def visible(vlist, row: int) -> bool:
    top = int(vlist.scroll_y)
    return top <= row < top + vlist.scrollable_content_region.height


async def test_narrow_terminal_keeps_the_names_in_the_tree(dive_image):
    app = app_for(dive_image)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        lines = tree_text(app)
        assert any(line.endswith("├── add-shell → bin/[") for line in lines), lines
        assert "Filetree" in screen_text(app)


async def test_the_selected_layer_stays_in_view_across_a_resize(dive_image):
    app = app_for(dive_image)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        layers = main_screen(app).layer_list
        await pilot.press("end", "up", "up")
        await settle(pilot)
        assert layers.selected_layer == 11
        for size in ((80, 24), (60, 20), (160, 45)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda s=size: app.screen.size == s)
            await pilot.pause()
            assert visible(layers, layers.cursor), size


async def test_end_shows_the_trailing_metadata_rows(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        layers = main_screen(app).layer_list
        assert layers.items[-1].layer is None  # the image ends with metadata (CMD...)
        assert layers.count > layers.scrollable_content_region.height
        await pilot.press("end")
        assert layers.selected_layer == 3
        assert visible(layers, layers.count - 1) and visible(layers, layers.cursor)
        await pilot.press("home")
        assert visible(layers, 0)
