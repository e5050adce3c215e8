"""The MLLP server legacy consumers connect to (HL7 v2.5 Appendix C, MLLP release 2).

Framing is the HL7 v2 toolkit's (``adapters.hl7_toolkit.mllp``): frames are found
however TCP cut or glued them, and a frame over ``max_frame`` drops the
connection (it cannot be answered: its MSH-10 may be what was cut off).
Messages on one connection are answered in order (original acknowledgement
mode: one answer per message, chapter 2.9.2); connections are independent.
A frame with no readable MSH (or text that is not MLLP at all, such as an
HTTP request) cannot be answered: it is logged (``hl7_frame_unreadable``,
its size and hash, never its content), counted, and the connection closed.
Like the adapter's SIU listener (``adapters/hl7v2/_inbound.py``), with this
door's own log events and a bounded shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable

import structlog

from adapters.hl7_toolkit.mllp import (
    FrameDecoder,
    FrameTooLarge,
    UnreadableFrame,
    frame,
    read_frames,
)

log = structlog.get_logger("gateway.hl7")

#: One frame's payload -> the answer's payload (None: nothing to answer); raises
#: ``UnreadableFrame`` when the frame has no MSH to answer.
Handler = Callable[[bytes], Awaitable[bytes | None]]


class MllpServer:
    def __init__(self, handler: Handler, *, max_frame: int) -> None:
        self._handler = handler
        self._max_frame = max_frame
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections whose message is being handled right now.
        self._busy: set[asyncio.StreamWriter] = set()
        self.address: tuple[str, int] | None = None
        #: Connections closed because what they sent had no readable MSH.
        self.unreadable_closed = 0

    async def start(
        self, host: str, port: int, tls: ssl.SSLContext | None, *, reuse_port: bool = False
    ) -> tuple[str, int]:
        """Listen; ``reuse_port``: every worker of ``serve --workers N`` binds the port."""
        self._server = await asyncio.start_server(
            self._serve,
            host,
            port,
            ssl=tls,
            reuse_address=True,
            reuse_port=reuse_port or None,
            limit=self._max_frame + 1024,
        )
        sockname = self._server.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        log.info("hl7_listener_started", port=self.address[1], tls=tls is not None)
        return self.address

    async def close(self, grace_s: float = 2.0) -> None:
        """Stop accepting; give messages in progress ``grace_s`` to finish, then drop them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in self._writers - self._busy:
            writer.transport.abort()  # idle: nothing is lost
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), grace_s)
        log.info("hl7_listener_stopped")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        decoder = FrameDecoder(self._max_frame)
        try:
            while self._server is not None:
                frames = await read_frames(reader, decoder, refuse_noise=True)
                if not frames:
                    break
                for payload in frames:
                    self._busy.add(writer)
                    try:
                        answer = await self._handler(payload)
                    finally:
                        self._busy.discard(writer)
                    if answer is not None:
                        writer.write(frame(answer))
                        await writer.drain()
        except FrameTooLarge:
            log.warning("hl7_frame_refused", max_frame=self._max_frame)
        except UnreadableFrame as exc:
            self.unreadable_closed += 1
            log.warning(
                "hl7_frame_unreadable",
                size=exc.size,
                sha256=exc.digest,
                closed_connections=self.unreadable_closed,
            )
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("hl7_connection_lost", error_type=type(exc).__name__)
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
