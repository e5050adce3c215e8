"""What a receiver says it takes, read through the proxy and trusted for a while.

Core-Functionality-Requirements/Booking-Sender: a sender reads the receiver's
CapabilityStatement (``GET /metadata``, its ``messaging.supportedMessage``) and
MessageDefinitions (``GET /MessageDefinition``) to know whether it books by
``$process-message`` or by ``POST /Appointment``; the answer is cached for at most
``capability_cache_s`` (0: read every time). A receiver that cannot say is booked by
the REST pattern, which every BaRS booking receiver offers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from adapters.bars._errors import Op
from adapters.bars._resources_in import Json, dicts
from adapters.bars._targets import TargetEntry
from adapters.bars._wire import AnswerLost, Call, Wire
from adapters.domain import CallContext


@dataclass
class Capabilities:
    cache_s: float
    _held: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def messages(self, entry: TargetEntry, ctx: CallContext, wire: Wire) -> frozenset[str]:
        """The MessageDefinition URLs the receiver takes (as a receiver)."""
        held = self._held.get(entry.endpoint)
        if held is not None and time.monotonic() - held[0] < self.cache_s:
            return held[1]
        found = await self._read(entry, ctx, wire)
        self._held[entry.endpoint] = (time.monotonic(), found)
        return found

    async def _read(self, entry: TargetEntry, ctx: CallContext, wire: Wire) -> frozenset[str]:
        key = str(uuid.uuid4())
        out: set[str] = set()
        for path in ("/metadata", "/MessageDefinition"):
            call = Call(Op.METADATA, "GET", path, entry.target, ctx, (), None, f"{path}|{key}")
            try:
                reply = await wire.send(call)
            except AnswerLost:
                continue
            if reply.status == 200 and isinstance(reply.body, dict):
                out |= _declared(reply.body)
        return frozenset(out)


def _declared(body: Json) -> set[str]:
    found: set[str] = set()
    if body.get("resourceType") == "CapabilityStatement":
        for messaging in dicts(body.get("messaging")):
            for message in dicts(messaging.get("supportedMessage")):
                if message.get("mode") == "receiver" and isinstance(message.get("definition"), str):
                    found.add(message["definition"])
    elif body.get("resourceType") == "Bundle":
        for item in dicts(body.get("entry")):
            resource = item.get("resource") or {}
            if resource.get("resourceType") == "MessageDefinition" and isinstance(
                resource.get("url"), str
            ):
                found.add(resource["url"])
    return found
