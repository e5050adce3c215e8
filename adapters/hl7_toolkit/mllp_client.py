"""An asyncio MLLP client: one reused connection, reconnect with backoff, ACK correlation.

Messages are pipelined on one connection and answers are matched to requests
by MSA-2 = MSH-10 (HL7 v2.5 chapter 2.9.2), never by arrival order: an answer
whose MSH-10 nobody is waiting for (a late ACK after its sender timed out) is
discarded and logged, so it can never be taken for another message's answer.
A frame that cannot be read poisons the stream: the connection is dropped and
every message waiting on it is told it may or may not have been processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from dataclasses import dataclass

import structlog

from adapters._resilience import RetryPolicy, pause
from adapters.hl7_toolkit.er7 import Er7Error, Message, decode
from adapters.hl7_toolkit.mllp import (
    DEFAULT_MAX_FRAME,
    FrameDecoder,
    FrameTooLarge,
    frame,
    read_frames,
)

log = structlog.get_logger(__name__)


class TransportError(Exception):
    """The exchange failed below HL7; ``sent`` says whether the peer may have the message."""

    sent: bool = True


class Unreachable(TransportError):
    """No connection could be made (refused, unreachable, TLS handshake failed)."""

    sent = False


class ConnectionLost(TransportError):
    """The connection closed after the message was written and before its answer."""


class AckTimeout(TransportError):
    """No answer arrived in time."""


class Garbled(TransportError):
    """The peer wrote a frame that is not an HL7 answer (or is too large)."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None = None
    alive: bool = True


class MllpClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        connect_attempts: int = 3,
        backoff_s: float = 0.05,
        backoff_max_s: float = 1.0,
        log_name: str = "hl7v2",
    ) -> None:
        self.host, self.port = host, port
        self._tls, self._server_hostname = tls, server_hostname
        self._max_frame = max_frame
        self._retry = RetryPolicy(
            attempts=max(1, connect_attempts), backoff_s=backoff_s, max_backoff_s=backoff_max_s
        )
        self._log_name = log_name
        self._conn: _Connection | None = None
        self._connect_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._closed = False
        self.late_answers = 0

    async def exchange(self, payload: bytes, control_id: str, wait_s: float) -> Message:
        """Send one message and wait at most ``wait_s`` seconds for the answer naming it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        if control_id in self._pending:
            raise ValueError("a message with this control id is already in flight")
        conn = await self._connection(deadline)
        future: asyncio.Future[Message] = loop.create_future()
        self._pending[control_id] = future
        try:
            conn.writer.write(frame(payload))
            async with asyncio.timeout_at(deadline):
                await conn.writer.drain()
                return await future
        except TimeoutError:
            raise AckTimeout(f"no answer within {wait_s:.2f}s") from None
        except (ConnectionError, OSError) as exc:
            self._drop(conn)
            raise ConnectionLost(type(exc).__name__) from exc
        finally:
            if self._pending.get(control_id) is future:
                del self._pending[control_id]

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._drop(conn)
            if conn.task is not None:
                conn.task.cancel()
            conn.writer.close()
            with contextlib.suppress(TimeoutError, ConnectionError, OSError, ssl.SSLError):
                await asyncio.wait_for(conn.writer.wait_closed(), 1.0)

    # -- connecting ------------------------------------------------------------------

    async def _connection(self, deadline: float) -> _Connection:
        if self._closed:
            raise Unreachable("the client is closed")
        conn = self._conn
        if conn is not None and conn.alive:
            return conn
        async with self._connect_lock:
            if self._conn is not None and self._conn.alive:
                return self._conn
            self._conn = await self._connect(deadline)
            return self._conn

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        last: BaseException | None = None
        for attempt in range(1, self._retry.attempts + 1):
            try:
                async with asyncio.timeout_at(deadline):
                    reader, writer = await asyncio.open_connection(
                        self.host,
                        self.port,
                        ssl=self._tls,
                        server_hostname=self._server_hostname if self._tls else None,
                        limit=self._max_frame + 1024,
                    )
            except TimeoutError:
                raise Unreachable("connecting took longer than the time left") from last
            except (OSError, ssl.SSLError) as exc:
                last = exc
                log.info(
                    "mllp_connect_failed",
                    adapter=self._log_name,
                    attempt=attempt,
                    error_type=type(exc).__name__,
                )
                if not await pause(self._retry, attempt, deadline - loop.time()):
                    break
                continue
            conn = _Connection(reader, writer)
            conn.task = loop.create_task(self._read_loop(conn))
            log.info("mllp_connected", adapter=self._log_name, attempt=attempt)
            return conn
        raise Unreachable(type(last).__name__ if last else "unreachable") from last

    # -- reading answers -------------------------------------------------------------

    async def _read_loop(self, conn: _Connection) -> None:
        decoder = FrameDecoder(self._max_frame)
        try:
            while conn.alive:
                frames = await read_frames(conn.reader, decoder)
                if not frames:
                    break
                for payload in frames:
                    self._deliver(conn, payload)
        except FrameTooLarge:
            log.warning("oversized_frame_refused", adapter=self._log_name)
            self._fail_all(Garbled("the answer frame is too large"))
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("mllp_connection_lost", adapter=self._log_name, error_type=type(exc).__name__)
        finally:
            self._drop(conn)

    def _deliver(self, conn: _Connection, payload: bytes) -> None:
        try:
            message = decode(payload)
            msa = message.first("MSA")
            answered = msa.get(2) if msa is not None else ""
            if not answered:
                raise Er7Error("no MSA-2")
        except Er7Error:
            log.warning(
                "garbled_frame_received",
                adapter=self._log_name,
                frame_sha256=hashlib.sha256(payload).hexdigest()[:16],
            )
            self._fail_all(Garbled("the peer sent a frame that is not an HL7 answer"))
            conn.alive = False
            conn.writer.close()
            return
        future = self._pending.get(answered)
        if future is None or future.done():
            self.late_answers += 1
            log.warning("late_ack_discarded", adapter=self._log_name, control_id=answered)
            return
        future.set_result(message)

    def _drop(self, conn: _Connection) -> None:
        if conn.alive:
            conn.alive = False
            conn.writer.close()
        if self._conn is conn:
            self._conn = None
        self._fail_all(ConnectionLost("the connection closed before the answer"))

    def _fail_all(self, error: TransportError) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
