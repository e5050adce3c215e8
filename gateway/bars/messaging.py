"""``$process-message``: the MessageHeader's event code -> its handler.

Kept to the table: each event's work lives in its own module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BarsExchange
from gateway.bars.messaging_referral import handle_servicerequest

Json = dict[str, Any]
Answer = tuple[Json, int, dict[str, str]]
Handler = Callable[[web.Request, BarsExchange, Json], Awaitable[Answer]]

#: BARS-message-events: the events this receiver takes.
HANDLERS: dict[str, Handler] = {
    "servicerequest-request": handle_servicerequest,
}


def _event(bundle: Json) -> str:
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    first = (entries[0] or {}).get("resource") if isinstance(entries, list) and entries else None
    if not isinstance(first, dict) or first.get("resourceType") != "MessageHeader":
        raise RecError(
            Rec.BAD_REQUEST,
            "required",
            "the first entry of the message Bundle must be its MessageHeader",
            expression="Bundle.entry[0]",
        )
    return str((first.get("eventCoding") or {}).get("code") or "")


async def dispatch(request: web.Request, ex: BarsExchange, bundle: Json) -> Answer:
    event = _event(bundle)
    handler = HANDLERS.get(event)
    if handler is None:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "not-supported",
            f"MessageHeader.eventCoding '{event[:40]}' is not an event this receiver takes",
            expression="MessageHeader.eventCoding",
        )
    return await handler(request, ex, bundle)
