"""ITK faults (ToolkitErrorInfo) and negative infrastructure acks -> typed errors: one table.

The rows are the ITK toolkit's code table (``adapters.itk_toolkit.errors.ToolkitCode``);
what decides a resend is whether the same report could succeed later: a message the
receiver found invalid or does not serve will be refused again (not transient), an
expired timestamp or a failure at the receiver's end may not (transient: resent with
the same tracking id and a fresh timestamp). The free texts are never kept (a
diagnostic may quote the payload); ``supplier_detail`` holds the code only.
"""

from __future__ import annotations

from adapters import errors
from adapters.itk_toolkit.errors import ItkFault, ToolkitCode, ToolkitErrorInfo

#: Toolkit row -> typed error.
BY_ROW: dict[ToolkitCode, type[errors.AdapterError]] = {
    ToolkitCode.INVALID_MESSAGE: errors.SupplierRefused,
    ToolkitCode.MANIFEST_INSTANCES: errors.SupplierRefused,
    ToolkitCode.PAYLOAD_INSTANCES: errors.SupplierRefused,
    ToolkitCode.MANIFEST_PAYLOAD_COUNT: errors.SupplierRefused,
    ToolkitCode.PAYLOAD_IDS: errors.SupplierRefused,
    ToolkitCode.ACTION_SERVICE: errors.SupplierRefused,
    ToolkitCode.XML_REFUSED: errors.SupplierRefused,
    ToolkitCode.SOAP_VERSION: errors.SupplierRefused,
    ToolkitCode.EXPIRED: errors.SupplierUnavailable,
    ToolkitCode.UNKNOWN_SERVICE: errors.SupplierRefused,
    ToolkitCode.UNKNOWN_INTERACTION: errors.SupplierRefused,
    ToolkitCode.UNKNOWN_ADDRESS: errors.ServiceNotFound,
    ToolkitCode.PAYLOAD_REFUSED: errors.BookingRejected,
    ToolkitCode.PROCESSING_FAILED: errors.SupplierUnavailable,
}

#: A code of no row, by its series (1000 invalid, 2000 not served, 3000 payload/processing).
BY_SERIES: dict[str, type[errors.AdapterError]] = {
    "1": errors.SupplierRefused,
    "2": errors.SupplierRefused,
}


def typed(info: ToolkitErrorInfo | None, *, sender: bool) -> type[errors.AdapterError]:
    """The typed error for a ToolkitErrorInfo (``sender``: whether the fault blames us)."""
    if info is not None:
        row = ToolkitCode.find(info.code, info.text)
        if row is not None:
            return BY_ROW[row]
        series = BY_SERIES.get(info.code[:1]) if len(info.code) == 4 else None
        if series is not None:
            return series
        if info.code.startswith("3"):
            return errors.BookingRejected if sender else errors.SupplierUnavailable
    return errors.SupplierRefused if sender else errors.SupplierUnavailable


def from_fault(found: ItkFault) -> errors.AdapterError:
    """The typed error for an ITK SOAP fault answered to a report."""
    code = found.info.code[:16] if found.info is not None and found.info.code else "no code"
    kind = "Client" if found.sender else "Server"
    detail = f"ITK fault {kind} ToolkitErrorInfo {code}"
    error = typed(found.info, sender=found.sender)
    return error(f"send_referral: the receiver answered {detail}", supplier_detail=detail)


def from_infrastructure_nack(
    result: str, infos: tuple[ToolkitErrorInfo, ...]
) -> errors.AdapterError:
    """The typed error for an InfrastructureResponse whose result is not OK."""
    first = infos[0] if infos else None
    # "Infrastructure Failure" is the receiver's own trouble; "Failure" blames the message.
    sender = not result.lower().startswith("infrastructure")
    code = first.code[:16] if first is not None and first.code else "no code"
    detail = f"ITK infrastructure ack {result[:24]} {code}"
    return typed(first, sender=sender)(
        f"send_referral: the receiver answered {detail}", supplier_detail=detail
    )
