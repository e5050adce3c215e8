"""The targets table: national service id -> NHSD-Target-Identifier and the receiver.

End-to-end-workflow/Routing: the proxy routes by ``NHSD-Target-Identifier`` (a system
and value, typically the DoS service id); the Endpoint Catalogue behind it is the
proxy's. The table names, for each national service this adapter books into, the
target to send, the receiving organisation's ODS code (MessageHeader.destination's
receiver) and the service's name (used when a receiver's search names none).
Validated on load with row-precise errors (adapters/_csvtable.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from adapters._csvtable import DataFileError, Row, read_table
from adapters.bars_toolkit.headers import Target

REQUIRED = ("service_id", "target_system", "target_value", "ods_code")
OPTIONAL = ("name",)


class TargetsError(DataFileError):
    """The targets table is missing or malformed; the message names file, line and column."""


@dataclass(frozen=True, slots=True)
class TargetEntry:
    service_id: str
    target: Target
    ods_code: str
    name: str | None

    @property
    def endpoint(self) -> str:
        """``system|value``: how a MessageHeader names the receiving service."""
        return f"{self.target.system}|{self.target.value}"

    @property
    def ref_prefix(self) -> str:
        """What every supplier ref of this target starts with."""
        return f"{self.endpoint}/Appointment/"


def _system(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https", "urn"):
        raise ValueError("must be a URI (e.g. https://fhir.nhs.uk/Id/dos-service-id)")
    return value


def load_targets(path: Path) -> dict[str, TargetEntry]:
    """The table keyed by national service id; ``TargetsError`` names the bad row."""
    entries: dict[str, TargetEntry] = {}
    try:
        for row in read_table(path.parent, path.name, REQUIRED, OPTIONAL):
            _add(row, entries)
    except DataFileError as exc:
        raise TargetsError(
            exc.file, exc.detail, line=exc.line, column=exc.column, path=exc.path
        ) from None
    if not entries:
        raise TargetsError(path.name, "no services listed", path=str(path.resolve()))
    return entries


def _add(row: Row, into: dict[str, TargetEntry]) -> None:
    service_id = row.required("service_id")
    if service_id in into:
        raise row.error("service_id", f"'{service_id}' listed twice")
    system = row.parsed("target_system", _system)
    value = row.required("target_value")
    if "|" in value:
        raise row.error("target_value", "must not contain '|'")
    into[service_id] = TargetEntry(
        service_id, Target(system, value), row.required("ods_code"), row.optional("name")
    )
