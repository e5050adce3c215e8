"""The HL7 outbox worker: supplier-side changes told to the HL7 consumer that made the booking.

Issue 12 item 4 (the asynchronous workflow: "passed to the legacy consumer where
its door can carry it"). When a supplier-side change of a booking made at this
door is stored, its outbox entry is written in the same transaction
(``Store.add_version(..., supplier_side=True)``); this worker, a background task
started and stopped with the front door, leases the next due entry (in order per
appointment, like the registry journal, gateway/registry/worker.py) and sends
``SIU^S13/S14/S15/S17/S26`` (``notice.py``) to the consumer's ``notify`` endpoint
over MLLP. No booking or SIU from the supplier ever waits for it.

- ``AA``/``CA``: delivered. ``AE``/``CE``, no answer, no connection, an
  unreadable answer: tried again with jittered exponential backoff, for ever (a
  consumer outage loses nothing), with the same MSH-10 and bytes; an entry cut
  short by a stop is given back due at once, so the next start (or another
  replica) sends it again without waiting out the lease (which still covers a crash).
- ``AR``/``CR``: the consumer refuses the message as sent; resending it unchanged
  cannot help, so it is logged (``hl7_notice_refused``, ERR-3 codes only) and
  dropped; later changes of the booking go on.
- A consumer with no ``notify`` endpoint (or no longer configured): the entry is
  ended as held; the change is the appointment's next version, which its next
  query shows.

Log lines hold ids, codes and counts only, never a patient value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from adapters.domain import utcnow
from adapters.hl7_toolkit.header import Header, read_ack
from adapters.hl7_toolkit.mllp_client import MllpClient, TransportError
from adapters.hl7_toolkit.tls import TlsOptions
from gateway.config import Hl7ConsumerSettings, Hl7FrontDoorSettings, Hl7NotifySettings
from gateway.hl7 import notice
from gateway.hl7.tables import Tables
from gateway.runtime import Runtime
from gateway.store import NoticeOutcome, NoticeWork, Store

log = structlog.get_logger("gateway.hl7")

_ACCEPTED = ("AA", "CA")
_REFUSED = ("AR", "CR")


class Refused(Exception):
    """The consumer answered AR/CR: the message as sent will never be accepted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotYet(Exception):
    """The consumer did not take the message this time (AE, no answer, down)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoticeWorker:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        settings: Hl7FrontDoorSettings,
        tables: Tables,
        base_dir: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.runtime, self.settings, self.tables = store, runtime, settings, tables
        self.base_dir = base_dir
        self.clock, self.jitter = clock, jitter
        self.owner = f"hl7-notices-{uuid.uuid4()}"
        self._header = Header(
            settings.application, settings.facility, "", "", zone=ZoneInfo(settings.timezone)
        )
        self._clients: dict[str, MllpClient] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._working: NoticeWork | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        """Stop; an entry cut short is given back, due now, so it is sent again."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        if self._working is not None:
            work, self._working = self._working, None
            with contextlib.suppress(Exception):  # else its lease lapses: sent again later
                await self.store.retry_hl7_notice(work, self.clock(), "stopped")
        for client in self._clients.values():
            await client.close()
        self._clients = {}

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = await self.step()
            except Exception as exc:  # the store failed: wait, then go on
                log.warning("hl7_outbox_unreadable", error=type(exc).__name__)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), self._door().notify_retry.poll_interval_s
                    )

    def _door(self) -> Hl7FrontDoorSettings:
        """Consumers follow a reload (as the door reads them per message)."""
        current = self.runtime.current
        door = current.settings.hl7_front_door if current is not None else None
        return door or self.settings

    def _consumer(self, facility: str) -> Hl7ConsumerSettings | None:
        return next((c for c in self._door().consumers if c.sending_facility == facility), None)

    async def step(self) -> bool:
        """Deliver (or hold) one due entry; False when none is due."""
        lease_s = 30.0 + max((n.timeout_s for n in self._notifying()), default=0.0)
        work = await self.store.lease_hl7_notice(self.owner, self.clock(), lease_s)
        if work is None:
            return False
        self._working = work
        try:
            await self._deliver(work)
        except Refused as exc:
            log.error(
                "hl7_notice_refused",
                appointment_id=work.appointment_id,
                version=work.version,
                attempts=work.attempts,
                reason=exc.reason,
            )
            await self.store.finish_hl7_notice(
                work, self.clock(), NoticeOutcome.REFUSED, exc.reason
            )
        except NotYet as exc:
            await self._later(work, exc.reason)
        except Exception as exc:  # never lose the entry; the type only (no data)
            await self._later(work, f"internal_{type(exc).__name__}")
        self._working = None
        return True

    def _notifying(self) -> list[Hl7NotifySettings]:
        return [c.notify for c in self._door().consumers if c.notify is not None]

    async def _deliver(self, work: NoticeWork) -> None:
        version = await self.store.get(work.appointment_id, work.version)
        origin = await self.store.hl7_origin(work.appointment_id)
        consumer = self._consumer(origin.sending_facility) if origin else None
        if version is None or origin is None or consumer is None or consumer.notify is None:
            await self.store.finish_hl7_notice(work, self.clock(), NoticeOutcome.HELD)
            log.info(
                "hl7_notice_held",
                appointment_id=work.appointment_id,
                version=work.version,
                organisation=consumer.ods_code if consumer else None,
            )
            return
        before = await self.store.get(work.appointment_id, work.version - 1)
        message = notice.notice(self._header, origin, version, before, self.tables)
        endpoint = consumer.notify
        try:
            answer = await self._client(endpoint).exchange(
                message.to_er7().encode("utf-8"), message.control_id, endpoint.timeout_s
            )
            ack = read_ack(answer)
        except TransportError as exc:
            raise NotYet(f"transport_{type(exc).__name__}") from None
        except ValueError:
            raise NotYet("answer_without_msa") from None
        codes = ",".join(e.hl7_code for e in ack.errors if e.hl7_code)
        if ack.code in _REFUSED:
            raise Refused(f"{ack.code}:{codes}")
        if ack.code not in _ACCEPTED:
            raise NotYet(f"{ack.code[:2] or 'none'}:{codes}")
        await self.store.finish_hl7_notice(work, self.clock(), NoticeOutcome.DELIVERED)
        log.info(
            "hl7_notice_delivered",
            appointment_id=work.appointment_id,
            version=work.version,
            message_type=f"SIU^{message.message_type[1]}",
            control_id=message.control_id,
            attempts=work.attempts,
            organisation=consumer.ods_code,
        )

    def _client(self, endpoint: Hl7NotifySettings) -> MllpClient:
        """One reused connection per endpoint (the endpoint may change on reload)."""
        key = json.dumps(endpoint.model_dump(mode="json"), sort_keys=True)
        client = self._clients.get(key)
        if client is None:
            tls = TlsOptions.model_validate(endpoint.tls.model_dump())
            client = MllpClient(
                endpoint.host,
                endpoint.port,
                tls=tls.client_context(self.base_dir),
                server_hostname=tls.server_hostname or endpoint.host,
                connect_attempts=1,
                log_name="hl7-notify",
            )
            self._clients[key] = client
        return client

    async def _later(self, work: NoticeWork, reason: str) -> None:
        retry = self._door().notify_retry
        delay = min(retry.max_delay_s, retry.first_delay_s * 2 ** min(work.attempts - 1, 30))
        delay *= 0.5 + self.jitter() / 2  # jittered, so a recovering consumer is not stampeded
        await self.store.retry_hl7_notice(work, self.clock() + timedelta(seconds=delay), reason)
        stuck = retry.stuck_after_attempts
        event = "hl7_notice_deferred"
        if work.attempts >= stuck and (work.attempts - stuck) % stuck == 0:
            event = "hl7_notice_stuck"
        (log.warning if event == "hl7_notice_stuck" else log.info)(
            event,
            appointment_id=work.appointment_id,
            version=work.version,
            attempts=work.attempts,
            reason=reason,
            retry_in_s=round(delay, 1),
        )
