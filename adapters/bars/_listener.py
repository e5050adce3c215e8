"""The sender's own ``$process-message`` endpoint (End-to-end-workflow/Asynchronous-Workflow).

A receiver that changes a booking at its end (rebooked, did-not-attend, cancelled)
POSTs a booking-request message back to the sender. The adapter cannot use a gateway
door (adapters never import ``gateway/``), so it listens itself on ``callback.host``/
``port`` at ``<callback.path>/$process-message``. Each message is validated (a message
Bundle, MessageHeader first with event booking-request, an Appointment focus naming a
contained or entry Patient, from a known target), acknowledged (200 with an
OperationOutcome ``informational``), and handed to the gateway's listener as a
``BookingChange``. A message id seen before is acknowledged and not applied again
(a memory of recent ids, a shortcut only: a change already recorded makes no new
version, because the gateway records a supplier-side change only when the booking
differs, so a resend after a restart is harmless too); anything unreadable is 400
with an OperationOutcome (REC_BAD_REQUEST), never a trace.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from adapters.bars._options import CallbackOption
from adapters.bars._resources_in import Json, Unreadable, dicts

if TYPE_CHECKING:
    from adapters.bars.adapter import BarsAdapter

log = structlog.get_logger(__name__)
CODES = "https://fhir.nhs.uk/Codesystem/http-error-codes"


def outcome(severity: str, code: str, detail: str | None, text: str) -> Json:
    issue: Json = {"severity": severity, "code": code, "diagnostics": text}
    if detail:
        issue["details"] = {"coding": [{"system": CODES, "code": detail}]}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _reply(status: int, body: Json, request: web.Request) -> web.Response:
    headers = {k: v for k in ("X-Request-Id", "X-Correlation-Id") if (v := request.headers.get(k))}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/fhir+json", headers=headers
    )


def _parts(message: Any) -> tuple[str, Json, Json]:
    """(message id, MessageHeader, the focus Appointment as the REST door shows one)."""
    if not isinstance(message, dict) or message.get("resourceType") != "Bundle":
        raise Unreadable("the body is not a Bundle")
    if message.get("type") != "message":
        raise Unreadable("Bundle.type must be 'message'")
    entries = dicts(message.get("entry"))
    header = (entries[0].get("resource") if entries else None) or {}
    if header.get("resourceType") != "MessageHeader":
        raise Unreadable("the first entry must be the MessageHeader")
    if (header.get("eventCoding") or {}).get("code") != "booking-request":
        raise Unreadable("MessageHeader.eventCoding must be booking-request")
    focus = next(iter(dicts(header.get("focus"))), {}).get("reference")
    by_url = {e.get("fullUrl"): e.get("resource") for e in entries}
    appointment = by_url.get(focus)
    if not isinstance(appointment, dict) or appointment.get("resourceType") != "Appointment":
        raise Unreadable("MessageHeader.focus must name the Appointment entry")
    return (
        str(message.get("id") or header.get("id") or ""),
        header,
        _with_patient(appointment, by_url),
    )


def _with_patient(appointment: Json, by_url: dict[Any, Any]) -> Json:
    """The Appointment with its participant Patient contained (as ``booking`` reads it)."""
    if dicts(appointment.get("contained")):
        return appointment
    for part in dicts(appointment.get("participant")):
        ref = (part.get("actor") or {}).get("reference")
        found = by_url.get(ref)
        if isinstance(found, dict) and found.get("resourceType") == "Patient":
            participant = {**part, "actor": {"reference": "#patient"}}
            return {
                **appointment,
                "contained": [{**found, "id": "patient"}],
                "participant": [participant],
            }
    raise Unreadable("the Appointment's participant names no Patient entry")


class Callback:
    """The listener; ``url`` is what MessageHeader.source.endpoint names."""

    def __init__(self, adapter: BarsAdapter, settings: CallbackOption) -> None:
        self._adapter = adapter
        self._settings = settings
        self._runner: web.AppRunner | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=8_000_000)
        app.router.add_post(self._settings.path.rstrip("/") + "/$process-message", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # reuse_port, as the SIU listener: with ``serve --workers N`` each worker listens on
        # the same port (whichever takes an update applies it to the shared store), and a
        # reloaded adapter can listen while the old one drains.
        shared = True if self._settings.port != 0 else None
        site = web.TCPSite(
            self._runner, self._settings.host, self._settings.port, reuse_port=shared
        )
        await site.start()
        port = self._runner.addresses[0][1] if self._runner.addresses else self._settings.port
        self.url = f"http://{self._settings.host}:{port}{self._settings.path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post(self, request: web.Request) -> web.Response:
        try:
            message = json.loads(await request.read())
            key, header, appointment = _parts(message)
            change = self._adapter.change_from(header, appointment)
        except (ValueError, Unreadable) as exc:
            text = str(exc) if isinstance(exc, Unreadable) else "the body is not JSON"
            log.info("bars_update_refused", adapter=self._adapter.name, reason=text)
            return _reply(400, outcome("error", "invalid", "REC_BAD_REQUEST", text), request)
        except Exception as exc:  # an update must never crash the listener
            log.warning(
                "bars_update_failed", adapter=self._adapter.name, error_type=type(exc).__name__
            )
            return _reply(
                500, outcome("error", "exception", "REC_SERVER_ERROR", "update failed"), request
            )
        dedupe = request.headers.get("X-Request-Id") or key
        if dedupe in self._seen:
            ok = outcome("information", "informational", None, "already applied; not applied again")
            return _reply(200, ok, request)
        self._seen[dedupe] = None
        while len(self._seen) > 100_000:
            self._seen.popitem(last=False)
        await self._adapter.notify(change)
        log.info(
            "bars_update_received",
            adapter=self._adapter.name,
            supplier_ref=change.booking.supplier_ref,
            status=change.booking.status.value,
        )
        return _reply(200, outcome("information", "informational", None, "applied"), request)


async def start_callback(adapter: BarsAdapter, settings: CallbackOption) -> Callback:
    callback = Callback(adapter, settings)
    await callback.start()
    return callback
