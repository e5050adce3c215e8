"""The DiaryService's operations' actions and its faults, both ways.

The diary puts its own code in the fault detail (``<d:DiaryFault><d:Code>``);
the code decides the typed error, the fault class is the fallback.
"""

from __future__ import annotations

from adapters import errors
from adapters.soap_diary._wire import NS, NSMAP, q, sub
from adapters.soap_toolkit import envelope as soap


def action(operation: str) -> str:
    return f"{NS}/{operation}"


def diary_code(found: soap.Fault) -> str | None:
    """The diary's own code in a fault's detail, if it sent one."""
    if found.detail is None:
        return None
    return found.detail.findtext(f"{q('DiaryFault')}/{q('Code')}")


def fault(version: soap.SoapVersion, sender: bool, reason: str, code: str) -> bytes:
    """A fault envelope, as the diary sends it (used by the peer)."""
    return soap.fault(
        version, sender, reason, lambda detail: sub(sub(detail, "DiaryFault"), "Code", code), NSMAP
    )


#: Diary fault code -> typed error ("DiaryService fault codes" of the supplier's WSDL notes).
BY_CODE: dict[str, type[errors.AdapterError]] = {
    "SERVICE_POINT_NOT_FOUND": errors.ServiceNotFound,
    "SLOT_NOT_FOUND": errors.SlotNotFound,
    "SLOT_TAKEN": errors.SlotUnavailable,
    "SLOT_IN_PAST": errors.SlotUnavailable,
    "SLOT_MISMATCH": errors.SlotMismatch,
    "APPOINTMENT_NOT_FOUND": errors.BookingNotFound,
    "ALREADY_CANCELLED": errors.BookingNotCancellable,
    "APPOINTMENT_IN_PAST": errors.BookingNotCancellable,
    "REFERENCE_REUSED": errors.BookingRejected,
    "VALIDATION_FAILED": errors.BookingRejected,
    "CLINIC_CLOSED": errors.BookingRejected,
    "NOT_AUTHORISED": errors.SupplierUnavailable,
    "INTERNAL_ERROR": errors.SupplierUnavailable,
}


def typed_fault(operation: str, found: soap.Fault) -> errors.AdapterError:
    """The typed error for a fault; the free-text reason is never kept (it may quote a patient)."""
    code = diary_code(found)
    typed = BY_CODE.get(code or "")
    if typed is None:
        typed = errors.SupplierProtocolError if found.sender else errors.SupplierUnavailable
    kind = "Sender" if found.sender else "Receiver"
    shown = (code or "no detail code")[:64]
    detail = f"SOAP fault {kind} {shown}"
    return typed(f"{operation}: the supplier answered a {detail}", supplier_detail=detail)
