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
    """Is a Docker-compatible engine answering on its socket? (cheap: no SDK, no HTTP)"""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return bool(host)  # tcp/ssh: assume it is there; opening will tell
    path = host[len("unix://") :]
    if not os.path.exists(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
        return True
    except OSError:
        return False


def choose_target(args: argparse.Namespace) -> tuple[str, str | None, list[str]]:
    """(target, kind, notices): the image asked for, or the bundled sample."""
    if args.image:
        return args.image, args.source, []
    from explorer.sample import ensure_sample

    sample = str(ensure_sample())
    if engine_reachable():
        notice = (
            "No image given: showing the bundled sample. An engine is running: "
            "press o to open one of its images (REPO:TAG) or an archive."
        )
    else:
        notice = (
            "No image given and no engine found: showing the bundled sample image. "
            "Press o to open an archive."
        )
    return sample, "docker-archive", [notice]


def launch(args: argparse.Namespace) -> int:
    """Run the explorer; errors while opening the image are shown in the app, and make the
    exit code 2 once the user quits."""
    from functools import partial

    from explorer.core.loading import Loading
    from explorer.core.sources import open_source

    target, kind, notices = choose_target(args)
    # Read (on a warm re-open, all of it from the cache) while the UI toolkit loads.
    load_job = Loading(partial(open_source, target, kind, args.platform))
    from explorer.tui.app import make_app

    if os.path.exists(target):  # an archive: its layers are indexed in worker processes
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
