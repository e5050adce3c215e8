"""The BaRS door's hop of the journey trace: the ids one request carried and its outcome."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.bars._message import Message
from gateway.bars.exchange import BarsExchange
from gateway.http.exchange import SETTINGS
from gateway.trace import scope as trace_scope
from gateway.trace.recorder import TRACE
from gateway.trace.scope import TraceExchange
from gateway.trace.settings import recorded

_ETAG = re.compile(r'W/"(\d+)"')


def record(
    request: web.Request, response: web.StreamResponse, ex: BarsExchange, tx: TraceExchange
) -> None:
    """Queue the request's hops (``inbound.bars.<interaction>``, then its supplier calls)."""
    recorder = request.config_dict.get(TRACE)
    if recorder is None or not recorded(request.config_dict[SETTINGS].trace, ex.interaction):
        return
    etag = _ETAG.fullmatch(response.headers.get("ETag", ""))
    outcome = f"{response.status} {ex.outcome}" if ex.outcome else str(response.status)
    hops = tx.inbound(
        "bars",
        f"inbound.bars.{ex.interaction}",
        outcome,
        request_id=ex.request_id,
        correlation_id=ex.correlation_id,
        gateway_request_id=ex.outcome_id,
        appointment_id=ex.appointment_id,
        appointment_version=etag.group(1) if etag else None,
    )
    recorder.submit(hops)


def note_message(message: Message) -> None:
    """A $process-message's own ids on its hop: the MessageHeader id, and the journey id
    (core/BaRS-FHIR-Usage/Journey-ID.page.md: the Encounter's episodeOfCare reference,
    the GUID every system's encounters of one patient journey share)."""
    journey = None
    for encounter in message.resources("Encounter"):
        episodes = encounter.get("episodeOfCare")
        if isinstance(episodes, list) and episodes and isinstance(episodes[0], dict):
            reference = episodes[0].get("reference")
            if isinstance(reference, str):
                journey = reference.removeprefix("EpisodeOfCare/")
                break
    trace_scope.note(bars_message_id=_message_id(message), bars_journey_id=journey)


def _message_id(message: Message) -> str | None:
    """The MessageHeader's id, else its entry's urn:uuid (the published examples give only
    that), else the Bundle's id."""
    header_id = message.header.get("id")
    if isinstance(header_id, str):
        return header_id
    for url, resource in message.entries.items():
        if resource is message.header and url.startswith("urn:uuid:"):
            return url.removeprefix("urn:uuid:")
    bundle_id = message.bundle.get("id")
    return bundle_id if isinstance(bundle_id, str) else None
