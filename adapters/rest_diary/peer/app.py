"""The REST diary peer's HTTP surface: Diary API v2, its token endpoint and test controls.

A real aiohttp server speaking the supplier's API (documented in
``adapters/rest_diary/adapter.py``), for tests, demos and integrators. The
``/_peer/*`` control routes set faults and report counts; bind the peer to
127.0.0.1, they are unauthenticated on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from adapters.diary_toolkit.peer.diary import Diary, DiaryError, NewBooking
from adapters.diary_toolkit.peer.faults import FaultSpec, Mode, Switchboard
from adapters.diary_toolkit.peer.seed import local_minute


@dataclass(frozen=True)
class PeerAuth:
    """``none``, ``api_key`` (header ``X-Api-Key``) or ``oauth2`` (client credentials)."""

    kind: str = "none"
    api_key: str | None = None
    client_id: str = "gateway"
    client_secret: str | None = None
    token_ttl_s: float = 300.0


@dataclass
class PeerState:
    diary: Diary
    auth: PeerAuth
    faults: Switchboard = field(default_factory=Switchboard)
    tokens: dict[str, float] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)


STATE = web.AppKey("rest_diary_peer", PeerState)
#: Set on a request whose work must be done but whose answer must be lost.
LOSE_ANSWER = web.RequestKey("lose_answer", bool)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "message": message}, status=status)


async def misbehave(request: web.Request, operation: str) -> web.StreamResponse | None:
    """The injected fault's answer for this request, or None to carry on normally."""
    state = request.app[STATE]
    state.stats[operation] += 1
    spec = state.faults.take(operation)
    if spec is None:
        return None
    if spec.mode is Mode.LOST_RESPONSE:
        request[LOSE_ANSWER] = True
        return None
    if spec.mode is Mode.SLOW:
        await asyncio.sleep(spec.delay_s)
        return None
    if spec.mode is Mode.DOWN:
        return drop(request)
    if spec.mode is Mode.SERVER_ERROR:
        return error(503, "SERVICE_UNAVAILABLE", "the diary is unavailable")
    if spec.mode is Mode.MALFORMED:
        return web.Response(body=b'{"items": [{"apptSlotId": ', content_type="application/json")
    if spec.mode is Mode.FAULT:
        return error(422, spec.code, "refused by an injected fault")
    if spec.mode is Mode.SLOT_TAKEN and operation == "book":
        return error(409, "SLOT_TAKEN", "the slot is not available")
    return None


def drop(request: web.Request) -> web.Response:
    """Close the connection without an answer (the client sees a hang-up)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def lose_answer(request: web.Request) -> bool:
    """Whether a ``lost-response`` fault wants this finished work's answer dropped."""
    return bool(request.get(LOSE_ANSWER, False))


def authorised(request: web.Request) -> bool:
    state = request.app[STATE]
    auth = state.auth
    if auth.kind == "none":
        return True
    if auth.kind == "api_key":
        given = request.headers.get("X-Api-Key", "")
        return bool(auth.api_key) and hmac.compare_digest(given, auth.api_key or "")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expires = state.tokens.get(token) if scheme.lower() == "bearer" else None
    return expires is not None and time.monotonic() < expires


async def token(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if (fault := await misbehave(request, "token")) is not None:
        return fault
    form = await request.post()
    if form.get("grant_type") != "client_credentials":
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    if not _basic_ok(request.headers.get("Authorization", ""), state.auth):
        return web.json_response({"error": "invalid_client"}, status=401)
    issued = secrets.token_urlsafe(24)
    state.tokens[issued] = time.monotonic() + state.auth.token_ttl_s
    return web.json_response(
        {"access_token": issued, "token_type": "Bearer", "expires_in": state.auth.token_ttl_s}
    )


def _basic_ok(header: str, auth: PeerAuth) -> bool:
    scheme, _, value = header.partition(" ")
    try:
        pair = base64.b64decode(value, validate=True).decode()
    except ValueError:
        return False
    client, _, secret = pair.partition(":")
    expected = f"{auth.client_id}:{auth.client_secret or ''}"
    return (
        scheme.lower() == "basic"
        and bool(auth.client_secret)
        and hmac.compare_digest(f"{client}:{secret}", expected)
    )


async def ping(request: web.Request) -> web.StreamResponse:
    if (fault := await misbehave(request, "ping")) is not None:
        return fault
    return web.json_response({"status": "ok", "api": "diary/v2"})


async def slots(request: web.Request) -> web.StreamResponse:
    if (fault := await misbehave(request, "search")) is not None:
        return fault
    if not authorised(request):
        return error(401, "UNAUTHORISED", "missing or expired credentials")
    diary = request.app[STATE].diary
    code = request.match_info["code"]
    if code not in diary.clinics:
        return error(404, "CLINIC_NOT_FOUND", "no such clinic")
    q = request.query
    try:
        page = max(1, int(q.get("page", "1")))
        size = min(500, max(1, int(q.get("pageSize", "50"))))
    except ValueError:
        return error(400, "VALIDATION_FAILED", "page and pageSize are numbers")
    start = q.get("fromLocal") or local_minute(datetime.now(UTC).astimezone(diary.zone))
    states = q.getall("state", ["AVAILABLE"])
    rows = await diary.slots(code, states, start, q.get("toLocal"), (page - 1) * size, size + 1)
    more = len(rows) > size
    return web.json_response(
        {
            "clinic": diary.clinic_json(code),
            "items": rows[:size],
            "page": page,
            "nextPage": page + 1 if more else None,
        }
    )


async def book(request: web.Request) -> web.StreamResponse:
    if (fault := await misbehave(request, "book")) is not None:
        return fault
    if not authorised(request):
        return error(401, "UNAUTHORISED", "missing or expired credentials")
    key = request.headers.get("Idempotency-Key", "")
    if not 1 <= len(key) <= 128:
        return error(400, "VALIDATION_FAILED", "an Idempotency-Key header is required")
    try:
        new = _new_booking(key, await request.json())
        appt, fresh = await request.app[STATE].diary.book(new, datetime.now(UTC))
    except DiaryError as exc:
        return error(exc.status, exc.code, exc.message)
    except (ValueError, KeyError, TypeError, ValidationError):
        return error(400, "VALIDATION_FAILED", "the booking body is not valid")
    if lose_answer(request):
        return drop(request)
    headers = {} if fresh else {"Idempotent-Replayed": "true"}
    return web.json_response(appt, status=201 if fresh else 200, headers=headers)


def _new_booking(key: str, body: Any) -> NewBooking:
    if not isinstance(body, dict) or not isinstance(body.get("patient"), dict):
        raise ValueError("not a booking")
    return NewBooking(
        idem_key=key,
        slot_id=str(body["apptSlotId"]),
        start_local=str(body["startLocal"]),
        minutes=int(body["durationMins"]),
        reason=str(body["reason"]),
        patient=body["patient"],
        document=body.get("document"),
        referral_ref=body.get("referralRef"),
        booked_by=body.get("bookedByOds"),
    )


async def read(request: web.Request) -> web.StreamResponse:
    if (fault := await misbehave(request, "get")) is not None:
        return fault
    if not authorised(request):
        return error(401, "UNAUTHORISED", "missing or expired credentials")
    appt = await request.app[STATE].diary.appointment(request.match_info["ref"])
    if appt is None:
        return error(404, "APPOINTMENT_NOT_FOUND", "no such appointment")
    return web.json_response(appt)


async def cancel(request: web.Request) -> web.StreamResponse:
    if (fault := await misbehave(request, "cancel")) is not None:
        return fault
    if not authorised(request):
        return error(401, "UNAUTHORISED", "missing or expired credentials")
    try:
        appt = await request.app[STATE].diary.cancel(request.match_info["ref"], datetime.now(UTC))
    except DiaryError as exc:
        return error(exc.status, exc.code, exc.message)
    if lose_answer(request):
        return drop(request)
    return web.json_response(appt)


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
    body = {
        "requests": dict(state.stats),
        "appointments": await state.diary.count_appointments(),
        "tokens_issued": len(state.tokens),
    }
    return web.json_response(body)


async def revoke_tokens(request: web.Request) -> web.Response:
    request.app[STATE].tokens.clear()
    return web.json_response({"revoked": True})


def build_app(state: PeerState) -> web.Application:
    app = web.Application(client_max_size=1_000_000)
    app[STATE] = state
    api = "/api/v2"
    app.router.add_post("/oauth/token", token)
    app.router.add_get(f"{api}/ping", ping)
    app.router.add_get(f"{api}/clinics/{{code}}/slots", slots)
    app.router.add_post(f"{api}/appointments", book)
    app.router.add_get(f"{api}/appointments/{{ref}}", read)
    app.router.add_post(f"{api}/appointments/{{ref}}/cancel", cancel)
    app.router.add_put("/_peer/fault", set_fault)
    app.router.add_delete("/_peer/fault", clear_fault)
    app.router.add_get("/_peer/stats", stats)
    app.router.add_post("/_peer/tokens/revoke", revoke_tokens)
    return app
