"""The SOAP diary's vocabulary over the shared peer diary engine.

The SOAP peer keeps its diary with the same small SQLite engine as the REST
peer (``adapters.diary_toolkit.peer.diary``) but speaks its own supplier's codes
on the wire: numeric sexes, grade codes, three-letter states and numeric
AppointmentIds. These tables are the facade; the gateway learns the meaning
of the SOAP codes from ``mappings/soap_diary/demo``.
"""

from __future__ import annotations

STATES = {"AVAILABLE": "OPEN", "BOOKED": "BKD", "BLOCKED": "BLK", "HELD": "HLD"}
ENGINE_STATES = {v: k for k, v in STATES.items()}
STATUSES = {"BOOKED": "BKD", "CANCELLED": "CXL"}
GRADES = {"GP": "G01", "ANP": "N02", "ECP": "P03"}
SEXES = {"F": "2", "M": "1"}
MODES = {"F2F": "FTF", "TEL": "PHN", "VID": "VID"}
#: Engine error codes that this diary names differently in its faults.
FAULT_CODES = {
    "IDEMPOTENCY_KEY_REUSED": "REFERENCE_REUSED",
    "CLINIC_NOT_FOUND": "SERVICE_POINT_NOT_FOUND",
}


def appointment_id(ref: str) -> str:
    """``APT-000123`` (engine) -> ``123`` (this diary's numeric AppointmentId)."""
    return str(int(ref.removeprefix("APT-")))


def engine_ref(appointment: str) -> str:
    return f"APT-{int(appointment):06d}"
