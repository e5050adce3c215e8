"""Per-request state shared by the middleware and the handlers, and typed app keys."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from adapters.domain import CallContext
from gateway.audit import AuditTrail
from gateway.config import Settings
from gateway.doors import DoorExchange
from gateway.fhir.slot_pages import SlotPages
from gateway.runtime import Runtime
from gateway.security import KeyRing
from gateway.security.jwt import Claims
from gateway.service import idempotency_key
from gateway.store import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
KEYS = web.AppKey("keys", KeyRing)
RUNTIME = web.AppKey("runtime", Runtime)
VERSION = web.AppKey("version", str)
AUDIT = web.AppKey("audit", AuditTrail)
SLOT_PAGES = web.AppKey("slot_pages", SlotPages)


@dataclass
class Exchange(DoorExchange):
    """What one request was, who made it and how it ended (for the log and audit)."""

    server_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_request_id: str | None = None
    trace_id: str | None = None
    consumer_asid: str | None = None
    claims: Claims | None = None

    @property
    def scope(self) -> str:
        """Whose X-Request-IDs these are: the consumer ASID, else its ODS code."""
        if self.consumer_asid:
            return f"asid:{self.consumer_asid}"
        if self.claims is not None:
            return f"ods:{self.claims.organisation.ods_code}"
        return "anonymous"

    def context(self, timeout_s: float) -> CallContext:
        claims = self.claims
        key = self.client_request_id or self.server_request_id
        return CallContext(
            request_id=idempotency_key(self.scope, key),
            correlation_id=self.client_request_id,
            trace_id=self.trace_id,
            deadline=time.monotonic() + timeout_s,
            consumer_asid=self.consumer_asid,
            organisation=claims.organisation if claims else None,
            device=claims.device if claims else None,
            practitioner=claims.practitioner if claims else None,
        )


EXCHANGE = web.RequestKey("exchange", Exchange)


def exchange(request: web.Request) -> Exchange:
    found = request.get(EXCHANGE)
    if found is None:
        found = request[EXCHANGE] = Exchange()
    return found
