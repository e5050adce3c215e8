"""The ITK door's hop of the journey trace: one message's ids and how it ended."""

from __future__ import annotations

from aiohttp import web

from gateway.itk.receive import Receipt
from gateway.trace.recorder import TRACE
from gateway.trace.scope import TraceExchange


def record(request: web.Request, tx: TraceExchange, receipt: Receipt) -> None:
    """Queue the message's hops (``inbound.itk.report``): its tracking id, its
    WS-Addressing MessageID (as ``request_id``) and the referral it made."""
    recorder = request.config_dict.get(TRACE)
    if recorder is None:
        return
    outcome = receipt.outcome if receipt.error_code is None else f"fault {receipt.error_code}"
    hops = tx.inbound(
        "itk",
        "inbound.itk.report",
        outcome,
        itk_tracking_id=receipt.tracking_id,
        request_id=receipt.message_id,
        referral_id=receipt.referral_id,
    )
    recorder.submit(hops)
