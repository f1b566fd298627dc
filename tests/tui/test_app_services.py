"""Keymap file, command palette, launch (what opens with no image), the sample image."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from explorer import sample
from explorer.tui import launch as launch_mod
from explorer.tui.commands import explorer_commands
from explorer.tui.keymap import keymap_path, load_keymap
from explorer.tui.screens.help import HelpScreen

from .conftest import app_for, main_screen, palette_results, screen_text, settle, wait_for

SIZE = (120, 40)


# -- keymap ----------------------------------------------------------------------------------


def test_keymap_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap_path() == tmp_path / "layerscope" / "keymap.toml"
    monkeypatch.setenv("LAYERSCOPE_KEYMAP", str(tmp_path / "k.toml"))
    assert keymap_path() == tmp_path / "k.toml"


def test_load_keymap_forms_and_problems(tmp_path):
    path = tmp_path / "keymap.toml"
    assert load_keymap(path) == ({}, [])  # no file: fine
    path.write_text(
        '[keymap]\n"tree.toggle-modified" = "ctrl+t"\n"list.down" = ["down", "ctrl+j"]\n'
        '"quit" = 3\n'
    )
    keymap, problems = load_keymap(path)
    assert keymap == {"tree.toggle-modified": "ctrl+t", "list.down": "down,ctrl+j"}
    assert len(problems) == 1 and "quit" in problems[0]
    path.write_text("not = [toml")
    keymap, problems = load_keymap(path)
    assert keymap == {} and problems and str(path) in problems[0]


async def test_user_keymap_rebinds_a_key(sample_archive):
    keymap = {"tree.toggle-modified": "ctrl+e", "tree.toggle-unmodified": "x"}
    app = app_for(sample_archive, keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = main_screen(app).file_tree
        await pilot.press("tab", "x")  # unmodified, rebound to x
        await settle(pilot)
        assert tree.state.hidden == {0}
        await pilot.press("ctrl+u")  # the old key no longer does it
        await settle(pilot)
        assert tree.state.hidden == {0}
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert "x               Show/hide unmodified files" in help_screen.help_text().plain
        assert not app._notifications  # nothing clashes: nothing to report


async def test_a_keymap_that_binds_a_key_twice_says_which_binding_lost(sample_archive):
    app = app_for(sample_archive, keymap={"open": "q", "tree.sort": "space"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        notices = [n.message for n in app._notifications]
        assert "keymap: q is bound to open and to quit: quit is lost" in notices
        assert (
            "keymap: space is bound to tree.sort and to tree.collapse: "
            "tree.collapse is lost in the file tree"
        ) in notices


# -- command palette -------------------------------------------------------------------------


async def test_palette_offers_every_action_and_runs_it(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in explorer_commands(app, main_screen(app))}
        for title in (
            "Layers: Compare: what the selected layer changed",
            "Files: Show/hide added files",
            "Files: Sort by name or by size",
            "Files: Show/hide permissions, owner and size",
            "Waste: Switch between dive's inefficient files and the exact hidden bytes",
            "View: Filter the file tree by a path regex",
            "App: Show every key",
        ):
            assert title in commands, title
        assert not any("Stop reading" in t for t in commands)  # not while nothing runs
        titles = [c.title for c in app.get_system_commands(main_screen(app))]
        assert "App: Quit LayerScope" in titles and "App: Choose a colour theme" in titles
        # Textual's own entries that do not apply here (its keys panel, screenshot...)
        assert not {"Keys", "Screenshot", "Maximize", "Theme", "Quit"} & set(titles)
        # run one: a tree toggle works even though the layer list has focus
        await commands["Files: Sort by name or by size"].callback()
        await settle(pilot)
        assert main_screen(app).file_tree.state.sort == "size"


async def test_palette_opens_with_ctrl_p(sample_archive):
    app = app_for(sample_archive)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: palette_results(app) is not None)
        await pilot.press(*"sort by")
        await wait_for(pilot, lambda: "Files: Sort" in (palette_results(app) or [""])[0])
        text = screen_text(app)
        assert "Files: Sort" in text and "key: ^o" in text
        await pilot.press("enter")
        await settle(pilot)
        assert main_screen(app).file_tree.state.sort == "size"


# -- launch ----------------------------------------------------------------------------------


def args(image=None, source=None) -> argparse.Namespace:
    return argparse.Namespace(image=image, source=source, platform=None, debug=False)


def test_launch_opens_the_sample_without_an_image(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(launch_mod, "engine_reachable", lambda timeout=0.3: False)
    target, kind, notices = launch_mod.choose_target(args())
    assert target == str(tmp_path / "layerscope" / "sample.tar")
    assert kind == "docker-archive"
    assert "no engine found" in notices[0] and "podman system service" in notices[0]
    assert "Press o to open" in notices[0]  # says how to get out of the sample
    monkeypatch.setattr(launch_mod, "engine_reachable", lambda timeout=0.3: True)
    assert launch_mod.choose_target(args()) == ("", None, [])  # the library
    assert launch_mod.choose_target(args("x.tar", "oci")) == ("x.tar", "oci", [])


def test_engine_reachable_is_false_without_a_socket(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    monkeypatch.setenv("LAYERSCOPE_PODMAN_HOST", f"unix://{tmp_path}/no-podman.sock")
    assert not launch_mod.engine_reachable()


def test_engine_reachable_follows_the_docker_context(monkeypatch, tmp_path):
    """Not only DOCKER_HOST: the CLI's current context names the engine too."""
    import hashlib
    import json
    import socket

    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "ctx.sock"))
    listening.listen(1)
    config = tmp_path / "docker"
    meta = config / "contexts" / "meta" / hashlib.sha256(b"here").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Endpoints": {"docker": {"Host": f"unix://{tmp_path}/ctx.sock"}}})
    )
    (config / "config.json").write_text(json.dumps({"currentContext": "here"}))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("LAYERSCOPE_PODMAN_HOST", f"unix://{tmp_path}/no-podman.sock")
    try:
        assert launch_mod.engine_reachable()
    finally:
        listening.close()


def test_launch_returns_2_after_an_error(monkeypatch, tmp_path):
    """launch() runs the app; an image that fails to open makes the exit code 2."""
    ran = {}

    def fake_run(self, *a, **k):
        ran["target"] = self.target
        self.failed = True

    monkeypatch.setattr("explorer.tui.app.LayerScopeApp.run", fake_run)
    assert launch_mod.launch(args(str(tmp_path / "x.tar"))) == 2
    assert ran["target"].endswith("x.tar")


# -- the sample ------------------------------------------------------------------------------


def test_sample_is_deterministic_and_cached(tmp_path):
    a = sample.ensure_sample(tmp_path / "a" / "sample.tar")
    b = sample.ensure_sample(tmp_path / "b" / "sample.tar")
    assert a.read_bytes() == b.read_bytes()
    mtime = os.stat(a).st_mtime_ns
    sample.ensure_sample(a)  # identical: not rewritten
    assert os.stat(a).st_mtime_ns == mtime


def test_sample_has_the_promised_features(sample_archive):
    from explorer.core.analysis import analyze, index_all
    from explorer.core.sources import open_source

    meta, layers = index_all(open_source(str(sample_archive)))
    assert len(meta.layers) == 4
    assert [h.instruction.split()[0] for h in meta.history if h.empty] == [
        "ENV",
        "LABEL",
        "USER",
        "CMD",
    ]
    paths = {p for layer in layers for p in layer.paths}
    assert "var/cache/.wh.pkg" in paths  # a deleted directory
    assert "tmp/.wh.build.log" in paths  # a deleted file
    analysis = analyze(meta, layers)
    assert {r.path for r in analysis.efficiency.rows} >= {"/bin/app"}  # the chmod-ed copy
    assert analysis.reclaimable.total > 100_000


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert sample.cache_dir() == Path.home() / ".cache" / "layerscope"
