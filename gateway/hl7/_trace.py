"""The HL7 v2 door's hop of the journey trace: one message's ids and its ACK code."""

from __future__ import annotations

from adapters.hl7_toolkit.loggable import loggable_id
from gateway.hl7.call import Call
from gateway.trace.recorder import TraceRecorder
from gateway.trace.scope import TraceExchange


def record(recorder: TraceRecorder | None, tx: TraceExchange, call: Call, ack_code: str) -> None:
    """Queue the message's hops (``inbound.hl7v2.<interaction>``, then its supplier calls).

    MSH-10 is kept only when shaped like a machine id (else its fingerprint), as the
    audit keeps it (gateway/hl7/call.py).
    """
    if recorder is None:
        return
    hops = tx.inbound(
        "hl7v2",
        f"inbound.hl7v2.{call.interaction}",
        ack_code or "none",
        msh10=loggable_id(call.envelope.control_id),
        gateway_request_id=call.server_request_id,
        appointment_id=call.appointment_id,
    )
    recorder.submit(hops)
