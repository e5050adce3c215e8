"""The directory table: national (DoS) service id -> ASID -> FHIR service root.

fs_workflow.md, "Service Discovery" and "Endpoint Discovery": DoS gives a
service's ASID; SDS turns the ASID into the provider's FHIR service root. The
table holds both steps for the services this adapter books into; a blank
``service_root`` leaves the second step to the SDS lookup (``_sds``).

House style: CSV with a header row (``adapters/_csvtable.py``), validated on
load with row-precise errors; a missing value is an error, never a silent
pass-through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from adapters._csvtable import DataFileError, Row, read_table
from adapters.national_fhir._options import ASID

REQUIRED = ("service_id", "asid")
OPTIONAL = ("service_root", "name")


class DirectoryError(DataFileError):
    """The directory table is missing or malformed; the message names file, line and column."""


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    service_id: str
    asid: str
    #: The provider's FHIR service root, or None to look it up in SDS.
    service_root: str | None
    #: The service's name as DoS gives it (used when the provider sends no HealthcareService).
    name: str | None


def check_root(value: str) -> str:
    """implementation_api.md: an absolute http(s) service root with no trailing '/'."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if value.endswith("/") or parts.query or parts.fragment:
        raise ValueError("must not end with '/' or carry a query (implementation_api.md)")
    return value


def load_directory(path: Path) -> dict[str, DirectoryEntry]:
    """The table at ``path`` keyed by service id; ``DirectoryError`` names the bad row."""
    entries: dict[str, DirectoryEntry] = {}
    try:
        for row in read_table(path.parent, path.name, REQUIRED, OPTIONAL):
            _add(row, entries)
    except DataFileError as exc:
        raise DirectoryError(
            exc.file, exc.detail, line=exc.line, column=exc.column, path=exc.path
        ) from None
    if not entries:
        raise DirectoryError(path.name, "no services listed", path=str(path.resolve()))
    return entries


def _add(row: Row, into: dict[str, DirectoryEntry]) -> None:
    service_id = row.required("service_id")
    if service_id in into:
        raise row.error("service_id", f"'{service_id}' listed twice")
    asid = row.optional("asid") or ""
    if not ASID.match(asid):
        raise row.error("asid", f"'{asid}' is not an ASID (digits)")
    root = row.optional("service_root")
    if root is not None:
        row.parsed("service_root", check_root)
    into[service_id] = DirectoryEntry(service_id, asid, root, row.optional("name"))
