"""Typed errors every adapter raises at its edge, whatever its protocol said.

Adapters translate their own transport and protocol failures into these
(``raise SupplierUnavailable(...) from exc``); the gateway turns them into
HTTP status codes and OperationOutcomes with one table, and each legacy front
door into its own error form. Messages never carry patient identifiers.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter may raise."""

    #: A transient error may succeed if tried again later.
    transient: bool = False

    def __init__(self, message: str, *, supplier_detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # What the supplier said, kept for the log (never shown to consumers verbatim).
        self.supplier_detail = supplier_detail


class ServiceNotFound(AdapterError):
    """No schedules are held for this national service id."""


class SlotNotFound(AdapterError):
    """The slot referenced does not exist at the supplier."""


class SlotUnavailable(AdapterError):
    """The slot exists but is no longer free (taken, blocked or in the past)."""


class SlotMismatch(AdapterError):
    """The booking's times do not fit the slot it names."""


class BookingNotFound(AdapterError):
    """The supplier has no booking under this reference."""


class BookingNotCancellable(AdapterError):
    """The booking is in a state that cannot be cancelled (already cancelled, past)."""


class BookingRejected(AdapterError):
    """The supplier refused the booking on a business rule of its own."""


class CapabilityNotSupported(AdapterError):
    """The adapter does not offer the requested interaction."""


class SupplierRefused(AdapterError):
    """The supplier refused the request as sent (access, media type, precondition, no such
    endpoint): resending it unchanged will not succeed (book_an_appointment.md: 4xx
    failures "SHOULD NOT be retried without taking steps to address the underlying cause")."""


class SupplierUnavailable(AdapterError):
    """The supplier could not be reached or answered with a server fault."""

    transient = True


class CircuitOpen(SupplierUnavailable):
    """The route's circuit is open: the supplier failed repeatedly and is not being called
    until ``retry_after_s`` has passed (then one probe goes through)."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SupplierTimeout(AdapterError):
    """The supplier did not answer within the call's deadline."""

    transient = True


class OutcomeUnknown(AdapterError):
    """The supplier may or may not have acted (e.g. a lost acknowledgement)."""

    transient = True


class SupplierProtocolError(AdapterError):
    """The supplier's answer could not be understood."""

    transient = True


class MappingError(AdapterError):
    """A code or identifier has no mapping for this supplier."""
