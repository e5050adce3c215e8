"""Persistent state behind one small interface (see ``base.Store``)."""

from gateway.store.base import (
    AppointmentVersion,
    AuditEntry,
    ClaimState,
    InDoubt,
    ItkReceipt,
    LedgerClaim,
    PointerBacklog,
    PointerWork,
    ReferralVersion,
    RegistryPointer,
    Store,
    UnbookedReferral,
    VersionConflict,
)

__all__ = [
    "AppointmentVersion",
    "AuditEntry",
    "ClaimState",
    "InDoubt",
    "ItkReceipt",
    "LedgerClaim",
    "PointerBacklog",
    "PointerWork",
    "ReferralVersion",
    "RegistryPointer",
    "Store",
    "UnbookedReferral",
    "VersionConflict",
]
