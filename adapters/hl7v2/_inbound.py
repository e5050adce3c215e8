"""The MLLP listener for unsolicited messages from the PAS (SIU, HL7 v2.5 chapter 10.5).

Frames on one connection are handled in order (an S15 must not overtake its
S12). Each frame is answered with one frame (its ACK, or the ACKs of every
message it held, ``_receive``; chapter 2.9.2), and only after the answer is
written is the gateway told (``NotifyingAdapter``: acknowledge, then report).
An identical resend of an accepted message gets the first ACK again. A frame
with no readable MSH (or bytes that are not MLLP, such as HTTP text) cannot be
answered: it is logged (``unreadable_frame_dropped``, size and hash, never the
content), counted, and the connection closed rather than left open.
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

log = structlog.get_logger(__name__)

#: payload -> (ACK text or None, what to do once the ACK is written); raises
#: ``UnreadableFrame`` when no message in the frame has a readable MSH.
Handler = Callable[[bytes], Awaitable[tuple[str | None, Callable[[], Awaitable[None]] | None]]]


class Listener:
    def __init__(self, handler: Handler, *, max_frame: int, log_name: str) -> None:
        self._handler = handler
        self._max_frame = max_frame
        self._log_name = log_name
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections closed because what they sent had no readable MSH.
        self.unreadable_closed = 0

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None) -> tuple[str, int]:
        # reuse_port: a reloaded gateway generation can listen while the old one drains.
        self._server = await asyncio.start_server(
            self._serve,
            host,
            port,
            ssl=tls,
            reuse_address=True,
            reuse_port=port != 0,
            limit=self._max_frame + 1024,
        )
        address = self._server.sockets[0].getsockname()
        log.info("siu_listener_started", adapter=self._log_name, port=address[1])
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        decoder = FrameDecoder(self._max_frame)
        try:
            while True:
                frames = await read_frames(reader, decoder, refuse_noise=True)
                if not frames:
                    break
                for payload in frames:
                    answer, after = await self._handler(payload)
                    if answer is not None:
                        writer.write(frame(answer.encode("utf-8")))
                        await writer.drain()
                    if after is not None:
                        await after()
        except FrameTooLarge:
            log.warning("oversized_frame_refused", adapter=self._log_name)
        except UnreadableFrame as exc:
            self.unreadable_closed += 1
            log.warning(
                "unreadable_frame_dropped",
                adapter=self._log_name,
                size=exc.size,
                sha256=exc.digest,
                closed_connections=self.unreadable_closed,
            )
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("siu_connection_lost", adapter=self._log_name, error_type=type(exc).__name__)
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
