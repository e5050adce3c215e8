"""The HL7 v2 front door: one frame in, one answer out (HL7 v2.5 chapter 2.9.2, original mode).

Each message takes the runtime's current generation once and uses it to the
end (as a FHIR request does), is checked (version, sender), dispatched by
MSH-9, and answered: the interaction's own answer, or an ``ACK`` whose MSA-1
(AE/AR) and ERR segments come from the front door's error table. Every
search, booking attempt, failure and cancellation is an audit entry
(``front_door="hl7v2"``), so ``uec-gateway report`` counts this door's traffic.
One ``hl7_message_handled`` line per message; never a patient value.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from adapters import telemetry
from adapters.domain import utcnow
from adapters.hl7_toolkit.er7 import Message
from adapters.hl7_toolkit.header import Header
from adapters.hl7_toolkit.loggable import fingerprint, loggable_id
from adapters.hl7_toolkit.mllp import UnreadableFrame
from adapters.hl7_toolkit.values import short_id
from gateway.audit import AuditTrail
from gateway.config import Hl7ConsumerSettings, Hl7FrontDoorSettings
from gateway.errors import ApiError, ErrorKind, store_unavailable
from gateway.hl7 import _trace, operations, render
from gateway.hl7.call import Call
from gateway.hl7.inbound import Envelope, check_envelope, read_envelope
from gateway.hl7.refusals import WARNING, Refusal, booking_only_notice, describe
from gateway.hl7.tables import Tables
from gateway.policy import scope as policy_scope
from gateway.runtime import Generation, Runtime
from gateway.store import StoreUnavailable
from gateway.trace import scope as trace_scope
from gateway.trace.recorder import TraceRecorder

log = structlog.get_logger("gateway.hl7")

Operation = Callable[[Call], Awaitable[Message]]
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("SQM", "S25"): operations.search,
    ("SRM", "S01"): operations.book,
    ("SRM", "S04"): operations.cancel,
    ("SRM", "S03"): operations.reschedule,
    # S02 (modification): the booking model only lets time change by rebooking.
    ("SRM", "S02"): operations.reschedule,
}


class FrontDoor:
    def __init__(
        self,
        runtime: Runtime,
        audit: AuditTrail,
        settings: Hl7FrontDoorSettings,
        tables: Tables,
        clock: Callable[[], datetime] = utcnow,
        trace: TraceRecorder | None = None,
    ) -> None:
        self.runtime, self.audit, self.settings, self.tables = runtime, audit, settings, tables
        self.clock = clock
        self.trace = trace
        self.zone = ZoneInfo(settings.timezone)

    async def handle(self, payload: bytes) -> bytes | None:
        """The answer to one frame, or None (an ACK needing no answer).

        A frame whose MSH is readable but whose body is not is answered AR with
        an ERR; one with no readable MSH raises ``UnreadableFrame``.
        """
        envelope = read_envelope(payload)
        if envelope is None:
            raise UnreadableFrame(payload)  # no MSH-10 to answer: the listener hangs up
        if envelope.code == "ACK":
            return None
        telemetry.message("hl7v2_front_door", "received")
        started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        with trace_scope.opened() as tx, policy_scope.opened():
            async with self.runtime.use() as generation:
                call = self._call(envelope, generation)
                structlog.contextvars.bind_contextvars(
                    request_id=call.server_request_id,
                    correlation_id=loggable_id(envelope.control_id),
                    mapping_version=generation.version,
                )
                answer = await self._answer(call)
        _trace.record(self.trace, tx, call, _ack_code(answer))
        accepted = _ack_code(answer) in ("AA", "CA")
        telemetry.message("hl7v2_front_door", "applied" if accepted else "rejected")
        log.info(
            "hl7_message_handled",
            message_type=call.method,
            interaction=call.interaction,
            ack_code=_ack_code(answer),
            organisation=call.consumer.ods_code if call.consumer else None,
            sending_application=loggable_id(envelope.application),
            appointment_id=call.appointment_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return answer.to_er7().encode("utf-8")

    def _call(self, envelope: Envelope, generation: Generation) -> Call:
        # Consumers and the time budget follow a reload; host, port and tables need a restart.
        settings = generation.settings.hl7_front_door or self.settings
        consumer = _consumer(settings, envelope.facility)
        header = Header(
            settings.application,
            settings.facility,
            envelope.application,
            envelope.facility,
            envelope.version if envelope.version.startswith("2.") else "2.5",
            zone=self.zone,
        )
        control = short_id(
            f"answer|{envelope.application}^{envelope.facility}|{envelope.control_id}"
        )
        reply = render.Reply(header, envelope.trigger, envelope.control_id, control, self.clock())
        handled = (envelope.code, envelope.trigger) in OPERATIONS
        method = envelope.kind if handled else fingerprint(envelope.kind)
        return Call(
            envelope, generation, settings, self.tables, reply, consumer, self.audit, method
        )

    async def _answer(self, call: Call) -> Message:
        try:
            check_envelope(call.envelope)
            if call.consumer is None:
                raise ApiError(
                    ErrorKind.ACCESS_DENIED,
                    f"sending facility '{call.envelope.facility[:40]}' is not a configured "
                    "consumer of this gateway",
                )
            return await _operation(call.envelope)(call)
        except ApiError as error:
            return self._refuse(call, error)
        except StoreUnavailable:
            log.warning("store_unavailable", message_type=call.method)
            return self._refuse(call, store_unavailable())
        except Exception:
            # A genuine fault: logged with its traceback (no payload), answered AE.
            log.exception("hl7_message_failed", message_type=call.method)
            internal = ApiError(
                ErrorKind.INTERNAL_ERROR,
                "internal error; quote the message control id (MSH-10) to support",
            )
            return self._refuse(call, internal)

    def _refuse(self, call: Call, error: ApiError) -> Message:
        ack_code, detail = describe(error, self.tables)
        notices: list[render.Notice] = [render.error_notice(detail)]
        if call.interaction in ("slot_search", "book") and call.booking_only(call.service_id):
            notices.append((booking_only_notice(call.service_id or ""), WARNING))
        call.audit(
            call.interaction,
            error.kind.spec.status,
            service_id=call.service_id,
            outcome=error.kind.spec.spine_code,
            appointment_id=call.appointment_id,
        )
        return render.acknowledgement(call.reply, ack_code, notices, detail.text)


def _ack_code(answer: Message) -> str:
    segment = answer.first("MSA")
    return segment.get(1) if segment is not None else ""


def _consumer(settings: Hl7FrontDoorSettings, facility: str) -> Hl7ConsumerSettings | None:
    return next((c for c in settings.consumers if c.sending_facility == facility), None)


def _operation(envelope: Envelope) -> Operation:
    found = OPERATIONS.get((envelope.code, envelope.trigger))
    if found is not None:
        return found
    if envelope.code in ("SQM", "SRM"):
        raise Refusal("201", f"event {envelope.kind[:12]} is not supported by this door")
    raise Refusal("200", f"message type {envelope.code[:3]} is not supported by this door")
