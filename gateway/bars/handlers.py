"""The BaRS provider surface: every interaction the door serves, in ``INTERACTIONS``.

Every handler first checks the headers (``requests.begin``): the transaction ids,
the Accept version, the target service and the sender's identity. The handlers
live in one small module per kind of interaction (``metadata``, ``slots``,
``appointments``, ``messaging``, ``referrals``); the booking service, router,
ledger and adapters are the STU3 door's, so an appointment booked at either door
is one appointment with one version history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.bars import amend, appointments, referrals, slots
from gateway.bars.exchange import exchange
from gateway.bars.messaging import list_definitions, process_message
from gateway.bars.metadata import metadata


async def _unmatched(request: web.Request) -> web.Response:
    """A path or method this door does not serve: 405 if the path is served, else 404."""
    exchange(request).interaction = "unknown"
    for resource in request.app.router.resources():
        if any(route.handler is _unmatched for route in resource):
            continue
        _, allowed = await resource.resolve(request)
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


@dataclass(frozen=True, slots=True)
class InteractionRoute:
    name: str
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


#: Every interaction the door serves.
INTERACTIONS: tuple[InteractionRoute, ...] = (
    InteractionRoute("metadata", "GET", "/metadata", metadata),
    InteractionRoute("slot_search", "GET", "/Slot", slots.search_slots),
    InteractionRoute("book", "POST", "/Appointment", appointments.book),
    InteractionRoute("search_appointments", "GET", "/Appointment", appointments.search),
    InteractionRoute("read", "GET", "/Appointment/{id}", appointments.read),
    InteractionRoute("update", "PUT", "/Appointment/{id}", appointments.update),
    InteractionRoute("reschedule", "PATCH", "/Appointment/{id}", amend.reschedule),
    InteractionRoute("process_message", "POST", "/$process-message", process_message),
    InteractionRoute("message_definitions", "GET", "/MessageDefinition", list_definitions),
    InteractionRoute("search_referrals", "GET", "/ServiceRequest", referrals.search_referrals),
    InteractionRoute("read_referral", "GET", "/ServiceRequest/{id}", referrals.read_referral),
)


def add_routes(app: web.Application) -> None:
    for row in INTERACTIONS:
        app.router.add_route(row.method, row.path, row.handler)
    app.router.add_route("*", "/{tail:.*}", _unmatched)
