"""What every part of the adapter shares: the PAS connection, the header, tables, journal.

``Budget`` is one call's time at the PAS: the adapter's ``time_budget_s``,
never more than 90% of what the caller's deadline leaves (issue: a time budget
shorter than the consumer's), so the adapter reports first and precisely.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from adapters import errors, journaling
from adapters.domain import CallContext, utcnow
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Message, Segment
from adapters.hl7_toolkit.header import Header, msh, read_ack
from adapters.hl7_toolkit.mllp_client import AckTimeout, MllpClient
from adapters.hl7_toolkit.values import short_id
from adapters.hl7v2._edge import refusal
from adapters.hl7v2._journal import Journal
from adapters.hl7v2._options import Hl7v2Options
from adapters.hl7v2.mapping import Mappings


@dataclass(frozen=True, slots=True)
class Budget:
    deadline: float

    @classmethod
    def of(cls, seconds: float, ctx: CallContext | None = None) -> Budget:
        left = ctx.remaining() if ctx is not None else None
        if left is not None:
            seconds = min(seconds, left * 0.9)
        return cls(asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.deadline - asyncio.get_running_loop().time())


@dataclass
class Link:
    name: str
    options: Hl7v2Options
    mappings: Mappings
    journal: Journal
    client: MllpClient
    header: Header

    def msh(
        self,
        code: str,
        trigger: str,
        structure: str,
        control_id: str | None = None,
        now: datetime | None = None,
    ) -> Segment:
        control = control_id or short_id(uuid.uuid4().hex)
        return msh(self.header, code, trigger, structure, control, now or utcnow())

    async def exchange(self, message: Message, budget: Budget) -> Message:
        """Send ``message``; wait for its answer at most ``ack_timeout_s`` and the budget."""
        wait = min(self.options.ack_timeout_s, budget.remaining())
        if wait <= 0:
            raise AckTimeout("the time budget is spent")
        payload = message.to_er7().encode("utf-8")
        try:
            answer = await self.client.exchange(payload, message.control_id, wait)
        except Exception as exc:
            self._journal(message, payload, journaling.FAILED, type(exc).__name__)
            raise
        code = _ack_code(answer)
        outcome = journaling.SENT if code in ("AA", "CA") else journaling.REJECTED
        self._journal(message, payload, outcome, code)
        return answer

    def _journal(self, message: Message, payload: bytes, outcome: str, code: str) -> None:
        """What was sent to the PAS, once its fate is known (adapters/journaling.py)."""
        kind = "^".join(part for part in message.message_type[:2] if part)
        target = f"{self.client.host}:{self.client.port}"
        sent = journaling.Sent("mllp", kind, target, message.control_id, payload, outcome, code)
        journaling.sent(self.name, sent)

    async def lookup(self, placer_id: str, filler_id: str, budget: Budget) -> sched.Booked | None:
        """The PAS's appointment under these ids (``SQM^S25`` APPT), or None if it has none."""
        control = short_id(uuid.uuid4().hex)
        now = utcnow()
        message = sched.appointment_query(
            self.msh("SQM", "S25", "SQM_S25", control, now),
            control,
            placer_id,
            filler_id,
            now,
            self.header.zone,
        )
        answer = await self.exchange(message, budget)
        ack = read_ack(answer)
        if not ack.accepted:
            error = refusal("lookup", ack, self.mappings)
            if isinstance(error, errors.BookingNotFound):
                return None
            raise error
        found = sched.groups(answer)
        return sched.read_group(found[0], self.header.zone) if found else None


def _ack_code(answer: Message) -> str:
    try:
        return read_ack(answer).code or "?"
    except ValueError:
        return "no MSA"
