"""The ITK receiver peer's HTTP app: a real ITK 2.2 endpoint with fault injection.

``POST /itk``: an NHS 111 report (SOAP 1.1, DistributionEnvelope). A valid report is
stored once per tracking id and answered with the infrastructure ack; a resent
tracking id is answered as before and not stored again (its business ack, if one was
asked for, is sent again: the sender is evidently still waiting). When the handling
specification asks for a business ack, it is posted to ``--ack-url`` or else the
report's ``wsa:ReplyTo``, after the answer. An invalid report is a SOAP fault with
ToolkitErrorInfo. ``GET /itk`` answers 200 (a reachability check).

Controls: ``PUT/DELETE /_peer/fault``, ``GET /_peer/received`` (summaries, no
payloads), ``GET /_peer/received/{tracking_id}/payloads/{n}`` (one payload's bytes),
``DELETE /_peer/received``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters.itk import _wire
from adapters.itk.peer import wire
from adapters.itk.peer.faults import FaultSpec, Mode, Switchboard
from adapters.itk.peer.store import Received, ReceivedStore
from adapters.itk_toolkit.errors import ItkError

log = structlog.get_logger(__name__)

PATH = "/itk"
MAX_BYTES = 5_000_000


@dataclass
class ReceiverState:
    store: ReceivedStore
    faults: Switchboard = field(default_factory=Switchboard)
    #: Where business acks go when set (else each report's ``wsa:ReplyTo``).
    ack_url: str | None = None
    #: How a business ack asked for is given: ``post`` (its own message, to the sender),
    #: ``sync`` (in the SOAP Header of the synchronous answer) or ``none``.
    business_acks: str = "post"
    #: This receiver's ITK address (the business ack's sender).
    address: str = "urn:nhs-uk:addressing:ods:RECEIVER"
    #: Reports posted (every attempt, whatever was answered).
    posts: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    session: aiohttp.ClientSession | None = None


STATE = web.AppKey("itk_receiver_state", ReceiverState)


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=body, status=status, headers={"Content-Type": "text/xml; charset=utf-8"}
    )


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


async def receive(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.posts += 1
    spec = state.faults.take()
    if spec is not None and spec.mode is Mode.DOWN:
        return _drop(request)
    if spec is not None and spec.mode is Mode.SLOW:
        await asyncio.sleep(spec.delay_s)
    body = await request.read()
    try:
        report = wire.read_report(body, MAX_BYTES)
    except ItkError as refusal:
        log.info("itk_peer_report_refused", code=refusal.code.code)
        return _xml(wire.refusal_body(refusal), status=500)
    if spec is not None and spec.mode is Mode.FAULT:
        return _xml(wire.injected_fault_body(spec.code), status=500)
    nack = spec is not None and spec.mode is Mode.BUSINESS_NACK
    code = spec.code if spec is not None else ""
    record, first = await _keep(state, report, body, nack, code)
    if record.business_ack_requested and state.business_acks == "post":
        _later(state, _send_business_ack(state, record, nack, code))
    log.info("itk_peer_report_received", tracking_id=record.tracking_id, first=first)
    if spec is not None and spec.mode is Mode.LOST_RESPONSE:
        return _drop(request)
    if spec is not None and spec.mode is Mode.NO_ACK:
        return web.Response(status=202)
    return _xml(record.answer)


async def _keep(
    state: ReceiverState, report: wire.Report, body: bytes, nack: bool, code: str
) -> tuple[Received, bool]:
    """The stored record of ``report``'s tracking id, made now if it is the first (its answer,
    given again to every resend, carries the business ack when that is given synchronously)."""
    async with state.store.lock:
        found = state.store.get(report.tracking_id)
        if found is not None:
            found.seen += 1
            return found, False
        record = Received(
            tracking_id=report.tracking_id,
            service=report.service,
            addresses=report.addresses,
            interaction=report.interaction,
            payload_ids=report.payload_ids,
            payloads=report.payloads,
            envelope=body,
            business_ack_requested=report.business_ack_requested,
            reply_to=report.reply_to,
            answer=wire.infra_ack_body(
                report,
                business_ack=report.business_ack_requested and state.business_acks == "sync",
                accepted=not nack,
                code=code,
                us=state.address,
            ),
            sender=report.sender,
            document_id=report.document_id,
        )
        state.store.add(record)
        return record, True


def _later(state: ReceiverState, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _send_business_ack(state: ReceiverState, record: Received, nack: bool, code: str) -> None:
    """Post the business ack (after the answer has gone); failures are logged, not raised."""
    await asyncio.sleep(0.01)
    url = state.ack_url or record.reply_to
    if url is None or state.session is None:
        log.warning("itk_peer_business_ack_unaddressed", tracking_id=record.tracking_id)
        return
    body = wire.business_ack_message(
        record.tracking_id,
        accepted=not nack,
        code=code,
        sender=state.address,
        recipient=record.sender,
        document_id=record.document_id,
    )
    record.business_acks_sent += 1
    headers = _wire.headers(_wire.BUSINESS_ACK_SERVICE)
    try:
        async with state.session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            log.info(
                "itk_peer_business_ack_sent", tracking_id=record.tracking_id, status=resp.status
            )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("itk_peer_business_ack_failed", tracking_id=record.tracking_id,
                    error=type(exc).__name__)  # fmt: skip


async def reachable(request: web.Request) -> web.Response:
    return web.Response(text="ITK receiver (reference peer)\n")


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


async def received(request: web.Request) -> web.Response:
    return web.json_response([r.summary() for r in request.app[STATE].store.all()])


async def payload(request: web.Request) -> web.Response:
    record = request.app[STATE].store.get(request.match_info["tracking_id"])
    index = request.match_info["n"]
    if record is None or not index.isdigit() or not 1 <= int(index) <= len(record.payloads):
        return web.json_response({"error": "no such report or payload"}, status=404)
    return _xml(record.payloads[int(index) - 1])


async def forget(request: web.Request) -> web.Response:
    request.app[STATE].store.clear()
    return web.json_response({"received": 0})


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    yield
    for task in list(state.tasks):
        task.cancel()
    await state.session.close()


def build_app(state: ReceiverState) -> web.Application:
    app = web.Application(client_max_size=MAX_BYTES)
    app[STATE] = state
    app.cleanup_ctx.append(_session_ctx)
    app.router.add_post(PATH, receive)
    app.router.add_get(PATH, reachable)
    app.router.add_put("/_peer/fault", set_fault)
    app.router.add_delete("/_peer/fault", clear_fault)
    app.router.add_get("/_peer/received", received)
    app.router.add_get("/_peer/received/{tracking_id}/payloads/{n}", payload)
    app.router.add_delete("/_peer/received", forget)
    return app
