"""When a report is sent again, and what a delivery that never got an ack ends as.

Only the adapter's own resends live here: the tracking id stays the same, so any
resend is safe at an ITK receiver; what is decided is whether it can help, how long
to pause, and whether an unacknowledged report may nonetheless have arrived.
"""

from __future__ import annotations

import random

from adapters import errors
from adapters.domain import CallContext


def pause(first: float, cap: float, attempt: int) -> float:
    """Exponential, capped, jittered to 50-100 % (so resending senders do not march in step)."""
    return min(cap, first * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def fits(ctx: CallContext, pause: float) -> bool:
    remaining = ctx.remaining()
    return remaining is None or remaining > pause + 0.05


def may_have_arrived(exc: errors.AdapterError) -> bool:
    """Whether a failed attempt may have left the report with the receiver: not when it never
    connected, nor when it answered with a fault or an error status (ITK: not taken)."""
    if isinstance(exc, errors.OutcomeUnknown | errors.SupplierTimeout):
        return True
    detail = exc.supplier_detail or ""
    return not (detail == "ClientConnectorError" or detail.startswith(("ITK ", "HTTP ")))


def final(exc: errors.AdapterError, arrived: bool) -> errors.AdapterError:
    """The error a failed delivery ends with: unreachable stays unreachable; a report that may
    have arrived without an ack is in doubt (a resend carries the same tracking id)."""
    if arrived and type(exc) is errors.SupplierUnavailable:
        return errors.OutcomeUnknown(
            "send_referral: no infrastructure ack; the report may have arrived (a resend "
            "carries the same tracking id)",
            supplier_detail=exc.supplier_detail,
        )
    return exc
