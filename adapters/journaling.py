"""Legacy messages an adapter hears, told to the gateway's message journal, and replayed.

The seam is small and speaks our own types: an adapter that receives messages from its
supplier (HL7 v2 SIU, ...) offers ``journal_to(sink)``; the gateway gives it a sink that
journals each ``Heard`` message (``gateway/msgjournal``). The adapter never learns how
the journal is kept. ``replay(payload)`` processes a journaled message again through
the adapter's current mapping and says what became of it, without telling the sink
(the gateway records the replay's outcome on the journaled row). An adapter module may
also offer ``evaluate(payload, options, base_dir)``: what a message would become under
those options, with no I/O at all (shadow replay, ``uec-gateway replay --shadow``).

No patient data in ``reason``: it names mapping codes and tables, never values read
from the message's patient segments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

APPLIED, REJECTED, FAILED, DUPLICATE = "applied", "rejected", "failed", "duplicate"


@dataclass(frozen=True, slots=True)
class Heard:
    """One message received from the supplier and what became of it."""

    channel: str
    sender: str
    control_id: str
    content_hash: str
    payload: bytes
    outcome: str
    reason_code: str = ""
    reason: str = ""


#: ``sink(adapter_name, heard)``: journals one message; it must not raise.
MessageSink = Callable[[str, Heard], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a message becomes under one configuration: an outcome and the mapped fields.

    ``fields`` hold mapped codes and ids only (statuses, schedule, service, channel,
    times, identifier systems), never a patient's values.
    """

    outcome: str
    reason_code: str = ""
    reason: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


#: ``evaluate(payload, options, base_dir)`` of an adapter module (no I/O).
Evaluator = Callable[[bytes, Mapping[str, Any], Path], Evaluation]


@runtime_checkable
class JournalingAdapter(Protocol):
    """An adapter whose inbound messages are journaled and can be replayed."""

    def journal_to(self, sink: MessageSink) -> None:
        """Register the one sink told of every message received."""
        ...

    async def replay(self, payload: bytes) -> Heard:
        """Process a journaled message again now (its changes reported as usual)."""
        ...


#: What became of a message sent to a supplier: answered (``status`` its code) or not.
SENT = "sent"


@dataclass(frozen=True, slots=True)
class Sent:
    """One request sent to a supplier, as the journal keeps it (ids and codes only outside
    ``payload``, which the gateway seals)."""

    #: The protocol (``http``, ``mllp``); the channel is ``supplier.<protocol>``.
    protocol: str
    operation: str
    #: host:port only: a path or query may hold ids.
    target: str
    #: The request id it was sent under (X-Request-ID, MSH-10).
    control_id: str
    payload: bytes
    #: ``sent`` (answered), ``rejected`` (answered with an error) or ``failed`` (no answer).
    outcome: str
    #: The HTTP status or ACK code, or the error class when there was no answer.
    code: str


#: ``sink(adapter_name, sent)``: journals one outbound message; must not raise or block.
OutboundSink = Callable[[str, Sent], None]

#: The journal serving the current task (bound by the gateway at start-up; none: no journal).
OUTBOUND: ContextVar[OutboundSink | None] = ContextVar("uec_outbound_journal", default=None)


def sent(adapter: str, message: Sent) -> None:
    """Tell the journal, if one is bound, of one message sent to a supplier."""
    sink = OUTBOUND.get()
    if sink is not None:
        sink(adapter, message)
