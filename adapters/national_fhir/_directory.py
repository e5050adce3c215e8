"""The directory table: national (DoS) service id -> ASID -> FHIR service root.

fs_workflow.md, "Service Discovery" and "Endpoint Discovery": DoS gives a
service's ASID; SDS turns the ASID into the provider's FHIR service root. The
table holds both steps for the services this adapter books into; a blank
``service_root`` leaves the second step to the SDS lookup (``_sds``).

House style: CSV with a header row, validated on load with row-precise errors;
a missing value is an error, never a silent pass-through.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from adapters.national_fhir._options import ASID

REQUIRED = ("service_id", "asid")
OPTIONAL = ("service_root", "name")


class DirectoryError(ValueError):
    """The directory table is missing or malformed; the message names file and line."""

    def __init__(self, file: str, message: str, *, line: int | None = None) -> None:
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line


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
    name = path.name
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            _check_header(name, reader.fieldnames)
            entries: dict[str, DirectoryEntry] = {}
            for record in reader:
                _add(name, reader.line_num, record, entries)
    except FileNotFoundError:
        raise DirectoryError(name, f"file not found in {path.parent}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DirectoryError(name, f"unreadable: {exc}") from exc
    if not entries:
        raise DirectoryError(name, "no services listed")
    return entries


def _check_header(name: str, fieldnames: object) -> None:
    header = [str(f).strip() for f in fieldnames or ()]  # type: ignore[attr-defined]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DirectoryError(name, f"missing column(s) {', '.join(missing)}", line=1)
    unknown = [c for c in header if c not in (*REQUIRED, *OPTIONAL)]
    if unknown:
        raise DirectoryError(name, f"unknown column(s) {', '.join(unknown)}", line=1)


def _add(
    name: str, line: int, record: dict[str | None, object], into: dict[str, DirectoryEntry]
) -> None:
    if None in record:
        raise DirectoryError(name, "more values than columns", line=line)
    values = {str(k).strip(): str(v or "").strip() for k, v in record.items()}
    if not any(values.values()):
        return  # a blank line is not a row
    service_id, asid = values.get("service_id", ""), values.get("asid", "")
    if not service_id:
        raise DirectoryError(name, "column service_id: a value is required", line=line)
    if service_id in into:
        raise DirectoryError(name, f"column service_id: '{service_id}' listed twice", line=line)
    if not ASID.match(asid):
        raise DirectoryError(name, f"column asid: '{asid}' is not an ASID (digits)", line=line)
    root = values.get("service_root") or None
    if root is not None:
        try:
            check_root(root)
        except ValueError as exc:
            raise DirectoryError(name, f"column service_root: {exc}", line=line) from None
    into[service_id] = DirectoryEntry(service_id, asid, root, values.get("name") or None)
