"""One worker as the supervisor sees it: its current process and its control line.

A worker is started in a session of its own, so a Ctrl-C at the terminal reaches
the supervisor only, which then stops every worker in order (SIGTERM); the control
line's end (``control.py``) stops a worker whose supervisor died without a word.

Signals go through a pidfd opened at the start, never ``Popen.send_signal``:
that polls the child first (``waitpid(WNOHANG)``), and a worker that has just
exited would be reaped there, under asyncio's child watcher, which then reports
exit status 255 and warns on stderr (CPython bpo-42110). A pidfd also names that
one process, so a signal can never reach another that was given its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.workers import child
from gateway.workers.control import FAILED, READY, RELOAD, decode


class WorkerFailed(Exception):
    """The worker could not start; the message is its one-line reason."""


@dataclass(frozen=True)
class Address:
    """What every worker serves: the configuration, and the HTTP host and port."""

    config: Path
    host: str
    port: int


def exit_text(code: int) -> str:
    """How a process ended, in words (``killed by SIGKILL``, ``exited with code 1``)."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exited with code {code}"


class WorkerProcess:
    """Worker ``index`` of ``of``: started, restarted and stopped by the supervisor."""

    def __init__(self, address: Address, index: int, of: int) -> None:
        self.address, self.index, self.of = address, index, of
        self.process: asyncio.subprocess.Process | None = None
        self.ready = False
        #: The reason the last start failed, as the worker said it.
        self.last_reason: str | None = None
        self._line: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listening: asyncio.Task[None] | None = None
        self._pidfd: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def command(self, control_fd: int) -> list[str]:
        """The worker's command line, its control line's end passed as ``control_fd``."""
        return child.argv(
            self.address.config, self.address.host, self.address.port,
            self.index, self.of, control_fd,
        )  # fmt: skip

    async def spawn(self) -> None:
        """Start a new process for this worker (the previous one has ended)."""
        self._close_line()
        ours, theirs = socket.socketpair()
        command = self.command(theirs.fileno())
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._close_pidfd()
        with contextlib.suppress(ProcessLookupError):  # already gone: nothing to signal
            self._pidfd = os.pidfd_open(self.process.pid)
        self.ready, self.last_reason = False, None
        self._line, self._writer = await asyncio.open_unix_connection(sock=ours)

    async def started(self, on_reload: Callable[[WorkerProcess], None]) -> str:
        """The URL it serves once it says ready; ``WorkerFailed`` if it cannot start.

        After ready, ``on_reload`` is called whenever it asks the others to reload.
        """
        assert self._line is not None
        while True:
            message = decode(await self._line.readline())
            if message.kind == READY:
                self.ready = True
                self._listening = asyncio.create_task(self._listen(on_reload))
                return message.text
            if message.kind == FAILED or not message.kind:
                code = await self.exited()
                self.last_reason = message.text or f"worker {self.index} {exit_text(code)}"
                raise WorkerFailed(self.last_reason)

    async def _listen(self, on_reload: Callable[[WorkerProcess], None]) -> None:
        assert self._line is not None
        while line := await self._line.readline():
            if decode(line).kind == RELOAD:
                on_reload(self)

    async def exited(self) -> int:
        """Its exit status, once it has ended (negative: the signal that killed it)."""
        assert self.process is not None
        code = await self.process.wait()
        self.ready = False
        self._close_pidfd()
        return code

    def send(self, signum: int) -> None:
        """Signal the process if it still runs."""
        if self.running and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _close_line(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            self._listening = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def close(self) -> None:
        """Close the control line (the process has ended)."""
        writer = self._writer
        self._close_line()
        self._close_pidfd()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
