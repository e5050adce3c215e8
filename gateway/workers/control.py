"""The line between the supervisor and one worker: a Unix socket pair, one message a line.

The worker says, on its end (an inherited file descriptor):

- ``ready <url>``: every listener of the worker is bound (said once);
- ``failed <reason>``: it cannot start, and why, in one line (then it exits 1);
- ``reload``: ``POST /admin/reload`` reloaded it; the other workers should reload too.

The supervisor says nothing. Its end closing, because it exited or died (even by
SIGKILL, when no signal can be forwarded), tells the worker to stop as SIGTERM
would, so no worker outlives its supervisor holding the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass

READY, FAILED, RELOAD = "ready", "failed", "reload"


@dataclass(frozen=True)
class Message:
    kind: str
    text: str = ""


def encode(kind: str, text: str = "") -> bytes:
    """One line: ``kind``, then ``text`` with its own line breaks folded to spaces."""
    folded = " ".join(text.split())
    return f"{kind} {folded}\n".encode() if folded else f"{kind}\n".encode()


def decode(line: bytes) -> Message:
    kind, _, text = line.decode(errors="replace").strip().partition(" ")
    return Message(kind, text)


class WorkerEnd:
    """The worker's end of the line: it says ready, failed or reload, and hears the end."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)

    def say(self, kind: str, text: str = "") -> None:
        """Send one message; a supervisor already gone is not an error here."""
        with contextlib.suppress(OSError):
            self._sock.sendall(encode(kind, text))

    def on_close(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the supervisor's end closes."""
        fd = self._sock.fileno()

        def readable() -> None:
            try:
                more = self._sock.recv(4096)
            except OSError:
                more = b""
            if not more:
                loop.remove_reader(fd)
                callback()

        loop.add_reader(fd, readable)

    def close(self) -> None:
        self._sock.close()
