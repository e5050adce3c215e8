"""Changing a held appointment over REST (core/Appointment-StandardPattern/):

- ``PUT /Appointment/{id}`` (Update-Existing-Booking, Cancel-Booking): only
  ``status`` and ``reasonCode`` may change; ``status: cancelled`` cancels, ``booked``
  with another reasonCode updates; a changed slot is refused (reschedule instead);
- ``PATCH /Appointment/{id}`` (Reschedule-Existing-Booking): only the slot (and the
  start/end that go with it) may change. The body is an Appointment resource
  (api yaml: requestBodies/AppointmentPatch, schema Appointment) holding the
  elements it sets; those it leaves out keep the version read
  (api/examples/appointment/PATCH-body.json sends only id, meta and status).

Both read before they write (meta.versionId or If-Match, and meta.lastUpdated when
sent) and go through the shared booking service: one version per change, one
history for both doors (docs/spec-choices.md, "BaRS receiver: updates, reschedule").
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from adapters.domain import Coding
from gateway.bars import appointment as bars_appointment
from gateway.bars import render, shown
from gateway.bars.booking import check_slot, held_appointment, not_replayed, once
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BarsExchange
from gateway.bars.requests import (
    Json,
    answer,
    begin,
    body,
    read_version,
    timeout,
    version_headers,
)
from gateway.changes import RescheduleTo
from gateway.store import AppointmentVersion, ReferralVersion

#: What a reschedule may change (besides the server's id/meta/text).
_SLOT_PARTS = ("slot", "start", "end", "minutesDuration")
_SERVER_PARTS = ("id", "meta", "text")


def reason_codes(data: Json) -> tuple[Coding, ...]:
    """Appointment.reasonCode as codes; a concept without a coded value is 400."""
    out: list[Coding] = []
    for i, concept in enumerate(data.get("reasonCode") or []):
        codings = (concept or {}).get("coding") or []
        where = f"Appointment.reasonCode[{i}]"
        if not codings:
            raise bars_appointment.invalid(where, f"{where} needs a coding", "required")
        for coding in codings:
            if not coding.get("system") or not coding.get("code"):
                raise bars_appointment.invalid(
                    f"{where}.coding", f"{where}.coding needs a system and a code", "required"
                )
            out.append(
                Coding(system=coding["system"], code=coding["code"], display=coding.get("display"))
            )
    return tuple(out)


def _differs(sent: Json, held: Json, may_change: tuple[str, ...]) -> list[str]:
    """The top-level elements, other than ``may_change``, that differ (normalised)."""
    keys = (set(sent) | set(held)) - set(may_change)
    a, b = bars_appointment.normal(sent), bars_appointment.normal(held)
    return sorted(k for k in keys if a.get(k) != b.get(k))


def _same_read(data: Json) -> Callable[[AppointmentVersion], None]:
    """Under the appointment's lock: the sent meta.lastUpdated, if any, is the current one."""
    sent = (data.get("meta") or {}).get("lastUpdated")

    def check(current: AppointmentVersion) -> None:
        held = render.appointment(current)["meta"]["lastUpdated"]
        if sent and not bars_appointment.same_instant(sent, held):
            raise RecError(
                Rec.CONFLICT,
                "conflict",
                "meta.lastUpdated is not the current version's; read the appointment again",
                expression="Appointment.meta.lastUpdated",
            )

    return check


async def update_reason(
    request: web.Request,
    ex: BarsExchange,
    current: AppointmentVersion,
    data: Json,
    expected: int,
    linked: list[ReferralVersion],
) -> AppointmentVersion:
    """PUT with ``status: booked``: only reasonCode may differ from the version held
    (``data``'s basedOn already read as held: ``render.as_held``)."""
    ex.interaction = "update"
    held = render.appointment(current, linked)
    if moved := [k for k in _differs(data, held, ()) if k in _SLOT_PARTS]:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            f"an update may not change {', '.join(moved)}: to move the appointment to "
            "another slot, PATCH it (Reschedule-Existing-Booking) or cancel and rebook",
            expression=f"Appointment.{moved[0]}",
        )
    if other := _differs(data, held, ("reasonCode", "status", *_SERVER_PARTS)):
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            f"only status and reasonCode may change; {', '.join(other)} differ from the "
            "current version",
            expression=f"Appointment.{other[0]}",
        )
    work = ex.current.service.update(
        current.appointment_id,
        expected,
        ex.context(timeout(request)),
        _same_read(data),
        reason=reason_codes(data),
        scope=ex.scope,
        client_request_id=ex.request_id,
    )
    version = await once(request, ex, work)
    ex.outcome = "updated"
    return version


async def reschedule(request: web.Request) -> web.Response:
    """PATCH: the elements sent replace the held ones; only the slot (with start/end) may
    change; the new slot is booked and the old one released by the booking service."""
    ex = begin(request, "reschedule")
    sent = await body(request)
    current = await held_appointment(ex, request.match_info["id"])
    await not_replayed(request, ex)
    if sent.get("resourceType") != "Appointment" or sent.get("id") not in (
        None,
        current.appointment_id,
    ):
        raise bars_appointment.invalid(
            "Appointment.id", "the body is an Appointment whose id is the URL's", "invariant"
        )
    linked = await shown.links(ex, current.appointment_id)
    held = render.appointment(current, linked)
    data = {**held, **render.as_held(sent, current.booking, linked)}
    bars_appointment.structural(data)
    if other := _differs(data, held, (*_SLOT_PARTS, *_SERVER_PARTS)):
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            f"a reschedule changes only the slot (with its start and end); {', '.join(other)} "
            "differ from the current version: PUT to update status or reasonCode",
            expression=f"Appointment.{other[0]}",
        )
    expected = read_version(request, sent, current)
    to = RescheduleTo(
        slot_id=bars_appointment.slot_key(data),
        start=bars_appointment.instant(data, "start"),
        end=bars_appointment.instant(data, "end"),
    )
    await check_slot(request, ex, to.slot_id, to.start)
    work = ex.current.service.reschedule(
        current.appointment_id,
        expected,
        ex.context(timeout(request)),
        _same_read(sent),
        slot=to,
        scope=ex.scope,
        client_request_id=ex.request_id,
    )
    version = await once(request, ex, work)
    ex.outcome = "rescheduled"
    return await answer(
        await shown.appointment(ex, version), ex, extra=version_headers(request, version)
    )
