"""What every front door (the STU3 Booking API, the BaRS receiver) shares, in one place.

Each door keeps its own error table and identity; the per-request record, the
translation of aiohttp's own HTTP errors into words, header ids kept as sent,
and masking for the audit row are the same in both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from gateway.fhir.formats import WireFormat
from gateway.logs import mask_identifiers
from gateway.runtime import Generation
from gateway.store import ReferralVersion


@dataclass
class DoorExchange:
    """What one request was and how it ended, as each door's log line and audit row need."""

    started: float = field(default_factory=time.perf_counter)
    interaction: str = "unknown"
    fmt: WireFormat = WireFormat.JSON
    appointment_id: str | None = None
    outcome: str | None = None
    generation: Generation | None = None
    service_id: str | None = None
    slot_count: int | None = None

    @property
    def current(self) -> Generation:
        """The routes and adapters this request uses from start to end."""
        if self.generation is None:
            raise RuntimeError("no generation bound to this request")
        return self.generation

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


async def linked_referrals(ex: DoorExchange, appointment_id: str) -> list[ReferralVersion]:
    """The current versions of the referrals linked to ``appointment_id`` (either order)."""
    return await ex.current.service.referrals.for_appointment(appointment_id)


def http_error_text(exc: web.HTTPException, request: web.Request) -> str:
    """What aiohttp's own 404/405/413… means, in words a sender can act on."""
    if exc.status == 404:
        return f"no such resource or endpoint: {request.method} {request.path}"
    if exc.status == 405:
        return f"{request.method} is not supported on {request.path}"
    return exc.reason


def header_id(value: str | None) -> str | None:
    """A header kept as an id: a byte that is not UTF-8 (a lone surrogate once aiohttp has
    decoded it) is written as its escape, so the id can be stored, logged and echoed."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if value else None


def masked(text: str | None) -> str | None:
    """What a sender sent, kept as sent, but never an NHS number or a token inside it."""
    return mask_identifiers(text) if text else text
