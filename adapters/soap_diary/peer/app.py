"""The SOAP diary peer: a real DiaryService endpoint (SOAP 1.1 and 1.2) over its own diary.

``POST /DiaryService.svc``; the request's Content-Type picks the SOAP version
and the answer uses the same one. Test controls as for the REST peer:
``PUT``/``DELETE /_peer/fault`` and ``GET /_peer/stats`` (bind to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from lxml import etree
from pydantic import ValidationError

from adapters.diary_toolkit.peer.diary import Diary, DiaryError, NewBooking
from adapters.diary_toolkit.peer.faults import FaultSpec, Mode, Switchboard
from adapters.diary_toolkit.peer.seed import local_minute
from adapters.errors import SupplierProtocolError
from adapters.soap_diary import _faults
from adapters.soap_diary._wire import (
    body_child,
    child,
    envelope,
    need,
    parse,
    q,
    required,
    sub,
    text,
    texts,
)
from adapters.soap_diary.peer import vocabulary as v
from adapters.soap_diary.peer.hostile import HOSTILE, Answer, Rewrite
from adapters.soap_toolkit import envelope as soap

OPERATIONS = {
    "GetAvailableSlots": "search",
    "BookAppointment": "book",
    "GetAppointment": "get",
    "CancelAppointment": "cancel",
    "Ping": "ping",
}


@dataclass
class SoapPeerState:
    diary: Diary
    #: "user:password" for HTTP Basic, or None for no authentication.
    basic: str | None = None
    faults: Switchboard = field(default_factory=Switchboard)
    stats: Counter[str] = field(default_factory=Counter)
    #: A hostile peer (``hostile.py``): rewrites each genuine answer before it is sent.
    rewrite: Rewrite | None = None


STATE = web.AppKey("soap_diary_peer", SoapPeerState)


class _Fault(Exception):
    def __init__(self, code: str, reason: str, sender: bool = True) -> None:
        super().__init__(reason)
        self.code, self.reason, self.sender = code, reason, sender


def _version(request: web.Request) -> soap.SoapVersion | None:
    kind = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if kind == "text/xml" and "SOAPAction" in request.headers:
        return soap.SoapVersion.V11
    if kind == "application/soap+xml":
        return soap.SoapVersion.V12
    return None


def _xml(version: soap.SoapVersion, body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=body, status=status, headers={"Content-Type": f"{version.media_type}; charset=utf-8"}
    )


def _fault(version: soap.SoapVersion, fault: _Fault) -> web.Response:
    status = 400 if fault.sender and version is soap.SoapVersion.V12 else 500
    return _xml(version, _faults.fault(version, fault.sender, fault.reason, fault.code), status)


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


async def endpoint(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    version = _version(request)
    if version is None:
        return web.Response(status=415, text="send SOAP 1.1 (text/xml + SOAPAction) or 1.2")
    try:
        root = parse(await request.read(), max_bytes=1_000_000, source="soap-peer")
        payload = body_child(root, version)
    except SupplierProtocolError as exc:
        return _fault(version, _Fault("VALIDATION_FAILED", str(exc)))
    name = etree.QName(payload).localname
    operation = OPERATIONS.get(name)
    if operation is None or etree.QName(payload).namespace != etree.QName(q("x")).namespace:
        return _fault(version, _Fault("VALIDATION_FAILED", f"unknown operation {name}"))
    state.stats[operation] += 1
    spec = state.faults.take(operation)
    if spec is not None:
        early = await _misbehave(request, version, spec, operation)
        if early is not None:
            return early
    if state.basic is not None and not _basic_ok(request, state.basic):
        return _fault(version, _Fault("NOT_AUTHORISED", "credentials refused"))
    try:
        answer = await _HANDLERS[name](state.diary, payload)
    except _Fault as fault:
        return _fault(version, fault)
    except DiaryError as exc:
        return _fault(version, _Fault(v.FAULT_CODES.get(exc.code, exc.code), exc.message))
    except (ValueError, KeyError, ValidationError, SupplierProtocolError):
        return _fault(version, _Fault("VALIDATION_FAILED", "the request is not valid"))
    if spec is not None and spec.mode is Mode.LOST_RESPONSE:
        return _drop(request)
    return _answer(state, operation, version, answer)


def _answer(
    state: SoapPeerState, operation: str, version: soap.SoapVersion, answer: etree._Element
) -> web.Response:
    body = envelope(version, answer)
    if state.rewrite is None:
        return _xml(version, body)
    genuine = Answer(200, f"{version.media_type}; charset=utf-8", body)
    changed = state.rewrite(operation, genuine)
    return web.Response(
        body=changed.body, status=changed.status, headers={"Content-Type": changed.content_type}
    )


async def _misbehave(
    request: web.Request, version: soap.SoapVersion, spec: FaultSpec, operation: str
) -> web.StreamResponse | None:
    if spec.mode is Mode.SLOW:
        await asyncio.sleep(spec.delay_s)
        return None
    if spec.mode is Mode.DOWN:
        return _drop(request)
    if spec.mode is Mode.SERVER_ERROR:
        return web.Response(status=503, text="Service Unavailable", content_type="text/html")
    if spec.mode is Mode.MALFORMED:
        return _xml(version, b"<?xml version='1.0'?><soap:Envelope xmlns:soap='x'><soap:Bo")
    if spec.mode is Mode.FAULT:
        return _fault(version, _Fault(spec.code, "refused by an injected fault"))
    if spec.mode is Mode.SLOT_TAKEN and operation == "book":
        return _fault(version, _Fault("SLOT_TAKEN", "the slot is not available"))
    if spec.mode in HOSTILE:
        return _xml(version, HOSTILE[spec.mode](version))
    return None


def _basic_ok(request: web.Request, expected: str) -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    try:
        given = base64.b64decode(value, validate=True).decode()
    except ValueError:
        return False
    return scheme.lower() == "basic" and hmac.compare_digest(given, expected)


# -- operations --------------------------------------------------------------------


async def _slots(diary: Diary, req: etree._Element) -> etree._Element:
    code = required(req, "ServicePointCode")
    if code not in diary.clinics:
        raise _Fault("SERVICE_POINT_NOT_FOUND", "no such service point")
    states = [v.ENGINE_STATES[s] for s in texts(need(req, "States"), "State")] or ["AVAILABLE"]
    start = (text(req, "FromLocal") or local_minute(datetime.now(UTC).astimezone(diary.zone)))[:16]
    end = text(req, "ToLocal")
    rows = await diary.slots(code, states, start, end[:16] if end else None, 0, 5000)
    out = etree.Element(q("GetAvailableSlotsResponse"))
    _service_point(sub(out, "ServicePoint"), diary.clinic_json(code))
    slots = sub(out, "Slots")
    for row in rows:
        _slot(sub(slots, "Slot"), row)
    return out


async def _book(diary: Diary, req: etree._Element) -> etree._Element:
    start = datetime.fromisoformat(required(req, "StartLocal"))
    end = datetime.fromisoformat(required(req, "EndLocal"))
    doc = child(req, "Document")
    new = NewBooking(
        idem_key=required(req, "BookingReference"),
        slot_id=required(req, "SlotId"),
        start_local=local_minute(start),
        minutes=int((end - start).total_seconds() // 60),
        reason=required(req, "Reason"),
        patient=etree.tostring(need(req, "Patient"), encoding="unicode"),
        document=None if doc is None else dict(doc.attrib),
        referral_ref=text(req, "ReferralId"),
        booked_by=text(req, "BookedBy"),
    )
    appt, fresh = await diary.book(new, datetime.now(UTC))
    out = etree.Element(q("BookAppointmentResponse"))
    _appointment(sub(out, "Appointment"), appt)
    sub(out, "Replayed", "false" if fresh else "true")
    return out


async def _get(diary: Diary, req: etree._Element) -> etree._Element:
    appt = await diary.appointment(_engine_ref(req))
    if appt is None:
        raise _Fault("APPOINTMENT_NOT_FOUND", "no such appointment")
    out = etree.Element(q("GetAppointmentResponse"))
    _appointment(sub(out, "Appointment"), appt)
    return out


async def _cancel(diary: Diary, req: etree._Element) -> etree._Element:
    appt = await diary.cancel(_engine_ref(req), datetime.now(UTC))
    out = etree.Element(q("CancelAppointmentResponse"))
    _appointment(sub(out, "Appointment"), appt)
    return out


async def _ping(diary: Diary, req: etree._Element) -> etree._Element:
    out = etree.Element(q("PingResponse"))
    sub(out, "Status", "OK")
    return out


_HANDLERS = {
    "GetAvailableSlots": _slots,
    "BookAppointment": _book,
    "GetAppointment": _get,
    "CancelAppointment": _cancel,
    "Ping": _ping,
}


def _engine_ref(req: etree._Element) -> str:
    value = required(req, "AppointmentId")
    if not value.isdigit() or len(value) > 18:
        raise _Fault("APPOINTMENT_NOT_FOUND", "no such appointment")
    return v.engine_ref(value)


# -- rendering ---------------------------------------------------------------------


def _service_point(el: etree._Element, clinic: dict[str, Any]) -> None:
    sub(el, "Code", clinic["clinicCode"])
    sub(el, "Name", clinic["name"])
    site = sub(el, "Site")
    sub(site, "Code", clinic["site"]["siteCode"])
    sub(site, "Name", clinic["site"]["name"])
    for line in clinic["site"]["addressLines"]:
        sub(site, "AddressLine", line)
    sub(site, "Town", clinic["site"]["town"])
    sub(site, "Postcode", clinic["site"]["postcode"])


def _slot(el: etree._Element, row: dict[str, Any]) -> None:
    start = datetime.fromisoformat(row["startLocal"])
    end = start + timedelta(minutes=row["durationMins"])
    who = row["clinician"]
    sub(el, "SlotId", row["apptSlotId"])
    sub(el, "StartLocal", start.strftime("%Y-%m-%dT%H:%M:%S"))
    sub(el, "EndLocal", end.strftime("%Y-%m-%dT%H:%M:%S"))
    sub(el, "Mode", v.MODES[row["channel"]])
    sub(el, "State", v.STATES[row["state"]])
    c = sub(el, "Clinician")
    sub(c, "Code", who["staffCode"])
    sub(c, "Title", who["title"])
    sub(c, "Forename", who["forename"])
    sub(c, "Surname", who["surname"])
    sub(c, "GradeCode", v.GRADES[who["grade"]])
    sub(c, "Sex", v.SEXES[who["sex"]])
    sub(c, "SdsUserId", who["sdsUserId"])


def _appointment(el: etree._Element, appt: dict[str, Any]) -> None:
    sub(el, "AppointmentId", v.appointment_id(appt["appointmentRef"]))
    sub(el, "Status", v.STATUSES[appt["status"]])
    sub(el, "ServicePointCode", appt["slot"]["clinicCode"])
    _slot(sub(el, "Slot"), appt["slot"])
    sub(el, "Reason", appt["reason"])
    if appt["referralRef"] is not None:
        sub(el, "ReferralId", appt["referralRef"])
    # The patient was stored as this diary received it; it is our own trusted XML.
    el.append(etree.fromstring(appt["patient"]))
    if appt["document"]:
        sub(el, "Document", **{k: val for k, val in appt["document"].items() if val is not None})
    sub(el, "CreatedUtc", appt["createdUtc"])


# -- controls ----------------------------------------------------------------------


async def set_fault(request: web.Request) -> web.Response:
    try:
        spec = FaultSpec.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[STATE].faults.set(spec)
    return web.json_response({"fault": spec.model_dump(mode="json")})


async def clear_fault(request: web.Request) -> web.Response:
    request.app[STATE].faults.set(None)
    return web.json_response({"fault": None})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    count = await state.diary.count_appointments()
    return web.json_response({"requests": dict(state.stats), "appointments": count})


def build_app(state: SoapPeerState) -> web.Application:
    app = web.Application(client_max_size=1_000_000)
    app[STATE] = state
    app.router.add_post("/DiaryService.svc", endpoint)
    app.router.add_put("/_peer/fault", set_fault)
    app.router.add_delete("/_peer/fault", clear_fault)
    app.router.add_get("/_peer/stats", stats)
    return app
