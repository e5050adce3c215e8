"""The front door's tables (``mappings/hl7_front_door/<folder>/*.csv``), validated on load.

- ``services.csv``: the consumer's local service codes (QRF-1, AIS-3) to national
  (DoS) service ids;
- ``errors.csv``: every ``ErrorKind`` to MSA-1 (AE/AR), ERR-3 (HL7 table 0357)
  and whether resending the same message may succeed; a kind without a row is
  an error at start-up, never a silent default;
- ``genders.csv`` and ``identifier_systems.csv``: PID-8 and PID-3, in exactly
  the format of ``mappings/hl7v2`` (read by the HL7 v2 toolkit's own loaders),
  so an integrator can copy their PAS tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters._csvtable import DataFileError, read_table, unique_ids
from adapters.hl7_toolkit.patients import PatientTables, read_patient_tables
from gateway.errors import ErrorKind

ACK_CODES = ("AE", "AR")
#: HL7 v2.5 table 0357 codes this door may send in ERR-3.
HL7_CODES = frozenset(
    {"0", "100", "101", "102", "103", "200", "201", "202", "203", "204", "205", "206", "207"}
)

__all__ = ["DataFileError", "ErrorRow", "Tables", "load_tables"]


@dataclass(frozen=True, slots=True)
class ErrorRow:
    ack_code: str
    hl7_code: str
    #: The same message may succeed if resent later (same MSH-10).
    retry: bool


@dataclass(frozen=True)
class Tables:
    services: Mapping[str, str]
    errors: Mapping[ErrorKind, ErrorRow]
    #: PID reading and writing through the HL7 v2 toolkit (genders and identifiers only).
    patients: PatientTables

    def service_id(self, code: str) -> str:
        """The national service id for a consumer code; a national id passes as itself."""
        return self.services.get(code, code)

    def consumer_code(self, service_id: str) -> str:
        """The first consumer code of a national service id (services.csv order); the id
        itself when none maps to it (what a consumer may send back in AIS-3)."""
        return next((c for c, s in self.services.items() if s == service_id), service_id)


def load_tables(folder: Path) -> Tables:
    """Read and check every table in ``folder``; raises ``DataFileError`` naming the row."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "mapping folder not found")
    patients = read_patient_tables(folder)
    return Tables(_services(folder), _errors(folder), patients)


def _services(folder: Path) -> dict[str, str]:
    rows = read_table(folder, "services.csv", ("consumer_code", "service_id"), ("meaning",))
    return {
        code: row.required("service_id") for code, row in unique_ids(rows, "consumer_code").items()
    }


def _errors(folder: Path) -> dict[ErrorKind, ErrorRow]:
    rows = read_table(
        folder, "errors.csv", ("kind", "ack_code", "error_code"), ("retry", "meaning")
    )
    out: dict[ErrorKind, ErrorRow] = {}
    for name, row in unique_ids(rows, "kind").items():
        kind = ErrorKind.__members__.get(name)
        if kind is None:
            raise row.error("kind", f"'{name}' is not an ErrorKind of gateway/errors.py")
        ack = row.required("ack_code")
        if ack not in ACK_CODES:
            raise row.error("ack_code", f"'{ack}' is not AE or AR")
        code = row.required("error_code")
        if code not in HL7_CODES:
            raise row.error("error_code", f"'{code}' is not an HL7 table 0357 code")
        retry = (row.optional("retry") or "n").lower()
        if retry not in ("y", "n"):
            raise row.error("retry", f"'{retry}' is not y or n")
        out[kind] = ErrorRow(ack, code, retry == "y")
    missing = [k.name for k in ErrorKind if k not in out]
    if missing:
        raise DataFileError("errors.csv", f"no row for {', '.join(missing)}")
    return out
