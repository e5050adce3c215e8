"""Supplier-side changes (e.g. HL7 SIU from a PAS desk) recorded as appointment versions.

A booking the gateway has never seen becomes a new appointment, so reads, the
patient index and later cancels all see it; a change to a known one is its
next version, keeping what the supplier does not report (document, referral).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import structlog

from adapters.contract import BookingChange
from gateway.store import AppointmentVersion, Store, VersionConflict

log = structlog.get_logger(__name__)


async def record_change(
    store: Store, clock: Callable[[], datetime], route_name: str, change: BookingChange
) -> None:
    """Add the version a supplier-side change makes (or the first one), retrying conflicts."""
    incoming = change.booking
    for _ in range(3):
        current = await store.find_by_supplier_ref(route_name, incoming.supplier_ref)
        if current is None:
            version = AppointmentVersion(
                appointment_id=str(uuid.uuid4()),
                version=1,
                booking=incoming,
                route=route_name,
                last_modified=clock(),
            )
        else:
            merged = incoming.model_copy(
                update={
                    "document": incoming.document or current.booking.document,
                    "referral_reference": incoming.referral_reference
                    or current.booking.referral_reference,
                }
            )
            if merged == current.booking:
                return
            version = AppointmentVersion(
                appointment_id=current.appointment_id,
                version=current.version + 1,
                booking=merged,
                route=route_name,
                last_modified=clock(),
                booked_by=current.booked_by,
            )
        try:
            await store.add_version(version)
        except VersionConflict:
            continue
        log.info(
            "supplier_change_recorded",
            appointment_id=version.appointment_id,
            version=version.version,
            route=route_name,
            reason=change.reason,
        )
        return
    log.warning("supplier_change_conflicted", route=route_name, reason=change.reason)
