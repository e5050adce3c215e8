"""Per-request state of the BaRS door (for handlers, the log line and the audit row)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from adapters.domain import CallContext
from gateway.bars.headers import Identity
from gateway.bars.targets import Targets
from gateway.config import BarsSettings
from gateway.doors import DoorExchange
from gateway.service import idempotency_key

BARS = web.AppKey("bars_settings", BarsSettings)
TARGETS = web.AppKey("bars_targets", Targets)


@dataclass
class BarsExchange(DoorExchange):
    """What one BaRS request was, who sent it, for which service, and how it ended."""

    outcome_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str | None = None
    correlation_id: str | None = None
    identity: Identity = field(default_factory=Identity)

    @property
    def ods(self) -> str | None:
        org = self.identity.organisation
        return org.ods_code if org else None

    @property
    def scope(self) -> str:
        """Whose X-Request-Ids these are: the sending organisation's, within this door."""
        return f"bars:ods:{self.ods}" if self.ods else "bars:anonymous"

    def context(self, timeout_s: float) -> CallContext:
        key = self.request_id or self.outcome_id
        return CallContext(
            request_id=idempotency_key(self.scope, key),
            correlation_id=self.request_id,
            trace_id=self.correlation_id,
            deadline=time.monotonic() + timeout_s,
            organisation=self.identity.organisation,
            device=self.identity.device,
            practitioner=self.identity.practitioner,
        )


EXCHANGE = web.RequestKey("bars_exchange", BarsExchange)


def exchange(request: web.Request) -> BarsExchange:
    found = request.get(EXCHANGE)
    if found is None:
        found = request[EXCHANGE] = BarsExchange()
    return found
