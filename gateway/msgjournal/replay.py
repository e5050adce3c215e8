"""``POST /admin/replay``: journaled inbound messages processed again, idempotently.

Body ``{"ids": ["<journal id>", ...]}`` (admin token, as ``/admin/reload``). Each
message is handed to its route's adapter in the *current* generation, so a mapping
fixed and reloaded applies. A message already applied (or a duplicate of one) is
not handed over at all; one handed over that the adapter has accepted meanwhile is
answered from the adapter's inbound journal, and the gateway's service records no
second version of an identical change: replay is a no-op for what is applied. The
journal row records the replay's outcome. Results carry ids and codes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from adapters.errors import AdapterError
from adapters.journaling import JournalingAdapter
from gateway import journeys
from gateway.http.exchange import RUNTIME, SETTINGS, STORE
from gateway.msgjournal.sink import MessageJournal, NotReplayable
from gateway.runtime import Generation
from gateway.store.messages import APPLIED, DUPLICATE, INBOUND
from gateway.trace.recorder import TRACE

log = structlog.get_logger(__name__)
MAX_IDS = 1000


@dataclass(frozen=True, slots=True)
class Replayed:
    id: str
    #: ``replayed`` (handed to the adapter), ``no-op`` (already applied) or ``error``.
    result: str
    before: str = ""
    after: str = ""
    reason_code: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "result": self.result,
            "before": self.before,
            "after": self.after,
            "reason_code": self.reason_code,
            "reason": self.reason,
        }


async def replay_one(journal: MessageJournal, generation: Generation, row_id: str) -> Replayed:
    record = await journal.store.message(row_id)
    if record is None or record.direction != INBOUND:
        return Replayed(row_id, "error", reason="no inbound message journaled under this id")
    if record.outcome in (APPLIED, DUPLICATE):
        return Replayed(row_id, "no-op", record.outcome, record.outcome, reason="already applied")
    adapter = generation.adapters.get(record.route)
    if not isinstance(adapter, JournalingAdapter):
        reason = f"route '{record.route}' has no adapter that replays messages"
        return Replayed(row_id, "error", record.outcome, record.outcome, reason=reason)
    try:
        heard = await adapter.replay(journal.payload(record))
    except NotReplayable as exc:
        return Replayed(row_id, "error", record.outcome, record.outcome, reason=str(exc))
    except AdapterError as exc:
        return Replayed(row_id, "error", record.outcome, record.outcome, reason=exc.message)
    await journal.store.settle_message(
        row_id, heard.outcome, heard.reason_code, heard.reason, journal.clock()
    )
    journal.hop(record, f"{record.channel}.replayed", heard.outcome)
    log.info("message_replayed", message_id=row_id, before=record.outcome, after=heard.outcome)
    return Replayed(
        row_id, "replayed", record.outcome, heard.outcome, heard.reason_code, heard.reason
    )


def _ids(body: Any) -> list[str] | None:
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
        return None
    if not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids):
        return None
    return list(dict.fromkeys(ids))


async def admin_replay(request: web.Request) -> web.Response:
    """POST /admin/replay: replay journaled inbound messages by id (token required)."""
    if not journeys.authorised(request):
        return web.json_response({"error": "admin token required"}, status=403)
    try:
        ids = _ids(await request.json())
    except ValueError:
        ids = None
    if ids is None:
        reason = f'the body must be {{"ids": [...]}}: 1 to {MAX_IDS} journal ids'
        return web.json_response({"error": reason}, status=400)
    journal = MessageJournal(
        request.app[STORE], request.app[SETTINGS].journal, trace=request.app[TRACE].submit
    )
    async with request.app[RUNTIME].use() as generation:
        results = [await replay_one(journal, generation, i) for i in ids]
    return web.json_response(
        {"results": [r.as_dict() for r in results]}, headers={"Cache-Control": "no-store"}
    )
