"""Start the TUI from the command line: pick what to open, load the keymap, run the app."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket

from explorer.tui.keymap import keymap_path, load_keymap
from explorer.tui.settings import load_settings, settings_path

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def engine_reachable(timeout: float = 0.3) -> bool:
    """Does an engine (Docker as its CLI chooses it, or Podman) answer on its socket? Cheap:
    no SDK, no HTTP; a tcp or ssh endpoint is assumed to be there (opening will tell)."""
    from explorer.core.errors import EngineError
    from explorer.core.library import engines

    try:
        chosen = engines()
    except EngineError:  # a broken Docker context: the sample, whose notice says so
        return False
    for at in chosen:
        path = at.socket_path
        if path is None:
            return True
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
            return True
        except OSError:
            continue
    return False


def choose_target(args: argparse.Namespace) -> tuple[str, str | None, list[str]]:
    """(target, kind, notices): the image asked for; with none, "" (the library) when an
    engine answers, else the bundled sample with a notice on how to start one."""
    if args.image:
        return args.image, args.source, []
    if engine_reachable():
        return "", None, []
    from explorer.sample import ensure_sample

    notice = (
        "No image given and no engine found: showing the bundled sample image. Start Docker "
        "(`sudo systemctl start docker`) or Podman (`podman system service --time=0`) and run "
        "layerscope again to see your images. Press o to open an archive."
    )
    return str(ensure_sample()), "docker-archive", [notice]


def launch(args: argparse.Namespace) -> int:
    """Run the explorer; errors while opening the image are shown in the app, and make the
    exit code 2 once the user quits."""
    from functools import partial

    from explorer.core.loading import Loading
    from explorer.core.sources import open_source

    target, kind, notices = choose_target(args)
    library = None
    load_job = None
    if target:
        # Read (on a warm re-open, all of it from the cache) while the UI toolkit loads.
        load_job = Loading(partial(open_source, target, kind, args.platform))
    else:
        from explorer.core.library import load_library

        library = load_library
    from explorer.tui.app import make_app

    if target and os.path.exists(target):  # an archive: its layers are indexed in worker processes
        from explorer.core.sources.workers import start_worker_server

        start_worker_server()
    path = keymap_path()
    keymap, problems = load_keymap(path)
    notices += [f"keymap ignored: {p}" for p in problems]
    settings_file = settings_path()
    settings, problems = load_settings(settings_file)
    notices += [f"settings ignored: {p}" for p in problems]
    app = make_app(
        target,
        kind,
        args.platform,
        keymap=keymap,
        keymap_file=path,
        notices=notices,
        load_job=load_job,
        library=library,
        theme=settings.get("theme"),
        settings_file=settings_file,
    )
    terminated = False

    def terminate(_signum: int, _frame: object) -> None:
        """SIGTERM quits the app the way `q` does (the terminal is restored), then the CLI
        reports the interruption."""
        nonlocal terminated
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running (yet, or any more)
            raise KeyboardInterrupt from None
        terminated = True
        loop.call_soon_threadsafe(app.exit)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        app.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        raise KeyboardInterrupt
    if app.return_code not in (None, 0):
        return app.return_code
    return EXIT_BAD_INPUT if app.failed else EXIT_OK
