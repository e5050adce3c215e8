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
