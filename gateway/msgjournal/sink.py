"""Journaling what adapters hear: one row per message, payload sealed, plain or left out.

``attach`` gives every adapter of a generation that journals (``JournalingAdapter``)
the sink of one ``MessageJournal``. A store that cannot be written never stops a
message being answered: the failure is logged (ids only) and the message goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import structlog

from adapters.contract import SupplierAdapter
from adapters.domain import utcnow
from adapters.journaling import Heard, JournalingAdapter, Sent
from gateway.msgjournal.seal import SealBroken, read_key, seal, unseal
from gateway.msgjournal.settings import JournalSettings
from gateway.store import Store
from gateway.store.messages import INBOUND, OUTBOUND, MessageRecord
from gateway.store.trace import TraceHop
from gateway.trace.scope import clean_ids

#: Where trace hops go (``TraceRecorder.submit``).
Submit = Callable[[Sequence[TraceHop]], None]

log = structlog.get_logger(__name__)


class NotReplayable(Exception):
    """A journaled message whose payload cannot be had (the reason says why)."""


class MessageJournal:
    def __init__(
        self,
        store: Store,
        settings: JournalSettings,
        *,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], datetime] = utcnow,
        trace: Submit | None = None,
    ) -> None:
        self.store, self.settings, self.clock, self.trace = store, settings, clock, trace
        self.key = read_key(settings.key_env, environ)
        self._writing: set[asyncio.Task[None]] = set()

    def _kept(self, row_id: str, payload: bytes) -> tuple[bytes | None, bool]:
        if self.key is not None:
            return seal(self.key, row_id, payload), True
        return (payload, False) if self.settings.store_plaintext else (None, False)

    async def sink(self, route: str, heard: Heard) -> None:
        """Journal one inbound message (the adapters' ``MessageSink``)."""
        row_id = uuid.uuid4().hex
        payload, sealed = self._kept(row_id, heard.payload)
        record = MessageRecord(
            id=row_id,
            at=self.clock(),
            direction=INBOUND,
            channel=heard.channel,
            route=route,
            sender=heard.sender,
            control_id=heard.control_id,
            outcome=heard.outcome,
            reason_code=heard.reason_code,
            reason=heard.reason,
            content_hash=heard.content_hash,
            payload=payload,
            sealed=sealed,
        )
        try:
            await self.store.record_message(record)
        except Exception as exc:  # the message is answered whatever the journal does
            log.warning("message_journal_failed", route=route, error_type=type(exc).__name__)
            return
        self.hop(record, f"{record.channel}.received", record.outcome)
        log.info(
            "message_journaled",
            message_id=row_id,
            route=route,
            channel=heard.channel,
            outcome=heard.outcome,
            reason_code=heard.reason_code,
        )

    def outbound(self, route: str, sent: Sent) -> None:
        """Journal one message sent to a supplier (``adapters.journaling.OUTBOUND``), after
        the call: the write runs beside it and never holds the call up."""
        row_id = uuid.uuid4().hex
        payload, sealed = self._kept(row_id, sent.payload)
        record = MessageRecord(
            id=row_id,
            at=self.clock(),
            direction=OUTBOUND,
            channel=f"supplier.{sent.protocol}",
            route=route,
            sender=sent.target,
            control_id=sent.control_id,
            outcome=sent.outcome,
            reason_code=sent.code,
            reason=sent.operation,
            content_hash=hashlib.sha256(sent.payload).hexdigest(),
            payload=payload,
            sealed=sealed,
        )
        task = asyncio.get_running_loop().create_task(self._keep(record))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _keep(self, record: MessageRecord) -> None:
        try:
            await self.store.record_message(record)
        except Exception as exc:  # the call went on whatever the journal does
            log.warning("message_journal_failed", route=record.route, error_type=type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the outbound rows still being written (at shutdown)."""
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def hop(self, record: MessageRecord, kind: str, outcome: str) -> None:
        """The message as a hop of its journey: found by its journal id and control id."""
        if self.trace is None:
            return
        ids = clean_ids(
            {"message_id": record.id, _CONTROL.get(record.channel, ""): record.control_id}
        )
        self.trace([TraceHop(self.clock(), record.route, kind, outcome, 0.0, ids)])

    def payload(self, record: MessageRecord) -> bytes:
        """The message's bytes; ``NotReplayable`` when only its metadata was kept."""
        if record.payload is None:
            raise NotReplayable(
                "only metadata was journaled (no journal.key_env key and"
                " journal.store_plaintext is false): the message cannot be replayed"
            )
        if not record.sealed:
            return record.payload
        if self.key is None:
            raise NotReplayable("the payload is sealed and no journal key is set")
        try:
            return unseal(self.key, record.id, record.payload)
        except SealBroken as exc:
            raise NotReplayable(str(exc)) from None


#: Which trace id kind a channel's control id is (MSH-10 for HL7 v2, ITK's tracking id).
_CONTROL = {"hl7v2.siu": "msh10", "itk": "itk_tracking_id"}


def attach(
    adapters: Mapping[str, SupplierAdapter],
    store: Store,
    settings: JournalSettings,
    *,
    trace: Submit | None = None,
) -> None:
    """Give every journaling adapter the journal's sink (each generation, on reload too)."""
    if not settings.enabled:
        return
    journal = MessageJournal(store, settings, trace=trace)
    for adapter in adapters.values():
        if isinstance(adapter, JournalingAdapter):
            adapter.journal_to(journal.sink)
