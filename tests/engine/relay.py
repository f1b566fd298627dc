"""A unix-socket relay between the CLI and a real engine, to stop time at an exact point.

It forwards bytes unchanged both ways. A test arms one trigger:

* ``on_request(marker, action)`` — when a request containing ``marker`` (e.g. ``b"/get"``, the
  image export) arrives, run ``action`` *before* forwarding it (the image is removed after
  the CLI inspected it, before the engine starts the export);
* ``after_export_bytes(n, action)`` — once ``n`` bytes of an export response have passed,
  run ``action`` with the stream held (the CLI is mid-stream, the engine blocked on a full
  socket), then go on forwarding whatever the engine still sends, and close the CLI's side
  when the engine closes its own.

The engine and the CLI are the real ones; the relay only decides *when* the fault happens,
which the tests could not otherwise control (a 233 MB export takes a few seconds).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path

Action = Callable[[], None]


class Relay:
    def __init__(self, listen: Path, upstream: Path) -> None:
        self.listen = listen
        self.upstream = upstream
        self.fired = threading.Event()
        self.errors: list[BaseException] = []
        self._request: tuple[bytes, Action] | None = None
        self._after: tuple[int, Action] | None = None
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(listen))
        self._sock.listen(16)
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    @property
    def host(self) -> str:
        return f"unix://{self.listen}"

    def on_request(self, marker: bytes, action: Action) -> None:
        self._request = (marker, action)

    def after_export_bytes(self, n: int, action: Action) -> None:
        self._after = (n, action)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        for s in list(self._open):
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _fire(self, action: Action) -> None:
        with self._lock:
            if self.fired.is_set():
                return
            try:
                action()
            except BaseException as exc:  # reported by the test, not lost in a thread
                self.errors.append(exc)
            finally:
                self.fired.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(str(self.upstream))
            except OSError:
                client.close()
                continue
            self._open += [client, engine]
            state = {"export": False}
            for target, args in (
                (self._up, (client, engine, state)),
                (self._down, (engine, client, state)),
            ):
                threading.Thread(target=target, args=args, daemon=True, name="relay").start()

    def _up(self, client: socket.socket, engine: socket.socket, state: dict) -> None:
        """CLI -> engine."""
        while True:
            try:
                data = client.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            if b"/images/" in data and b"/get" in data:
                state["export"] = True
            if self._request is not None and self._request[0] in data:
                self._fire(self._request[1])
            try:
                engine.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            engine.shutdown(socket.SHUT_WR)

    def _down(self, engine: socket.socket, client: socket.socket, state: dict) -> None:
        """engine -> CLI."""
        passed = 0
        while True:
            try:
                data = engine.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            if state["export"]:
                passed += len(data)
                if self._after is not None and passed >= self._after[0]:
                    self._fire(self._after[1])
            try:
                client.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)
        for s in (client, engine):
            with contextlib.suppress(OSError):
                s.close()
